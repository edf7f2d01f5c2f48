package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/readiness"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// testHash stands for a password hash; the demonstration stores it as given.
const testHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"

var testNow = time.Date(2026, time.March, 14, 9, 30, 0, 0, time.UTC)

func seed(tb testing.TB, st domain.Store) *Result {
	tb.Helper()
	res, err := Seed(context.Background(), st, catalog.Default(), Options{Now: testNow, PasswordHash: testHash})
	if err != nil {
		tb.Fatalf("Seed: %v", err)
	}
	return res
}

// state is what the demonstration gave one control, comparable across stores.
type state struct {
	Status        domain.ControlStatus
	Owner         string
	Justification bool
	Retired       bool
}

func controlStates(tb testing.TB, st domain.Store, orgID int64) map[string]state {
	tb.Helper()
	ctx := context.Background()
	members, err := st.Members(ctx, orgID)
	if err != nil {
		tb.Fatalf("Members: %v", err)
	}
	emails := map[int64]string{}
	for _, m := range members {
		emails[m.ID] = m.Email
	}
	cs, err := st.Controls(ctx, orgID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		tb.Fatalf("Controls: %v", err)
	}
	out := map[string]state{}
	for _, c := range cs {
		s := state{Status: c.Status, Justification: c.Justification != "", Retired: c.Retired()}
		if c.OwnerID != nil {
			s.Owner = emails[*c.OwnerID]
		}
		out[c.Ref] = s
	}
	return out
}

func TestSeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		res := seed(t, st)
		if !res.Created || res.Org.Slug != Slug || res.Org.Name != Name {
			t.Fatalf("Seed = %+v, org %+v; want a new organization %s (%s)", res, res.Org, Slug, Name)
		}

		sc, err := st.Scope(ctx, res.Org.ID)
		if err != nil {
			t.Fatalf("Scope: %v", err)
		}
		if diff := cmp.Diff(Categories, sc.Categories); diff != "" {
			t.Errorf("scope categories (-want +got):\n%s", diff)
		}
		if sc.ReportType != domain.ReportTypeII || sc.PeriodStart == nil || sc.PeriodEnd == nil || sc.TargetDate == nil {
			t.Errorf("scope = %+v; want Type II with an observation period and a target date", sc)
		} else {
			wantStart := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
			if !sc.PeriodStart.Equal(wantStart) || !sc.PeriodEnd.Equal(time.Date(2026, time.June, 30, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("observation period = %s to %s; want 2026-01-01 to 2026-06-30", sc.PeriodStart, sc.PeriodEnd)
			}
			if !sc.TargetDate.After(*sc.PeriodEnd) {
				t.Errorf("target date %s is not after the period end %s", sc.TargetDate, sc.PeriodEnd)
			}
		}
		if sc.OutOfScope == "" {
			t.Error("scope has no out-of-scope notes")
		}

		members, err := st.Members(ctx, res.Org.ID)
		if err != nil {
			t.Fatalf("Members: %v", err)
		}
		gotRoles := map[string]domain.Role{}
		for _, m := range members {
			gotRoles[m.Email] = m.Role
		}
		wantRoles := map[string]domain.Role{}
		for _, p := range People {
			wantRoles[p.Email] = p.Role
			u, err := st.UserByEmail(ctx, p.Email)
			if err != nil {
				t.Fatalf("UserByEmail(%q): %v", p.Email, err)
			}
			if u.PasswordHash != testHash {
				t.Errorf("user %s has password hash %q; want the given one", p.Email, u.PasswordHash)
			}
		}
		if diff := cmp.Diff(wantRoles, gotRoles); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}

		syss, err := st.Systems(ctx, res.Org.ID)
		if err != nil {
			t.Fatalf("Systems: %v", err)
		}
		if len(syss) != len(systems) {
			t.Errorf("%d systems; want %d", len(syss), len(systems))
		}
		for _, s := range syss {
			if s.OwnerID == nil {
				t.Errorf("system %q has no owner", s.Name)
			}
		}

		states := controlStates(t, st, res.Org.ID)
		byStatus := map[domain.ControlStatus]int{}
		active := 0
		for _, s := range states {
			if !s.Retired {
				byStatus[s.Status]++
				active++
			}
		}
		for _, s := range domain.Statuses {
			if byStatus[s] == 0 {
				t.Errorf("no active control is %s; want every status", s)
			}
		}
		if 2*byStatus[domain.StatusImplemented] <= active {
			t.Errorf("%d of %d active controls implemented; want most", byStatus[domain.StatusImplemented], active)
		}
		wantSome := map[string]state{
			"AC-01":    {Status: domain.StatusNotStarted, Owner: priya},
			"CRY-01":   {Status: domain.StatusInProgress, Owner: sam},
			"IR-02":    {Status: domain.StatusNotStarted, Owner: daniel},
			"VEN-03":   {Status: domain.StatusInProgress, Owner: maya},
			"AC-13":    {Status: domain.StatusNotApplicable, Owner: priya, Justification: true},
			"GOV-14":   {Status: domain.StatusImplemented},
			"RSK-05":   {Status: domain.StatusInProgress},
			retiredRef: {Status: domain.StatusImplemented, Owner: tom, Retired: true},
			Custom.Ref: {Status: domain.StatusImplemented, Owner: customOwner},
			"PRI-02":   {Status: domain.StatusNotStarted},
		}
		for ref, want := range wantSome {
			if got := states[ref]; got != want {
				t.Errorf("control %s = %+v; want %+v", ref, got, want)
			}
		}
		custom, err := st.ControlByRef(ctx, res.Org.ID, Custom.Ref)
		if err != nil {
			t.Fatalf("ControlByRef(%q): %v", Custom.Ref, err)
		}
		if custom.FromLibrary || len(custom.Criteria) == 0 {
			t.Errorf("custom control = %+v; want one of Acme's own, mapped to criteria", custom)
		}
	})
}

func TestSeedFindingsAreGaps(t *testing.T) {
	st := storetest.SQLite(t)
	res := seed(t, st)
	cat := catalog.Default()
	rep, err := readiness.Compute(context.Background(), st, cat, res.Org.ID, testNow)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	titles := map[string]bool{}
	for _, g := range rep.Gaps {
		titles[g.Title] = true
	}
	for ref := range findings {
		lc, ok := cat.LibraryControl(ref)
		if !ok {
			t.Fatalf("library control %s is missing", ref)
		}
		if !titles[lc.Finding] {
			t.Errorf("no gap titled %q (%s)", lc.Finding, ref)
		}
	}
	if rep.Score <= 0 || rep.Score >= 100 {
		t.Errorf("score = %v; want a program part way through readiness", rep.Score)
	}
}

func TestSeedIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		first := seed(t, st)
		before := controlStates(t, st, first.Org.ID)
		events, err := st.Events(ctx, first.Org.ID, domain.EventFilter{Limit: 1})
		if err != nil || len(events) != 1 {
			t.Fatalf("Events = %v, %v; want the latest event", events, err)
		}

		second := seed(t, st)
		if second.Created || second.Org.ID != first.Org.ID {
			t.Errorf("second Seed = %+v; want the same organization, not created", second)
		}
		if diff := cmp.Diff(before, controlStates(t, st, first.Org.ID)); diff != "" {
			t.Errorf("controls changed on the second seed (-first +second):\n%s", diff)
		}
		after, err := st.Events(ctx, first.Org.ID, domain.EventFilter{Limit: 1})
		if err != nil || len(after) != 1 {
			t.Fatalf("Events = %v, %v; want the latest event", after, err)
		}
		if after[0].Index != events[0].Index {
			t.Errorf("the second seed recorded events up to index %d (was %d); want none", after[0].Index, events[0].Index)
		}
		orgs, err := st.Organizations(ctx)
		if err != nil || len(orgs) != 1 {
			t.Errorf("Organizations = %v, %v; want one", orgs, err)
		}
		syss, err := st.Systems(ctx, first.Org.ID)
		if err != nil || len(syss) != len(systems) {
			t.Errorf("%d systems after two seeds (err %v); want %d", len(syss), err, len(systems))
		}
	})
}

func TestSeedKeepsChanges(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	res := seed(t, st)
	c, err := st.ControlByRef(ctx, res.Org.ID, "AC-01")
	if err != nil {
		t.Fatalf("ControlByRef: %v", err)
	}
	implemented := domain.StatusImplemented
	if _, err := st.UpdateControl(ctx, domain.SystemActor, res.Org.ID, c.ID, domain.ControlChange{Status: &implemented}); err != nil {
		t.Fatalf("UpdateControl: %v", err)
	}
	seed(t, st)
	got, err := st.ControlByRef(ctx, res.Org.ID, "AC-01")
	if err != nil {
		t.Fatalf("ControlByRef: %v", err)
	}
	if got.Status != domain.StatusImplemented {
		t.Errorf("AC-01 status after a second seed = %s; want the implemented status it was given", got.Status)
	}
}

func TestSeedFinishesAnInterruptedSeed(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	org := &domain.Organization{Slug: Slug, Name: Name}
	if err := st.CreateOrganization(ctx, domain.SystemActor, org, scope(testNow), catalog.Default().Library); err != nil {
		t.Fatalf("CreateOrganization: %v", err)
	}
	res := seed(t, st)
	if res.Created {
		t.Error("Seed reports creating an organization that existed")
	}
	fresh := storetest.SQLite(t)
	want := controlStates(t, fresh, seed(t, fresh).Org.ID)
	if diff := cmp.Diff(want, controlStates(t, st, res.Org.ID)); diff != "" {
		t.Errorf("finished seed differs from a whole one (-whole +finished):\n%s", diff)
	}
}

func TestSetPasswords(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	seed(t, st)
	const other = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXI$b3RoZXJrZXlvdGhlcmtleW90aGVya2V5b3RoZXJrZXk"
	if err := SetPasswords(ctx, st, other); err != nil {
		t.Fatalf("SetPasswords: %v", err)
	}
	for _, p := range People {
		u, err := st.UserByEmail(ctx, p.Email)
		if err != nil {
			t.Fatalf("UserByEmail(%q): %v", p.Email, err)
		}
		if u.PasswordHash != other {
			t.Errorf("%s has hash %q; want the new one", p.Email, u.PasswordHash)
		}
	}
}

// TestPlanMatchesLibrary guards the plan against changes to the library: every control it
// names exists, and every domain has an owner.
func TestPlanMatchesLibrary(t *testing.T) {
	cat := catalog.Default()
	var refs []string
	for ref := range findings {
		refs = append(refs, ref)
	}
	for ref := range notApplicable {
		refs = append(refs, ref)
	}
	for ref := range unowned {
		refs = append(refs, ref)
	}
	for ref := range ownerOverrides {
		refs = append(refs, ref)
	}
	for ref := range inPlace {
		refs = append(refs, ref)
	}
	refs = append(refs, retiredRef)
	for _, ref := range refs {
		lc, ok := cat.LibraryControl(ref)
		if !ok {
			t.Errorf("the demonstration plans library control %s, which does not exist", ref)
			continue
		}
		if _, ok := planFor(lc, cat); !ok {
			t.Errorf("library control %s maps to no category in scope, so its plan has no effect", ref)
		}
	}
	for _, lc := range cat.Library {
		if domainOwners[lc.Domain] == "" {
			t.Errorf("library domain %q (of %s) has no owner in the demonstration", lc.Domain, lc.Ref)
		}
	}
	if _, ok := cat.LibraryControl(Custom.Ref); ok {
		t.Errorf("the custom control's ref %s is also a library ref", Custom.Ref)
	}
	for _, p := range People {
		if !strings.HasSuffix(p.Email, "@acme.example") {
			t.Errorf("person %s is not at acme.example", p.Email)
		}
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	a, b := storetest.SQLite(t), storetest.SQLite(t)
	sa, sb := controlStates(t, a, seed(t, a).Org.ID), controlStates(t, b, seed(t, b).Org.ID)
	if diff := cmp.Diff(sa, sb); diff != "" {
		t.Errorf("two seeds differ (-first +second):\n%s", diff)
	}
}

func TestSeedRefusesARealOrganization(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	org := &domain.Organization{Slug: Slug, Name: "Acme Manufacturing"}
	if err := st.CreateOrganization(ctx, domain.SystemActor, org, nil, catalog.Default().Library); err != nil {
		t.Fatalf("CreateOrganization: %v", err)
	}
	_, err := Seed(ctx, st, catalog.Default(), Options{Now: testNow, PasswordHash: testHash})
	if err == nil || !strings.Contains(err.Error(), `"acme" (Acme Manufacturing) is not the demonstration`) {
		t.Fatalf("Seed over a real organization = %v; want a refusal", err)
	}
	if _, err := st.UserByEmail(ctx, Lead().Email); !domain.IsNotFound(err) {
		t.Errorf("UserByEmail(%q) after the refusal = %v; want not found", Lead().Email, err)
	}
}

// evidenceService returns the evidence service over the store, with files in a
// temporary directory.
func evidenceService(tb testing.TB, st *store.Store) *evidence.Service {
	tb.Helper()
	blobs, err := blob.Open(context.Background(), "", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return &evidence.Service{Store: st, Blobs: blobs, Now: func() time.Time { return testNow }}
}

func TestSeedEvidence(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc := evidenceService(t, st)
		opts := Options{Now: testNow, PasswordHash: testHash, Evidence: svc}
		res, err := Seed(ctx, st, catalog.Default(), opts)
		if err != nil {
			t.Fatalf("Seed: %v", err)
		}
		all, err := st.EvidenceList(ctx, res.Org.ID, domain.EvidenceFilter{IncludeSuperseded: true, IncludeRetracted: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(evidencePlan)+1 {
			t.Errorf("%d items of evidence; want the %d of the plan and one correction", len(all), len(evidencePlan)+1)
		}
		names := map[string]string{}
		for _, p := range People {
			names[p.Email] = p.Name
		}
		states := map[string]int{}
		for _, e := range all {
			switch {
			case e.RetractedAt != nil:
				states["retracted"]++
			case e.SupersededBy != nil:
				states["superseded"]++
			default:
				states["current"]++
			}
			if e.AddedBy == 0 || e.AddedByName == "" {
				t.Errorf("item %q was added by %d %q; want a demonstration person", e.Title, e.AddedBy, e.AddedByName)
			}
			if strings.Contains(e.Title, "{period}") {
				t.Errorf("item title %q still has its placeholder", e.Title)
			}
		}
		if diff := cmp.Diff(map[string]int{"current": len(evidencePlan) - 1, "superseded": 1, "retracted": 1}, states); diff != "" {
			t.Errorf("evidence states (-want +got):\n%s", diff)
		}

		latest, err := st.LatestEvidence(ctx, res.Org.ID)
		if err != nil {
			t.Fatal(err)
		}
		fresh := map[string]domain.Freshness{}
		for _, it := range evidencePlan {
			c, err := st.ControlByRef(ctx, res.Org.ID, it.ref)
			if err != nil {
				t.Fatal(err)
			}
			fresh[it.ref] = domain.FreshnessOf(c.Frequency, latest[c.ID], testNow)
		}
		want := map[string]domain.Freshness{
			"AC-02": domain.FreshCurrent, "GOV-06": domain.FreshCurrent, "HR-02": domain.FreshCurrent, "VEN-04": domain.FreshCurrent,
			"BCP-04": domain.FreshOverdue, "VUL-02": domain.FreshOverdue, "LOG-05": domain.FreshOverdue,
			"NET-03": domain.FreshNone, // its only item was withdrawn
		}
		if diff := cmp.Diff(want, fresh); diff != "" {
			t.Errorf("freshness on %s (-want +got):\n%s", testNow.Format(time.DateOnly), diff)
		}

		events, err := st.Events(ctx, res.Org.ID, domain.EventFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Seed(ctx, st, catalog.Default(), opts); err != nil {
			t.Fatalf("second Seed: %v", err)
		}
		again, err := st.Events(ctx, res.Org.ID, domain.EventFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Index != events[0].Index {
			t.Errorf("the second seed recorded events up to index %d (was %d); want none", again[0].Index, events[0].Index)
		}
	})
}

func TestEvidencePlanMatchesLibrary(t *testing.T) {
	cat := catalog.Default()
	owners := map[string]bool{}
	for _, p := range People {
		owners[p.Email] = true
	}
	for _, it := range evidencePlan {
		if _, ok := cat.LibraryControl(it.ref); !ok {
			t.Errorf("the evidence plan names library control %s, which does not exist", it.ref)
		}
		if !owners[it.by] {
			t.Errorf("evidence for %s is added by %s, who is not a demonstration person", it.ref, it.by)
		}
	}
}
