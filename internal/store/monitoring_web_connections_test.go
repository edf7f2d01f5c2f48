package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// keys lists resources as "type/externalID".
func keys(rs []domain.Resource) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Type+"/"+r.ExternalID)
	}
	return out
}

// TestBrowseResources pages through the inventory by type and ID, with the filters, and
// counts per type, source and connection.
func TestBrowseResources(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		withClock(s)
		org := newOrg(t, s, "acme")
		other := newOrg(t, s, "other")
		c := newConnection(t, s, org.ID, "production")
		run := claimOne(t, s, "r")
		finish(t, s, run, "r", domain.RunSucceeded, nil,
			res("custom.user", "u1", "alice", nil), res("custom.user", "u2", "bob", nil),
			res("custom.bucket", "b1", "logs", nil))
		_, err := s.UpsertResources(ctx, admin, org.ID, "cmdb", []monitor.Resource{
			res("custom.bucket", "b2", "backups", nil), res("custom.laptop", "l1", "alice's laptop", nil),
			res("custom.laptop", "l2", "bob's laptop", nil),
		})
		must(t, "UpsertResources", err)
		_, err = s.ReplaceResources(ctx, admin, org.ID, "cmdb", []monitor.Resource{
			res("custom.bucket", "b2", "backups", nil), res("custom.laptop", "l1", "alice's laptop", nil),
		})
		must(t, "ReplaceResources", err)
		_, err = s.UpsertResources(ctx, admin, other.ID, "cmdb", []monitor.Resource{res("custom.laptop", "x1", "other's", nil)})
		must(t, "UpsertResources(other)", err)

		// Pages of two, each starting after the last of the previous one.
		var got []string
		var afterType string
		var after int64
		for page := 0; ; page++ {
			rs, err := s.BrowseResources(ctx, org.ID, domain.ResourceFilter{Limit: 2, After: after}, afterType)
			must(t, "BrowseResources", err)
			got = append(got, keys(rs)...)
			if len(rs) < 2 {
				break
			}
			afterType, after = rs[len(rs)-1].Type, rs[len(rs)-1].ID
			if page > 5 {
				t.Fatal("paging does not end")
			}
		}
		want := []string{"custom.bucket/b1", "custom.bucket/b2", "custom.laptop/l1", "custom.user/u1", "custom.user/u2"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}

		filters := []struct {
			name string
			f    domain.ResourceFilter
			want []string
		}{
			{"type", domain.ResourceFilter{Type: "custom.laptop"}, []string{"custom.laptop/l1"}},
			{"source", domain.ResourceFilter{Source: "production"}, []string{"custom.bucket/b1", "custom.user/u1", "custom.user/u2"}},
			{"connection", domain.ResourceFilter{ConnectionID: c.ID, Type: "custom.user"}, []string{"custom.user/u1", "custom.user/u2"}},
			{"search", domain.ResourceFilter{Query: "ALICE"}, []string{"custom.laptop/l1", "custom.user/u1"}},
			{"search is literal", domain.ResourceFilter{Query: "%"}, []string{}},
			{"gone", domain.ResourceFilter{Source: "cmdb", IncludeGone: true}, []string{"custom.bucket/b2", "custom.laptop/l1", "custom.laptop/l2"}},
		}
		for _, tt := range filters {
			t.Run(tt.name, func(t *testing.T) {
				rs, err := s.BrowseResources(ctx, org.ID, tt.f, "")
				must(t, "BrowseResources", err)
				if diff := cmp.Diff(tt.want, keys(rs)); diff != "" {
					t.Errorf("BrowseResources(%+v) (-want +got):\n%s", tt.f, diff)
				}
				// Resources filters alike.
				rs, err = s.Resources(ctx, org.ID, tt.f)
				must(t, "Resources", err)
				if diff := cmp.Diff(tt.want, keys(rs)); diff != "" {
					t.Errorf("Resources(%+v) (-want +got):\n%s", tt.f, diff)
				}
			})
		}
		if _, err := s.BrowseResources(ctx, org.ID, domain.ResourceFilter{Limit: -1}, ""); domain.FieldOf(err) != "limit" {
			t.Errorf("BrowseResources(limit -1) = %v; want invalid limit", err)
		}

		counts, err := s.ResourceCounts(ctx, org.ID, domain.ResourceFilter{Query: "alice", Type: "ignored", Limit: 1})
		must(t, "ResourceCounts", err)
		wantCounts := []domain.ResourceTypeCount{{Type: "custom.laptop", Count: 1}, {Type: "custom.user", Count: 1}}
		if diff := cmp.Diff(wantCounts, counts); diff != "" {
			t.Errorf("ResourceCounts (-want +got):\n%s", diff)
		}
		sources, err := s.ResourceSources(ctx, org.ID, false)
		must(t, "ResourceSources", err)
		if diff := cmp.Diff(map[string]int{"production": 3, "cmdb": 2}, sources); diff != "" {
			t.Errorf("ResourceSources (-want +got):\n%s", diff)
		}
		sources, err = s.ResourceSources(ctx, org.ID, true)
		must(t, "ResourceSources(gone)", err)
		if sources["cmdb"] != 3 {
			t.Errorf("ResourceSources(gone)[cmdb] = %d; want 3", sources["cmdb"])
		}
		perConn, err := s.ConnectionResourceCounts(ctx, org.ID)
		must(t, "ConnectionResourceCounts", err)
		if diff := cmp.Diff(map[int64]int{c.ID: 3}, perConn); diff != "" {
			t.Errorf("ConnectionResourceCounts (-want +got):\n%s", diff)
		}
		perConn, err = s.ConnectionResourceCounts(ctx, other.ID)
		must(t, "ConnectionResourceCounts(other)", err)
		if len(perConn) != 0 {
			t.Errorf("ConnectionResourceCounts(other) = %v; want none", perConn)
		}
	})
}

// TestResourceOrigins finds the run or the push behind each version of a resource.
func TestResourceOrigins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		clk := withClock(s)
		org := newOrg(t, s, "acme")
		other := newOrg(t, s, "other")
		newConnection(t, s, org.ID, "production")
		first := finish(t, s, claimOne(t, s, "r"), "r", domain.RunSucceeded, nil, res("custom.user", "u1", "alice", map[string]any{"mfa": false}))
		clk.advance(2 * time.Hour)
		finish(t, s, claimOne(t, s, "r"), "r", domain.RunSucceeded, nil, res("custom.user", "u1", "alice", map[string]any{"mfa": false}))
		clk.advance(2 * time.Hour)
		third := finish(t, s, claimOne(t, s, "r"), "r", domain.RunSucceeded, nil, res("custom.user", "u1", "alice", map[string]any{"mfa": true}))

		_, err := s.UpsertResources(ctx, admin, org.ID, "cmdb", []monitor.Resource{res("custom.laptop", "l1", "one", nil)})
		must(t, "UpsertResources", err)
		firstPush := lastEvent(t, s, org.ID)
		clk.advance(time.Minute)
		_, err = s.UpsertResources(ctx, admin, org.ID, "cmdb", []monitor.Resource{res("custom.laptop", "l1", "one", nil)})
		must(t, "UpsertResources(same)", err)
		clk.advance(time.Minute)
		_, err = s.UpsertResources(ctx, admin, org.ID, "cmdb", []monitor.Resource{res("custom.laptop", "l1", "renamed", nil)})
		must(t, "UpsertResources(renamed)", err)
		thirdPush := lastEvent(t, s, org.ID)

		user, err := s.BrowseResources(ctx, org.ID, domain.ResourceFilter{Type: "custom.user"}, "")
		must(t, "BrowseResources", err)
		runs, pushes, err := s.ResourceOrigins(ctx, org.ID, user[0].ID)
		must(t, "ResourceOrigins(user)", err)
		if diff := cmp.Diff(map[int]int64{1: first.ID, 2: third.ID}, runs); diff != "" {
			t.Errorf("runs of the user's versions (-want +got):\n%s", diff)
		}
		if len(pushes) != 0 {
			t.Errorf("pushes of the user's versions = %v; want none", pushes)
		}
		laptop, err := s.BrowseResources(ctx, org.ID, domain.ResourceFilter{Type: "custom.laptop"}, "")
		must(t, "BrowseResources", err)
		runs, pushes, err = s.ResourceOrigins(ctx, org.ID, laptop[0].ID)
		must(t, "ResourceOrigins(laptop)", err)
		if diff := cmp.Diff(map[int]int64{1: firstPush.Index, 2: thirdPush.Index}, pushes); diff != "" {
			t.Errorf("pushes of the laptop's versions (-want +got):\n%s", diff)
		}
		if len(runs) != 0 {
			t.Errorf("runs of the laptop's versions = %v; want none", runs)
		}
		_, _, err = s.ResourceOrigins(ctx, other.ID, laptop[0].ID)
		wantKind(t, "ResourceOrigins(other organization)", err, domain.KindNotFound)
	})
}

// TestResourceVerdicts reads the tests' current verdicts on one resource, with exceptions.
func TestResourceVerdicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		f.record(t, "v1=pass", "v2=fail", "v3=error")
		vs, err := s.ResourceVerdicts(ctx, f.org.ID, "custom.vendor", "v2", f.clk.t)
		must(t, "ResourceVerdicts", err)
		want := []domain.Verdict{{TestID: f.test.ID, ExternalID: "v2", Name: "Pay", Status: domain.ResultFail, Message: "v2 is not reviewed", Since: f.clk.t}}
		if diff := cmp.Diff(want, vs); diff != "" {
			t.Errorf("ResourceVerdicts(v2) (-want +got):\n%s", diff)
		}
		e := domain.Exception{OrgID: f.org.ID, TestID: f.test.ID, ExternalID: "v2", Justification: "Compensating control",
			ApproverID: f.ann.ID, ExpiresAt: f.clk.t.Add(30 * 24 * time.Hour)}
		must(t, "CreateException", s.CreateException(ctx, admin, &e))
		vs, err = s.ResourceVerdicts(ctx, f.org.ID, "custom.vendor", "v2", f.clk.t)
		must(t, "ResourceVerdicts(excepted)", err)
		if len(vs) != 1 || vs[0].Status != domain.ResultExcepted || vs[0].ExceptionID == nil || *vs[0].ExceptionID != e.ID {
			t.Errorf("ResourceVerdicts(v2) with an exception = %+v; want excepted by %d", vs, e.ID)
		}
		for _, tc := range []struct{ typ, id string }{{"custom.vendor", "v9"}, {"custom.other", "v1"}} {
			vs, err := s.ResourceVerdicts(ctx, f.org.ID, tc.typ, tc.id, f.clk.t)
			must(t, "ResourceVerdicts", err)
			if len(vs) != 0 {
				t.Errorf("ResourceVerdicts(%s, %s) = %+v; want none", tc.typ, tc.id, vs)
			}
		}
		other := newOrg(t, s, "other")
		vs, err = s.ResourceVerdicts(ctx, other.ID, "custom.vendor", "v2", f.clk.t)
		must(t, "ResourceVerdicts(other)", err)
		if len(vs) != 0 {
			t.Errorf("another organization's ResourceVerdicts = %+v; want none", vs)
		}
	})
}
