package ledger

import (
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// The tree is kept as tlog's "stored hashes": every leaf hash and every hash of a complete
// subtree, each at a fixed position given by tlog.StoredHashIndex. Appending entry n adds
// the hashes HashesForAppend returns, at positions AppendIndex(n), AppendIndex(n)+1, …;
// everything else (roots, proofs) reads at most a few dozen of them through a
// tlog.HashReader.

// HashesForAppend returns the stored hashes that appending the entry with index n and the
// given canonical encoding adds to a log of n entries: the entry's leaf hash first, then
// the hash of every subtree it completes. The store persists them at AppendIndex(n) onward,
// in the same transaction as the entry. It reads up to log₂(n) earlier hashes from r.
func HashesForAppend(n int64, entryCanonical []byte, r tlog.HashReader) ([]tlog.Hash, error) {
	if n < 0 {
		return nil, fmt.Errorf("ledger: append at negative index %d", n)
	}
	hashes, err := tlog.StoredHashes(n, entryCanonical, r)
	if err != nil {
		return nil, fmt.Errorf("ledger: hashes for entry %d: %w", n, err)
	}
	return hashes, nil
}

// AppendIndex returns the stored-hash position of the first hash that HashesForAppend(n, …)
// returns; the others follow it consecutively.
func AppendIndex(n int64) int64 {
	return tlog.StoredHashIndex(0, n)
}

// AppendedBy returns the index of the entry whose append adds the stored hash at
// position x (x >= 0): the n with AppendIndex(n) <= x < AppendIndex(n+1). A store that
// keeps each entry's hashes together finds a hash's entry with it.
func AppendedBy(x int64) int64 {
	// AppendIndex grows with n, by at least one per entry: search [0, x].
	lo, hi := int64(0), x+1 // AppendIndex(lo) <= x < AppendIndex(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if AppendIndex(mid) <= x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// StoredHashCount returns how many stored hashes a log of n entries has, which is also
// AppendIndex(n): the position where the next entry's hashes go.
func StoredHashCount(n int64) int64 {
	return tlog.StoredHashCount(n)
}

// TreeRoot returns the root hash of the log's first n entries (the RFC 6962 Merkle tree
// hash; for n = 0, the SHA-256 of nothing). It reads at most 1 + log₂(n) hashes from r.
func TreeRoot(n int64, r tlog.HashReader) (tlog.Hash, error) {
	if n < 0 {
		return tlog.Hash{}, fmt.Errorf("ledger: tree of negative size %d", n)
	}
	h, err := tlog.TreeHash(n, r)
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("ledger: root of tree of size %d: %w", n, err)
	}
	return h, nil
}

// MemoryHashes is a log's stored hashes held in memory, for the offline verifier and for
// tests. It implements tlog.HashReader. The zero value is an empty log. It is not safe
// for concurrent use while entries are being appended.
type MemoryHashes struct {
	hashes []tlog.Hash
	size   int64
}

// Grow makes room for n more entries, so that appending them does not reallocate.
func (m *MemoryHashes) Grow(n int64) {
	if n <= 0 {
		return
	}
	need := tlog.StoredHashCount(m.size+n) - int64(len(m.hashes))
	if need > 0 {
		m.hashes = slices.Grow(m.hashes, int(need))
	}
}

// Append adds the entry with the given canonical encoding and returns its index.
func (m *MemoryHashes) Append(entryCanonical []byte) (int64, error) {
	return m.AppendLeafHash(tlog.RecordHash(entryCanonical))
}

// AppendLeafHash adds an entry given its leaf hash (Entry.Hash) and returns its index.
func (m *MemoryHashes) AppendLeafHash(h tlog.Hash) (int64, error) {
	hashes, err := tlog.StoredHashesForRecordHash(m.size, h, m)
	if err != nil {
		return 0, fmt.Errorf("ledger: hashes for entry %d: %w", m.size, err)
	}
	m.hashes = append(m.hashes, hashes...)
	m.size++
	return m.size - 1, nil
}

// Size returns the number of entries.
func (m *MemoryHashes) Size() int64 { return m.size }

// Root returns the root hash of the whole log.
func (m *MemoryHashes) Root() (tlog.Hash, error) { return TreeRoot(m.size, m) }

// ReadHashes returns the stored hashes at the given positions.
func (m *MemoryHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("ledger: stored hash %d is not in a log of %d entries", x, m.size)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}
