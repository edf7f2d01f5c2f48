package store_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func TestResourcesByExternalID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		// A second source reports v1 too: the resource stored first wins.
		_, err := s.UpsertResources(ctx, admin, f.org.ID, "cmdb", []monitor.Resource{res("custom.vendor", "v1", "Mail (CMDB)", nil)})
		must(t, "UpsertResources", err)
		// v3 is gone: the sync source no longer reports it.
		_, err = s.ReplaceResources(ctx, admin, f.org.ID, "sync", []monitor.Resource{
			res("custom.vendor", "v1", "Mail", nil), res("custom.vendor", "v2", "Pay", nil),
		})
		must(t, "ReplaceResources", err)
		other := newOrg(t, s, "other")
		_, err = s.UpsertResources(ctx, admin, other.ID, "sync", []monitor.Resource{res("custom.vendor", "v2", "Other's Pay", nil)})
		must(t, "UpsertResources(other)", err)

		got, err := s.ResourcesByExternalID(ctx, f.org.ID, "custom.vendor", []string{"v1", "v2", "v3", "v9"})
		must(t, "ResourcesByExternalID", err)
		names := map[string]string{}
		for ext, r := range got {
			if r.ExternalID != ext || r.OrgID != f.org.ID || r.Type != "custom.vendor" || r.ID == 0 {
				t.Errorf("resource %s = %+v; want the organization's custom.vendor %s", ext, r, ext)
			}
			names[ext] = r.Source + ": " + r.Name
		}
		if diff := cmp.Diff(map[string]string{"v1": "sync: Mail", "v2": "sync: Pay"}, names); diff != "" {
			t.Errorf("ResourcesByExternalID mismatch (-want +got):\n%s", diff)
		}
		none, err := s.ResourcesByExternalID(ctx, f.org.ID, "custom.other", []string{"v1"})
		must(t, "ResourcesByExternalID(other type)", err)
		if len(none) != 0 {
			t.Errorf("ResourcesByExternalID(other type) = %v; want none", none)
		}

		// More IDs than one query asks for.
		var many []monitor.Resource
		var ids []string
		for i := range 1100 {
			id := fmt.Sprintf("d%04d", i)
			many = append(many, res("custom.device", id, "Device "+id, nil))
			ids = append(ids, id)
		}
		_, err = s.UpsertResources(ctx, admin, f.org.ID, "mdm", many)
		must(t, "UpsertResources(many)", err)
		all, err := s.ResourcesByExternalID(ctx, f.org.ID, "custom.device", ids)
		must(t, "ResourcesByExternalID(many)", err)
		if len(all) != len(ids) || all["d1099"].Name != "Device d1099" {
			t.Errorf("ResourcesByExternalID(%d IDs) = %d resources; want all", len(ids), len(all))
		}
	})
}

func TestTestHistoryBefore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		var runs []int64
		for _, verdicts := range [][]string{{"v1=pass"}, {"v1=fail", "v2=pass"}, {"v1=fail", "v2=fail", "v3=pass"}} {
			f.clk.advance(time.Hour)
			run, _ := f.record(t, verdicts...)
			runs = append(runs, run.ID)
		}
		page, err := s.TestHistoryBefore(ctx, f.org.ID, f.test.ID, 0, 2)
		must(t, "TestHistoryBefore", err)
		got := func(ps []domain.TestHistoryPoint) []string {
			var out []string
			for _, p := range ps {
				out = append(out, fmt.Sprintf("%d %s %d/%d", p.RunID, p.Status, p.Passed, p.Failed))
			}
			return out
		}
		want := []string{fmt.Sprintf("%d fail 1/2", runs[2]), fmt.Sprintf("%d fail 1/1", runs[1])}
		if diff := cmp.Diff(want, got(page)); diff != "" {
			t.Errorf("first page mismatch (-want +got):\n%s", diff)
		}
		older, err := s.TestHistoryBefore(ctx, f.org.ID, f.test.ID, page[1].RunID, 2)
		must(t, "TestHistoryBefore(older)", err)
		if diff := cmp.Diff([]string{fmt.Sprintf("%d pass 1/0", runs[0])}, got(older)); diff != "" {
			t.Errorf("second page mismatch (-want +got):\n%s", diff)
		}
		if !older[0].At.Equal(monitorStart.Add(time.Hour)) {
			t.Errorf("oldest point at %v; want %v", older[0].At, monitorStart.Add(time.Hour))
		}
		otherOrg, err := s.TestHistoryBefore(ctx, newOrg(t, s, "other").ID, f.test.ID, 0, 0)
		must(t, "TestHistoryBefore(other org)", err)
		if len(otherOrg) != 0 {
			t.Errorf("another organization sees %d points of history; want none", len(otherOrg))
		}
		_, err = s.TestHistoryBefore(ctx, f.org.ID, f.test.ID, -1, 0)
		wantInvalid(t, "TestHistoryBefore(before -1)", err, "before")
		_, err = s.TestHistoryBefore(ctx, f.org.ID, f.test.ID, 0, -1)
		wantInvalid(t, "TestHistoryBefore(limit -1)", err, "limit")
	})
}

func TestExceptionsInStateAndRevocation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		f.record(t, "v1=fail", "v2=fail", "v3=fail")
		create := func(ext string, term time.Duration) domain.Exception {
			t.Helper()
			e := domain.Exception{OrgID: f.org.ID, TestID: f.test.ID, ExternalID: ext, Justification: "Accepted for " + ext,
				ApproverID: f.ann.ID, ExpiresAt: f.clk.t.Add(term)}
			must(t, "CreateException("+ext+")", s.CreateException(ctx, admin, &e))
			return e
		}
		short := create("v1", 24*time.Hour)
		revoked := create("v2", 90*24*time.Hour)
		long := create("v3", 90*24*time.Hour)

		other := newOrg(t, s, "other")
		wantKind(t, "RevokeExceptionWithReason(other org)",
			s.RevokeExceptionWithReason(ctx, admin, other.ID, revoked.ID, "Not ours"), domain.KindNotFound)
		wantInvalid(t, "RevokeExceptionWithReason(no reason)", s.RevokeExceptionWithReason(ctx, admin, f.org.ID, revoked.ID, "  "), "reason")
		long1 := make([]rune, 2001)
		for i := range long1 {
			long1[i] = 'é'
		}
		wantInvalid(t, "RevokeExceptionWithReason(long reason)",
			s.RevokeExceptionWithReason(ctx, admin, f.org.ID, revoked.ID, string(long1)), "reason")
		f.clk.advance(time.Hour)
		must(t, "RevokeExceptionWithReason", s.RevokeExceptionWithReason(ctx, admin, f.org.ID, revoked.ID, " The vendor was replaced. "))
		wantEvent(t, lastEvent(t, s, f.org.ID), domain.EventExceptionRevoked, subject("exception", revoked.ID), map[string]any{
			"exception_id": num(revoked.ID), "test_id": f.test.ID, "external_id": "v2", "reason": "The vendor was replaced.",
		})
		wantKind(t, "RevokeExceptionWithReason(again)",
			s.RevokeExceptionWithReason(ctx, admin, f.org.ID, revoked.ID, "Again"), domain.KindConflict)

		// Two days on, the short exception has expired.
		f.clk.advance(48 * time.Hour)
		wantKind(t, "RevokeExceptionWithReason(expired)",
			s.RevokeExceptionWithReason(ctx, admin, f.org.ID, short.ID, "Too late"), domain.KindConflict)
		ids := func(state string, before int64, filter domain.ExceptionFilter) []int64 {
			t.Helper()
			es, err := s.ExceptionsInState(ctx, f.org.ID, state, f.clk.t, before, filter)
			must(t, "ExceptionsInState("+state+")", err)
			out := []int64{}
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out
		}
		for _, tc := range []struct {
			name   string
			state  string
			before int64
			filter domain.ExceptionFilter
			want   []int64
		}{
			{"all", "", 0, domain.ExceptionFilter{}, []int64{long.ID, revoked.ID, short.ID}},
			{"active", store.ExceptionActive, 0, domain.ExceptionFilter{}, []int64{long.ID}},
			{"expired", store.ExceptionExpired, 0, domain.ExceptionFilter{}, []int64{short.ID}},
			{"revoked", store.ExceptionRevoked, 0, domain.ExceptionFilter{}, []int64{revoked.ID}},
			{"page", "", 0, domain.ExceptionFilter{Limit: 2}, []int64{long.ID, revoked.ID}},
			{"next page", "", revoked.ID, domain.ExceptionFilter{Limit: 2}, []int64{short.ID}},
			{"by resource", "", 0, domain.ExceptionFilter{ExternalID: "v2"}, []int64{revoked.ID}},
			{"by test", "", 0, domain.ExceptionFilter{TestID: "other-test"}, []int64{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if diff := cmp.Diff(tc.want, ids(tc.state, tc.before, tc.filter)); diff != "" {
					t.Errorf("ExceptionsInState mismatch (-want +got):\n%s", diff)
				}
			})
		}
		// Before the revocation, the revoked exception was active.
		was, err := s.ExceptionsInState(ctx, f.org.ID, store.ExceptionActive, monitorStart.Add(30*time.Minute), 0, domain.ExceptionFilter{})
		must(t, "ExceptionsInState(earlier)", err)
		if len(was) != 3 {
			t.Errorf("active exceptions half an hour in = %d; want 3", len(was))
		}
		_, err = s.ExceptionsInState(ctx, f.org.ID, "lapsed", f.clk.t, 0, domain.ExceptionFilter{})
		wantInvalid(t, "ExceptionsInState(lapsed)", err, "state")
		none, err := s.ExceptionsInState(ctx, other.ID, "", f.clk.t, 0, domain.ExceptionFilter{})
		must(t, "ExceptionsInState(other org)", err)
		if len(none) != 0 {
			t.Errorf("another organization lists %d exceptions; want none", len(none))
		}

		evs, err := s.ExceptionEvents(ctx, f.org.ID, []int64{revoked.ID, short.ID})
		must(t, "ExceptionEvents", err)
		var got []string
		for _, e := range evs {
			got = append(got, e.Type+" "+e.Subject)
		}
		want := []string{
			domain.EventExceptionCreated + " " + subject("exception", short.ID),
			domain.EventExceptionCreated + " " + subject("exception", revoked.ID),
			domain.EventExceptionRevoked + " " + subject("exception", revoked.ID),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ExceptionEvents mismatch (-want +got):\n%s", diff)
		}
		if !sort.SliceIsSorted(evs, func(i, j int) bool { return evs[i].Index < evs[j].Index }) {
			t.Errorf("ExceptionEvents are not in ledger order")
		}
		leaked, err := s.ExceptionEvents(ctx, other.ID, []int64{revoked.ID})
		must(t, "ExceptionEvents(other org)", err)
		if len(leaked) != 0 {
			t.Errorf("another organization reads %d exception entries; want none", len(leaked))
		}
	})
}
