package store_test

import (
	"fmt"
	"testing"
	"time"

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

// ingestBatch is the number of items per transaction in the ingest benchmarks.
const ingestBatch = 1000

// kibItems returns a batch of 1 KiB snapshot items for one control, each with its own
// content, as a connector's collection produces; seq keeps contents unique across batches.
func kibItems(controlID int64, seq int) []domain.NewEvidence {
	items := make([]domain.NewEvidence, ingestBatch)
	for i := range items {
		content := make([]byte, 1024)
		copy(content, fmt.Sprintf(`{"batch":%d,"item":%d,"resource":"arn:aws:iam::123456789012:user/u%d","mfa":true}`, seq, i, i))
		for j := 100; j < len(content); j++ {
			content[j] = ' '
		}
		items[i] = domain.NewEvidence{
			Evidence: domain.Evidence{
				Kind: domain.EvidenceSnapshot, Title: fmt.Sprintf("IAM user u%d", i), ControlIDs: []int64{controlID},
				PeriodStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
				Source: "aws/1.0", MediaType: "application/json",
			},
			Content: content,
		}
	}
	return items
}

// BenchmarkAddEvidenceBatch adds batches of 1,000 items of 1 KiB with inline content, one
// durable transaction per batch, with the ledger ("ledger"), and the same rows without
// it: with the audit-trail events but no ledger hashes ("events"), and with neither
// ("plain"). It reports items/s, and the process's CPU time per item, which other load
// on the machine does not change.
func BenchmarkAddEvidenceBatch(b *testing.B) {
	for _, mode := range []string{"ledger", "events", "plain"} {
		b.Run("sqlite/"+mode, func(b *testing.B) { benchmarkAddEvidenceBatch(b, storetest.SQLite(b), mode) })
	}
	b.Run("postgres/ledger", func(b *testing.B) { benchmarkAddEvidenceBatch(b, storetest.Postgres(b), "ledger") })
}

func benchmarkAddEvidenceBatch(b *testing.B, s *store.Store, mode string) {
	o := newOrg(b, s, "bench")
	c := controlByRef(b, s, o.ID, "AC-01")
	batches := make([][]domain.NewEvidence, 0, 64)
	seq := 0
	var err error
	var cpu time.Duration // spent adding, over all batches
	for b.Loop() {
		b.StopTimer()
		if len(batches) == 0 {
			for range 8 {
				batches = append(batches, kibItems(c.ID, seq))
				seq++
			}
		}
		items := batches[len(batches)-1]
		batches = batches[:len(batches)-1]
		b.StartTimer()
		cpu0, _ := processCPU()
		switch mode {
		case "ledger":
			_, err = s.AddEvidence(ctx, admin, o.ID, items)
		case "events":
			err = s.AddEvidenceWithoutLedgerForTest(ctx, admin, o.ID, items, true)
		default:
			err = s.AddEvidenceWithoutLedgerForTest(ctx, admin, o.ID, items, false)
		}
		if err != nil {
			b.Fatal(err)
		}
		cpu1, _ := processCPU()
		cpu += cpu1 - cpu0
	}
	b.ReportMetric(float64(b.N*ingestBatch)/b.Elapsed().Seconds(), "items/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*ingestBatch), "cpu-µs/item")
	}
}
