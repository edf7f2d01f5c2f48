package ledger

import (
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// NoIndex is the Problem.Index of a problem that concerns the log as a whole.
const NoIndex = -1

// Problem is one thing wrong with a log, found by VerifyLog.
type Problem struct {
	Index  int64  `json:"index"` // the entry it concerns, or NoIndex
	Reason string `json:"reason"`
}

// String returns the problem as a verifier prints it: "entry 5: is missing".
func (p Problem) String() string {
	if p.Index == NoIndex {
		return "log: " + p.Reason
	}
	return fmt.Sprintf("entry %d: %s", p.Index, p.Reason)
}

// VerifyLog checks a whole log, entries 0 to cp.Size-1, against a checkpoint already
// verified with ParseCheckpoint, and returns every problem it finds, in the order of the
// entries; none means the entries are exactly the log the checkpoint signed. It reports:
// entries of another organization than the first entry's; entries that cannot be encoded;
// negative, duplicate and out-of-order indexes; indexes missing from 0 to cp.Size-1 (as
// ranges); entries beyond the checkpoint; and, when every index below cp.Size is present
// once, a root hash over the entries, in index order, that differs from the checkpoint's.
//
// Each entry's hash covers its index, so an entry whose content was changed, or moved to
// another index, changes the root. Entry times are informational and not compared. A log
// rewritten and signed again passes VerifyLog against the new checkpoint; VerifyConsistency
// with a checkpoint saved before the rewrite catches it.
func VerifyLog(entries []Entry, cp Checkpoint) []Problem {
	var problems []Problem
	report := func(index int64, format string, args ...any) {
		problems = append(problems, Problem{Index: index, Reason: fmt.Sprintf(format, args...)})
	}
	size := cp.Size
	if size < 0 {
		report(NoIndex, "the checkpoint's tree size %d is negative", size)
		return problems
	}

	// Entries are placed by index. A log of n entries that is whole has indexes 0 to n-1,
	// so slices of n cover it; indexes from n up to size (possible only when some are
	// missing) go in a map, which keeps memory bounded by the entries given rather than by
	// the size the checkpoint claims.
	n := int64(len(entries))
	limit := min(size, n)
	leaves := make([]tlog.Hash, limit)
	have := make([]bool, limit)
	above := make(map[int64]bool) // indexes in [limit, size)
	beyond := make(map[int64]bool)
	firstBeyond := int64(NoIndex)
	var org int64
	if len(entries) > 0 {
		org = entries[0].OrgID
	}
	var highest int64 = -1 // the highest index seen so far
	encodable := true
	for _, e := range entries {
		x := e.Index
		if x < 0 {
			// Reported without an index, which could be mistaken for NoIndex.
			report(NoIndex, "an entry has the negative index %d", x)
			continue
		}
		if e.OrgID != org {
			report(x, "belongs to organization %d, but the log is organization %d's", e.OrgID, org)
		}
		h, err := e.Hash()
		if err != nil {
			report(x, "cannot be encoded: %v", err)
			encodable = false
		}
		switch {
		case x < limit && have[x], x >= limit && x < size && above[x], x >= size && beyond[x]:
			report(x, "appears more than once")
			continue
		case x < highest:
			report(x, "is out of order: it comes after entry %d", highest)
		}
		highest = max(highest, x)
		switch {
		case x < limit:
			have[x] = true
			leaves[x] = h
		case x < size:
			above[x] = true
		default:
			if len(beyond) == 0 {
				firstBeyond = x
			}
			beyond[x] = true
		}
	}

	// Report the gaps between the indexes present below size.
	present := make([]int64, 0, len(above))
	for x := range above {
		present = append(present, x)
	}
	slices.Sort(present)
	var missing int64
	prev := int64(-1)
	gap := func(next int64) {
		if next > prev+1 {
			if next == prev+2 {
				report(prev+1, "is missing")
			} else {
				report(prev+1, "is missing, and so are the entries up to %d", next-1)
			}
			missing += next - prev - 1
		}
		prev = next
	}
	for x := range limit {
		if have[x] {
			gap(x)
		}
	}
	for _, x := range present {
		gap(x)
	}
	gap(size)
	if len(beyond) > 0 {
		if len(beyond) == 1 {
			report(firstBeyond, "is beyond the checkpoint's tree size %d", size)
		} else {
			report(firstBeyond, "is beyond the checkpoint's tree size %d, and so are %d other entries", size, len(beyond)-1)
		}
	}

	switch {
	case missing > 0:
		report(NoIndex, "the root hash cannot be checked: %d of the checkpoint's %d entries are missing", missing, size)
	case !encodable:
		report(NoIndex, "the root hash cannot be checked: some entries cannot be encoded")
	default:
		var tree MemoryHashes
		tree.Grow(size)
		for _, h := range leaves {
			if _, err := tree.AppendLeafHash(h); err != nil {
				report(NoIndex, "cannot build the tree: %v", err)
				return problems
			}
		}
		root, err := tree.Root()
		if err != nil {
			report(NoIndex, "cannot compute the root hash: %v", err)
			return problems
		}
		if root != cp.Root {
			report(NoIndex, "the root hash of entries 0 to %d is %s, but the checkpoint's is %s: an entry was changed, added or removed", size-1, root, cp.Root)
		}
	}
	return problems
}
