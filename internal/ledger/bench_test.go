package ledger

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// benchEntry is a typical audit-trail entry: evidence added, with its metadata.
func benchEntry(index int64) Entry {
	return Entry{
		OrgID:   1,
		Index:   index,
		At:      testStart.Add(time.Duration(index) * time.Millisecond),
		ActorID: 3,
		Actor:   "alice@example.com",
		Type:    "evidence.added",
		Subject: fmt.Sprintf("evidence:%d", index),
		Data: json.RawMessage(`{"title": "Quarterly access review", "kind": "file", "controls": [12, 14, 31],
			"period": {"from": "2025-01-01", "to": "2025-03-31"}, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			"size": 1024, "media_type": "application/pdf", "source": {"user": 3}}`),
	}
}

func BenchmarkEntryCanonical(b *testing.B) {
	e := benchEntry(12345)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Canonical(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashesForAppend measures what the store does per appended entry besides its
// database writes: encode the entry, compute the stored hashes (reading earlier ones),
// and keep them.
func BenchmarkHashesForAppend(b *testing.B) {
	var m MemoryHashes
	m.Grow(int64(b.N))
	e := benchEntry(0)
	b.ReportAllocs()
	b.ResetTimer()
	for n := range int64(b.N) {
		e.Index = n
		c, err := e.Canonical()
		if err != nil {
			b.Fatal(err)
		}
		hashes, err := HashesForAppend(n, c, &m)
		if err != nil {
			b.Fatal(err)
		}
		m.hashes = append(m.hashes, hashes...)
		m.size++
	}
}

const bigLogSize = 10_000_000

var bigLog struct {
	once  sync.Once
	m     MemoryHashes
	root  tlog.Hash
	built time.Duration
}

// largeLog returns the stored hashes of a log of 10,000,000 entries, built once per test
// binary: about 20 million hashes, 640 MB, in one flat slice.
func largeLog(b *testing.B) (*MemoryHashes, tlog.Hash) {
	b.Helper()
	bigLog.once.Do(func() {
		start := time.Now()
		bigLog.m.Grow(bigLogSize)
		var data [8]byte
		for i := range uint64(bigLogSize) {
			binary.BigEndian.PutUint64(data[:], i)
			if _, err := bigLog.m.Append(data[:]); err != nil {
				panic(err)
			}
		}
		root, err := bigLog.m.Root()
		if err != nil {
			panic(err)
		}
		bigLog.root = root
		bigLog.built = time.Since(start)
	})
	if bigLog.m.Size() != bigLogSize {
		b.Fatalf("large log has %d entries; want %d", bigLog.m.Size(), bigLogSize)
	}
	b.Logf("log of %d entries: %d stored hashes (%d MB), built in %v", bigLogSize, len(bigLog.m.hashes), len(bigLog.m.hashes)*tlog.HashSize>>20, bigLog.built.Round(time.Millisecond))
	return &bigLog.m, bigLog.root
}

// spread returns the i-th of a sequence of indexes spread over [0, n).
func spread(i, n int64) int64 {
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	x ^= x >> 29
	return int64(x % uint64(n))
}

func BenchmarkInclusionProof10M(b *testing.B) {
	m, _ := largeLog(b)
	b.ReportAllocs()
	b.ResetTimer()
	var i int64
	for b.Loop() {
		if _, err := InclusionProof(spread(i, bigLogSize), bigLogSize, m); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCheckInclusion10M(b *testing.B) {
	m, root := largeLog(b)
	const proofs = 1024
	type item struct {
		index int64
		leaf  tlog.Hash
		proof tlog.RecordProof
	}
	items := make([]item, proofs)
	for i := range items {
		index := spread(int64(i), bigLogSize)
		p, err := InclusionProof(index, bigLogSize, m)
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := m.ReadHashes([]int64{AppendIndex(index)})
		if err != nil {
			b.Fatal(err)
		}
		items[i] = item{index, leaf[0], p}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var i int
	for b.Loop() {
		it := items[i%proofs]
		if err := CheckInclusion(it.proof, bigLogSize, root, it.leaf, it.index); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkConsistencyProof10M(b *testing.B) {
	m, _ := largeLog(b)
	b.ReportAllocs()
	b.ResetTimer()
	var i int64
	for b.Loop() {
		if _, err := ConsistencyProof(1+spread(i, bigLogSize-1), bigLogSize, m); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// memoryTiles serves tiles of height 8 cut from a MemoryHashes, as a store that kept
// tiles instead of single hashes would.
type memoryTiles struct{ m *MemoryHashes }

func (t memoryTiles) Height() int { return 8 }

func (t memoryTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		data, err := tlog.ReadTileData(tile, t.m)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (memoryTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// BenchmarkInclusionProof10MTiles reads through tlog.TileHashReader, which authenticates
// every tile it reads against the root, for comparison with reading stored hashes directly.
func BenchmarkInclusionProof10MTiles(b *testing.B) {
	m, root := largeLog(b)
	r := tlog.TileHashReader(tlog.Tree{N: bigLogSize, Hash: root}, memoryTiles{m})
	b.ReportAllocs()
	b.ResetTimer()
	var i int64
	for b.Loop() {
		if _, err := InclusionProof(spread(i, bigLogSize), bigLogSize, r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyLog measures offline verification per entry: b.N entries, verified once.
func BenchmarkVerifyLog(b *testing.B) {
	entries := make([]Entry, b.N)
	var m MemoryHashes
	m.Grow(int64(b.N))
	for i := range entries {
		entries[i] = benchEntry(int64(i))
		h, err := entries[i].Hash()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.AppendLeafHash(h); err != nil {
			b.Fatal(err)
		}
	}
	root, err := m.Root()
	if err != nil {
		b.Fatal(err)
	}
	cp := Checkpoint{Origin: testOrigin, Size: int64(b.N), Root: root}
	b.ReportAllocs()
	b.ResetTimer()
	if problems := VerifyLog(entries, cp); len(problems) != 0 {
		b.Fatalf("VerifyLog: %v", problems)
	}
}
