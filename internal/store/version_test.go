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

func orgVersion(tb testing.TB, s *store.Store, orgID int64) domain.OrgVersion {
	tb.Helper()
	v, err := s.OrgVersion(ctx, orgID)
	must(tb, "OrgVersion", err)
	return v
}

// TestOrgVersion checks that an organization's version moves with every change to what
// readiness reads, whichever of two processes over one database makes it, and with
// nothing else.
func TestOrgVersion(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		if got := orgVersion(t, a, 404); got != (domain.OrgVersion{}) {
			t.Errorf("OrgVersion(unknown organization) = %+v; want zero", got)
		}
		org, other := newOrg(t, a, "acme"), newOrg(t, a, "other")
		c := controlByRef(t, a, org.ID, "AC-01")
		size, err := a.LedgerSize(ctx, org.ID)
		must(t, "LedgerSize", err)
		v0 := orgVersion(t, a, org.ID)
		if diff := cmp.Diff(domain.OrgVersion{Ledger: size}, v0); diff != "" {
			t.Errorf("OrgVersion of a new organization mismatch (-want +got):\n%s", diff)
		}

		// Reading changes nothing; nor does a change to another organization.
		if _, err := a.Controls(ctx, org.ID, domain.ControlFilter{}); err != nil {
			t.Fatal(err)
		}
		implemented := domain.StatusImplemented
		oc := controlByRef(t, a, other.ID, "AC-01")
		if _, err := b.UpdateControl(ctx, admin, other.ID, oc.ID, domain.ControlChange{Status: &implemented}); err != nil {
			t.Fatal(err)
		}
		if got := orgVersion(t, a, org.ID); got != v0 {
			t.Errorf("OrgVersion after reads and another organization's change = %+v; want %+v", got, v0)
		}

		// A change made through the other process is seen at once.
		if _, err := b.UpdateControl(ctx, admin, org.ID, c.ID, domain.ControlChange{Status: &implemented}); err != nil {
			t.Fatal(err)
		}
		v1 := orgVersion(t, a, org.ID)
		if v1.Ledger <= v0.Ledger || v1.TestRun != v0.TestRun {
			t.Errorf("OrgVersion after a control change = %+v; want a longer ledger than %+v, the same test run", v1, v0)
		}

		// A test run that changes no test's state appends no ledger entry, yet moves the version.
		run, _, err := b.RecordTestRun(ctx, org.ID, domain.TriggerManual, nil, nil, monitor.Results{At: time.Now()})
		must(t, "RecordTestRun", err)
		v2 := orgVersion(t, a, org.ID)
		if diff := cmp.Diff(domain.OrgVersion{Ledger: v1.Ledger, TestRun: run.ID}, v2); diff != "" {
			t.Errorf("OrgVersion after a test run mismatch (-want +got):\n%s", diff)
		}
	})
}
