package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
)

// rewriteZip returns a copy of the bundle with its members changed by edit, which returns
// a member's new content, or keep false to drop it. extra members are added at the end.
func rewriteZip(tb testing.TB, b []byte, edit func(name string, data []byte) (out []byte, keep bool), extra map[string][]byte) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	all := members(tb, b)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range zr.File {
		data, keep := edit(f.Name, all[f.Name])
		if keep {
			write(f.Name, data)
		}
	}
	for name, data := range extra {
		write(name, data)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// editMember returns a copy of the bundle with one member replaced.
func editMember(tb testing.TB, b []byte, name string, edit func([]byte) []byte) []byte {
	tb.Helper()
	found := false
	out := rewriteZip(tb, b, func(n string, data []byte) ([]byte, bool) {
		if n == name {
			found = true
			return edit(data), true
		}
		return data, true
	}, nil)
	if !found {
		tb.Fatalf("no member %s", name)
	}
	return out
}

// dropLines removes lines (counting from 1) from a member.
func dropLine(data []byte, n int) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	return []byte(strings.Join(append(lines[:n-1:n-1], lines[n:]...), ""))
}

func swapLines(data []byte, a, b int) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	lines[a-1], lines[b-1] = lines[b-1], lines[a-1]
	return []byte(strings.Join(lines, ""))
}

func byID(id int64) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["id"] == json.Number(strconv.FormatInt(id, 10)) }
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestTamper changes a good bundle in the ways an attacker or an accident could, and
// checks that each change is caught and named.
func TestTamper(t *testing.T) {
	o := standardOrg(t)
	key := o.signer.VerifierKey()
	good, _ := writeBundle(t, o, WriteOptions{})
	if rep := verifyBytes(t, good, VerifyOptions{Key: key}); !rep.OK {
		t.Fatalf("the untouched bundle does not verify: %v", rep.Problems)
	}
	review := o.items[0].Evidence   // item 100, superseded by 102
	tickets := o.items[1].Evidence  // item 101, its file shared with 105
	exercise := o.items[3].Evidence // item 103, retracted
	retraction := exercise.LedgerIndex + 1
	other := testSigner(t, "evident.test", 2)

	tests := []struct {
		name   string
		bundle func() []byte
		key    string
		want   []problemWant
	}{
		{
			name: "one byte of a file changed",
			bundle: func() []byte {
				return editMember(t, good, filesDir+review.SHA256, func(b []byte) []byte {
					b = bytes.Clone(b)
					b[3] ^= 1
					return b
				})
			},
			want: []problemWant{{item: review.ID, entry: -1, file: filesDir + review.SHA256, reason: "the file was changed"}},
		},
		{
			name: "one byte of the zip changed under a file",
			bundle: func() []byte {
				b := bytes.Clone(good)
				i := bytes.Index(b, []byte("corrected review"))
				if i < 0 {
					t.Fatal("file content not found stored in the zip")
				}
				b[i] ^= 1
				return b
			},
			want: []problemWant{{item: 102, entry: -1, file: filesDir + o.items[2].Evidence.SHA256, reason: "checksum"}},
		},
		{
			name: "an item's file missing",
			bundle: func() []byte {
				return rewriteZip(t, good, func(n string, b []byte) ([]byte, bool) { return b, n != filesDir+tickets.SHA256 }, nil)
			},
			want: []problemWant{
				{item: tickets.ID, entry: -1, file: filesDir + tickets.SHA256, reason: "missing from the bundle"},
				{item: 105, entry: -1, file: filesDir + tickets.SHA256, reason: "missing from the bundle"},
			},
		},
		{
			name: "an entry removed",
			bundle: func() []byte {
				return editMember(t, good, ledgerName, func(b []byte) []byte { return dropLine(b, 7) })
			},
			want: []problemWant{{entry: 6, file: ledgerName, reason: "is missing"}},
		},
		{
			name: "an item's entry removed",
			bundle: func() []byte {
				return editMember(t, good, ledgerName, func(b []byte) []byte { return dropLine(b, int(tickets.LedgerIndex)+1) })
			},
			want: []problemWant{
				{entry: tickets.LedgerIndex, file: ledgerName, reason: "is missing"},
				{item: tickets.ID, entry: tickets.LedgerIndex, reason: "not in ledger.jsonl"},
			},
		},
		{
			name: "two entries swapped",
			bundle: func() []byte {
				return editMember(t, good, ledgerName, func(b []byte) []byte { return swapLines(b, 2, 3) })
			},
			want: []problemWant{{entry: 1, file: ledgerName, reason: "is out of order: it comes after entry 2"}},
		},
		{
			name: "an entry's content changed",
			bundle: func() []byte {
				return editMember(t, good, ledgerName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"status":"implemented"`), []byte(`"status":"not_started"`), 1)
				})
			},
			want: []problemWant{{entry: -1, file: ledgerName, reason: "an entry was changed"}},
		},
		{
			name: "an entry added beyond the checkpoint",
			bundle: func() []byte {
				return editMember(t, good, ledgerName, func(b []byte) []byte {
					lines := strings.SplitAfter(string(b), "\n")
					last := strings.Replace(lines[len(lines)-2], `"index":11`, `"index":12`, 1)
					return append(bytes.Clone(b), last...)
				})
			},
			want: []problemWant{{entry: 12, file: ledgerName, reason: "beyond the checkpoint's tree size 12"}},
		},
		{
			name: "metadata back-dated while the entry is intact",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(review.ID), func(m map[string]any) {
						m["period"] = map[string]any{"start": "2024-10-01", "end": "2024-12-31"}
					})
				})
			},
			want: []problemWant{
				{item: review.ID, entry: review.LedgerIndex, reason: "the effective period is 2024-10-01 to 2024-12-31 in items.jsonl, but ledger entry 4 records 2025-01-01 to 2025-03-31"},
				{entry: -1, file: indexName, reason: "does not show what"},
			},
		},
		{
			name: "collection time changed",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(tickets.ID), func(m map[string]any) { m["collected_at"] = "2024-01-01T00:00:00Z" })
				})
			},
			want: []problemWant{{item: tickets.ID, entry: tickets.LedgerIndex, reason: "collected_at is 2024-01-01T00:00:00Z in items.jsonl"}},
		},
		{
			name: "a file and its hash replaced together",
			bundle: func() []byte {
				forged := []byte("forged review")
				sha := sha256Hex(forged)
				b := rewriteZip(t, good, func(n string, b []byte) ([]byte, bool) { return b, n != filesDir+review.SHA256 }, map[string][]byte{filesDir + sha: forged})
				return editMember(t, b, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(review.ID), func(m map[string]any) { m["sha256"], m["size"] = sha, len(forged) })
				})
			},
			want: []problemWant{{item: review.ID, entry: review.LedgerIndex, reason: "sha256 is"}},
		},
		{
			name: "an item left out",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte { return dropLine(b, 2) })
			},
			want: []problemWant{{item: tickets.ID, entry: tickets.LedgerIndex, reason: "matches the bundle's filters (none, all evidence) but is not in items.jsonl"}},
		},
		{
			name: "a retraction hidden",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(exercise.ID), func(m map[string]any) { m["retraction"] = nil })
				})
			},
			want: []problemWant{{item: exercise.ID, entry: retraction, reason: "retracts it (\"wrong exercise attached\"), but items.jsonl does not say so"}},
		},
		{
			name: "a retraction invented",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(tickets.ID), func(m map[string]any) {
						m["retraction"] = map[string]any{"at": "2025-04-03T00:00:00Z", "reason": "oops", "ledger_index": 9}
					})
				})
			},
			want: []problemWant{{item: tickets.ID, entry: 9, reason: "the ledger records no retraction of it"}},
		},
		{
			name: "a correction hidden",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(review.ID), func(m map[string]any) { m["superseded_by"] = nil })
				})
			},
			want: []problemWant{{item: review.ID, entry: o.items[2].Evidence.LedgerIndex, reason: "adds item 102 to correct it, but items.jsonl does not say so"}},
		},
		{
			name: "an inclusion proof changed",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(tickets.ID), func(m map[string]any) {
						proof := m["inclusion_proof"].([]any)
						proof[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
					})
				})
			},
			want: []problemWant{{item: tickets.ID, entry: tickets.LedgerIndex, reason: "inclusion proof does not lead"}},
		},
		{
			name: "items reordered",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte { return swapLines(b, 1, 2) })
			},
			want: []problemWant{{item: review.ID, entry: review.LedgerIndex, file: itemsName, reason: "items must be in ledger order"}},
		},
		{
			name: "index.html changed",
			bundle: func() []byte {
				return editMember(t, good, indexName, func(b []byte) []byte {
					return bytes.Replace(b, []byte("2025-01-01<br>to 2025-03-31"), []byte("2024-10-01<br>to 2024-12-31"), 1)
				})
			},
			want: []problemWant{{entry: -1, file: indexName, reason: "does not show what manifest.json and items.jsonl say"}},
		},
		{
			name: "README.txt changed",
			bundle: func() []byte {
				return editMember(t, good, readmeName, func(b []byte) []byte { return append(bytes.Clone(b), "PS: no need to verify.\n"...) })
			},
			want: []problemWant{{entry: -1, file: readmeName, reason: "was changed"}},
		},
		{
			name: "a member added",
			bundle: func() []byte {
				return rewriteZip(t, good, func(_ string, b []byte) ([]byte, bool) { return b, true }, map[string][]byte{"files/extra.html": []byte("<script>")})
			},
			want: []problemWant{{entry: -1, file: "files/extra.html", reason: "not part of an evidence bundle"}},
		},
		{
			name: "a file nobody refers to",
			bundle: func() []byte {
				extra := []byte("stray")
				return rewriteZip(t, good, func(_ string, b []byte) ([]byte, bool) { return b, true }, map[string][]byte{filesDir + sha256Hex(extra): extra})
			},
			want: []problemWant{{entry: -1, file: filesDir + sha256Hex([]byte("stray")), reason: "is not the file of any item"}},
		},
		{
			name: "a member twice",
			bundle: func() []byte {
				return rewriteZip(t, good, func(_ string, b []byte) ([]byte, bool) { return b, true }, map[string][]byte{manifestName: members(t, good)[manifestName]})
			},
			want: []problemWant{{entry: -1, file: manifestName, reason: "more than one member of this name"}},
		},
		{
			name: "a member missing",
			bundle: func() []byte {
				return rewriteZip(t, good, func(n string, b []byte) ([]byte, bool) { return b, n != readmeName }, nil)
			},
			want: []problemWant{{entry: -1, file: readmeName, reason: "missing from the bundle"}},
		},
		{
			name: "the manifest miscounts the items",
			bundle: func() []byte {
				return editMember(t, good, manifestName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"count": 6`), []byte(`"count": 7`), 1)
				})
			},
			want: []problemWant{{entry: -1, file: itemsName, reason: "has 6 items, but manifest.json says 7"}},
		},
		{
			name: "the manifest miscounts the files",
			bundle: func() []byte {
				return editMember(t, good, manifestName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"count": 5`), []byte(`"count": 4`), 1)
				})
			},
			want: []problemWant{{entry: -1, file: manifestName, reason: "says the bundle has 4 files of 128 bytes, but it has 5 of 128"}},
		},
		{
			name: "the manifest's filters changed",
			bundle: func() []byte {
				return editMember(t, good, manifestName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"control": null`), []byte(`"control": {"id": 13, "ref": "IR-03", "title": "Incident response"}`), 1)
				})
			},
			want: []problemWant{{item: review.ID, entry: -1, reason: "does not match the bundle's filters (control IR-03"}},
		},
		{
			name: "the organization renamed in the manifest",
			bundle: func() []byte {
				return editMember(t, good, manifestName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"slug": "acme"`), []byte(`"slug": "acne"`), 1)
				})
			},
			want: []problemWant{{entry: 0, file: manifestName, reason: `names the organization "acne", but ledger entry 0 created it as "acme"`}},
		},
		{
			name: "an item's size changed",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(tickets.ID), func(m map[string]any) { m["size"] = tickets.Size + 10 })
				})
			},
			want: []problemWant{
				{item: tickets.ID, entry: tickets.LedgerIndex, reason: "size is"},
				{item: tickets.ID, entry: -1, file: filesDir + tickets.SHA256, reason: fmt.Sprintf("its file has %d bytes, but items.jsonl says %d", tickets.Size, tickets.Size+10)},
			},
		},
		{
			name: "an item pointing at another kind of entry",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(102), func(m map[string]any) { m["ledger_index"] = 6 })
				})
			},
			want: []problemWant{{item: 102, entry: 6, reason: "its ledger entry 6 is a control.updated entry, not the addition of an item"}},
		},
		{
			name: "an item beyond the checkpoint",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(105), func(m map[string]any) { m["ledger_index"] = 40 })
				})
			},
			want: []problemWant{{item: 105, entry: 40, reason: "its ledger entry 40 is beyond the checkpoint's tree size 12"}},
		},
		{
			name: "a retraction moved to another entry",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(exercise.ID), func(m map[string]any) { m["retraction"].(map[string]any)["ledger_index"] = 10 })
				})
			},
			want: []problemWant{{item: exercise.ID, entry: retraction, reason: "items.jsonl says ledger entry 10 retracted it, but the ledger records its retraction at entry 9"}},
		},
		{
			name: "a retraction's time changed",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(exercise.ID), func(m map[string]any) { m["retraction"].(map[string]any)["at"] = "2025-04-03T00:00:00Z" })
				})
			},
			want: []problemWant{{item: exercise.ID, entry: retraction, reason: "items.jsonl says it was retracted at 2025-04-03T00:00:00Z, but ledger entry 9 records"}},
		},
		{
			name: "a retraction's reason changed",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(exercise.ID), func(m map[string]any) { m["retraction"].(map[string]any)["reason"] = "routine cleanup" })
				})
			},
			want: []problemWant{{item: exercise.ID, entry: retraction, reason: `items.jsonl gives the retraction reason "routine cleanup", but ledger entry 9 records "wrong exercise attached"`}},
		},
		{
			name: "a correction credited to another item",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(review.ID), func(m map[string]any) { m["superseded_by"].(map[string]any)["id"] = 105 })
				})
			},
			want: []problemWant{{item: review.ID, entry: 7, reason: "items.jsonl says item 105 corrected it at ledger entry 7, but the ledger records item 102 at entry 7"}},
		},
		{
			name: "a correction invented",
			bundle: func() []byte {
				return editMember(t, good, itemsName, func(b []byte) []byte {
					return editJSONLine(t, b, byID(tickets.ID), func(m map[string]any) { m["superseded_by"] = map[string]any{"id": 105, "ledger_index": 11} })
				})
			},
			want: []problemWant{{item: tickets.ID, entry: 11, reason: "items.jsonl says item 105 corrected it at ledger entry 11, but the ledger records no correction of it"}},
		},
		{
			name: "an evidence entry that does not read as one",
			bundle: func() []byte {
				return editMember(t, good, ledgerName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"collected_at":"2025-04-02T08:35:00.617280Z"`), []byte(`"collected_at":"yesterday"`), 1)
				})
			},
			want: []problemWant{
				{entry: tickets.LedgerIndex, file: ledgerName, reason: "cannot be read as an evidence record: data: collected_at"},
				{item: tickets.ID, entry: tickets.LedgerIndex, reason: "its ledger entry 5 cannot be read as an evidence record"},
			},
		},
		{
			name: "a retraction entry that does not read as one",
			bundle: func() []byte {
				return editMember(t, good, ledgerName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"reason":"wrong exercise attached"`), []byte(`"reasons":"wrong exercise attached"`), 1)
				})
			},
			want: []problemWant{{entry: retraction, file: ledgerName, reason: "cannot be read as a retraction: data: reason is missing"}},
		},
		{
			name: "checkpoint signed by another key",
			bundle: func() []byte {
				// The whole bundle is made again by someone holding another key.
				forged := standardOrg(t)
				forged.signer = other
				forged.sign(t)
				b, _ := writeBundle(t, forged, WriteOptions{})
				return b
			},
			want: []problemWant{{entry: -1, file: keyName, reason: "checkpoint signed by another key"}},
		},
		{
			name: "checkpoint replaced by one of another key",
			bundle: func() []byte {
				cp := mustSignWith(t, other, o)
				return editMember(t, good, checkpointName, func([]byte) []byte { return []byte(cp.Note) })
			},
			want: []problemWant{{entry: -1, file: checkpointName, reason: "not signed by the expected key"}},
		},
		{
			name: "key.txt and checkpoint replaced, no key given",
			bundle: func() []byte {
				cp := mustSignWith(t, other, o)
				b := editMember(t, good, checkpointName, func([]byte) []byte { return []byte(cp.Note) })
				return editMember(t, b, keyName, func([]byte) []byte { return []byte(other.VerifierKey() + "\n") })
			},
			key: "-",
			// Signed consistently by the other key, the bundle holds together, but its
			// manifest names the checkpoint it was made with.
			want: []problemWant{{entry: -1, file: manifestName, reason: "describes the checkpoint"}},
		},
		{
			name: "checkpoint text altered",
			bundle: func() []byte {
				return editMember(t, good, checkpointName, func(b []byte) []byte {
					return bytes.Replace(b, []byte("\n12\n"), []byte("\n11\n"), 1)
				})
			},
			want: []problemWant{{entry: -1, file: checkpointName, reason: "bad signature"}},
		},
		{
			name: "entry of another organization",
			bundle: func() []byte {
				return editMember(t, good, manifestName, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"id": 7`), []byte(`"id": 8`), 1)
				})
			},
			want: []problemWant{{entry: 0, file: ledgerName, reason: "belongs to organization 7, but the bundle is organization 8's"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := key
			switch tt.key {
			case "-":
				k = ""
			case "":
			default:
				k = tt.key
			}
			rep := verifyBytes(t, tt.bundle(), VerifyOptions{Key: k})
			t.Log(rep.Summary)
			for _, p := range rep.Problems {
				t.Log(p)
			}
			for _, w := range tt.want {
				wantProblem(t, rep, w)
			}
			if !strings.Contains(rep.Summary, "FAILED") {
				t.Errorf("Summary = %q; want FAILED", rep.Summary)
			}
		})
	}
}

// TestRewrittenHistory rewrites a past entry, rebuilds the tree and signs it again with the
// same key: the bundle is then self-consistent, and only a checkpoint saved before the
// rewrite shows it.
func TestRewrittenHistory(t *testing.T) {
	honest := standardOrg(t)
	saved := honest.sign(t)

	// The same history, but with the first item back-dated, in the ledger and in the
	// database alike, and everything recomputed and signed with the organization's key.
	forged := newFakeOrg(t)
	maps.Copy(forged.blobs, honest.blobs)
	forged.add(t, evidenceSpec{title: "Q1 access review", controls: []int64{11}, start: "2024-10-01", end: "2025-03-31"})
	for _, e := range honest.entries[len(forged.entries):] {
		forged.pushEntry(t, e)
	}
	forged.items = append(forged.items, honest.items[1:]...)
	forged.items[0].Evidence.SupersededBy = honest.items[0].Evidence.SupersededBy
	forged.add(t, evidenceSpec{title: "After the rewrite", controls: []int64{12}})
	forged.sign(t)
	b, _ := writeBundle(t, forged, WriteOptions{})
	key := honest.signer.VerifierKey()

	if rep := verifyBytes(t, b, VerifyOptions{Key: key}); !rep.OK {
		t.Fatalf("without a saved checkpoint the rewritten bundle is self-consistent, but Verify = %v", rep.Problems)
	}
	rep := verifyBytes(t, b, VerifyOptions{Key: key, Saved: saved.Note})
	wantProblem(t, rep, problemWant{entry: -1, file: "saved checkpoint", reason: "the ledger was rewritten since it was saved"})
	if items := bundleItems(t, b); items[0].Period.Start.String() != "2024-10-01" {
		t.Fatalf("the forged bundle's first item starts %s; the test meant to back-date it", items[0].Period.Start)
	}
}
