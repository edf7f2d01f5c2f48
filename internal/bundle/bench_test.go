package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// synthOrg is an organization of n evidence items of 1 KiB each, made up on demand from
// the item's number, so that the benchmarks measure the bundle's memory and not the
// Source's. Only the ledger's stored hashes are kept, as the store keeps them.
type synthOrg struct {
	n      int
	hashes tlog.HashReader
	signer *ledger.Signer
	note   []byte
}

const synthItemSize = 1 << 10

// every tenth entry is a control change, so that the ledger is not only evidence.
func synthIndex(i int) int64 { return int64(1 + i + i/9) }

func newSynthOrg(tb testing.TB, n int) *synthOrg {
	tb.Helper()
	s := &synthOrg{n: n, signer: testSigner(tb, "evident.bench", 3)}
	size := synthIndex(n-1) + 1
	var hashes ledger.MemoryHashes
	hashes.Grow(size)
	for e, err := range s.Entries(context.Background(), size) {
		if err != nil {
			tb.Fatal(err)
		}
		c, err := e.Canonical()
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := hashes.Append(c); err != nil {
			tb.Fatal(err)
		}
	}
	root, err := hashes.Root()
	if err != nil {
		tb.Fatal(err)
	}
	cp, err := s.signer.SignCheckpoint("evident.bench/synth", size, root, testStart)
	if err != nil {
		tb.Fatal(err)
	}
	s.note = []byte(cp.Note)
	s.hashes = offHeapHashes(tb, &hashes)
	return s
}

func (s *synthOrg) content(id int64) []byte {
	b := make([]byte, synthItemSize)
	r := rand.New(rand.NewPCG(uint64(id), 42))
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	copy(b, fmt.Sprintf("evidence %d\n", id))
	return b
}

func (s *synthOrg) item(i int) Item {
	id := int64(1000 + i)
	sum := sha256.Sum256(s.content(id))
	at := testStart.Add(time.Duration(synthIndex(i)) * time.Second)
	start := time.Date(2025, time.Month(1+i%12), 1, 0, 0, 0, 0, time.UTC)
	return Item{
		Evidence: domain.Evidence{
			ID:          id,
			OrgID:       1,
			Kind:        domain.EvidenceSnapshot,
			Title:       fmt.Sprintf("Nightly configuration snapshot %d", i),
			Description: "Raw responses of the cloud connector, collected on schedule.",
			ControlIDs:  []int64{int64(1 + i%40), int64(41 + i%7)},
			PeriodStart: start,
			PeriodEnd:   start.AddDate(0, 1, -1),
			CollectedAt: at.Add(-time.Minute),
			Source:      "aws/1.4.2",
			SHA256:      hex.EncodeToString(sum[:]),
			Size:        synthItemSize,
			MediaType:   "application/octet-stream",
			FileName:    fmt.Sprintf("snapshot-%d.json", i),
			AddedByName: "system",
			AddedAt:     at,
			LedgerIndex: synthIndex(i),
		},
		Controls: []Control{
			{ID: int64(1 + i%40), Ref: fmt.Sprintf("CC-%02d", 1+i%40), Title: "Configuration baseline"},
			{ID: int64(41 + i%7), Ref: fmt.Sprintf("OP-%02d", 1+i%7), Title: "Monitoring"},
		},
	}
}

func (s *synthOrg) Organization(context.Context) (domain.Organization, error) {
	return domain.Organization{ID: 1, Slug: "synth", Name: "Synthetic Inc."}, nil
}

func (s *synthOrg) Checkpoint(context.Context) ([]byte, string, error) {
	return s.note, s.signer.VerifierKey(), nil
}

func (s *synthOrg) Control(context.Context, string) (Control, error) {
	return Control{}, domain.NotFound("control")
}

func (s *synthOrg) Items(_ context.Context, f Filter) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		for i := range s.n {
			it := s.item(i)
			if f.Matches(it.Evidence.ControlIDs, it.Evidence.PeriodStart, it.Evidence.PeriodEnd) && !yield(it, nil) {
				return
			}
		}
	}
}

func (s *synthOrg) Open(_ context.Context, e *domain.Evidence) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s.content(e.ID))), nil
}

func (s *synthOrg) Entries(_ context.Context, size int64) iter.Seq2[ledger.Entry, error] {
	return func(yield func(ledger.Entry, error) bool) {
		next := 0 // the next item
		for x := range size {
			var e ledger.Entry
			if next < s.n && synthIndex(next) == x {
				it := s.item(next)
				refs := map[int64]string{}
				for _, c := range it.Controls {
					refs[c.ID] = c.Ref
				}
				data, err := json.Marshal(addedEntryData(&it.Evidence, refs))
				if err != nil {
					yield(ledger.Entry{}, err)
					return
				}
				e = ledger.Entry{Type: domain.EventEvidenceAdded, Subject: fmt.Sprintf("evidence:%d", it.Evidence.ID), At: it.Evidence.AddedAt, Actor: "system", Data: data}
				next++
			} else if x == 0 {
				e = ledger.Entry{Type: domain.EventOrgCreated, Subject: "organization:1", At: testStart, Actor: "system", Data: json.RawMessage(`{"name":"Synthetic Inc.","slug":"synth"}`)}
			} else {
				e = ledger.Entry{Type: domain.EventControlUpdated, Subject: fmt.Sprintf("control:%d", x%40), At: testStart.Add(time.Duration(x) * time.Second),
					ActorID: 2, Actor: "owner@synth.test", Data: json.RawMessage(`{"changes":{"status":["in_progress","implemented"]}}`)}
			}
			e.OrgID, e.Index = 1, x
			if !yield(e, nil) {
				return
			}
		}
	}
}

func (s *synthOrg) Hashes(context.Context) (tlog.HashReader, error) { return s.hashes, nil }

// heapPeak samples the heap every millisecond until stopped, and returns the highest
// values seen above those at the start: the heap in use (live objects and garbage not yet
// collected, which depends on when the collector runs and so on everything else the
// process holds), and the live heap as the last collection measured it, which is what
// the code keeps.
type heapPeak struct {
	stop           chan struct{}
	done           chan struct{}
	base, baseLive uint64
	peak, peakLive uint64
}

func heapBytes() (inUse, live uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	h.base, h.baseLive = heapBytes()
	go func() {
		defer close(h.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			h.sample()
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) sample() {
	inUse, live := heapBytes()
	h.peak, h.peakLive = max(h.peak, inUse), max(h.peakLive, live)
}

// end stops sampling and returns the peaks above the start, in MiB. A collection at the
// end measures the live heap of the last stretch.
func (h *heapPeak) end() (inUse, live float64) {
	close(h.stop)
	<-h.done
	h.sample()
	runtime.GC()
	h.sample()
	mib := func(peak, base uint64) float64 {
		if peak < base {
			return 0
		}
		return float64(peak-base) / (1 << 20)
	}
	return mib(h.peak, h.base), mib(h.peakLive, h.baseLive)
}

// benchSizes are the numbers of items the benchmarks write and verify:
// EVIDENT_BENCH_BUNDLE_ITEMS, such as "10000,100000,1000000", or 10,000 and 100,000.
func benchSizes(b *testing.B) []int {
	env := os.Getenv("EVIDENT_BENCH_BUNDLE_ITEMS")
	if env == "" {
		return []int{10_000, 100_000}
	}
	var sizes []int
	for f := range strings.SplitSeq(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("EVIDENT_BENCH_BUNDLE_ITEMS: %q is not a number of items", f)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// reportHeap reports the peaks of the heap and their share per item.
func reportHeap(b *testing.B, n int, peak, peakLive float64) {
	b.ReportMetric(peak, "peak-heap-MiB")
	b.ReportMetric(peakLive, "peak-live-MiB")
	b.ReportMetric(peakLive*(1<<20)/float64(n), "peak-live-B/item")
}

// benchBundles holds the bundles BenchmarkWrite wrote, by number of items, for
// BenchmarkVerify to verify rather than write them again; benchDir, removed by TestMain,
// holds them.
var (
	benchBundles = map[int]string{}
	benchDir     string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchPath returns where the bundle of n items is kept.
func benchPath(b *testing.B, n int) string {
	b.Helper()
	if benchDir == "" {
		d, err := os.MkdirTemp("", "evident-bench-bundles-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	return filepath.Join(benchDir, fmt.Sprintf("bundle-%d.zip", n))
}

// benchBundle returns the bundle of n synthetic items for BenchmarkVerify, and the key
// that signed it: the one BenchmarkWrite wrote, or a new one.
func benchBundle(b *testing.B, n int) (path, key string) {
	b.Helper()
	key = testSigner(b, "evident.bench", 3).VerifierKey()
	if path, ok := benchBundles[n]; ok {
		return path, key
	}
	src := newSynthOrg(b, n)
	path = benchPath(b, n)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Write(context.Background(), f, src, WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	benchBundles[n] = path
	return path, key
}

func BenchmarkWrite(b *testing.B) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			src := newSynthOrg(b, n)
			path := benchPath(b, n)
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var peak, peakLive float64
			var cpu time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				if err := f.Truncate(0); err != nil {
					b.Fatal(err)
				}
				h := startHeapPeak()
				c0, _ := processCPU()
				if _, err := Write(context.Background(), f, src, WriteOptions{}); err != nil {
					b.Fatal(err)
				}
				c1, _ := processCPU()
				cpu += c1 - c0
				p, l := h.end()
				peak, peakLive = max(peak, p), max(peakLive, l)
			}
			b.StopTimer()
			reportCPU(b, cpu)
			st, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			reportHeap(b, n, peak, peakLive)
			b.ReportMetric(float64(st.Size())/(1<<20), "bundle-MiB")
			benchBundles[n] = path
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			path, key := benchBundle(b, n)
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			var peak, peakLive float64
			var cpu time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h := startHeapPeak()
				c0, _ := processCPU()
				rep, err := Verify(context.Background(), f, st.Size(), VerifyOptions{Key: key})
				c1, _ := processCPU()
				cpu += c1 - c0
				p, l := h.end()
				peak, peakLive = max(peak, p), max(peakLive, l)
				if err != nil {
					b.Fatal(err)
				}
				if !rep.OK || rep.Items != int64(n) {
					b.Fatalf("Verify: %s %v", rep.Summary, rep.Problems)
				}
			}
			b.StopTimer()
			reportCPU(b, cpu)
			reportHeap(b, n, peak, peakLive)
		})
	}
}

// reportCPU reports the CPU time per operation of the whole process, garbage collection
// included, which on a busy machine says more than the time on the clock.
func reportCPU(b *testing.B, cpu time.Duration) {
	if _, ok := processCPU(); ok && b.N > 0 {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
}
