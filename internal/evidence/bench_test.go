package evidence

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// benchBatch is the number of items per AddBatch call in BenchmarkAddBatch.
const benchBatch = 1000

// kibInputs returns a batch of 1 KiB snapshots, each with its own content, as a
// connector's collection produces them; seq keeps contents unique across batches.
func (f *fixture) kibInputs(seq int) []Input {
	ins := make([]Input, benchBatch)
	for i := range ins {
		content := make([]byte, 1024)
		copy(content, fmt.Sprintf(`{"batch":%d,"item":%d,"resource":"arn:aws:iam::123456789012:user/u%d","mfa":true}`, seq, i, i))
		for j := 100; j < len(content); j++ {
			content[j] = ' '
		}
		in := f.input(domain.EvidenceSnapshot)
		in.Title, in.Snapshot, in.MediaType = fmt.Sprintf("IAM user u%d", i), content, "application/json"
		in.Source = "aws/1.0"
		ins[i] = in
	}
	return ins
}

// BenchmarkAddBatch ingests batches of 1,000 snapshots of 1 KiB through the service, as
// connectors and the push API do: content kept inline, one ledger entry per item, one
// durable SQLite transaction (synchronous=FULL) per batch. It reports items/s, and the
// process's CPU time per item, which other load on the machine does not change.
func BenchmarkAddBatch(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	var cpu time.Duration
	seq := 0
	for b.Loop() {
		b.StopTimer()
		ins := f.kibInputs(seq)
		seq++
		b.StartTimer()
		cpu0, _ := processCPU()
		if _, err := f.svc.AddBatch(ctx, f.actor, f.org.ID, ins); err != nil {
			b.Fatal(err)
		}
		cpu1, _ := processCPU()
		cpu += cpu1 - cpu0
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "items/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*benchBatch), "cpu-µs/item")
	}
}

// BenchmarkAddOne adds one item of 1 KiB per operation through the service, each in its
// own durable transaction (an upload from the UI, say), and reports the latency's p50 and
// p99.
func BenchmarkAddOne(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	content := make([]byte, 1024)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		copy(content, fmt.Sprintf("item %d", i))
		i++
		in := f.input(domain.EvidenceSnapshot)
		in.Snapshot = content
		start := time.Now()
		if _, err := f.svc.Add(ctx, f.actor, f.org.ID, in); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
