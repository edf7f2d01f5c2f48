package store_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// inventory reads every current resource of a type through the store's Inventory, as
// "externalID=name" sorted, with the connection of each.
func inventory(tb testing.TB, s *store.Store, orgID int64, typ string) []monitor.Resource {
	tb.Helper()
	var out []monitor.Resource
	for r, err := range s.Inventory(orgID).Resources(ctx, typ) {
		if err != nil {
			tb.Fatalf("Inventory(%s) = %v", typ, err)
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExternalID < out[j].ExternalID })
	return out
}

func TestConnectionRunInventory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		clk := withClock(s)
		org := newOrg(t, s, "acme")
		c := newConnection(t, s, org.ID, "production")
		created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

		run := claimOne(t, s, "r")
		done := finish(t, s, run, "r", domain.RunSucceeded, nil,
			res("custom.user", "u1", "alice", map[string]any{"mfa": true, "created": created}),
			res("custom.user", "u2", "bob", map[string]any{"mfa": false}),
			res("custom.bucket", "b1", "logs", map[string]any{"public": false}),
		)
		if done.Added != 3 || done.Changed != 0 || done.Gone != 0 {
			t.Errorf("first run added/changed/gone = %d/%d/%d; want 3/0/0", done.Added, done.Changed, done.Gone)
		}
		if diff := cmp.Diff(map[string]int{"custom.user": 2, "custom.bucket": 1}, done.Counts); diff != "" {
			t.Errorf("run counts mismatch (-want +got):\n%s", diff)
		}
		users := inventory(t, s, org.ID, "custom.user")
		want := []monitor.Resource{
			{Type: "custom.user", ExternalID: "u1", Name: "alice", Connection: "production",
				Attributes: map[string]any{"mfa": true, "created": "2025-01-02T03:04:05Z"}},
			{Type: "custom.user", ExternalID: "u2", Name: "bob", Connection: "production", Attributes: map[string]any{"mfa": false}},
		}
		if diff := cmp.Diff(want, users); diff != "" {
			t.Errorf("inventory mismatch (-want +got):\n%s", diff)
		}
		if n, err := s.Inventory(org.ID).(monitor.Counter).Count(ctx, "custom.user"); err != nil || n != 2 {
			t.Errorf("Count(custom.user) = %d, %v; want 2", n, err)
		}

		// The second run: alice changes, bob is gone, the bucket type fails and keeps its bucket.
		clk.advance(time.Hour)
		run = claimOne(t, s, "r")
		done = finish(t, s, run, "r", domain.RunPartial, []domain.TypeError{{Type: "custom.bucket", Message: "access denied"}},
			res("custom.user", "u1", "alice", map[string]any{"mfa": false, "created": created}),
			res("custom.user", "u3", "carol", map[string]any{"mfa": true}),
		)
		if done.Added != 1 || done.Changed != 1 || done.Gone != 1 {
			t.Errorf("second run added/changed/gone = %d/%d/%d; want 1/1/1", done.Added, done.Changed, done.Gone)
		}
		if diff := cmp.Diff([]domain.TypeError{{Type: "custom.bucket", Message: "access denied"}}, done.Errors); diff != "" {
			t.Errorf("run errors mismatch (-want +got):\n%s", diff)
		}
		if got := inventory(t, s, org.ID, "custom.bucket"); len(got) != 1 {
			t.Errorf("buckets after a run whose bucket type failed = %d; want the 1 kept", len(got))
		}
		all, err := s.Resources(ctx, org.ID, domain.ResourceFilter{Type: "custom.user", IncludeGone: true})
		must(t, "Resources", err)
		byID := map[string]domain.Resource{}
		for _, r := range all {
			byID[r.ExternalID] = r
		}
		alice, bob, carol := byID["u1"], byID["u2"], byID["u3"]
		if alice.Version != 2 || !alice.ChangedAt.Equal(clk.t) || !alice.FirstSeen.Equal(monitorStart) || !alice.LastSeen.Equal(clk.t) {
			t.Errorf("alice = version %d, first %v, last %v, changed %v; want version 2 changed and seen now", alice.Version, alice.FirstSeen, alice.LastSeen, alice.ChangedAt)
		}
		if bob.GoneAt == nil || !bob.GoneAt.Equal(clk.t) || !bob.LastSeen.Equal(monitorStart) {
			t.Errorf("bob gone at %v, last seen %v; want gone now, last seen at the first run", bob.GoneAt, bob.LastSeen)
		}
		if carol.Version != 1 || carol.GoneAt != nil || carol.Source != "production" || carol.ConnectionID == nil || *carol.ConnectionID != c.ID {
			t.Errorf("carol = %+v; want a current version-1 resource of the connection", carol)
		}
		versions, err := s.ResourceVersions(ctx, org.ID, alice.ID)
		must(t, "ResourceVersions", err)
		if len(versions) != 2 || versions[0].Version != 2 || versions[1].Version != 1 {
			t.Fatalf("ResourceVersions(alice) = %+v; want versions 2 and 1", versions)
		}
		var v1 map[string]any
		must(t, "decode version 1", json.Unmarshal(versions[1].Attributes, &v1))
		if v1["mfa"] != true || versions[1].Hash == versions[0].Hash {
			t.Errorf("version 1 = %s (hash %s), version 2 hash %s; want mfa true and differing hashes", versions[1].Attributes, versions[1].Hash, versions[0].Hash)
		}
		current, err := s.Resources(ctx, org.ID, domain.ResourceFilter{Type: "custom.user"})
		must(t, "Resources(current)", err)
		if len(current) != 2 {
			t.Errorf("current users = %d; want 2 (alice, carol)", len(current))
		}
		found, err := s.Resources(ctx, org.ID, domain.ResourceFilter{Query: "CAR"})
		must(t, "Resources(query)", err)
		if len(found) != 1 || found[0].Name != "carol" {
			t.Errorf("Resources(query CAR) = %+v; want carol", found)
		}
		types, err := s.ResourceTypes(ctx, org.ID)
		must(t, "ResourceTypes", err)
		if diff := cmp.Diff([]domain.ResourceTypeCount{{Type: "custom.bucket", Count: 1}, {Type: "custom.user", Count: 2}}, types); diff != "" {
			t.Errorf("ResourceTypes mismatch (-want +got):\n%s", diff)
		}

		// A failed run stores nothing and marks nothing gone; bob coming back is added again.
		clk.advance(time.Hour)
		run = claimOne(t, s, "r")
		finish(t, s, run, "r", domain.RunFailed, nil)
		if got := inventory(t, s, org.ID, "custom.user"); len(got) != 2 {
			t.Errorf("users after a failed run = %d; want 2", len(got))
		}
		clk.advance(time.Hour)
		run = claimOne(t, s, "r")
		done = finish(t, s, run, "r", domain.RunSucceeded, nil,
			res("custom.user", "u1", "alice", map[string]any{"mfa": false, "created": created}),
			res("custom.user", "u2", "bob", map[string]any{"mfa": false}),
			res("custom.user", "u3", "carol", map[string]any{"mfa": true}),
		)
		if done.Added != 1 || done.Changed != 0 || done.Gone != 1 {
			t.Errorf("fourth run added/changed/gone = %d/%d/%d; want bob back and the bucket gone", done.Added, done.Changed, done.Gone)
		}
		if got := inventory(t, s, org.ID, "custom.user"); len(got) != 3 {
			t.Errorf("users after bob came back = %d; want 3", len(got))
		}

		// Deleting the connection keeps its resources, gone.
		must(t, "DeleteConnection", s.DeleteConnection(ctx, admin, org.ID, c.ID))
		if got := inventory(t, s, org.ID, "custom.user"); len(got) != 0 {
			t.Errorf("users after the connection was deleted = %d; want 0", len(got))
		}
		kept, err := s.Resources(ctx, org.ID, domain.ResourceFilter{IncludeGone: true})
		must(t, "Resources(gone)", err)
		if len(kept) != 4 {
			t.Errorf("resources kept after the connection was deleted = %d; want 4", len(kept))
		}
		_, err = s.Resource(ctx, newOrg(t, s, "other").ID, kept[0].ID)
		wantKind(t, "Resource(other org)", err, domain.KindNotFound)
	})
}

func TestPushResources(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		withClock(s)
		org := newOrg(t, s, "acme")
		sum, err := s.UpsertResources(ctx, admin, org.ID, "hr-sync", []monitor.Resource{
			res("custom.vendor", "v1", "Acme Mail", map[string]any{"reviewed": true}),
			res("custom.vendor", "v2", "Acme Pay", map[string]any{"reviewed": false}),
		})
		must(t, "UpsertResources", err)
		if diff := cmp.Diff(domain.UpsertSummary{Added: 2}, sum); diff != "" {
			t.Errorf("summary mismatch (-want +got):\n%s", diff)
		}
		wantEvent(t, lastEvent(t, s, org.ID), domain.EventResourcesPushed, "source:hr-sync", map[string]any{
			"source": "hr-sync", "replace": false, "counts": map[string]any{"custom.vendor": num(2)},
			"added": num(2), "changed": num(0), "unchanged": num(0), "gone": num(0),
		})
		before := len(trail(t, s, org.ID))

		for _, tc := range []struct {
			name   string
			source string
			rs     []monitor.Resource
			field  string
		}{
			{"no source", " ", []monitor.Resource{res("custom.vendor", "v3", "x", nil)}, "source"},
			{"connection source", "connection:4", []monitor.Resource{res("custom.vendor", "v3", "x", nil)}, "source"},
			{"unknown type", "hr-sync", []monitor.Resource{res("custom.vendor", "v3", "x", nil), res("nope", "n", "x", nil)}, "resources[1].type"},
			{"no id", "hr-sync", []monitor.Resource{res("custom.vendor", "", "x", nil)}, "resources[0].id"},
			{"schema", "hr-sync", []monitor.Resource{res("aws.kms.key", "k", "key", map[string]any{"rotation_enabled": "yes"})}, ""},
			{"twice", "hr-sync", []monitor.Resource{res("custom.vendor", "v3", "x", nil), res("custom.vendor", "v3", "y", nil)}, "resources[1].id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.UpsertResources(ctx, admin, org.ID, tc.source, tc.rs)
				wantKind(t, "UpsertResources", err, domain.KindInvalid)
				if f := domain.FieldOf(err); tc.field != "" && f != tc.field {
					t.Errorf("UpsertResources = %v (field %q); want field %q", err, f, tc.field)
				} else if tc.field == "" && !strings.HasPrefix(f, "resources[0].attributes.") {
					t.Errorf("UpsertResources = %v (field %q); want a field of resources[0].attributes", err, f)
				}
			})
		}
		if got := inventory(t, s, org.ID, "custom.vendor"); len(got) != 2 {
			t.Errorf("vendors after rejected pushes = %d; want 2 (all or nothing)", len(got))
		}
		if n := len(trail(t, s, org.ID)); n != before {
			t.Errorf("rejected pushes appended %d events; want none", n-before)
		}

		sum, err = s.UpsertResources(ctx, admin, org.ID, "hr-sync", []monitor.Resource{
			res("custom.vendor", "v2", "Acme Pay", map[string]any{"reviewed": true}),
		})
		must(t, "UpsertResources(update)", err)
		if diff := cmp.Diff(domain.UpsertSummary{Changed: 1}, sum); diff != "" {
			t.Errorf("update summary mismatch (-want +got):\n%s", diff)
		}
		if got := inventory(t, s, org.ID, "custom.vendor"); len(got) != 2 {
			t.Errorf("vendors after a partial upsert = %d; want both kept", len(got))
		}
		sum, err = s.ReplaceResources(ctx, admin, org.ID, "hr-sync", []monitor.Resource{
			res("custom.vendor", "v2", "Acme Pay", map[string]any{"reviewed": true}),
		})
		must(t, "ReplaceResources", err)
		if diff := cmp.Diff(domain.UpsertSummary{Unchanged: 1, Gone: 1}, sum); diff != "" {
			t.Errorf("replace summary mismatch (-want +got):\n%s", diff)
		}
		got := inventory(t, s, org.ID, "custom.vendor")
		if len(got) != 1 || got[0].ExternalID != "v2" || got[0].Connection != "hr-sync" {
			t.Errorf("vendors after replace = %+v; want v2 of hr-sync", got)
		}
		// Another source's resources are its own.
		_, err = s.ReplaceResources(ctx, admin, org.ID, "other-sync", nil)
		must(t, "ReplaceResources(other source, empty)", err)
		if got := inventory(t, s, org.ID, "custom.vendor"); len(got) != 1 {
			t.Errorf("vendors after another source replaced its own = %d; want 1", len(got))
		}
	})
}
