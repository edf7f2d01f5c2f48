package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/evidenthq/evident/internal/domain"
)

// lowMemory makes the writer and the verifier spill to disk after a few kilobytes and
// forget the files they read almost at once, for the rest of the test.
func lowMemory(t *testing.T) {
	sm, rf := sortMemory, recentFiles
	sortMemory, recentFiles = 4<<10, 4
	t.Cleanup(func() { sortMemory, recentFiles = sm, rf })
}

// manyItemsOrg returns an organization of n items: some share a file with an earlier
// item, some are corrected by a later one, some are retracted, and the ledger has other
// entries in between.
func manyItemsOrg(tb testing.TB, n int) *fakeOrg {
	tb.Helper()
	o := newFakeOrg(tb)
	for i := range n {
		s := evidenceSpec{title: fmt.Sprintf("Item %d", i), controls: []int64{11 + int64(i%3)}}
		if i%5 == 4 {
			s.content = fmt.Sprintf("content of Item %d", i-4-i%40) // shared with an earlier item
		}
		if i%7 == 6 {
			s.supersedes = o.items[len(o.items)-3].Evidence.ID
			if o.items[len(o.items)-3].Evidence.SupersededBy != nil {
				s.supersedes = 0
			}
		}
		e := o.add(tb, s)
		if i%11 == 10 {
			o.retract(tb, e.ID-5, fmt.Sprintf("withdrawn %d", i))
		}
		if i%13 == 0 {
			o.appendEntry(tb, domain.Actor{UserID: 1, Email: "owner@acme.test"}, domain.EventControlUpdated, "control:12", map[string]any{"n": i})
		}
	}
	o.sign(tb)
	return o
}

// emptyDir fails unless dir is empty: temporary files were removed.
func emptyDir(tb testing.TB, dir string) {
	tb.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range left {
		tb.Errorf("temporary file left behind: %s", e.Name())
	}
}

// shuffleMembers rewrites the bundle with its members in a random order, and extra
// members among them.
func shuffleMembers(tb testing.TB, b []byte, seed uint64, extra map[string][]byte) []byte {
	tb.Helper()
	all := members(tb, b)
	names := make([]string, 0, len(all)+len(extra))
	for name := range all {
		names = append(names, name)
	}
	for name := range extra {
		names = append(names, name)
	}
	// Map order is random already; sort and shuffle so that the seed decides.
	rng := rand.New(rand.NewPCG(seed, 1))
	slices.Sort(names)
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		data, ok := extra[name]
		if !ok {
			data = all[name]
		}
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestManyItemsOnDisk writes and verifies a bundle of a few thousand items with the
// sorters' memory so low that everything they sort goes through temporary files, and
// the files laid out as Write lays them out, then in a random order.
func TestManyItemsOnDisk(t *testing.T) {
	lowMemory(t)
	o := manyItemsOrg(t, 3000)
	key := o.signer.VerifierKey()
	writeDir, verifyDir := t.TempDir(), t.TempDir()

	var buf bytes.Buffer
	sum, err := Write(context.Background(), &buf, o, WriteOptions{TempDir: writeDir})
	if err != nil {
		t.Fatal(err)
	}
	emptyDir(t, writeDir)
	good := buf.Bytes()
	distinct := map[string]bool{}
	retracted, corrected := 0, 0
	for _, it := range o.items {
		distinct[it.Evidence.SHA256] = true
		if it.Evidence.RetractedAt != nil {
			retracted++
		}
		if it.Evidence.SupersededBy != nil {
			corrected++
		}
	}
	if sum.Items != 3000 || sum.Files != int64(len(distinct)) {
		t.Fatalf("Summary = %+v; want 3000 items and %d files", sum, len(distinct))
	}
	gotRetracted, gotCorrected := 0, 0
	for _, it := range bundleItems(t, good) {
		if it.Retraction != nil {
			gotRetracted++
		}
		if it.SupersededBy != nil {
			gotCorrected++
		}
	}
	if gotRetracted != retracted || gotCorrected != corrected || retracted < 100 || corrected < 100 {
		t.Errorf("items.jsonl shows %d retractions and %d corrections; want %d and %d", gotRetracted, gotCorrected, retracted, corrected)
	}

	verify := func(b []byte) *Report {
		t.Helper()
		rep, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), VerifyOptions{Key: key, TempDir: verifyDir})
		if err != nil {
			t.Fatal(err)
		}
		emptyDir(t, verifyDir)
		return rep
	}
	if rep := verify(good); !rep.OK || rep.Items != 3000 || rep.Files != sum.Files {
		t.Fatalf("Verify = %s %v", rep.Summary, rep.Problems)
	}
	shuffled := shuffleMembers(t, good, 1, nil)
	if rep := verify(shuffled); !rep.OK {
		t.Fatalf("Verify of the shuffled bundle = %s %v", rep.Summary, rep.Problems)
	}

	// Tampered, and shuffled so that nothing is found in lockstep.
	items := bundleItems(t, good)
	changed, removed, twice := items[100], items[2001], items[2502]
	stray := []byte("nobody's file")
	b := rewriteZip(t, good, func(name string, data []byte) ([]byte, bool) {
		switch name {
		case filesDir + changed.SHA256:
			return append(bytes.Clone(data), '!'), true
		case filesDir + removed.SHA256:
			return nil, false
		}
		return data, true
	}, nil)
	extra := map[string][]byte{filesDir + sha256Hex(stray): stray}
	b = shuffleMembers(t, b, 2, extra)
	b = rewriteZip(t, b, func(_ string, data []byte) ([]byte, bool) { return data, true },
		map[string][]byte{filesDir + twice.SHA256: members(t, good)[filesDir+twice.SHA256]})
	rep := verify(b)
	for _, w := range []problemWant{
		{item: changed.ID, entry: -1, file: filesDir + changed.SHA256, reason: "the file was changed"},
		{item: removed.ID, entry: -1, file: filesDir + removed.SHA256, reason: "its file is missing from the bundle"},
		{entry: -1, file: filesDir + twice.SHA256, reason: "more than one member of this name"},
		{entry: -1, file: filesDir + sha256Hex(stray), reason: "is not the file of any item"},
		{entry: -1, file: manifestName, reason: "says the bundle has"},
	} {
		wantProblem(t, rep, w)
	}
	// Every item sharing the changed file is named.
	for _, it := range items {
		if it.SHA256 == changed.SHA256 {
			wantProblem(t, rep, problemWant{item: it.ID, entry: -1, reason: "the file was changed"})
		}
	}

	// Claims checked on disk too: a retraction hidden, one invented, a correction hidden.
	var hidden, invented, uncorrected *itemRecord
	for i := range items {
		it := &items[i]
		switch {
		case hidden == nil && it.Retraction != nil && i > 1000:
			hidden = it
		case invented == nil && it.Retraction == nil && i > 2000:
			invented = it
		case uncorrected == nil && it.SupersededBy != nil && i > 2500:
			uncorrected = it
		}
	}
	b = editMember(t, good, itemsName, func(data []byte) []byte {
		data = editJSONLine(t, data, byID(hidden.ID), func(m map[string]any) { m["retraction"] = nil })
		data = editJSONLine(t, data, byID(invented.ID), func(m map[string]any) {
			m["retraction"] = map[string]any{"at": "2025-04-03T00:00:00Z", "reason": "oops", "ledger_index": invented.LedgerIndex + 1}
		})
		return editJSONLine(t, data, byID(uncorrected.ID), func(m map[string]any) { m["superseded_by"] = nil })
	})
	rep = verify(shuffleMembers(t, b, 3, nil))
	for _, w := range []problemWant{
		{item: hidden.ID, entry: hidden.Retraction.LedgerIndex, reason: "but items.jsonl does not say so"},
		{item: invented.ID, entry: invented.LedgerIndex + 1, reason: "the ledger records no retraction of it"},
		{item: uncorrected.ID, entry: uncorrected.SupersededBy.LedgerIndex, reason: fmt.Sprintf("adds item %d to correct it, but items.jsonl does not say so", uncorrected.SupersededBy.ID)},
	} {
		wantProblem(t, rep, w)
	}
}

func TestClaimCheckerDuplicates(t *testing.T) {
	lowMemory(t)
	v := &verifier{ctx: context.Background(), rep: &Report{}, tempDir: t.TempDir()}
	v.claims = newClaimChecker(v)
	defer v.claims.s.Close()
	for i, id := range []int64{5, 3, 9, 5, 7, 5} {
		v.claims.item(&itemRecord{ID: id, Title: fmt.Sprintf("item %d", id)}, i+1)
	}
	if err := v.claims.finish(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range v.rep.Problems {
		if p.Item == nil || p.Item.ID != 5 || p.Reason != "appears more than once" {
			t.Errorf("unexpected problem %v", p)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d problems; want 2, for the second and third item 5", n)
	}
}

// TestUnzipReadsBundles checks with Info-ZIP's unzip, when it is installed, that a bundle
// is a zip file any tool opens.
func TestUnzipReadsBundles(t *testing.T) {
	path, err := exec.LookPath("unzip")
	if err != nil {
		t.Skip("unzip is not installed")
	}
	b, _ := writeBundle(t, manyItemsOrg(t, 200), WriteOptions{})
	f := filepath.Join(t.TempDir(), "bundle.zip")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, "-tqq", f).CombinedOutput(); err != nil {
		t.Errorf("unzip -t: %v\n%s", err, out)
	}
}
