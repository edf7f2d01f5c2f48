package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// checkEvidenceEntry checks that the data evidenceEvents encodes for e is, once
// canonicalized, what json.Marshal of its evidenceEntry gives (the encoding every ledger
// entry had before the data was written directly), and that it is canonical already
// whenever its strings are valid UTF-8.
func checkEvidenceEntry(t *testing.T, e domain.Evidence, refs map[int64]string) {
	t.Helper()
	entries, err := evidenceEvents([]domain.Evidence{e}, refs, domain.EventEvidenceAdded)
	if err != nil {
		t.Fatalf("evidenceEvents: %v", err)
	}
	got := entries[0].raw
	marshalled, err := json.Marshal(newEvidenceEntry(&e, refs))
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	want, err := ledger.CanonicalJSON(marshalled)
	if err != nil {
		t.Fatalf("CanonicalJSON(%s): %v", marshalled, err)
	}
	canonical, err := ledger.CanonicalJSON(got)
	if err != nil {
		t.Fatalf("CanonicalJSON(%s): %v", got, err)
	}
	if !bytes.Equal(canonical, want) {
		t.Fatalf("evidence entry data\n got %s\nwant %s", canonical, want)
	}
	if _, ok := appendEvidenceEntry(nil, &e, refs); ok && !bytes.Equal(got, want) {
		t.Fatalf("evidence entry data is not canonical:\n got %s\nwant %s", got, want)
	}
	if entries[0].typ != domain.EventEvidenceAdded || entries[0].subject != evidenceSubject(e.ID) {
		t.Errorf("entry = %s %s; want %s %s", entries[0].typ, entries[0].subject, domain.EventEvidenceAdded, evidenceSubject(e.ID))
	}
}

func sampleEvidence() domain.Evidence {
	return domain.Evidence{
		ID: 1234, Kind: domain.EvidenceSnapshot, Title: "IAM user u1", Description: "",
		PeriodStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		CollectedAt: time.Date(2026, 4, 1, 8, 30, 15, 123456000, time.UTC), Source: "aws/1.0",
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 1024,
		MediaType: "application/json", ControlIDs: []int64{7, 12},
	}
}

func TestEvidenceEntryEncoding(t *testing.T) {
	refs := map[int64]string{7: "AC-01", 12: "HR-01", 13: `we"ird\ref` + "\u2028<&>\x01", 99: "\xffbad"}
	sup := int64(77)
	neg := int64(-5)
	for _, tc := range []struct {
		name string
		edit func(e *domain.Evidence)
	}{
		{"plain", func(e *domain.Evidence) {}},
		{"no controls", func(e *domain.Evidence) { e.ControlIDs = []int64{} }},
		{"nil controls", func(e *domain.Evidence) { e.ControlIDs = nil }},
		{"one control with an odd ref", func(e *domain.Evidence) { e.ControlIDs = []int64{13} }},
		{"supersedes", func(e *domain.Evidence) { e.Supersedes = &sup }},
		{"negative numbers", func(e *domain.Evidence) { e.Supersedes, e.ID, e.Size = &neg, -1, -2 }},
		{"file and link", func(e *domain.Evidence) {
			e.Kind, e.FileName, e.URL = domain.EvidenceFile, "report <final>.pdf", "https://example.com/?a=1&b=<2>"
		}},
		{"escapes", func(e *domain.Evidence) {
			e.Title = "tab\there \"quoted\" back\\slash \x00\x07\x1f\x7f"
			e.Description = "line\nbreak\r\n form\ffeed back\bspace / solidus"
		}},
		{"non-ASCII", func(e *domain.Evidence) {
			e.Title, e.Source, e.MediaType = "Zugriffsprüfung 😀 \u2028\u2029", "connecteur/é", "text/plain; charset=utf-8"
		}},
		{"invalid UTF-8", func(e *domain.Evidence) { e.Title = "bad \xff\xfe title" }},
		{"invalid UTF-8 in a ref", func(e *domain.Evidence) { e.ControlIDs = []int64{7, 99} }},
		{"times far out", func(e *domain.Evidence) {
			e.PeriodStart = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
			e.CollectedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sampleEvidence()
			tc.edit(&e)
			checkEvidenceEntry(t, e, refs)
		})
	}
}

// TestEvidenceEventsBatch checks that a batch's data, encoded into one buffer, is cut at
// the right places.
func TestEvidenceEventsBatch(t *testing.T) {
	refs := map[int64]string{7: "AC-01", 12: "HR-01"}
	evs := make([]domain.Evidence, 50)
	for i := range evs {
		evs[i] = sampleEvidence()
		evs[i].ID = int64(1000 + i)
		if i%7 == 3 {
			evs[i].Title = "bad \xff" // encoded by json.Marshal instead
		}
		if i%5 == 0 {
			evs[i].Description = string(bytes.Repeat([]byte("long "), 200))
		}
	}
	entries, err := evidenceEvents(evs, refs, domain.EventEvidenceSuperseded)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		want, err := json.Marshal(newEvidenceEntry(&evs[i], refs))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := ledger.CanonicalJSON(want)
		g, err := ledger.CanonicalJSON(entries[i].raw)
		if err != nil || !bytes.Equal(g, w) {
			t.Fatalf("entry %d data = %s (%v); want %s", i, entries[i].raw, err, w)
		}
		if cap(entries[i].raw) != len(entries[i].raw) {
			t.Fatalf("entry %d data has room to grow into the next entry's", i)
		}
	}
}

func FuzzEvidenceEntry(f *testing.F) {
	f.Add("IAM user", "desc", "AC-01", "file.pdf", "https://x", int64(5), int64(1024), false)
	f.Add("\u2028\"<", "\x00\xff", "\\", "", "", int64(-1), int64(0), true)
	f.Fuzz(func(t *testing.T, title, description, ref, fileName, url string, id, size int64, supersedes bool) {
		e := sampleEvidence()
		e.Title, e.Description, e.FileName, e.URL, e.ID, e.Size = title, description, fileName, url, id, size
		if supersedes {
			e.Supersedes = &id
		}
		checkEvidenceEntry(t, e, map[int64]string{7: ref, 12: "HR-01"})
	})
}
