package bundle

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/bundle/zipstream"
	"github.com/evidenthq/evident/internal/ledger"
)

// seedBundle is a small good bundle whose members seed the fuzz tests.
func seedBundle(tb testing.TB) (map[string][]byte, []byte) {
	tb.Helper()
	o := standardOrg(tb)
	b, _ := writeBundle(tb, o, WriteOptions{Now: func() time.Time { return testStart }})
	return members(tb, b), b
}

func FuzzParseManifest(f *testing.F) {
	m, _ := seedBundle(f)
	f.Add(m[manifestName])
	f.Add([]byte(`{"format":"evident-evidence-bundle","version":1}`))
	f.Add([]byte(`{"format":"evident-evidence-bundle","version":1,"organization":{"id":-1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("parseManifest(%q) failed with an empty error", data)
			}
			return
		}
		if m.Format != Format || m.Version != Version || m.Organization.ID <= 0 || m.Checkpoint.Size < 0 {
			t.Errorf("parseManifest(%q) accepted %+v", data, m)
		}
	})
}

func FuzzParseItemLine(f *testing.F) {
	m, _ := seedBundle(f)
	for line := range strings.Lines(string(m[itemsName])) {
		f.Add([]byte(strings.TrimSuffix(line, "\n")))
	}
	f.Add([]byte(`{"id":1,"inclusion_proof":["AAAA"]}`))
	f.Add([]byte(`{"id":1,"period":{"start":"2025-02-30"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		it, err := parseItemLine(line)
		if err != nil {
			return
		}
		if it.ID <= 0 || it.LedgerIndex < 0 || it.Size < 0 || len(it.SHA256) != 64 || len(it.Proof) > maxProof {
			t.Errorf("parseItemLine(%q) accepted %+v", line, it)
		}
		// What parses renders without fail.
		var page pageWriter
		page.w = &bytes.Buffer{}
		if err := page.row(&it); err != nil {
			t.Errorf("row(%q): %v", line, err)
		}
	})
}

// FuzzLedgerAndItems feeds arbitrary ledger.jsonl and items.jsonl to the checks that read
// them side by side. They must not panic, and a line they cannot use is named by its line.
func FuzzLedgerAndItems(f *testing.F) {
	m, _ := seedBundle(f)
	f.Add(m[ledgerName], m[itemsName])
	f.Add(m[ledgerName][:len(m[ledgerName])/2], m[itemsName])
	f.Add([]byte("{}\n\n"), []byte("null\n{\"id\":1}"))
	f.Add(swapLines(m[ledgerName], 1, 2), dropLine(m[itemsName], 1))
	man, err := parseManifest(m[manifestName])
	if err != nil {
		f.Fatal(err)
	}
	// The items' files are in a bundle of their own.
	var files bytes.Buffer
	zw := zipstream.NewWriter(&files, zipstream.Options{})
	for name, data := range m {
		if strings.HasPrefix(name, filesDir) {
			w, err := zw.Create(zipstream.Header{Name: name})
			if err != nil {
				f.Fatal(err)
			}
			w.Write(data)
		}
	}
	if err := zw.Close(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ledgerData, itemsData []byte) {
		zr, err := zipstream.NewReader(bytes.NewReader(files.Bytes()), int64(files.Len()))
		if err != nil {
			t.Fatal(err)
		}
		v := &verifier{ctx: context.Background(), rep: &Report{}, m: man, zr: zr, tempDir: t.TempDir(),
			cp: ledger.Checkpoint{Size: man.Checkpoint.Size, Root: tlog.Hash(man.Checkpoint.Root)}}
		if ok, err := v.indexMembers(); !ok || err != nil {
			t.Fatalf("indexMembers = %v, %v", ok, err)
		}
		v.rep.Problems = nil // the members this bundle lacks on purpose
		v.startChecks()
		defer v.endChecks()
		if err := v.checkStreams(bytes.NewReader(ledgerData), bytes.NewReader(itemsData)); err != nil {
			t.Fatalf("checkStreams: %v", err)
		}
		if err := v.finishChecks(); err != nil {
			t.Fatalf("finishChecks: %v", err)
		}
		for _, p := range v.rep.Problems {
			if p.Reason == "" {
				t.Errorf("a problem without a reason: %+v", p)
			}
			unreadable := strings.HasPrefix(p.Reason, "not a canonical ledger entry") || strings.HasPrefix(p.Reason, "cannot be read") ||
				p.File == itemsName && p.Item == nil && !strings.HasPrefix(p.Reason, "has ")
			if unreadable && p.Line <= 0 {
				t.Errorf("a problem with a line of %s does not name the line: %v", p.File, p)
			}
		}
	})
}

// FuzzVerify verifies arbitrary bytes as a bundle: it must report, not panic or fail.
func FuzzVerify(f *testing.F) {
	_, b := seedBundle(f)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), VerifyOptions{})
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if rep.OK != (len(rep.Problems) == 0) || rep.Summary == "" {
			t.Errorf("Verify = OK %v with %d problems, summary %q", rep.OK, len(rep.Problems), rep.Summary)
		}
	})
}
