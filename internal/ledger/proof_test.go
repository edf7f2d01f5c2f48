package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/tlog"
)

func TestInclusionProofsEverySize(t *testing.T) {
	const n = 21
	entries := testEntries(t, 1, n)
	log := buildLog(t, entries)
	for size := int64(1); size <= n; size++ {
		root := mustRoot(t, size, log)
		for index := range size {
			proof, err := InclusionProof(index, size, log)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
			}
			h, err := entries[index].Hash()
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckInclusion(proof, size, root, h, index); err != nil {
				t.Errorf("CheckInclusion(%d, %d): %v", index, size, err)
			}
			other := tlog.RecordHash([]byte("other"))
			if err := CheckInclusion(proof, size, root, other, index); !errors.Is(err, ErrProof) {
				t.Errorf("CheckInclusion(%d, %d) with another leaf = %v; want ErrProof", index, size, err)
			}
			if size > 1 {
				if err := CheckInclusion(proof, size, root, h, (index+1)%size); !errors.Is(err, ErrProof) {
					t.Errorf("CheckInclusion(%d, %d) at index %d = %v; want ErrProof", index, size, (index+1)%size, err)
				}
			}
			if err := CheckInclusion(proof, size, other, h, index); !errors.Is(err, ErrProof) {
				t.Errorf("CheckInclusion(%d, %d) against another root = %v; want ErrProof", index, size, err)
			}
		}
	}
}

func TestConsistencyProofsEverySize(t *testing.T) {
	const n = 21
	log := buildLog(t, testEntries(t, 1, n))
	for newSize := int64(0); newSize <= n; newSize++ {
		newRoot := mustRoot(t, newSize, log)
		for oldSize := int64(0); oldSize <= newSize; oldSize++ {
			oldRoot := mustRoot(t, oldSize, log)
			proof, err := ConsistencyProof(oldSize, newSize, log)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", oldSize, newSize, err)
			}
			if err := CheckConsistency(proof, oldSize, oldRoot, newSize, newRoot); err != nil {
				t.Errorf("CheckConsistency(%d, %d): %v", oldSize, newSize, err)
			}
			other := tlog.RecordHash([]byte("other"))
			if err := CheckConsistency(proof, oldSize, other, newSize, newRoot); !errors.Is(err, ErrProof) {
				t.Errorf("CheckConsistency(%d, %d) from another old root = %v; want ErrProof", oldSize, newSize, err)
			}
			if oldSize > 0 {
				if err := CheckConsistency(proof, oldSize, oldRoot, newSize, other); !errors.Is(err, ErrProof) {
					t.Errorf("CheckConsistency(%d, %d) to another new root = %v; want ErrProof", oldSize, newSize, err)
				}
			}
		}
	}
}

func TestProofErrors(t *testing.T) {
	log := buildLog(t, testEntries(t, 1, 4))
	root := mustRoot(t, 4, log)
	for _, tt := range []struct {
		name string
		err  func() error
	}{
		{"inclusion of an index past the size", func() error { _, err := InclusionProof(4, 4, log); return err }},
		{"inclusion of a negative index", func() error { _, err := InclusionProof(-1, 4, log); return err }},
		{"inclusion in a tree the store does not have", func() error { _, err := InclusionProof(0, 5, log); return err }},
		{"consistency to a smaller size", func() error { _, err := ConsistencyProof(3, 2, log); return err }},
		{"consistency from a negative size", func() error { _, err := ConsistencyProof(-1, 2, log); return err }},
		{"consistency to a tree the store does not have", func() error { _, err := ConsistencyProof(2, 9, log); return err }},
		{"check inclusion past the size", func() error { return CheckInclusion(nil, 4, root, root, 4) }},
		{"check consistency to a smaller size", func() error { return CheckConsistency(nil, 4, root, 3, root) }},
		{"check consistency from the empty tree with a wrong root", func() error { return CheckConsistency(nil, 0, root, 4, root) }},
		{"check consistency from the empty tree with a proof", func() error {
			empty := mustRoot(t, 0, log)
			return CheckConsistency(tlog.TreeProof{root}, 0, empty, 4, root)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.err(); err == nil {
				t.Errorf("succeeded; want an error")
			}
		})
	}
}

func TestProofJSON(t *testing.T) {
	log := buildLog(t, testEntries(t, 1, 13))
	path, err := InclusionProof(5, 13, log)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := ConsistencyProof(6, 13, log)
	if err != nil {
		t.Fatal(err)
	}
	single, err := InclusionProof(0, 1, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{
		&Inclusion{Index: 5, TreeSize: 13, Hashes: path},
		&Inclusion{Index: 0, TreeSize: 1, Hashes: single},
		&Consistency{OldSize: 6, NewSize: 13, Hashes: tree},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(path) > 0 && !strings.Contains(string(b), `"hashes":["`) && !strings.Contains(string(b), `"hashes":[]`) {
			t.Errorf("JSON %s does not list the hashes as strings", b)
		}
		if strings.Contains(string(b), "null") {
			t.Errorf("JSON %s has null; want an empty list for an empty proof", b)
		}
		back := newOf(v)
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if diff := cmp.Diff(v, back, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("JSON round trip of %s: diff (-want +got)\n%s", b, diff)
		}
	}
	b, _ := json.Marshal(Inclusion{Index: 5, TreeSize: 13, Hashes: path})
	want := fmt.Sprintf(`{"index":5,"tree_size":13,"hashes":["%s"`, path[0])
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("JSON = %s; want it to start %s (standard base64 hashes)", b, want)
	}
}

func newOf(v any) any {
	switch v.(type) {
	case *Inclusion:
		return new(Inclusion)
	case *Consistency:
		return new(Consistency)
	}
	panic(fmt.Sprintf("newOf(%T)", v))
}

func TestVerifyConsistency(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	log := buildLog(t, testEntries(t, 1, 12))
	at := func(size int64) Checkpoint {
		return mustSign(t, s, testOrigin, size, mustRoot(t, size, log), testStart)
	}
	proof := func(old, new int64) tlog.TreeProof {
		p, err := ConsistencyProof(old, new, log)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	otherLog := mustSign(t, s, "evident.local/other", 12, mustRoot(t, 12, log), testStart)
	fork := mustSign(t, s, testOrigin, 5, tlog.RecordHash([]byte("fork")), testStart)

	for _, tt := range []struct {
		name         string
		older, newer Checkpoint
		proof        tlog.TreeProof
		says         string // empty: must verify
	}{
		{"extends", at(5), at(12), proof(5, 12), ""},
		{"same checkpoint", at(12), at(12), proof(12, 12), ""},
		{"from empty", at(0), at(12), proof(0, 12), ""},
		{"wrong proof", at(5), at(12), proof(6, 12), "does not extend the tree of size 5"},
		{"different logs", at(12), otherLog, nil, "different logs"},
		{"older is larger", at(12), at(5), nil, "more than the newer one's 5"},
		{"fork at the same size", at(5), fork, nil, "different roots"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyConsistency(tt.older, tt.newer, tt.proof)
			switch {
			case tt.says == "" && err != nil:
				t.Errorf("VerifyConsistency: %v", err)
			case tt.says != "" && (!errors.Is(err, ErrProof) || !strings.Contains(err.Error(), tt.says)):
				t.Errorf("VerifyConsistency error = %v; want ErrProof saying %q", err, tt.says)
			}
		})
	}
}
