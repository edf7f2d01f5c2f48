package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testKey returns a key pair derived from seed, so tests and fuzz seeds are reproducible.
func testKey(tb testing.TB, name string, seed byte) (skey, vkey string) {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		tb.Fatalf("GenerateKey(%q): %v", name, err)
	}
	return skey, vkey
}

func testSigner(tb testing.TB, name string, seed byte) *Signer {
	tb.Helper()
	skey, _ := testKey(tb, name, seed)
	s, err := NewCheckpointSigner(skey)
	if err != nil {
		tb.Fatalf("NewCheckpointSigner: %v", err)
	}
	return s
}

var testStart = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

// testEntries returns n entries of organization org, as an audit trail would have them.
func testEntries(tb testing.TB, org int64, n int) []Entry {
	tb.Helper()
	entries := make([]Entry, n)
	for i := range entries {
		data, err := json.Marshal(map[string]any{"status": "implemented", "control": i % 7, "note": fmt.Sprintf("change %d", i)})
		if err != nil {
			tb.Fatal(err)
		}
		entries[i] = Entry{
			OrgID:   org,
			Index:   int64(i),
			At:      testStart.Add(time.Duration(i) * time.Minute),
			ActorID: int64(1 + i%3),
			Actor:   fmt.Sprintf("user%d@example.com", 1+i%3),
			Type:    "control.updated",
			Subject: fmt.Sprintf("control:%d", i%7),
			Data:    data,
		}
	}
	return entries
}

// buildLog returns the stored hashes of a log of the given entries, in the order given.
func buildLog(tb testing.TB, entries []Entry) *MemoryHashes {
	tb.Helper()
	var m MemoryHashes
	for _, e := range entries {
		c, err := e.Canonical()
		if err != nil {
			tb.Fatalf("entry %d: Canonical: %v", e.Index, err)
		}
		if _, err := m.Append(c); err != nil {
			tb.Fatalf("entry %d: Append: %v", e.Index, err)
		}
	}
	return &m
}

func mustRoot(tb testing.TB, n int64, r tlog.HashReader) tlog.Hash {
	tb.Helper()
	root, err := TreeRoot(n, r)
	if err != nil {
		tb.Fatalf("TreeRoot(%d): %v", n, err)
	}
	return root
}

func mustSign(tb testing.TB, s *Signer, origin string, size int64, root tlog.Hash, at time.Time) Checkpoint {
	tb.Helper()
	cp, err := s.SignCheckpoint(origin, size, root, at)
	if err != nil {
		tb.Fatalf("SignCheckpoint: %v", err)
	}
	return cp
}

func hexHash(tb testing.TB, s string) tlog.Hash {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		tb.Fatalf("bad hash constant %q", s)
	}
	return tlog.Hash(b)
}

func hexBytes(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex constant %q", s)
	}
	return b
}
