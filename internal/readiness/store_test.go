package readiness_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// consultantFindings are what a readiness assessor typically reports; each is the finding
// of a library control.
var consultantFindings = []string{
	"No formal user access review process",
	"Encryption is not enabled on all storage volumes",
	"The incident response plan has never been tested",
	"Vendor contracts lack a security addendum",
}

// newOrg creates an organization with every category in scope that adopts library, and a
// member who can own controls.
func newOrg(tb testing.TB, st *store.Store, library []domain.LibraryControl) (orgID int64, owner domain.Actor) {
	tb.Helper()
	ctx := context.Background()
	o := &domain.Organization{Slug: "acme", Name: "Acme"}
	scope := &domain.Scope{Categories: domain.Categories, ReportType: domain.ReportTypeII}
	if err := st.CreateOrganization(ctx, domain.SystemActor, o, scope, library); err != nil {
		tb.Fatalf("CreateOrganization: %v", err)
	}
	u := &domain.User{Email: "lead@acme.example", Name: "Lee"}
	if err := st.CreateUser(ctx, u); err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	if err := st.AddMember(ctx, domain.SystemActor, o.ID, u.ID, domain.RoleOwner); err != nil {
		tb.Fatalf("AddMember: %v", err)
	}
	return o.ID, domain.Actor{UserID: u.ID, Email: u.Email}
}

func TestComputeFromStore(t *testing.T) {
	cat := catalog.Default()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		orgID, lead := newOrg(t, st, cat.Library)

		before, err := readiness.Compute(ctx, st, cat, orgID, now)
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		if len(before.Criteria) != len(cat.Criteria) {
			t.Errorf("criteria in scope = %d; want all %d", len(before.Criteria), len(cat.Criteria))
		}
		if before.Controls != len(cat.Library) || before.Score != 0 {
			t.Errorf("fresh organization: %d controls, score %v; want %d and 0", before.Controls, before.Score, len(cat.Library))
		}
		byTitle := map[string]readiness.Gap{}
		for _, g := range before.Gaps {
			if g.Kind == readiness.GapUncovered {
				t.Errorf("the full library leaves %v uncovered", g.Criteria)
			}
			byTitle[g.Title] = g
		}
		for _, finding := range consultantFindings {
			g, ok := byTitle[finding]
			if !ok {
				t.Errorf("no gap titled %q in a fresh organization", finding)
				continue
			}
			if g.Kind != readiness.GapNotImplemented || g.Severity != readiness.SeverityHigh || g.ControlRef == "" {
				t.Errorf("gap %q = %s %s on %q; want a high control_not_implemented gap naming the control", finding, g.Severity, g.Kind, g.ControlRef)
			}
		}

		// The access review gets implemented and owned: its finding goes, the score rises.
		review := byTitle[consultantFindings[0]]
		implemented, owner := domain.StatusImplemented, &lead.UserID
		if _, err := st.UpdateControl(ctx, lead, orgID, review.ControlID, domain.ControlChange{Status: &implemented, OwnerID: &owner}); err != nil {
			t.Fatalf("UpdateControl: %v", err)
		}
		after, err := readiness.Compute(ctx, st, cat, orgID, now)
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		if !(after.Score > before.Score) {
			t.Errorf("score after implementing %s = %v; want above %v", review.ControlRef, after.Score, before.Score)
		}
		var noEvidence bool
		for _, g := range after.Gaps {
			if g.ControlID != review.ControlID {
				continue
			}
			if g.Kind != readiness.GapNoEvidence || g.Severity != readiness.SeverityMedium {
				t.Errorf("implemented, owned %s still has gap %s %s %q", review.ControlRef, g.Severity, g.Kind, g.Title)
			}
			noEvidence = true
		}
		if !noEvidence {
			t.Errorf("%s has no evidence but no gap says so", review.ControlRef)
		}

		// Evidence that reaches the day before now is current for every frequency.
		item := domain.NewEvidence{
			Evidence: domain.Evidence{
				Kind: domain.EvidenceNote, Title: "Access review", ControlIDs: []int64{review.ControlID},
				PeriodStart: now.AddDate(-1, 0, 0), PeriodEnd: now.AddDate(0, 0, -1), MediaType: "text/plain",
			},
			Content: []byte("Reviewed."),
		}
		if _, err := st.AddEvidence(ctx, lead, orgID, []domain.NewEvidence{item}); err != nil {
			t.Fatalf("AddEvidence: %v", err)
		}
		withEvidence, err := readiness.Compute(ctx, st, cat, orgID, now)
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		for _, g := range withEvidence.Gaps {
			if g.ControlID == review.ControlID {
				t.Errorf("%s with current evidence still has gap %s %q", review.ControlRef, g.Kind, g.Title)
			}
		}
		if len(withEvidence.Gaps) != len(after.Gaps)-1 {
			t.Errorf("current evidence for one control took %d gaps to %d; want one fewer", len(after.Gaps), len(withEvidence.Gaps))
		}
	})
}

// BenchmarkCompute500 computes readiness for an organization with 500 controls mapped
// across all 61 criteria, every category in scope, in every status, through SQLite.
func BenchmarkCompute500(b *testing.B) {
	cat := catalog.Default()
	st := storetest.SQLite(b)
	ctx := context.Background()
	library := make([]domain.LibraryControl, 500)
	for i := range library {
		n := len(cat.Criteria)
		library[i] = domain.LibraryControl{
			Ref:              fmt.Sprintf("BM-%03d", i),
			Title:            fmt.Sprintf("Benchmark control %d", i),
			Description:      "A control of the readiness benchmark.",
			Domain:           "Benchmark",
			Frequency:        domain.FrequencyQuarterly,
			EvidenceExpected: "Records showing the control operates.",
			Criteria:         []string{cat.Criteria[i%n].ID, cat.Criteria[(i*7+3)%n].ID},
			Finding:          "The benchmark control is missing",
		}
	}
	orgID, lead := newOrg(b, st, library)
	cs, err := st.Controls(ctx, orgID, domain.ControlFilter{})
	if err != nil {
		b.Fatal(err)
	}
	owner := &lead.UserID
	for i, c := range cs {
		var ch domain.ControlChange
		switch i % 5 {
		case 1:
			s := domain.StatusInProgress
			ch.Status = &s
		case 2, 3:
			s := domain.StatusImplemented
			ch.Status, ch.OwnerID = &s, &owner
		case 4:
			s, why := domain.StatusNotApplicable, "Not relevant to the benchmark."
			ch.Status, ch.Justification, ch.OwnerID = &s, &why, &owner
		default:
			continue
		}
		if _, err := st.UpdateControl(ctx, lead, orgID, c.ID, ch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := readiness.Compute(ctx, st, cat, orgID, now)
		if err != nil {
			b.Fatal(err)
		}
		if r.Controls != 500 || len(r.Criteria) != 61 {
			b.Fatalf("report has %d controls over %d criteria; want 500 over 61", r.Controls, len(r.Criteria))
		}
	}
}
