package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// members returns the bundle's members by name.
func members(tb testing.TB, b []byte) map[string][]byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("zip.NewReader: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatalf("open %s: %v", f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("read %s: %v", f.Name, err)
		}
		out[f.Name] = data
	}
	return out
}

// bundleItems returns the items of items.jsonl.
func bundleItems(tb testing.TB, b []byte) []itemRecord {
	tb.Helper()
	var out []itemRecord
	for line := range strings.Lines(string(members(tb, b)[itemsName])) {
		it, err := parseItemLine([]byte(line))
		if err != nil {
			tb.Fatalf("items.jsonl: %v", err)
		}
		out = append(out, it)
	}
	return out
}

func itemIDs(items []itemRecord) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestWriteVerifyRoundTrip(t *testing.T) {
	o := standardOrg(t)
	b, sum := writeBundle(t, o, WriteOptions{})
	wantSum := Summary{
		Organization: "acme",
		Items:        6,
		Files:        5, // two items share one file
		FileBytes:    int64(len("content of Q1 access review") + len("content of Change tickets") + len("corrected review") + len("content of Tabletop exercise") + len("https://status.acme.test/history")),
		Entries:      int64(len(o.entries)),
		Checkpoint:   mustParse(t, o.note, o.signer.VerifierKey()),
	}
	if diff := cmp.Diff(wantSum, sum); diff != "" {
		t.Errorf("Write summary (-want +got):\n%s", diff)
	}

	rep := verifyBytes(t, b, VerifyOptions{Key: o.signer.VerifierKey()})
	if !rep.OK || len(rep.Problems) > 0 {
		t.Fatalf("Verify = not OK: %v", rep.Problems)
	}
	keyName := describeKey(o.signer.VerifierKey())
	wantLine := "verified 6 items, 12 ledger entries, checkpoint size 12 signed by " + keyName + ": OK"
	if rep.Summary != wantLine {
		t.Errorf("Summary = %q; want %q", rep.Summary, wantLine)
	}
	if rep.Items != 6 || rep.Entries != 12 || rep.Files != 5 || rep.KeyFromBundle || len(rep.Notes) != 0 {
		t.Errorf("Report = %+v; want 6 items, 12 entries, 5 files, the given key and no notes", rep)
	}

	// The bundle carries the state the ledger records: the correction and the retraction.
	items := bundleItems(t, b)
	if diff := cmp.Diff([]int64{100, 101, 102, 103, 104, 105}, itemIDs(items)); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if got := items[0].SupersededBy; got == nil || got.ID != 102 || got.LedgerIndex != items[2].LedgerIndex {
		t.Errorf("item 100 superseded_by = %+v; want item 102 at entry %d", got, items[2].LedgerIndex)
	}
	if got := items[3].Retraction; got == nil || got.Reason != "wrong exercise attached" || got.LedgerIndex != items[3].LedgerIndex+1 {
		t.Errorf("item 103 retraction = %+v; want the reason and the next entry", got)
	}
	if got := items[2].Supersedes; got == nil || *got != 100 {
		t.Errorf("item 102 supersedes = %v; want 100", got)
	}
}

func mustParse(tb testing.TB, text []byte, key string) ledger.Checkpoint {
	tb.Helper()
	cp, err := ledger.ParseCheckpoint(text, key)
	if err != nil {
		tb.Fatalf("ParseCheckpoint: %v", err)
	}
	return cp
}

func TestVerifyWithTheBundleKey(t *testing.T) {
	o := standardOrg(t)
	b, _ := writeBundle(t, o, WriteOptions{})
	rep := verifyBytes(t, b, VerifyOptions{})
	if !rep.OK {
		t.Fatalf("Verify = not OK: %v", rep.Problems)
	}
	if !rep.KeyFromBundle || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "--key") {
		t.Errorf("Verify without a key: KeyFromBundle = %v, Notes = %q; want a note to pass --key", rep.KeyFromBundle, rep.Notes)
	}
}

func TestWriteFilters(t *testing.T) {
	o := standardOrg(t)
	tests := []struct {
		name string
		opts WriteOptions
		want []int64
	}{
		{"all", WriteOptions{}, []int64{100, 101, 102, 103, 104, 105}},
		{"one control", WriteOptions{Control: "AC-01"}, []int64{100, 101, 102}},
		{"from", WriteOptions{From: mustDate(t, "2025-02-01")}, []int64{100, 102, 104, 105}},
		{"to", WriteOptions{To: mustDate(t, "2024-12-31")}, []int64{103}},
		{"window", WriteOptions{From: mustDate(t, "2025-01-15"), To: mustDate(t, "2025-01-20")}, []int64{100, 101, 102, 104}},
		{"control and window", WriteOptions{Control: "CM-02", From: mustDate(t, "2025-02-10"), To: mustDate(t, "2025-02-10")}, []int64{105}},
		{"nothing", WriteOptions{Control: "IR-03", From: mustDate(t, "2026-01-01")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, sum := writeBundle(t, o, tt.opts)
			if diff := cmp.Diff(tt.want, itemIDs(bundleItems(t, b))); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if sum.Items != int64(len(tt.want)) {
				t.Errorf("Summary.Items = %d; want %d", sum.Items, len(tt.want))
			}
			if rep := verifyBytes(t, b, VerifyOptions{Key: o.signer.VerifierKey()}); !rep.OK {
				t.Errorf("Verify = not OK: %v", rep.Problems)
			}
		})
	}
}

func TestWriteUnknownControl(t *testing.T) {
	o := standardOrg(t)
	_, err := Write(context.Background(), io.Discard, o, WriteOptions{Control: "XX-99"})
	if !domain.IsNotFound(err) || !strings.Contains(err.Error(), "XX-99") {
		t.Errorf("Write with an unknown control = %v; want not found naming it", err)
	}
}

func TestWriteLeavesOutWhatCameAfterTheCheckpoint(t *testing.T) {
	o := standardOrg(t)
	// After the checkpoint: a new item, a correction and a retraction.
	o.add(t, evidenceSpec{title: "Late", controls: []int64{11}})
	o.add(t, evidenceSpec{title: "Late correction", controls: []int64{12}, supersedes: 101})
	o.retract(t, 104, "moved")

	b, sum := writeBundle(t, o, WriteOptions{})
	if sum.Items != 6 || sum.Skipped != 2 || sum.Entries != 12 {
		t.Errorf("Summary = %+v; want 6 items, 2 skipped, 12 entries", sum)
	}
	items := bundleItems(t, b)
	if items[1].SupersededBy != nil || items[4].Retraction != nil {
		t.Errorf("items 101 and 104 show a correction %+v and a retraction %+v made after the checkpoint", items[1].SupersededBy, items[4].Retraction)
	}
	if rep := verifyBytes(t, b, VerifyOptions{Key: o.signer.VerifierKey()}); !rep.OK {
		t.Errorf("Verify = not OK: %v", rep.Problems)
	}
}

// TestTheFirstCorrectionAndRetractionCount records two corrections and two retractions
// of one item: the writer and the verifier alike take the first of each, in ledger order.
func TestTheFirstCorrectionAndRetractionCount(t *testing.T) {
	o := newFakeOrg(t)
	policy := o.add(t, evidenceSpec{title: "Policy", controls: []int64{11}}).ID
	first := o.add(t, evidenceSpec{title: "Policy, corrected", controls: []int64{11}, supersedes: policy, content: "first"})
	firstID, firstIndex := first.ID, first.LedgerIndex
	o.add(t, evidenceSpec{title: "Policy, corrected again", controls: []int64{11}, supersedes: policy, content: "second"})
	o.retract(t, firstID, "first reason")
	retractedAt := int64(len(o.entries) - 1)
	o.retract(t, firstID, "second reason")
	// The database keeps the first of each, as the ledger's readers do.
	o.item(t, policy).Evidence.SupersededBy = &firstID
	o.item(t, firstID).Evidence.RetractReason = "first reason"
	o.sign(t)

	b, _ := writeBundle(t, o, WriteOptions{})
	items := bundleItems(t, b)
	if got := items[0].SupersededBy; got == nil || got.ID != firstID || got.LedgerIndex != firstIndex {
		t.Errorf("item %d superseded_by = %+v; want item %d at entry %d", policy, got, firstID, firstIndex)
	}
	if got := items[1].Retraction; got == nil || got.Reason != "first reason" || got.LedgerIndex != retractedAt {
		t.Errorf("item %d retraction = %+v; want the first, at entry %d", firstID, got, retractedAt)
	}
	if rep := verifyBytes(t, b, VerifyOptions{Key: o.signer.VerifierKey()}); !rep.OK {
		t.Errorf("Verify = %s %v", rep.Summary, rep.Problems)
	}
}

func TestWriteIsRepeatable(t *testing.T) {
	o := standardOrg(t)
	a, _ := writeBundle(t, o, WriteOptions{Control: "AC-01"})
	b, _ := writeBundle(t, o, WriteOptions{Control: "AC-01"})
	if !bytes.Equal(a, b) {
		t.Error("two bundles of the same evidence differ")
	}
}

func TestManifest(t *testing.T) {
	o := standardOrg(t)
	b, _ := writeBundle(t, o, WriteOptions{Control: "AC-01", From: mustDate(t, "2025-01-01"), To: mustDate(t, "2025-03-31")})
	m, err := parseManifest(members(t, b)[manifestName])
	if err != nil {
		t.Fatalf("parseManifest: %v", err)
	}
	cp := mustParse(t, o.note, o.signer.VerifierKey())
	want := manifest{
		Format:       Format,
		Version:      Version,
		Organization: organization{ID: 7, Slug: "acme", Name: "Acme <Corp> & Co"},
		GeneratedAt:  time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC),
		Filters: filters{
			Control: &controlRef{ID: 11, Ref: "AC-01", Title: "Access reviews"},
			From:    &date{mustDate(t, "2025-01-01")},
			To:      &date{mustDate(t, "2025-03-31")},
		},
		Checkpoint: checkpointInfo{File: checkpointName, KeyFile: keyName, Origin: "evident.test/acme", Size: 12, Root: b64Hash(cp.Root), Time: cp.Time, KeyName: "evident.test"},
		Ledger:     ledgerInfo{File: ledgerName, Entries: 12, Encoding: "canonical ledger entries, one per line, in index order"},
		Items:      itemsInfo{File: itemsName, Count: 3},
		Files:      filesInfo{Dir: filesDir, Count: 3, Bytes: int64(len("content of Q1 access review") + len("content of Change tickets") + len("corrected review"))},
		Index:      indexInfo{File: indexName, Template: indexTemplateVersion},
		README:     readmeName,
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
	if got := string(members(t, b)[checkpointName]); got != string(o.note) {
		t.Errorf("checkpoint.txt = %q; want the stored note %q", got, o.note)
	}
	if got := string(members(t, b)[keyName]); got != o.signer.VerifierKey()+"\n" {
		t.Errorf("key.txt = %q; want %q", got, o.signer.VerifierKey())
	}
}

func TestLedgerMember(t *testing.T) {
	o := standardOrg(t)
	b, _ := writeBundle(t, o, WriteOptions{Control: "IR-03"})
	var lines []string
	for l := range strings.Lines(string(members(t, b)[ledgerName])) {
		lines = append(lines, l)
	}
	if len(lines) != len(o.entries) {
		t.Fatalf("ledger.jsonl has %d lines; want the whole ledger, %d", len(lines), len(o.entries))
	}
	for i, e := range o.entries {
		c, err := e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if lines[i] != string(c)+"\n" {
			t.Errorf("ledger.jsonl line %d = %q; want %q", i+1, lines[i], c)
		}
	}
}

func TestIndexPage(t *testing.T) {
	o := standardOrg(t)
	b, _ := writeBundle(t, o, WriteOptions{})
	page := string(members(t, b)[indexName])
	for _, want := range []string{
		"Evidence of Acme &lt;Corp&gt; &amp; Co",
		`content="default-src 'none'`,
		`<tr id="item-100">`,
		`href="files/` + o.items[0].Evidence.SHA256 + `" download="Q1 access review.txt"`,
		`superseded</span><div>by <a href="#item-102">#102</a>`,
		`corrects <a href="#item-100">#100</a>`,
		`retracted</span>`,
		"wrong exercise attached",
		"<code>AC-01</code> Access reviews",
		"2025-01-01<br>to 2025-03-31",
		"evident verify bundle.zip --key '" + strings.ReplaceAll(o.signer.VerifierKey(), "+", "&#43;") + "'",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html does not contain %q", want)
		}
	}
	// Nothing loads from elsewhere: no scripts, no sources, no external stylesheets.
	for _, bad := range []string{"<script", " src=", "<link", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	readme := string(members(t, b)[readmeName])
	for _, want := range []string{"Evidence of Acme <Corp> & Co (acme)", "evident verify bundle.zip --key", "entries 0 to 11"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.txt does not contain %q", want)
		}
	}
}

func TestFilterMatches(t *testing.T) {
	jan1, jan31, feb1, mar31 := mustDate(t, "2025-01-01"), mustDate(t, "2025-01-31"), mustDate(t, "2025-02-01"), mustDate(t, "2025-03-31")
	tests := []struct {
		name       string
		f          Filter
		controls   []int64
		start, end time.Time
		want       bool
	}{
		{"empty filter", Filter{}, nil, jan1, jan31, true},
		{"control present", Filter{ControlID: 2}, []int64{1, 2}, jan1, jan31, true},
		{"control absent", Filter{ControlID: 3}, []int64{1, 2}, jan1, jan31, false},
		{"ends on from", Filter{From: jan31}, nil, jan1, jan31, true},
		{"ends before from", Filter{From: feb1}, nil, jan1, jan31, false},
		{"starts on to", Filter{To: jan1}, nil, jan1, jan31, true},
		{"starts after to", Filter{To: jan31}, nil, feb1, mar31, false},
		{"covers the window", Filter{From: feb1, To: feb1}, nil, jan1, mar31, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Matches(tt.controls, tt.start, tt.end); got != tt.want {
				t.Errorf("%+v.Matches(%v, %s, %s) = %v; want %v", tt.f, tt.controls, tt.start, tt.end, got, tt.want)
			}
		})
	}
}

func TestVerifySavedCheckpoint(t *testing.T) {
	o := standardOrg(t)
	early := o.sign(t)
	o.add(t, evidenceSpec{title: "Later evidence", controls: []int64{12}})
	o.sign(t)
	b, _ := writeBundle(t, o, WriteOptions{})
	key := o.signer.VerifierKey()

	rep := verifyBytes(t, b, VerifyOptions{Key: key, Saved: early.Note})
	if !rep.OK {
		t.Fatalf("Verify with a saved checkpoint = not OK: %v", rep.Problems)
	}
	if !strings.Contains(rep.Summary, "consistent with the saved checkpoint of size 12") || rep.Saved == nil || rep.Saved.Size != 12 {
		t.Errorf("Summary = %q, Saved = %+v; want consistency with size 12", rep.Summary, rep.Saved)
	}

	empty, err := o.signer.SignCheckpoint("evident.test/acme", 0, mustRootOfNothing(t), testStart)
	if err != nil {
		t.Fatal(err)
	}
	if rep := verifyBytes(t, b, VerifyOptions{Key: key, Saved: empty.Note}); !rep.OK {
		t.Errorf("Verify with a saved empty checkpoint = not OK: %v", rep.Problems)
	}

	later := o.signer
	bigger, err := later.SignCheckpoint("evident.test/acme", 99, early.Root, testStart)
	if err != nil {
		t.Fatal(err)
	}
	other, err := o.signer.SignCheckpoint("evident.test/other", 3, early.Root, testStart)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := testSigner(t, "evident.test", 9).SignCheckpoint("evident.test/acme", 14, early.Root, testStart)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, saved, reason string
	}{
		{"larger than the bundle's", bigger.Note, "more than the bundle's checkpoint's 13"},
		{"of another log", other.Note, `is of the log "evident.test/other"`},
		{"signed by another key", stranger.Note, "not signed by the expected key"},
		{"not a checkpoint", "hello\n", "malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := verifyBytes(t, b, VerifyOptions{Key: key, Saved: tt.saved})
			wantProblem(t, rep, problemWant{file: "saved checkpoint", entry: -1, reason: tt.reason})
		})
	}
}

func mustRootOfNothing(tb testing.TB) [32]byte {
	tb.Helper()
	r, err := ledger.TreeRoot(0, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestVerifyBadInput(t *testing.T) {
	rep := verifyBytes(t, []byte("not a zip"), VerifyOptions{})
	wantProblem(t, rep, problemWant{file: "bundle", entry: -1, reason: "not a zip file"})
	if rep.Summary == "" || !strings.HasSuffix(rep.Summary, "FAILED, 1 problem") {
		t.Errorf("Summary = %q; want a failure with 1 problem", rep.Summary)
	}

	if _, err := Verify(context.Background(), bytes.NewReader(nil), 0, VerifyOptions{Key: "not a key"}); err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("Verify with a malformed key = %v; want an error about the key", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, _ := writeBundle(t, standardOrg(t), WriteOptions{})
	if _, err := Verify(ctx, bytes.NewReader(b), int64(len(b)), VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a canceled context = %v; want context.Canceled", err)
	}
}

func TestWriteRefusesBrokenSources(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(o *fakeOrg)
		want   string
	}{
		{"ledger changed after signing", func(o *fakeOrg) { o.entries[2].Actor = "mallory@acme.test" }, "does not match its checkpoint"},
		{"ledger shorter than the checkpoint", func(o *fakeOrg) { o.entries = o.entries[:5] }, "fewer than the checkpoint's"},
		{"entry of another organization", func(o *fakeOrg) { o.entries[1].OrgID = 8 }, "belongs to organization 8"},
		{"content changed", func(o *fakeOrg) { o.blobs[o.items[0].Evidence.SHA256] = []byte("something else") }, "its content has SHA-256"},
		{"items out of order", func(o *fakeOrg) { o.items[0], o.items[1] = o.items[1], o.items[0] }, "not in ledger order"},
		{"bad hash", func(o *fakeOrg) { o.items[0].Evidence.SHA256 = "../../etc/passwd" }, "is not a lower-case hex SHA-256"},
		{"checkpoint by another key", func(o *fakeOrg) { o.note = []byte(mustSignWith(t, testSigner(t, "evident.test", 5), o).Note) }, "checkpoint"},
		{"item back-dated in the database", func(o *fakeOrg) { o.items[0].Evidence.PeriodStart = mustDate(t, "2024-10-01") },
			`item 100 "Q1 access review": the database disagrees with the ledger: the effective period is 2024-10-01 to 2025-03-31 in items.jsonl, but ledger entry 4 records 2025-01-01 to 2025-03-31`},
		{"item moved to another control in the database", func(o *fakeOrg) {
			o.items[1].Evidence.ControlIDs = []int64{13}
			o.items[1].Controls = []Control{o.controls[2]}
		}, "the controls are [13] in items.jsonl, but ledger entry 5 records [11 12]"},
		{"controls without refs", func(o *fakeOrg) { o.items[1].Controls = nil }, "the source gave no ref for its control 12"},
		{"retraction removed from the database", func(o *fakeOrg) { o.items[3].Evidence.RetractedAt = nil }, "ledger entry 9 retracts it"},
		{"correction removed from the database", func(o *fakeOrg) { o.items[0].Evidence.SupersededBy = nil }, "ledger entry 7 adds item 102 to correct it"},
		{"item pointing at another entry", func(o *fakeOrg) { o.items[0].Evidence.LedgerIndex = 3 }, "ledger entry 3 is a control.created entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := standardOrg(t)
			tt.break_(o)
			_, err := Write(context.Background(), io.Discard, o, WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func mustSignWith(tb testing.TB, s *ledger.Signer, o *fakeOrg) ledger.Checkpoint {
	tb.Helper()
	root, err := o.hashes.Root()
	if err != nil {
		tb.Fatal(err)
	}
	cp, err := s.SignCheckpoint("evident.test/acme", o.hashes.Size(), root, testStart)
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"item and entry", Problem{Item: &ItemRef{ID: 4, Title: "Review"}, Entry: entryRef(9), Reason: "bad"}, `item 4 "Review", entry 9: bad`},
		{"file and line", Problem{File: "items.jsonl", Line: 3, Reason: "bad"}, "items.jsonl line 3: bad"},
		{"item without title", Problem{Item: &ItemRef{ID: 4}, File: "files/ab", Reason: "bad"}, "item 4, files/ab: bad"},
		{"nothing", Problem{Reason: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q; want %q", n, got, want)
		}
	}
}

// problemWant describes a problem a report must contain: item 0 and entry -1 match any.
type problemWant struct {
	item   int64
	entry  int64
	file   string
	reason string
}

func (w problemWant) match(p Problem) bool {
	return (w.item == 0 || p.Item != nil && p.Item.ID == w.item) &&
		(w.entry < 0 || p.Entry != nil && *p.Entry == w.entry) &&
		(w.file == "" || p.File == w.file) &&
		strings.Contains(p.Reason, w.reason)
}

// wantProblem fails unless the report failed with a problem matching w.
func wantProblem(tb testing.TB, rep *Report, w problemWant) {
	tb.Helper()
	if rep.OK {
		tb.Errorf("Verify = OK; want a problem %+v", w)
		return
	}
	for _, p := range rep.Problems {
		if w.match(p) {
			return
		}
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, "\t"+p.String())
	}
	tb.Errorf("Verify found no problem %+v; it found:\n%s", w, strings.Join(got, "\n"))
}

// editJSONLine changes the first line of a JSON-lines member for which pick is true.
func editJSONLine(tb testing.TB, data []byte, pick func(map[string]any) bool, edit func(map[string]any)) []byte {
	tb.Helper()
	var out bytes.Buffer
	done := false
	for line := range strings.Lines(string(data)) {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			tb.Fatal(err)
		}
		if !done && pick(m) {
			edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				tb.Fatal(err)
			}
			line = string(b) + "\n"
			done = true
		}
		out.WriteString(line)
	}
	if !done {
		tb.Fatal("editJSONLine: no line picked")
	}
	return out.Bytes()
}

func TestHashAndDateJSON(t *testing.T) {
	good := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"hash", `"` + good + `"`, true},
		{"hash too short", `"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"`, false},
		{"hash too long", `"` + good + good + `"`, false},
		{"hash not padded", `"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A"`, false},
		{"hash with an escape", `"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\u0038="`, false},
		{"hash not a string", `12`, false},
		{"hash of 33 bytes", `"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h b64Hash
			err := h.UnmarshalJSON([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("UnmarshalJSON(%s) = %v; want ok %v", tt.in, err, tt.ok)
			}
			if tt.ok {
				out, _ := h.MarshalJSON()
				if string(out) != tt.in {
					t.Errorf("MarshalJSON = %s; want %s", out, tt.in)
				}
			}
		})
	}
	for in, ok := range map[string]bool{`"2025-03-31"`: true, `"2025-02-30"`: false, `"2025-3-1"`: false, `"2025-03-31T00:00:00Z"`: false, `null`: false} {
		var d date
		if err := d.UnmarshalJSON([]byte(in)); (err == nil) != ok {
			t.Errorf("date.UnmarshalJSON(%s) = %v; want ok %v", in, err, ok)
		}
	}
}

func TestMethodFor(t *testing.T) {
	tests := []struct {
		mediaType string
		size      int64
		want      uint16
	}{
		{"text/plain", 100, zip.Store},
		{"text/plain; charset=utf-8", 1 << 20, zip.Deflate},
		{"application/json", 1 << 20, zip.Deflate},
		{"application/pdf", 1 << 20, zip.Store},
		{"image/png", 1 << 20, zip.Store},
		{"image/svg+xml", 1 << 20, zip.Deflate},
		{"application/zip", 1 << 20, zip.Store},
	}
	for _, tt := range tests {
		if got := methodFor(tt.mediaType, tt.size); got != tt.want {
			t.Errorf("methodFor(%q, %d) = %d; want %d", tt.mediaType, tt.size, got, tt.want)
		}
	}
}
