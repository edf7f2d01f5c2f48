package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func TestUpdateScope(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return at }
		start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		end := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
		target := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)

		sc := &domain.Scope{
			OrgID:      o.ID,
			Categories: []domain.Category{domain.CategoryConfidentiality, domain.CategoryAvailability},
			ReportType: domain.ReportTypeII, PeriodStart: &start, PeriodEnd: &end, TargetDate: &target,
			OutOfScope: "The marketing website is out of scope.",
		}
		must(t, "UpdateScope", s.UpdateScope(ctx, admin, sc))
		want := &domain.Scope{
			OrgID:      o.ID,
			Categories: []domain.Category{domain.CategorySecurity, domain.CategoryAvailability, domain.CategoryConfidentiality},
			ReportType: domain.ReportTypeII, PeriodStart: &start, PeriodEnd: &end, TargetDate: &target,
			OutOfScope: "The marketing website is out of scope.", UpdatedAt: at,
		}
		if diff := cmp.Diff(want, sc); diff != "" {
			t.Errorf("UpdateScope result mismatch (-want +got):\n%s", diff)
		}
		got, err := s.Scope(ctx, o.ID)
		must(t, "Scope", err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Scope mismatch (-want +got):\n%s", diff)
		}
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventScopeUpdated, "scope", map[string]any{
			"categories":   []any{"security", "availability", "confidentiality"},
			"report_type":  "type2",
			"target_date":  "2027-02-01T00:00:00Z",
			"period_start": "2026-07-01T00:00:00Z",
			"period_end":   "2026-12-31T00:00:00Z",
			"out_of_scope": "The marketing website is out of scope.",
		})

		n := len(trail(t, s, o.ID))
		s.Now = func() time.Time { return at.Add(time.Hour) }
		again := *want
		must(t, "UpdateScope without change", s.UpdateScope(ctx, admin, &again))
		if got := len(trail(t, s, o.ID)); got != n {
			t.Errorf("UpdateScope without change wrote %d events; want none", got-n)
		}
		if !again.UpdatedAt.Equal(at) {
			t.Errorf("UpdatedAt after UpdateScope without change = %v; want unchanged %v", again.UpdatedAt, at)
		}

		invalid := []struct {
			name  string
			scope domain.Scope
			field string
		}{
			{"unknown category", domain.Scope{OrgID: o.ID, ReportType: domain.ReportTypeI, Categories: []domain.Category{"safety"}}, "categories"},
			{"no report type", domain.Scope{OrgID: o.ID}, "report_type"},
			{"period without end", domain.Scope{OrgID: o.ID, ReportType: domain.ReportTypeII, PeriodStart: &start}, "period_end"},
			{"period too short", domain.Scope{OrgID: o.ID, ReportType: domain.ReportTypeII, PeriodStart: &start, PeriodEnd: ptr(start.AddDate(0, 0, 30))}, "period_end"},
			{"long notes", domain.Scope{OrgID: o.ID, ReportType: domain.ReportTypeI, OutOfScope: strings.Repeat("x", 20001)}, "out_of_scope"},
		}
		for _, tt := range invalid {
			sc := tt.scope
			wantInvalid(t, "UpdateScope "+tt.name, s.UpdateScope(ctx, admin, &sc), tt.field)
		}
		got, err = s.Scope(ctx, o.ID)
		must(t, "Scope", err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("refused updates changed the scope (-want +got):\n%s", diff)
		}

		wantKind(t, "UpdateScope(unknown organization)", s.UpdateScope(ctx, admin, &domain.Scope{OrgID: o.ID + 1000, ReportType: domain.ReportTypeI}), domain.KindNotFound)
		_, err = s.Scope(ctx, o.ID+1000)
		wantKind(t, "Scope(unknown organization)", err, domain.KindNotFound)
	})
}

func TestSystems(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		ann := newMember(t, s, o.ID, "ann@example.com", domain.RoleAdmin)
		outsider := newUser(t, s, "eve@example.com")

		api := &domain.System{OrgID: o.ID, Name: " Payments API ", Description: "Public API", Kind: "application", Classification: domain.DataRestricted, OwnerID: &ann.ID}
		must(t, "CreateSystem", s.CreateSystem(ctx, admin, api))
		if api.ID == 0 || api.Name != "Payments API" || api.OwnerName != "ann" || api.CreatedAt.IsZero() {
			t.Fatalf("CreateSystem left %+v; want an ID, a trimmed name, the owner's name and a creation time", api)
		}
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventSystemCreated, subject("system", api.ID), map[string]any{
			"name": "Payments API", "kind": "application", "classification": "restricted", "owner_id": num(ann.ID),
		})
		aws := &domain.System{OrgID: o.ID, Name: "AWS production", Kind: "infrastructure", Classification: domain.DataConfidential}
		must(t, "CreateSystem", s.CreateSystem(ctx, admin, aws))

		got, err := s.System(ctx, o.ID, api.ID)
		must(t, "System", err)
		if diff := cmp.Diff(api, got); diff != "" {
			t.Errorf("System mismatch (-want +got):\n%s", diff)
		}
		list, err := s.Systems(ctx, o.ID)
		must(t, "Systems", err)
		if diff := cmp.Diff([]domain.System{*aws, *api}, list); diff != "" {
			t.Errorf("Systems mismatch (-want +got):\n%s", diff)
		}

		err = s.CreateSystem(ctx, admin, &domain.System{OrgID: o.ID, Name: "Payments API", Kind: "database", Classification: domain.DataPublic})
		wantKind(t, "CreateSystem with a taken name", err, domain.KindConflict)
		if !strings.Contains(err.Error(), "Payments API") {
			t.Errorf("conflict message %q does not name the system", err)
		}
		invalid := []struct {
			name  string
			sys   domain.System
			field string
		}{
			{"no name", domain.System{OrgID: o.ID, Kind: "saas", Classification: domain.DataPublic}, "name"},
			{"bad kind", domain.System{OrgID: o.ID, Name: "X", Kind: "mainframe", Classification: domain.DataPublic}, "kind"},
			{"bad classification", domain.System{OrgID: o.ID, Name: "X", Kind: "saas", Classification: "secret"}, "classification"},
			{"owner not a member", domain.System{OrgID: o.ID, Name: "X", Kind: "saas", Classification: domain.DataPublic, OwnerID: &outsider.ID}, "owner_id"},
		}
		for _, tt := range invalid {
			sys := tt.sys
			wantInvalid(t, "CreateSystem "+tt.name, s.CreateSystem(ctx, admin, &sys), tt.field)
			up := tt.sys
			up.ID = api.ID
			wantInvalid(t, "UpdateSystem "+tt.name, s.UpdateSystem(ctx, admin, &up), tt.field)
		}
		if got, _ := s.System(ctx, o.ID, api.ID); !cmp.Equal(api, got) {
			t.Errorf("refused updates changed the system: %+v; want %+v", got, api)
		}

		up := *api
		up.Classification = domain.DataConfidential
		up.OwnerID = nil
		up.Description = "Public API" // unchanged: not recorded
		must(t, "UpdateSystem", s.UpdateSystem(ctx, admin, &up))
		if up.OwnerName != "" || up.OwnerID != nil || up.Classification != domain.DataConfidential || up.UpdatedAt.Before(api.UpdatedAt) {
			t.Errorf("UpdateSystem left %+v", up)
		}
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventSystemUpdated, subject("system", api.ID), map[string]any{
			"name": "Payments API",
			"changes": map[string]any{
				"classification": map[string]any{"from": "restricted", "to": "confidential"},
				"owner_id":       map[string]any{"from": num(ann.ID), "to": nil},
			},
		})
		n := len(trail(t, s, o.ID))
		same := up
		must(t, "UpdateSystem without change", s.UpdateSystem(ctx, admin, &same))
		if got := len(trail(t, s, o.ID)); got != n {
			t.Errorf("UpdateSystem without change wrote %d events; want none", got-n)
		}
		rename := up
		rename.Name = "AWS production"
		wantKind(t, "UpdateSystem to a taken name", s.UpdateSystem(ctx, admin, &rename), domain.KindConflict)

		must(t, "DeleteSystem", s.DeleteSystem(ctx, admin, o.ID, aws.ID))
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventSystemDeleted, subject("system", aws.ID), map[string]any{"name": "AWS production", "kind": "infrastructure"})
		_, err = s.System(ctx, o.ID, aws.ID)
		wantKind(t, "System after DeleteSystem", err, domain.KindNotFound)
		wantKind(t, "DeleteSystem twice", s.DeleteSystem(ctx, admin, o.ID, aws.ID), domain.KindNotFound)
		gone := *aws
		wantKind(t, "UpdateSystem(deleted)", s.UpdateSystem(ctx, admin, &gone), domain.KindNotFound)
	})
}
