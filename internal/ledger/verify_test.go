package ledger

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// wantProblem is a problem VerifyLog must report: the entry and part of the reason.
type wantProblem struct {
	index int64
	says  string
}

func checkProblems(tb testing.TB, got []Problem, want []wantProblem) {
	tb.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = got[i].Index == want[i].index && strings.Contains(got[i].Reason, want[i].says)
	}
	if !ok {
		var lines []string
		for _, p := range got {
			lines = append(lines, "\t"+p.String())
		}
		tb.Errorf("VerifyLog problems:\n%s\nwant %+v", strings.Join(lines, "\n"), want)
	}
}

// published returns a log of n entries and the checkpoint an auditor would hold for it:
// signed, then read back with ParseCheckpoint.
func published(tb testing.TB, s *Signer, entries []Entry) (*MemoryHashes, Checkpoint) {
	tb.Helper()
	log := buildLog(tb, entries)
	cp := mustSign(tb, s, testOrigin, log.Size(), mustRoot(tb, log.Size(), log), testStart)
	parsed, err := ParseCheckpoint([]byte(cp.Note), s.VerifierKey())
	if err != nil {
		tb.Fatalf("ParseCheckpoint: %v", err)
	}
	return log, parsed
}

func TestVerifyLogTampering(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	original := testEntries(t, 1, 10)
	_, cp := published(t, s, original)

	for _, tt := range []struct {
		name   string
		tamper func(es []Entry) []Entry
		cp     func() Checkpoint
		want   []wantProblem
	}{
		{"intact", nil, nil, nil},
		{"one entry's data changed", func(es []Entry) []Entry {
			es[4].Data = json.RawMessage(`{"status":"implemented","control":4,"note":"changed"}`)
			return es
		}, nil, []wantProblem{{NoIndex, "the root hash of entries 0 to 9 is"}}},
		{"one entry's time back-dated", func(es []Entry) []Entry {
			es[4].At = es[4].At.AddDate(0, -1, 0)
			return es
		}, nil, []wantProblem{{NoIndex, "an entry was changed, added or removed"}}},
		{"an entry removed", func(es []Entry) []Entry {
			return slices.Delete(es, 3, 4)
		}, nil, []wantProblem{{3, "is missing"}, {NoIndex, "1 of the checkpoint's 10 entries are missing"}}},
		{"entries removed and the rest renumbered", func(es []Entry) []Entry {
			es = slices.Delete(es, 3, 5)
			for i := range es {
				es[i].Index = int64(i)
			}
			return es
		}, nil, []wantProblem{{8, "is missing, and so are the entries up to 9"}, {NoIndex, "2 of the checkpoint's 10 entries are missing"}}},
		{"two entries swapped", func(es []Entry) []Entry {
			es[5], es[6] = es[6], es[5]
			return es
		}, nil, []wantProblem{{5, "is out of order: it comes after entry 6"}}},
		{"two entries' contents swapped, indexes kept", func(es []Entry) []Entry {
			es[5].Index, es[6].Index = 6, 5
			es[5], es[6] = es[6], es[5]
			return es
		}, nil, []wantProblem{{NoIndex, "an entry was changed, added or removed"}}},
		{"an entry repeated", func(es []Entry) []Entry {
			return slices.Insert(es, 3, es[2])
		}, nil, []wantProblem{{2, "appears more than once"}}},
		{"an entry of another organization", func(es []Entry) []Entry {
			es[7].OrgID = 2
			return es
		}, nil, []wantProblem{{7, "belongs to organization 2, but the log is organization 1's"}, {NoIndex, "an entry was changed"}}},
		{"an entry added at the end", func(es []Entry) []Entry {
			extra := testEntries(t, 1, 11)[10]
			return append(es, extra)
		}, nil, []wantProblem{{10, "is beyond the checkpoint's tree size 10"}}},
		{"entries added at the end", func(es []Entry) []Entry {
			return append(es, testEntries(t, 1, 13)[10:]...)
		}, nil, []wantProblem{{10, "is beyond the checkpoint's tree size 10, and so are 2 other entries"}}},
		{"an entry that cannot be encoded", func(es []Entry) []Entry {
			es[1].Actor = "bad\xff"
			return es
		}, nil, []wantProblem{{1, "cannot be encoded: actor: not valid UTF-8"}, {NoIndex, "some entries cannot be encoded"}}},
		{"a negative index", func(es []Entry) []Entry {
			es[9].Index = -9
			return es
		}, nil, []wantProblem{{NoIndex, "an entry has the negative index -9"}, {9, "is missing"}, {NoIndex, "1 of the checkpoint's 10 entries are missing"}}},
		{"checkpoint with a smaller size", nil, func() Checkpoint {
			return mustSign(t, s, testOrigin, 9, cp.Root, testStart)
		}, []wantProblem{{9, "is beyond the checkpoint's tree size 9"}, {NoIndex, "the root hash of entries 0 to 8 is"}}},
		{"checkpoint with a larger size", nil, func() Checkpoint {
			return mustSign(t, s, testOrigin, 11, cp.Root, testStart)
		}, []wantProblem{{10, "is missing"}, {NoIndex, "1 of the checkpoint's 11 entries are missing"}}},
		{"checkpoint claiming a huge log", nil, func() Checkpoint {
			return mustSign(t, s, testOrigin, 1<<50, cp.Root, testStart)
		}, []wantProblem{{10, "is missing, and so are the entries up to 1125899906842623"}, {NoIndex, "entries are missing"}}},
		{"checkpoint of another log's root", nil, func() Checkpoint {
			return mustSign(t, s, testOrigin, 10, tlog.RecordHash([]byte("x")), testStart)
		}, []wantProblem{{NoIndex, "but the checkpoint's is"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			entries := slices.Clone(original)
			if tt.tamper != nil {
				entries = tt.tamper(entries)
			}
			c := cp
			if tt.cp != nil {
				c = tt.cp()
			}
			checkProblems(t, VerifyLog(entries, c), tt.want)
		})
	}
}

func TestVerifyLogEmpty(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	_, cp := published(t, s, nil)
	checkProblems(t, VerifyLog(nil, cp), nil)
	checkProblems(t, VerifyLog(testEntries(t, 1, 1), cp), []wantProblem{{0, "is beyond the checkpoint's tree size 0"}})
}

func TestVerifyLogEntriesOutOfOrderStillProveContent(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	original := testEntries(t, 1, 8)
	_, cp := published(t, s, original)
	reversed := slices.Clone(original)
	slices.Reverse(reversed)
	problems := VerifyLog(reversed, cp)
	if len(problems) != 7 {
		t.Fatalf("VerifyLog of reversed entries: %v; want 7 out-of-order problems and no root problem", problems)
	}
	for _, p := range problems {
		if p.Index == NoIndex || !strings.Contains(p.Reason, "out of order") {
			t.Errorf("problem %v; want only out-of-order problems", p)
		}
	}
}

// A rewritten log, re-signed by a server that holds the key, verifies against its new
// checkpoint; the checkpoint the auditor saved before the rewrite exposes it.
func TestRewrittenLogCaughtByConsistency(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	original := testEntries(t, 1, 10)
	honestLog, honest := published(t, s, original)
	saved := mustSign(t, s, testOrigin, 6, mustRoot(t, 6, honestLog), testStart)

	rewritten := slices.Clone(original)
	rewritten[2].Data = json.RawMessage(`{"status":"implemented","control":2,"note":"rewritten"}`)
	rewrittenLog, resigned := published(t, s, rewritten)

	if problems := VerifyLog(rewritten, resigned); len(problems) != 0 {
		t.Fatalf("VerifyLog(rewritten, re-signed) = %v; want none: the log is self-consistent", problems)
	}
	proof, err := ConsistencyProof(6, 10, rewrittenLog)
	if err != nil {
		t.Fatal(err)
	}
	err = VerifyConsistency(saved, resigned, proof)
	if !errors.Is(err, ErrProof) || !strings.Contains(err.Error(), "does not extend the tree of size 6") {
		t.Errorf("VerifyConsistency(saved, re-signed) = %v; want ErrProof naming size 6", err)
	}
	// Nor can the rewriter reuse the honest proof.
	honestProof, err := ConsistencyProof(6, 10, honestLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(saved, resigned, honestProof); !errors.Is(err, ErrProof) {
		t.Errorf("VerifyConsistency(saved, re-signed, honest proof) = %v; want ErrProof", err)
	}
	// The honest log passes the same check.
	if err := VerifyConsistency(saved, honest, honestProof); err != nil {
		t.Errorf("VerifyConsistency(saved, honest): %v", err)
	}
	// And the saved checkpoint alone already rejects the rewritten prefix.
	checkProblems(t, VerifyLog(rewritten[:6], saved), []wantProblem{{NoIndex, "the root hash of entries 0 to 5 is"}})
}

func TestCheckpointSignedByAnotherKeyRejected(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	forger := testSigner(t, "evident.local", 9)
	entries := testEntries(t, 1, 5)
	entries[1].Data = json.RawMessage(`{"forged":true}`)
	log := buildLog(t, entries)
	forged := mustSign(t, forger, testOrigin, 5, mustRoot(t, 5, log), testStart)
	_, err := ParseCheckpoint([]byte(forged.Note), s.VerifierKey())
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("ParseCheckpoint of a checkpoint signed by another key = %v; want ErrUnknownKey", err)
	}
}

func TestVerifyEntryNamesTheChangedEntry(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	entries := testEntries(t, 1, 10)
	log, cp := published(t, s, entries)
	entries[4].Data = json.RawMessage(`{"status":"implemented","control":4,"note":"changed"}`)
	var failed []int64
	for _, e := range entries {
		proof, err := InclusionProof(e.Index, cp.Size, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyEntry(e, proof, cp); err != nil {
			if !errors.Is(err, ErrProof) || !strings.Contains(err.Error(), "entry 4 ") {
				t.Errorf("VerifyEntry error = %v; want ErrProof naming entry 4", err)
			}
			failed = append(failed, e.Index)
		}
	}
	if !slices.Equal(failed, []int64{4}) {
		t.Errorf("VerifyEntry failed for entries %v; want [4]", failed)
	}

	bad := entries[0]
	bad.Actor = "\xff"
	if err := VerifyEntry(bad, nil, cp); err == nil || !strings.Contains(err.Error(), "entry 0: actor") {
		t.Errorf("VerifyEntry of an entry that cannot be encoded = %v; want an error naming entry 0 and the field", err)
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{Index: 3, Reason: "is missing"}, "entry 3: is missing"},
		{Problem{Index: NoIndex, Reason: "bad root"}, "log: bad root"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q; want %q", tt.p, got, tt.want)
		}
	}
}
