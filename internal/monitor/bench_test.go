package monitor_test

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/monitor/monitortest"
)

// BenchmarkLibrary evaluates the whole shipped library over synthetic inventories of a
// realistic mix of types. One million resources is issue 4's target: at most 10 s and
// 1.5 GiB on a 2-core machine. Run it with
//
//	go test ./internal/monitor -run XXX -bench Library/.*/1M -benchtime 1x
//
// "resident" holds every resource in memory before the run (a MemoryInventory, which keeps
// attributes in the compact form of compact.go); the peak heap then includes the inventory
// itself. "streaming" generates each type's resources as
// the engine reads them, as the store streams rows, so the peak heap is the engine's own
// (verdicts, related() indexes, batches in flight); its time includes generating the
// resources, about what decoding them from the store would cost.
//
// Besides time and allocations it reports CPU seconds (user+system, which a busy machine
// does not inflate), the verdicts per run, and memory: the live heap of the inventory, the
// peak heap during the run, and the peak resident set.
func BenchmarkLibrary(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run("resident/"+label(n), func(b *testing.B) {
			benchmarkLibrary(b, n, func() monitor.Inventory {
				return monitor.NewMemoryInventory(monitortest.Synthetic(n))
			})
		})
		b.Run("streaming/"+label(n), func(b *testing.B) {
			benchmarkLibrary(b, n, func() monitor.Inventory { return monitortest.NewStreaming(n) })
		})
	}
}

func label(n int) string {
	if n >= 1_000_000 {
		return strconv.Itoa(n/1_000_000) + "M"
	}
	return strconv.Itoa(n/1_000) + "k"
}

func benchmarkLibrary(b *testing.B, n int, inventory func() monitor.Inventory) {
	progs := monitor.LibraryPrograms()
	runtime.GC()
	inv := inventory()
	// Return what building the inventory left behind to the OS, so the peak resident set
	// measures the run and not the generator's garbage.
	debug.FreeOSMemory()
	inventoryHeap := readMetric("/memory/classes/heap/objects:bytes")
	resetPeakRSS()
	peak := watchPeak()
	cpu := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	verdicts := 0
	for b.Loop() {
		res, err := monitor.Evaluate(context.Background(), progs, inv, monitortest.Now)
		if err != nil {
			b.Fatal(err)
		}
		verdicts = 0
		for _, tr := range res.Tests {
			verdicts += tr.Passed + tr.Failed + tr.Errors
			if tr.Errors > 0 || tr.Err != "" {
				b.Fatalf("%s: %d errors %s", tr.TestID, tr.Errors, tr.Err)
			}
		}
	}
	b.StopTimer()
	cpuPerOp := (cpuTime() - cpu).Seconds() / float64(b.N)
	heapPeak := peak()
	b.ReportMetric(cpuPerOp, "cpu-s/op")
	b.ReportMetric(float64(verdicts), "verdicts/op")
	b.ReportMetric(float64(inventoryHeap)/(1<<20), "inventory-MiB")
	b.ReportMetric(float64(heapPeak)/(1<<20), "peak-heap-MiB")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
	}
	runtime.KeepAlive(inv)
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// watchPeak samples the heap every millisecond until the returned function is called, which
// returns the largest heap seen (live and not yet swept objects).
func watchPeak() func() uint64 {
	var mu sync.Mutex
	var max uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			mu.Lock()
			max = maxOf(max, s[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return max
	}
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the kernel's peak resident set size of this process (Linux), so the
// peak measured covers the run and not the generation of the inventory.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM, the peak resident set size (Linux), or 0.
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
