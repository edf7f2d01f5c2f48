package evidence

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
)

func TestAddContentFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte(`{"user":"u","mfa":true}`+"\n"), 4000) // 96 KB
	tests := []struct {
		name      string
		in        func(Input) Input
		content   []byte
		inline    bool
		mediaType string
	}{
		{"snapshot streamed and small", func(in Input) Input {
			in.Kind, in.File = domain.EvidenceSnapshot, strings.NewReader(`{"ok":true}`)
			return in
		}, []byte(`{"ok":true}`), true, "text/plain; charset=utf-8"},
		{"snapshot bytes too large for inline", func(in Input) Input {
			in.Kind, in.Snapshot, in.MediaType = domain.EvidenceSnapshot, big, "application/json"
			return in
		}, big, false, "application/json"},
		{"long note", func(in Input) Input {
			in.Kind, in.Note = domain.EvidenceNote, string(big)
			return in
		}, big, false, "text/plain; charset=utf-8"},
		{"content of exactly the inline limit", func(in Input) Input {
			in.Kind, in.File = domain.EvidenceFile, bytes.NewReader(make([]byte, domain.MaxInlineContent))
			return in
		}, make([]byte, domain.MaxInlineContent), true, "application/octet-stream"},
		{"one byte more", func(in Input) Input {
			in.Kind, in.File = domain.EvidenceFile, bytes.NewReader(make([]byte, domain.MaxInlineContent+1))
			return in
		}, make([]byte, domain.MaxInlineContent+1), false, "application/octet-stream"},
		{"empty file", func(in Input) Input {
			in.Kind, in.File, in.FileName = domain.EvidenceFile, strings.NewReader(""), "empty.txt"
			return in
		}, []byte{}, true, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := f.svc.Add(ctx, f.actor, f.org.ID, tt.in(f.input("")))
			if err != nil {
				t.Fatalf("Add() = %v", err)
			}
			if e.SHA256 != hexSum(tt.content) || e.Size != int64(len(tt.content)) || e.MediaType != tt.mediaType {
				t.Errorf("Add() = sha %s, %d bytes, %s; want sha %s, %d bytes, %s", e.SHA256, e.Size, e.MediaType,
					hexSum(tt.content), len(tt.content), tt.mediaType)
			}
			_, err = f.st.EvidenceContent(ctx, f.org.ID, e.ID)
			if inline := err == nil; inline != tt.inline {
				t.Errorf("content kept inline = %v (%v); want %v", inline, err, tt.inline)
			}
			if exists, err := f.svc.Blobs.Exists(ctx, e.SHA256); err != nil || exists == tt.inline {
				t.Errorf("content in the blob store = %v, %v; want %v", exists, err, !tt.inline)
			}
			if got := f.read(t, e); !bytes.Equal(got, tt.content) {
				t.Errorf("Open() gave %d bytes; want the %d added", len(got), len(tt.content))
			}
		})
	}
}

func TestAddRefusesMisplacedContent(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		in    func(Input) Input
		field string
	}{
		{"note with a URL", func(in Input) Input {
			in.Kind, in.Note, in.URL = domain.EvidenceNote, "x", "https://x.example"
			return in
		}, "url"},
		{"link with a file", func(in Input) Input {
			in.Kind, in.URL, in.File = domain.EvidenceLink, "https://x.example", strings.NewReader("x")
			return in
		}, "file"},
		{"file with a note", func(in Input) Input {
			in.Kind, in.File, in.Note = domain.EvidenceFile, strings.NewReader("x"), "x"
			return in
		}, "note"},
		{"snapshot given twice", func(in Input) Input {
			in.Kind, in.Snapshot, in.File = domain.EvidenceSnapshot, []byte("x"), strings.NewReader("x")
			return in
		}, "snapshot"},
		{"snapshot with a bad media type", func(in Input) Input {
			in.Kind, in.Snapshot, in.MediaType = domain.EvidenceSnapshot, []byte("x"), "json please"
			return in
		}, "media_type"},
		{"long note over the limit", func(in Input) Input {
			in.Kind, in.Note = domain.EvidenceNote, strings.Repeat("n", 300<<10)
			return in
		}, "note"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Add(context.Background(), f.actor, f.org.ID, tt.in(f.input("")))
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != tt.field {
				t.Fatalf("Add() = %v; want invalid %s", err, tt.field)
			}
		})
	}
}

func TestOpenChecks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	big := f.input(domain.EvidenceSnapshot)
	big.Snapshot = bytes.Repeat([]byte("row\n"), 40000)
	stored, err := f.svc.Add(ctx, f.actor, f.org.ID, big)
	if err != nil {
		t.Fatal(err)
	}
	small := f.input(domain.EvidenceNote)
	small.Note = "inline"
	note, err := f.svc.Add(ctx, f.actor, f.org.ID, small)
	if err != nil {
		t.Fatal(err)
	}

	// Another organization's view of an item finds nothing.
	for _, e := range []*domain.Evidence{stored, note} {
		if _, err := f.svc.Open(ctx, f.org.ID+1, e); !domain.IsNotFound(err) {
			t.Errorf("Open(item %d, another organization) = %v; want not found", e.ID, err)
		}
	}
	if _, err := f.svc.Open(ctx, f.org.ID, nil); !domain.IsNotFound(err) {
		t.Errorf("Open(nil) = %v; want not found", err)
	}

	// Damaged blob content fails as it is read.
	local := f.svc.Blobs.(*blob.Local)
	path := filepath.Join(local.Dir(), stored.SHA256[0:2], stored.SHA256[2:4], stored.SHA256)
	damaged := bytes.Clone(big.Snapshot)
	damaged[7] = 'X'
	if err := os.WriteFile(path, damaged, 0o640); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.Open(ctx, f.org.ID, stored)
	if err != nil {
		t.Fatalf("Open(damaged) = %v; want the failure when reading", err)
	}
	_, err = io.ReadAll(r)
	r.Close()
	if !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("reading damaged content = %v; want blob.ErrCorrupt", err)
	}
	// Content of another length than the item records is refused at once.
	if err := os.WriteFile(path, big.Snapshot[:100], 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Open(ctx, f.org.ID, stored); !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("Open(truncated) = %v; want blob.ErrCorrupt", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Open(ctx, f.org.ID, stored); !domain.IsNotFound(err) {
		t.Errorf("Open(missing blob) = %v; want not found", err)
	}
}

func TestAddBatchKeepsOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ins []Input
	for i := range 30 {
		in := f.input(domain.EvidenceSnapshot)
		in.Title = "Snapshot " + string(rune('A'+i))
		in.Snapshot = []byte(in.Title)
		ins = append(ins, in)
	}
	big := f.input(domain.EvidenceFile)
	big.File, big.FileName = bytes.NewReader(bytes.Repeat([]byte("x"), 100<<10)), "big.bin"
	ins = append(ins, big)
	out, err := f.svc.AddBatch(ctx, f.actor, f.org.ID, ins)
	if err != nil {
		t.Fatalf("AddBatch() = %v", err)
	}
	var got, want []string
	for i, e := range out {
		got = append(got, e.Title)
		want = append(want, ins[i].Title)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AddBatch() order (-want +got):\n%s", diff)
	}
	if _, err := f.svc.AddBatch(ctx, f.actor, f.org.ID, nil); domain.FieldOf(err) != "items" {
		t.Errorf("AddBatch(nothing) = %v; want invalid items", err)
	}
	if _, err := f.svc.AddBatch(ctx, f.actor, f.org.ID, []Input{ins[0], {Kind: domain.EvidenceNote}}); domain.FieldOf(err) != "items[1].note" {
		t.Errorf("AddBatch(bad second item) = %v; want invalid items[1].note", err)
	}
}
