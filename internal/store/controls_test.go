package store_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func TestCreateControl(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		ann := newMember(t, s, o.ID, "ann@example.com", domain.RoleAdmin)
		outsider := newUser(t, s, "eve@example.com")

		c := &domain.Control{
			OrgID: o.ID, Ref: " EN-01 ", Title: " Encryption at rest ", Description: "All storage volumes are encrypted.",
			Domain: "Cryptography", Frequency: domain.FrequencyQuarterly, EvidenceExpected: "KMS configuration",
			Criteria: []string{"CC6.7", "CC6.1", "CC6.7"}, OwnerID: &ann.ID, Status: domain.StatusInProgress,
		}
		must(t, "CreateControl", s.CreateControl(ctx, admin, c))
		if c.ID == 0 || c.Ref != "EN-01" || c.Title != "Encryption at rest" || c.OwnerName != "ann" || c.CreatedAt.IsZero() || c.FromLibrary {
			t.Fatalf("CreateControl left %+v; want an ID, trimmed text, the owner's name and a creation time", c)
		}
		if diff := cmp.Diff([]string{"CC6.1", "CC6.7"}, c.Criteria); diff != "" {
			t.Errorf("criteria mismatch (-want +got):\n%s", diff)
		}
		got, err := s.Control(ctx, o.ID, c.ID)
		must(t, "Control", err)
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("Control mismatch (-want +got):\n%s", diff)
		}
		got, err = s.ControlByRef(ctx, o.ID, "EN-01")
		must(t, "ControlByRef", err)
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("ControlByRef mismatch (-want +got):\n%s", diff)
		}
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventControlCreated, subject("control", c.ID), map[string]any{
			"ref": "EN-01", "title": "Encryption at rest", "status": "in_progress", "frequency": "quarterly",
			"owner_id": num(ann.ID), "criteria": []any{"CC6.1", "CC6.7"}, "from_library": false,
		})

		plain := &domain.Control{OrgID: o.ID, Ref: "EN-02", Title: "TLS everywhere", Frequency: domain.FrequencyContinuous}
		must(t, "CreateControl without status or criteria", s.CreateControl(ctx, admin, plain))
		if plain.Status != domain.StatusNotStarted || len(plain.Criteria) != 0 || plain.OwnerID != nil {
			t.Errorf("CreateControl defaults = status %s, criteria %v, owner %v; want not started, none, none", plain.Status, plain.Criteria, plain.OwnerID)
		}

		err = s.CreateControl(ctx, admin, &domain.Control{OrgID: o.ID, Ref: "EN-01", Title: "Again", Frequency: domain.FrequencyAnnual})
		wantKind(t, "CreateControl with a taken ref", err, domain.KindConflict)
		if !strings.Contains(err.Error(), "EN-01") {
			t.Errorf("conflict message %q does not name the ref", err)
		}

		valid := func() domain.Control {
			return domain.Control{OrgID: o.ID, Ref: "X-01", Title: "X", Frequency: domain.FrequencyAnnual, Status: domain.StatusNotStarted}
		}
		invalid := []struct {
			name   string
			change func(c *domain.Control)
			field  string
		}{
			{"no ref", func(c *domain.Control) { c.Ref = " " }, "ref"},
			{"long ref", func(c *domain.Control) { c.Ref = strings.Repeat("R", 33) }, "ref"},
			{"no title", func(c *domain.Control) { c.Title = "" }, "title"},
			{"bad frequency", func(c *domain.Control) { c.Frequency = "hourly" }, "frequency"},
			{"bad status", func(c *domain.Control) { c.Status = "done" }, "status"},
			{"not applicable without justification", func(c *domain.Control) { c.Status = domain.StatusNotApplicable }, "justification"},
			{"unknown criterion", func(c *domain.Control) { c.Criteria = []string{"CC6.1", "ZZ1.1"} }, "criteria"},
			{"owner not a member", func(c *domain.Control) { c.OwnerID = &outsider.ID }, "owner_id"},
		}
		before := len(trail(t, s, o.ID))
		for _, tt := range invalid {
			c := valid()
			tt.change(&c)
			wantInvalid(t, "CreateControl "+tt.name, s.CreateControl(ctx, admin, &c), tt.field)
		}
		if _, err := s.ControlByRef(ctx, o.ID, "X-01"); !domain.IsNotFound(err) {
			t.Errorf("ControlByRef after refused creations = %v; want not found", err)
		}
		if got := len(trail(t, s, o.ID)); got != before {
			t.Errorf("refused creations wrote %d events; want none", got-before)
		}
		wantKind(t, "CreateControl in an unknown organization", s.CreateControl(ctx, admin, &domain.Control{OrgID: o.ID + 1000, Ref: "Y", Title: "Y", Frequency: domain.FrequencyAnnual}), domain.KindNotFound)

		_, err = s.Control(ctx, o.ID, c.ID+1000)
		wantKind(t, "Control(unknown)", err, domain.KindNotFound)
		_, err = s.ControlByRef(ctx, o.ID, "NOPE")
		wantKind(t, "ControlByRef(unknown)", err, domain.KindNotFound)
	})
}

func TestControlsFilter(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme") // AC-01 (CC6.1, CC6.2), CM-01 (CC8.1), HR-01 (CC1.4, CC2.2)
		other := newOrg(t, s, "beta")
		ann := newMember(t, s, o.ID, "ann@example.com", domain.RoleAdmin)
		bob := newMember(t, s, o.ID, "bob@example.com", domain.RoleMember)
		must(t, "CreateControl", s.CreateControl(ctx, admin, &domain.Control{
			OrgID: o.ID, Ref: "EN-01", Title: "Storage ENCRYPTION", Description: "Volumes use 100% managed keys_v2.",
			Domain: "Cryptography", Frequency: domain.FrequencyQuarterly, Criteria: []string{"CC6.1"}, OwnerID: &ann.ID,
			Status: domain.StatusImplemented,
		}))
		must(t, "CreateControl", s.CreateControl(ctx, admin, &domain.Control{
			OrgID: o.ID, Ref: "OLD-01", Title: "Fax machine encryption", Frequency: domain.FrequencyAnnual,
			Criteria: []string{"CC6.1"}, OwnerID: &bob.ID, Domain: "Cryptography",
		}))
		old := controlByRef(t, s, o.ID, "OLD-01")
		_, err := s.UpdateControl(ctx, admin, o.ID, old.ID, domain.ControlChange{Retired: ptr(true)})
		must(t, "retire OLD-01", err)
		ac := controlByRef(t, s, o.ID, "AC-01")
		_, err = s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{OwnerID: ptr(&bob.ID)})
		must(t, "assign AC-01", err)

		tests := []struct {
			name   string
			filter domain.ControlFilter
			want   []string
		}{
			{"all active", domain.ControlFilter{}, []string{"AC-01", "CM-01", "EN-01", "HR-01"}},
			{"with retired", domain.ControlFilter{IncludeRetired: true}, []string{"AC-01", "CM-01", "EN-01", "HR-01", "OLD-01"}},
			{"query in title, other case", domain.ControlFilter{Query: "encryption"}, []string{"EN-01"}},
			{"query upper case", domain.ControlFilter{Query: "STORAGE"}, []string{"EN-01"}},
			{"query in ref", domain.ControlFilter{Query: "cm-0"}, []string{"CM-01"}},
			{"query in description", domain.ControlFilter{Query: "second FACTOR"}, []string{"AC-01"}},
			{"query with percent is literal", domain.ControlFilter{Query: "100%"}, []string{"EN-01"}},
			{"query with underscore is literal", domain.ControlFilter{Query: "keys_v"}, []string{"EN-01"}},
			{"underscore matches no other character", domain.ControlFilter{Query: "ac_01"}, nil},
			{"query with retired", domain.ControlFilter{Query: "encryption", IncludeRetired: true}, []string{"EN-01", "OLD-01"}},
			{"status", domain.ControlFilter{Status: domain.StatusImplemented}, []string{"EN-01"}},
			{"status not started", domain.ControlFilter{Status: domain.StatusNotStarted}, []string{"AC-01", "CM-01", "HR-01"}},
			{"owner", domain.ControlFilter{OwnerID: bob.ID}, []string{"AC-01"}},
			{"owner with retired", domain.ControlFilter{OwnerID: bob.ID, IncludeRetired: true}, []string{"AC-01", "OLD-01"}},
			{"no owner", domain.ControlFilter{OwnerID: -1}, []string{"CM-01", "HR-01"}},
			{"criterion", domain.ControlFilter{Criterion: "CC6.1"}, []string{"AC-01", "EN-01"}},
			{"criterion of one", domain.ControlFilter{Criterion: "CC2.2"}, []string{"HR-01"}},
			{"criterion of none", domain.ControlFilter{Criterion: "A1.2"}, nil},
			{"domain", domain.ControlFilter{Domain: "Cryptography"}, []string{"EN-01"}},
			{"combined", domain.ControlFilter{Criterion: "CC6.1", OwnerID: -1, Status: domain.StatusNotStarted}, nil},
			{"combined match", domain.ControlFilter{Criterion: "CC6.1", OwnerID: ann.ID, Query: "volumes"}, []string{"EN-01"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cs, err := s.Controls(ctx, o.ID, tt.filter)
				must(t, "Controls", err)
				var refs []string
				for _, c := range cs {
					refs = append(refs, c.Ref)
				}
				if diff := cmp.Diff(tt.want, refs); diff != "" {
					t.Errorf("Controls(%+v) mismatch (-want +got):\n%s", tt.filter, diff)
				}
			})
		}

		cs, err := s.Controls(ctx, o.ID, domain.ControlFilter{IncludeRetired: true})
		must(t, "Controls", err)
		for _, c := range cs {
			one, err := s.Control(ctx, o.ID, c.ID)
			must(t, "Control", err)
			if diff := cmp.Diff(one, &c); diff != "" {
				t.Errorf("Controls entry %s differs from Control (-Control +Controls):\n%s", c.Ref, diff)
			}
		}
		if cs, err := s.Controls(ctx, other.ID, domain.ControlFilter{Query: "encryption", IncludeRetired: true}); err != nil || len(cs) != 0 {
			t.Errorf("Controls of another organization = %d, %v; want none of acme's", len(cs), err)
		}
		_, err = s.Controls(ctx, o.ID, domain.ControlFilter{Status: "done"})
		wantInvalid(t, "Controls with a bad status", err, "status")
		_, err = s.Controls(ctx, o.ID, domain.ControlFilter{OwnerID: -2})
		wantInvalid(t, "Controls with a bad owner", err, "owner_id")
	})
}

func TestUpdateControl(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		ann := newMember(t, s, o.ID, "ann@example.com", domain.RoleAdmin)
		outsider := newUser(t, s, "eve@example.com")
		ac := controlByRef(t, s, o.ID, "AC-01")
		at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return at }

		got, err := s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{
			Status:  ptr(domain.StatusImplemented),
			OwnerID: ptr(&ann.ID),
			Title:   ptr(ac.Title), // unchanged: not recorded
		})
		must(t, "UpdateControl", err)
		want := *ac
		want.Status, want.OwnerID, want.OwnerName, want.UpdatedAt = domain.StatusImplemented, &ann.ID, "ann", at
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("UpdateControl result mismatch (-want +got):\n%s", diff)
		}
		stored, err := s.Control(ctx, o.ID, ac.ID)
		must(t, "Control", err)
		if diff := cmp.Diff(got, stored); diff != "" {
			t.Errorf("stored control differs from UpdateControl's result (-result +stored):\n%s", diff)
		}
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventControlUpdated, subject("control", ac.ID), map[string]any{
			"ref": "AC-01",
			"changes": map[string]any{
				"status":   map[string]any{"from": "not_started", "to": "implemented"},
				"owner_id": map[string]any{"from": nil, "to": num(ann.ID)},
			},
		})

		n := len(trail(t, s, o.ID))
		same, err := s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{Status: ptr(domain.StatusImplemented), Title: ptr("  " + ac.Title + " ")})
		must(t, "UpdateControl without change", err)
		if diff := cmp.Diff(stored, same); diff != "" {
			t.Errorf("UpdateControl without change returned a different control (-stored +returned):\n%s", diff)
		}
		if got := len(trail(t, s, o.ID)); got != n {
			t.Errorf("UpdateControl without change wrote %d events; want none", got-n)
		}

		// Retiring sets the time once; bringing back clears it.
		retiredAt := at.Add(time.Hour)
		s.Now = func() time.Time { return retiredAt }
		got, err = s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{Retired: ptr(true)})
		must(t, "retire", err)
		if got.RetiredAt == nil || !got.RetiredAt.Equal(retiredAt) {
			t.Errorf("RetiredAt after retiring = %v; want %v", got.RetiredAt, retiredAt)
		}
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventControlUpdated, subject("control", ac.ID), map[string]any{
			"ref": "AC-01", "changes": map[string]any{"retired": map[string]any{"from": false, "to": true}},
		})
		s.Now = func() time.Time { return retiredAt.Add(time.Hour) }
		got, err = s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{Retired: ptr(true)})
		must(t, "retire again", err)
		if got.RetiredAt == nil || !got.RetiredAt.Equal(retiredAt) {
			t.Errorf("RetiredAt after retiring twice = %v; want the first time %v", got.RetiredAt, retiredAt)
		}
		got, err = s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{Retired: ptr(false)})
		must(t, "bring back", err)
		if got.RetiredAt != nil {
			t.Errorf("RetiredAt after bringing back = %v; want nil", got.RetiredAt)
		}

		// Not applicable needs a justification, given in the same change or already there.
		got, err = s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{
			Status: ptr(domain.StatusNotApplicable), Justification: ptr("No production systems yet"),
			Description: ptr("new description"), Domain: ptr("Identity"), Frequency: ptr(domain.FrequencyMonthly),
			EvidenceExpected: ptr("screenshots"), OwnerID: ptr[*int64](nil),
		})
		must(t, "UpdateControl to not applicable", err)
		if got.Status != domain.StatusNotApplicable || got.Justification != "No production systems yet" || got.OwnerID != nil || got.OwnerName != "" ||
			got.Description != "new description" || got.Domain != "Identity" || got.Frequency != domain.FrequencyMonthly || got.EvidenceExpected != "screenshots" {
			t.Errorf("UpdateControl to not applicable = %+v", got)
		}
		changes := eventData(t, lastEvent(t, s, o.ID))["changes"].(map[string]any)
		fields := slices.Sorted(maps.Keys(changes))
		if diff := cmp.Diff([]string{"description", "domain", "evidence_expected", "frequency", "justification", "owner_id", "status"}, fields); diff != "" {
			t.Errorf("changed fields recorded mismatch (-want +got):\n%s", diff)
		}

		before := controlByRef(t, s, o.ID, "AC-01")
		n = len(trail(t, s, o.ID))
		invalid := []struct {
			name  string
			ch    domain.ControlChange
			field string
		}{
			{"clearing the justification of a not applicable control", domain.ControlChange{Justification: ptr(" ")}, "justification"},
			{"empty title", domain.ControlChange{Title: ptr("")}, "title"},
			{"bad status", domain.ControlChange{Status: ptr(domain.ControlStatus("done"))}, "status"},
			{"bad frequency", domain.ControlChange{Frequency: ptr(domain.Frequency("hourly"))}, "frequency"},
			{"owner not a member", domain.ControlChange{OwnerID: ptr(&outsider.ID)}, "owner_id"},
		}
		for _, tt := range invalid {
			_, err := s.UpdateControl(ctx, admin, o.ID, ac.ID, tt.ch)
			wantInvalid(t, "UpdateControl "+tt.name, err, tt.field)
		}
		if diff := cmp.Diff(before, controlByRef(t, s, o.ID, "AC-01")); diff != "" {
			t.Errorf("refused updates changed the control (-before +after):\n%s", diff)
		}
		if got := len(trail(t, s, o.ID)); got != n {
			t.Errorf("refused updates wrote %d events; want none", got-n)
		}

		cm := controlByRef(t, s, o.ID, "CM-01")
		_, err = s.UpdateControl(ctx, admin, o.ID, cm.ID, domain.ControlChange{Status: ptr(domain.StatusNotApplicable)})
		wantInvalid(t, "UpdateControl to not applicable without justification", err, "justification")
		_, err = s.UpdateControl(ctx, admin, o.ID, cm.ID+1000, domain.ControlChange{Title: ptr("x")})
		wantKind(t, "UpdateControl(unknown)", err, domain.KindNotFound)
	})
}

func TestMapControl(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		cm := controlByRef(t, s, o.ID, "CM-01")

		must(t, "MapControl", s.MapControl(ctx, admin, o.ID, cm.ID, "CC3.4"))
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventControlMapped, subject("control", cm.ID), map[string]any{"ref": "CM-01", "criterion": "CC3.4"})
		if got := controlByRef(t, s, o.ID, "CM-01").Criteria; !cmp.Equal(got, []string{"CC3.4", "CC8.1"}) {
			t.Errorf("criteria after MapControl = %v; want [CC3.4 CC8.1]", got)
		}
		if cs, _ := s.Controls(ctx, o.ID, domain.ControlFilter{Criterion: "CC3.4"}); len(cs) != 1 || cs[0].ID != cm.ID {
			t.Errorf("Controls(criterion CC3.4) after MapControl = %v; want CM-01", cs)
		}
		wantKind(t, "MapControl twice", s.MapControl(ctx, admin, o.ID, cm.ID, "CC3.4"), domain.KindConflict)
		wantInvalid(t, "MapControl to an unknown criterion", s.MapControl(ctx, admin, o.ID, cm.ID, "CC42.1"), "criterion")
		wantKind(t, "MapControl(unknown control)", s.MapControl(ctx, admin, o.ID, cm.ID+1000, "CC3.4"), domain.KindNotFound)

		must(t, "UnmapControl", s.UnmapControl(ctx, admin, o.ID, cm.ID, "CC8.1"))
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventControlUnmapped, subject("control", cm.ID), map[string]any{"ref": "CM-01", "criterion": "CC8.1"})
		if got := controlByRef(t, s, o.ID, "CM-01").Criteria; !cmp.Equal(got, []string{"CC3.4"}) {
			t.Errorf("criteria after UnmapControl = %v; want [CC3.4]", got)
		}
		wantKind(t, "UnmapControl of a criterion not mapped", s.UnmapControl(ctx, admin, o.ID, cm.ID, "CC8.1"), domain.KindNotFound)
		wantKind(t, "UnmapControl(unknown control)", s.UnmapControl(ctx, admin, o.ID, cm.ID+1000, "CC3.4"), domain.KindNotFound)
	})
}
