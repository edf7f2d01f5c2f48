package store_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// snapshot is everything an organization has, to show that nothing changed.
type snapshot struct {
	Controls []domain.Control
	Systems  []domain.System
	Tokens   []domain.APIToken
	Members  []domain.Member
	Scope    *domain.Scope
	Events   []domain.Event
}

func takeSnapshot(tb testing.TB, s *store.Store, orgID int64) snapshot {
	tb.Helper()
	var sn snapshot
	var err error
	sn.Controls, err = s.Controls(ctx, orgID, domain.ControlFilter{IncludeRetired: true})
	must(tb, "Controls", err)
	sn.Systems, err = s.Systems(ctx, orgID)
	must(tb, "Systems", err)
	sn.Tokens, err = s.APITokens(ctx, orgID)
	must(tb, "APITokens", err)
	sn.Members, err = s.Members(ctx, orgID)
	must(tb, "Members", err)
	sn.Scope, err = s.Scope(ctx, orgID)
	must(tb, "Scope", err)
	sn.Events = trail(tb, s, orgID)
	return sn
}

func TestTenancy(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		a := newOrg(t, s, "acme")
		b := newOrg(t, s, "beta")
		ann := newMember(t, s, a.ID, "ann@example.com", domain.RoleOwner)
		bob := newMember(t, s, b.ID, "bob@example.com", domain.RoleOwner)

		ctrl := &domain.Control{OrgID: a.ID, Ref: "EN-01", Title: "Encryption", Frequency: domain.FrequencyAnnual, Criteria: []string{"CC6.1"}, OwnerID: &ann.ID}
		must(t, "CreateControl", s.CreateControl(ctx, admin, ctrl))
		sys := &domain.System{OrgID: a.ID, Name: "API", Kind: "application", Classification: domain.DataInternal, OwnerID: &ann.ID}
		must(t, "CreateSystem", s.CreateSystem(ctx, admin, sys))
		tok := &domain.APIToken{OrgID: a.ID, UserID: ann.ID, Name: "ci", Prefix: "evt_x", Hash: []byte("acme-token")}
		must(t, "CreateAPIToken", s.CreateAPIToken(ctx, admin, tok))

		beforeA, beforeB := takeSnapshot(t, s, a.ID), takeSnapshot(t, s, b.ID)

		// Every getter and updater, given beta's ID and one of acme's objects.
		calls := []struct {
			name string
			call func() error
		}{
			{"Control", func() error { _, err := s.Control(ctx, b.ID, ctrl.ID); return err }},
			{"ControlByRef", func() error { _, err := s.ControlByRef(ctx, b.ID, "EN-01"); return err }},
			{"UpdateControl", func() error {
				_, err := s.UpdateControl(ctx, admin, b.ID, ctrl.ID, domain.ControlChange{Title: ptr("stolen")})
				return err
			}},
			{"UpdateControl retire", func() error {
				_, err := s.UpdateControl(ctx, admin, b.ID, ctrl.ID, domain.ControlChange{Retired: ptr(true)})
				return err
			}},
			{"MapControl", func() error { return s.MapControl(ctx, admin, b.ID, ctrl.ID, "CC3.4") }},
			{"UnmapControl", func() error { return s.UnmapControl(ctx, admin, b.ID, ctrl.ID, "CC6.1") }},
			{"System", func() error { _, err := s.System(ctx, b.ID, sys.ID); return err }},
			{"UpdateSystem", func() error {
				up := *sys
				up.OrgID, up.Name = b.ID, "stolen"
				return s.UpdateSystem(ctx, admin, &up)
			}},
			{"DeleteSystem", func() error { return s.DeleteSystem(ctx, admin, b.ID, sys.ID) }},
			{"Member", func() error { _, err := s.Member(ctx, b.ID, ann.ID); return err }},
			{"SetRole", func() error { return s.SetRole(ctx, admin, b.ID, ann.ID, domain.RoleViewer) }},
			{"RemoveMember", func() error { return s.RemoveMember(ctx, admin, b.ID, ann.ID) }},
			{"RevokeAPIToken", func() error { return s.RevokeAPIToken(ctx, admin, b.ID, tok.ID, time.Now()) }},
		}
		for _, c := range calls {
			wantKind(t, c.name+" with another organization's ID", c.call(), domain.KindNotFound)
		}

		// Beta's own objects cannot point at acme's people.
		bac := controlByRef(t, s, b.ID, "AC-01")
		_, err := s.UpdateControl(ctx, admin, b.ID, bac.ID, domain.ControlChange{OwnerID: ptr(&ann.ID)})
		wantInvalid(t, "UpdateControl with an owner from another organization", err, "owner_id")
		wantInvalid(t, "CreateSystem with an owner from another organization",
			s.CreateSystem(ctx, admin, &domain.System{OrgID: b.ID, Name: "X", Kind: "saas", Classification: domain.DataPublic, OwnerID: &ann.ID}), "owner_id")
		wantInvalid(t, "CreateAPIToken for a user of another organization",
			s.CreateAPIToken(ctx, admin, &domain.APIToken{OrgID: b.ID, UserID: ann.ID, Name: "x", Prefix: "p", Hash: []byte("h")}), "user_id")

		if got := controlByRef(t, s, b.ID, "AC-01"); got.ID == controlByRef(t, s, a.ID, "AC-01").ID {
			t.Errorf("ControlByRef(beta, AC-01) returned acme's control")
		}

		if diff := cmp.Diff(beforeA, takeSnapshot(t, s, a.ID)); diff != "" {
			t.Errorf("calls with another organization's ID changed acme (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(beforeB, takeSnapshot(t, s, b.ID)); diff != "" {
			t.Errorf("refused calls changed beta (-before +after):\n%s", diff)
		}

		// Beta's lists hold nothing of acme's.
		for _, c := range beforeB.Controls {
			if c.OrgID != b.ID || c.Ref == "EN-01" {
				t.Errorf("Controls(beta) includes %s of org %d", c.Ref, c.OrgID)
			}
		}
		if len(beforeB.Systems) != 0 || len(beforeB.Tokens) != 0 {
			t.Errorf("beta lists acme's systems %v or tokens %v", beforeB.Systems, beforeB.Tokens)
		}
		if len(beforeB.Members) != 1 || beforeB.Members[0].ID != bob.ID {
			t.Errorf("Members(beta) = %v; want only bob", beforeB.Members)
		}
		if e, err := s.Events(ctx, b.ID, domain.EventFilter{Subject: subject("control", ctrl.ID)}); err != nil || len(e) != 0 {
			t.Errorf("Events(beta) about acme's control = %v, %v; want none", e, err)
		}
	})
}

func TestEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := t0
		s.Now = func() time.Time { return clock }
		o := newOrg(t, s, "acme") // event 0 at t0
		ac := controlByRef(t, s, o.ID, "AC-01")
		cm := controlByRef(t, s, o.ID, "CM-01")
		ann := domain.Actor{UserID: 42, Email: "ann@example.com"}

		clock = t0.Add(time.Hour)
		must(t, "MapControl", s.MapControl(ctx, ann, o.ID, ac.ID, "CC3.4")) // 1
		clock = t0.Add(2 * time.Hour)
		_, err := s.UpdateControl(ctx, admin, o.ID, cm.ID, domain.ControlChange{Status: ptr(domain.StatusInProgress)}) // 2
		must(t, "UpdateControl", err)
		clock = t0.Add(3 * time.Hour)
		must(t, "UpdateScope", s.UpdateScope(ctx, ann, &domain.Scope{OrgID: o.ID, ReportType: domain.ReportTypeI})) // 3
		clock = t0.Add(4 * time.Hour)
		_, err = s.UpdateControl(ctx, ann, o.ID, ac.ID, domain.ControlChange{Status: ptr(domain.StatusImplemented)}) // 4
		must(t, "UpdateControl", err)

		es := trail(t, s, o.ID)
		if len(es) != 5 {
			t.Fatalf("events = %d; want 5", len(es))
		}
		if e := es[1]; e.ActorID != 42 || e.Actor != "ann@example.com" || !e.At.Equal(t0.Add(time.Hour)) {
			t.Errorf("event 1 = actor %d %q at %v; want 42 ann@example.com at %v", e.ActorID, e.Actor, e.At, t0.Add(time.Hour))
		}

		since, until := t0.Add(time.Hour), t0.Add(3*time.Hour)
		tests := []struct {
			name   string
			filter domain.EventFilter
			want   []int64
		}{
			{"all, newest first", domain.EventFilter{}, []int64{4, 3, 2, 1, 0}},
			{"exact type", domain.EventFilter{Type: domain.EventControlUpdated}, []int64{4, 2}},
			{"type prefix", domain.EventFilter{Type: "control."}, []int64{4, 2, 1}},
			{"type without dot is exact", domain.EventFilter{Type: "control"}, nil},
			{"prefix wildcard is literal", domain.EventFilter{Type: "control_"}, nil},
			{"actor", domain.EventFilter{ActorID: 42}, []int64{4, 3, 1}},
			{"subject", domain.EventFilter{Subject: subject("control", ac.ID)}, []int64{4, 1}},
			{"since and until", domain.EventFilter{Since: &since, Until: &until}, []int64{2, 1}},
			{"before", domain.EventFilter{Before: 3}, []int64{2, 1, 0}},
			{"limit", domain.EventFilter{Limit: 2}, []int64{4, 3}},
			{"before and limit", domain.EventFilter{Before: 4, Limit: 2}, []int64{3, 2}},
			{"combined", domain.EventFilter{Type: "control.", ActorID: 42, Before: 4}, []int64{1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Events(ctx, o.ID, tt.filter)
				must(t, "Events", err)
				var idx []int64
				for _, e := range got {
					idx = append(idx, e.Index)
				}
				if diff := cmp.Diff(tt.want, idx); diff != "" {
					t.Errorf("Events(%+v) indexes mismatch (-want +got):\n%s", tt.filter, diff)
				}
			})
		}
		_, err = s.Events(ctx, o.ID, domain.EventFilter{Limit: -1})
		wantInvalid(t, "Events with a negative limit", err, "limit")
		if got, err := s.Events(ctx, o.ID+1000, domain.EventFilter{}); err != nil || len(got) != 0 {
			t.Errorf("Events(unknown organization) = %v, %v; want none", got, err)
		}
	})
}

func TestEventsDefaultLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		ac := controlByRef(t, s, o.ID, "AC-01")
		for i := range 105 {
			_, err := s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{Title: ptr(fmt.Sprintf("Title %d", i))})
			must(t, "UpdateControl", err)
		}
		got, err := s.Events(ctx, o.ID, domain.EventFilter{})
		must(t, "Events", err)
		if len(got) != 100 || got[0].Index != 105 || got[99].Index != 6 {
			t.Errorf("Events with the default limit = %d events from %d; want the newest 100, from 105 down to 6", len(got), got[0].Index)
		}
		got, err = s.Events(ctx, o.ID, domain.EventFilter{Limit: 5000})
		must(t, "Events", err)
		if len(got) != 106 {
			t.Errorf("Events with a limit over the maximum = %d events; want all 106", len(got))
		}
		if n := len(trail(t, s, o.ID)); n != 106 {
			t.Errorf("trail = %d events; want 106", n)
		}
	})
}

func TestConcurrentUpdatesKeepEventIndexesGapless(t *testing.T) {
	t.Parallel()
	const workers, updates = 8, 25
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		cs, err := s.Controls(ctx, o.ID, domain.ControlFilter{})
		must(t, "Controls", err)

		var wg sync.WaitGroup
		errs := make(chan error, workers*updates)
		for w := range workers {
			wg.Go(func() {
				for i := range updates {
					c := cs[(w+i)%len(cs)]
					title := fmt.Sprintf("Title from worker %d, update %d", w, i)
					if _, err := s.UpdateControl(ctx, admin, o.ID, c.ID, domain.ControlChange{Title: &title}); err != nil {
						errs <- fmt.Errorf("worker %d update %d: %w", w, i, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		es := trail(t, s, o.ID) // fails on any gap or duplicate
		if want := 1 + workers*updates; len(es) != want {
			t.Fatalf("events after %d concurrent updates = %d; want %d", workers*updates, len(es), want)
		}
		seen := map[string]bool{}
		for _, e := range es[1:] {
			if e.Type != domain.EventControlUpdated {
				t.Fatalf("event %d type = %s; want %s", e.Index, e.Type, domain.EventControlUpdated)
			}
			to := eventData(t, e)["changes"].(map[string]any)["title"].(map[string]any)["to"].(string)
			if seen[to] {
				t.Errorf("update %q recorded twice", to)
			}
			seen[to] = true
		}
	})
}

// Two stores on one SQLite file stand for two processes, such as the server and the CLI:
// the database's write lock, not only the store's single writer, keeps indexes gapless.
func TestSQLiteTwoStoresKeepEventIndexesGapless(t *testing.T) {
	t.Parallel()
	const workers, updates = 4, 10
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores []*store.Store
	for range 2 {
		s, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		must(t, "Migrate", s.Migrate(ctx))
		stores = append(stores, s)
	}
	o := newOrg(t, stores[0], "acme")
	c := controlByRef(t, stores[1], o.ID, "AC-01")

	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*updates)
	for i, s := range stores {
		for w := range workers {
			wg.Go(func() {
				for u := range updates {
					title := fmt.Sprintf("Title from store %d, worker %d, update %d", i, w, u)
					if _, err := s.UpdateControl(ctx, admin, o.ID, c.ID, domain.ControlChange{Title: &title}); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if es := trail(t, stores[0], o.ID); len(es) != 1+2*workers*updates {
		t.Errorf("events = %d; want %d", len(es), 1+2*workers*updates)
	}
}
