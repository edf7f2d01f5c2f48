package store_test

import (
	"fmt"
	"testing"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// library500 is a library of 500 controls, each mapped to two criteria, covering every
// criterion of the catalog.
func library500(tb testing.TB) []domain.LibraryControl {
	tb.Helper()
	crit := catalog.Default().Criteria
	if len(crit) < 2 {
		tb.Fatalf("the catalog has %d criteria; want the full set", len(crit))
	}
	lib := make([]domain.LibraryControl, 500)
	for i := range lib {
		lib[i] = domain.LibraryControl{
			Ref:              fmt.Sprintf("BX-%03d", i),
			Title:            fmt.Sprintf("Benchmark control %d", i),
			Description:      "A control that exists to be listed quickly, with a description of ordinary length.",
			Domain:           "Benchmark",
			Frequency:        domain.Frequencies[i%len(domain.Frequencies)],
			EvidenceExpected: "Screenshots and exports",
			Criteria:         []string{crit[i%len(crit)].ID, crit[(i+7)%len(crit)].ID},
			Finding:          "Missing",
		}
	}
	return lib
}

func benchmarkControls500(b *testing.B, s *store.Store) {
	o := &domain.Organization{Slug: "bench", Name: "Bench"}
	if err := s.CreateOrganization(ctx, admin, o, nil, library500(b)); err != nil {
		b.Fatalf("CreateOrganization = %v", err)
	}
	for b.Loop() {
		cs, err := s.Controls(ctx, o.ID, domain.ControlFilter{})
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) != 500 || len(cs[499].Criteria) != 2 {
			b.Fatalf("Controls = %d controls; want 500 with two criteria each", len(cs))
		}
	}
}

// BenchmarkControls500 lists an organization's 500 controls with their criteria, as the
// readiness computation does.
func BenchmarkControls500(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchmarkControls500(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchmarkControls500(b, storetest.Postgres(b)) })
}

// BenchmarkUpdateControl changes one control's status, with its event, per operation.
func BenchmarkUpdateControl(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchmarkUpdateControl(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchmarkUpdateControl(b, storetest.Postgres(b)) })
}

func benchmarkUpdateControl(b *testing.B, s *store.Store) {
	o := newOrg(b, s, "bench")
	c := controlByRef(b, s, o.ID, "AC-01")
	statuses := []domain.ControlStatus{domain.StatusInProgress, domain.StatusImplemented}
	i := 0
	for b.Loop() {
		if _, err := s.UpdateControl(ctx, admin, o.ID, c.ID, domain.ControlChange{Status: &statuses[i%2]}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
