package opa

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/monitor/monitortest"
)

// TestSameVerdicts checks that the Rego policies are the same checks as the CEL library:
// over one synthetic inventory, every test passes and fails the same number of resources.
func TestSameVerdicts(t *testing.T) {
	rs := monitortest.Synthetic(20000)
	res, err := monitor.Evaluate(context.Background(), monitor.LibraryPrograms(), monitor.NewMemoryInventory(rs), monitortest.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Counts{}
	for _, tr := range res.Tests {
		if tr.Errors > 0 || tr.Err != "" {
			t.Fatalf("CEL %s: %d errors %s", tr.TestID, tr.Errors, tr.Err)
		}
		if tr.Passed+tr.Failed > 0 {
			want[tr.TestID] = Counts{Pass: tr.Passed, Fail: tr.Failed}
		}
	}
	compiler, err := Compile()
	if err != nil {
		t.Fatal(err)
	}
	counts, err := Evaluate(context.Background(), compiler, Convert(rs), monitortest.Now, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Counts{}
	for id, c := range counts {
		got[id] = *c
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verdicts per test, CEL (-) vs OPA (+):\n%s", diff)
	}
}

// BenchmarkCompare evaluates the shipped library with Evident's CEL engine and the same
// checks in Rego with OPA, over the same resident synthetic inventory, in the same run,
// and reports both times and their ratio. Run it from bench/opa with
//
//	go test -run XXX -bench Compare/1M -benchtime 1x -timeout 60m
func BenchmarkCompare(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		name := "100k"
		if n == 1_000_000 {
			name = "1M"
		}
		b.Run(name, func(b *testing.B) { benchmarkCompare(b, n) })
	}
}

func benchmarkCompare(b *testing.B, n int) {
	ctx := context.Background()
	rs := monitortest.Synthetic(n)
	celInv := monitor.NewMemoryInventory(rs)
	opaInv := Convert(rs)
	progs := monitor.LibraryPrograms()
	compiler, err := Compile()
	if err != nil {
		b.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	runtime.GC()
	var celTime, opaTime, celCPU, opaCPU time.Duration
	b.ResetTimer()
	for b.Loop() {
		cpu, start := cpuTime(), time.Now()
		res, err := monitor.Evaluate(ctx, progs, celInv, monitortest.Now)
		if err != nil {
			b.Fatal(err)
		}
		celTime += time.Since(start)
		celCPU += cpuTime() - cpu
		runtime.KeepAlive(res)
		runtime.GC()

		cpu, start = cpuTime(), time.Now()
		if _, err := Evaluate(ctx, compiler, opaInv, monitortest.Now, workers); err != nil {
			b.Fatal(err)
		}
		opaTime += time.Since(start)
		opaCPU += cpuTime() - cpu
		runtime.GC()
	}
	runs := float64(b.N)
	b.ReportMetric(celTime.Seconds()/runs, "cel-s/op")
	b.ReportMetric(opaTime.Seconds()/runs, "opa-s/op")
	b.ReportMetric(celCPU.Seconds()/runs, "cel-cpu-s/op")
	b.ReportMetric(opaCPU.Seconds()/runs, "opa-cpu-s/op")
	b.ReportMetric(opaTime.Seconds()/celTime.Seconds(), "opa/cel")
	b.ReportMetric(opaCPU.Seconds()/celCPU.Seconds(), "opa/cel-cpu")
}
