package ledger

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Inclusion is an inclusion proof as the API serves it and a bundle carries it: the
// entry at Index is in the tree of TreeSize entries. Hashes is the RFC 6962 audit path,
// from the leaf's sibling up to the root's child, each in standard base64 in JSON.
type Inclusion struct {
	Index    int64            `json:"index"`
	TreeSize int64            `json:"tree_size"`
	Hashes   tlog.RecordProof `json:"hashes"`
}

// Consistency is a consistency proof as the API serves it and a bundle carries it: the
// tree of NewSize entries extends the tree of OldSize entries. Hashes is the RFC 6962
// consistency proof, each in standard base64 in JSON.
type Consistency struct {
	OldSize int64          `json:"old_size"`
	NewSize int64          `json:"new_size"`
	Hashes  tlog.TreeProof `json:"hashes"`
}

// InclusionProof returns the proof that the entry at index is in the tree of the log's
// first size entries. It reads about 2·log₂(size) hashes from r.
func InclusionProof(index, size int64, r tlog.HashReader) (tlog.RecordProof, error) {
	if index < 0 || index >= size {
		return nil, fmt.Errorf("ledger: no entry %d in a tree of size %d", index, size)
	}
	p, err := tlog.ProveRecord(size, index, r)
	if err != nil {
		return nil, fmt.Errorf("ledger: inclusion proof for entry %d in tree of size %d: %w", index, size, err)
	}
	return p, nil
}

// CheckInclusion verifies that proof shows the entry with leaf hash entryHash at index in
// the tree of the given size and root. A failure wraps ErrProof.
func CheckInclusion(proof tlog.RecordProof, size int64, root, entryHash tlog.Hash, index int64) error {
	if index < 0 || index >= size {
		return fmt.Errorf("%w: entry %d is not in a tree of size %d", ErrProof, index, size)
	}
	if err := tlog.CheckRecord(proof, size, root, index, entryHash); err != nil {
		return fmt.Errorf("%w: entry %d with hash %s is not in the tree of size %d with root %s", ErrProof, index, entryHash, size, root)
	}
	return nil
}

// VerifyEntry verifies that the entry, with the inclusion proof given, is in the log at
// the checkpoint. It recomputes the entry's hash from its canonical encoding, so a changed
// entry fails here by its own index. The checkpoint must already be verified
// (ParseCheckpoint).
func VerifyEntry(e Entry, proof tlog.RecordProof, cp Checkpoint) error {
	h, err := e.Hash()
	if err != nil {
		return fmt.Errorf("entry %d: %w", e.Index, err)
	}
	return CheckInclusion(proof, cp.Size, cp.Root, h, e.Index)
}

// ConsistencyProof returns the proof that the log's first newSize entries extend its first
// oldSize entries. It is empty when oldSize is 0 or equals newSize.
func ConsistencyProof(oldSize, newSize int64, r tlog.HashReader) (tlog.TreeProof, error) {
	if oldSize < 0 || oldSize > newSize {
		return nil, fmt.Errorf("ledger: no consistency proof from size %d to size %d", oldSize, newSize)
	}
	if oldSize == 0 {
		// Every tree extends the empty one; RFC 9162 gives an empty proof.
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, r)
	if err != nil {
		return nil, fmt.Errorf("ledger: consistency proof from size %d to size %d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// CheckConsistency verifies that proof shows the tree of newSize entries with root newRoot
// to extend the tree of oldSize entries with root oldRoot: every entry of the older tree is
// in the newer one unchanged and in the same place. A failure wraps ErrProof.
func CheckConsistency(proof tlog.TreeProof, oldSize int64, oldRoot tlog.Hash, newSize int64, newRoot tlog.Hash) error {
	switch {
	case oldSize < 0 || oldSize > newSize:
		return fmt.Errorf("%w: a tree of size %d cannot extend one of size %d", ErrProof, newSize, oldSize)
	case oldSize == 0:
		empty, _ := tlog.TreeHash(0, nil)
		if oldRoot != empty || len(proof) != 0 {
			return fmt.Errorf("%w: the empty tree has root %s and an empty consistency proof", ErrProof, empty)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, newSize, newRoot, oldSize, oldRoot); err != nil {
		return fmt.Errorf("%w: the tree of size %d with root %s does not extend the tree of size %d with root %s", ErrProof, newSize, newRoot, oldSize, oldRoot)
	}
	return nil
}

// VerifyConsistency verifies that the newer checkpoint extends the older one, such as one
// an auditor saved earlier: same log, no smaller, and the proof (ConsistencyProof from
// older.Size to newer.Size) holds. A log rewritten since the older checkpoint fails here
// even when its entries and the newer checkpoint agree. Both checkpoints must already be
// verified (ParseCheckpoint).
func VerifyConsistency(older, newer Checkpoint, proof tlog.TreeProof) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: the checkpoints are of different logs, %q and %q", ErrProof, older.Origin, newer.Origin)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("%w: the older checkpoint has %d entries, more than the newer one's %d", ErrProof, older.Size, newer.Size)
	}
	if older.Size == newer.Size && older.Root != newer.Root {
		return fmt.Errorf("%w: two checkpoints of size %d have different roots, %s and %s", ErrProof, older.Size, older.Root, newer.Root)
	}
	return CheckConsistency(proof, older.Size, older.Root, newer.Size, newer.Root)
}
