//go:build unix

package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/ledger"
)

// offHeapHashes returns the stored hashes of m in a memory-mapped file, outside the Go
// heap, so that the benchmarks' heap figures are the bundle's alone, as they would be
// with a store that keeps its hashes in a database.
func offHeapHashes(tb testing.TB, m *ledger.MemoryHashes) tlog.HashReader {
	tb.Helper()
	n := tlog.StoredHashCount(m.Size())
	f, err := os.Create(filepath.Join(tb.TempDir(), "hashes"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	idx := make([]int64, 0, 1<<16)
	buf := make([]byte, 0, 32<<16)
	for start := int64(0); start < n; start += 1 << 16 {
		idx = idx[:0]
		for x := start; x < min(n, start+1<<16); x++ {
			idx = append(idx, x)
		}
		hs, err := m.ReadHashes(idx)
		if err != nil {
			tb.Fatal(err)
		}
		buf = buf[:0]
		for _, h := range hs {
			buf = append(buf, h[:]...)
		}
		if _, err := f.Write(buf); err != nil {
			tb.Fatal(err)
		}
	}
	if n == 0 {
		return m
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(n*tlog.HashSize), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Munmap(data) })
	return &mappedHashes{data: data, n: n}
}

type mappedHashes struct {
	data []byte
	n    int64
}

func (h *mappedHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= h.n {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		copy(out[i][:], h.data[x*tlog.HashSize:])
	}
	return out, nil
}
