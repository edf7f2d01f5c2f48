package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

type fixture struct {
	st      *store.Store
	svc     *Service
	org     *domain.Organization
	control *domain.Control
	actor   domain.Actor
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	st := storetest.SQLite(tb)
	blobs, err := blob.NewLocal(filepath.Join(tb.TempDir(), "blobs"))
	if err != nil {
		tb.Fatal(err)
	}
	org := &domain.Organization{Slug: "acme", Name: "Acme"}
	if err := st.CreateOrganization(ctx, domain.SystemActor, org, nil, catalog.Default().Library[:3]); err != nil {
		tb.Fatal(err)
	}
	controls, err := st.Controls(ctx, org.ID, domain.ControlFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 5, 15, 10, 0, 0, 0, time.UTC)
	return &fixture{
		st: st, org: org, control: &controls[0], actor: domain.Actor{Email: "lead@acme.example"},
		svc: &Service{Store: st, Blobs: blobs, Now: func() time.Time { return now }, MaxUpload: 256 << 10},
	}
}

func (f *fixture) input(kind domain.EvidenceKind) Input {
	return Input{
		Kind: kind, Title: "Q1 access review", ControlIDs: []int64{f.control.ID},
		PeriodStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
	}
}

func (f *fixture) read(tb testing.TB, e *domain.Evidence) []byte {
	tb.Helper()
	r, err := f.svc.Open(context.Background(), f.org.ID, e)
	if err != nil {
		tb.Fatalf("Open(%d) = %v", e.ID, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read content of %d: %v", e.ID, err)
	}
	return data
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestAddKinds(t *testing.T) {
	f := newFixture(t)
	big := bytes.Repeat([]byte("access review row\n"), 10000) // 180 KB: goes to the blob store
	tests := []struct {
		name      string
		in        func(Input) Input
		content   []byte
		mediaType string
	}{
		{"note", func(in Input) Input { in.Kind, in.Note = domain.EvidenceNote, "Reviewed all 42 accounts."; return in }, []byte("Reviewed all 42 accounts."), "text/plain; charset=utf-8"},
		{"link", func(in Input) Input {
			in.Kind, in.URL = domain.EvidenceLink, " https://tickets.example/AR-7 "
			return in
		}, []byte("https://tickets.example/AR-7"), "text/uri-list"},
		{"small file kept inline", func(in Input) Input {
			in.Kind, in.File, in.FileName = domain.EvidenceFile, strings.NewReader("%PDF-1.7 review"), "../q1 review.pdf"
			return in
		}, []byte("%PDF-1.7 review"), "application/pdf"},
		{"large file in the blob store", func(in Input) Input {
			in.Kind, in.File, in.FileName = domain.EvidenceFile, bytes.NewReader(big), "export.csv"
			return in
		}, big, "text/plain; charset=utf-8"},
		{"snapshot", func(in Input) Input {
			in.Kind, in.Snapshot, in.MediaType = domain.EvidenceSnapshot, []byte(`{"users":[]}`), "application/json"
			return in
		}, []byte(`{"users":[]}`), "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := f.svc.Add(context.Background(), f.actor, f.org.ID, tt.in(f.input("")))
			if err != nil {
				t.Fatalf("Add() = %v", err)
			}
			if e.SHA256 != hexSum(tt.content) || e.Size != int64(len(tt.content)) {
				t.Errorf("Add() stored sha %s size %d; want %s size %d", e.SHA256, e.Size, hexSum(tt.content), len(tt.content))
			}
			if e.MediaType != tt.mediaType {
				t.Errorf("media type = %q; want %q", e.MediaType, tt.mediaType)
			}
			if e.Source != f.actor.Email {
				t.Errorf("source = %q; want the actor %q", e.Source, f.actor.Email)
			}
			if got := f.read(t, e); !bytes.Equal(got, tt.content) {
				t.Errorf("Open() content differs: got %d bytes, want %d", len(got), len(tt.content))
			}
			if strings.ContainsAny(e.FileName, `/\`) {
				t.Errorf("file name %q was not sanitized", e.FileName)
			}
		})
	}
}

func TestAddRejects(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		in    func(Input) Input
		field string
	}{
		{"file without content", func(in Input) Input { in.Kind = domain.EvidenceFile; return in }, "file"},
		{"empty note", func(in Input) Input { in.Kind, in.Note = domain.EvidenceNote, "  "; return in }, "note"},
		{"link that is not a web address", func(in Input) Input { in.Kind, in.URL = domain.EvidenceLink, "javascript:alert(1)"; return in }, "url"},
		{"no period start", func(in Input) Input {
			in.Kind, in.Note, in.PeriodStart = domain.EvidenceNote, "x", time.Time{}
			return in
		}, "period_start"},
		{"unknown kind", func(in Input) Input { in.Kind = "video"; return in }, "kind"},
		{"file over the upload limit", func(in Input) Input {
			in.Kind, in.File = domain.EvidenceFile, bytes.NewReader(make([]byte, 300<<10))
			return in
		}, "file"},
		{"control of nobody", func(in Input) Input {
			in.Kind, in.Note, in.ControlIDs = domain.EvidenceNote, "x", []int64{999999}
			return in
		}, "controls"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := f.st.LedgerSize(ctx, f.org.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Add(ctx, f.actor, f.org.ID, tt.in(f.input("")))
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != tt.field {
				t.Fatalf("Add() = %v; want invalid %s", err, tt.field)
			}
			after, err := f.st.LedgerSize(ctx, f.org.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Errorf("ledger grew from %d to %d after a refused item", before, after)
			}
		})
	}
	list, err := f.st.EvidenceList(ctx, f.org.ID, domain.EvidenceFilter{IncludeRetracted: true, IncludeSuperseded: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("EvidenceList() = %d items after refused adds; want none", len(list))
	}
}

func TestAddBatchAllOrNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good := f.input(domain.EvidenceNote)
	good.Note = "ok"
	bad := f.input(domain.EvidenceNote)
	_, err := f.svc.AddBatch(ctx, f.actor, f.org.ID, []Input{good, good, bad})
	if domain.FieldOf(err) != "items[2].note" {
		t.Fatalf("AddBatch() = %v; want the third item's note named", err)
	}
	if n, _ := f.st.LedgerSize(ctx, f.org.ID); n != 1 { // only organization.created
		t.Errorf("ledger size after a failed batch = %d; want 1", n)
	}
	out, err := f.svc.AddBatch(ctx, f.actor, f.org.ID, []Input{good, good})
	if err != nil {
		t.Fatalf("AddBatch() = %v", err)
	}
	if len(out) != 2 || out[1].LedgerIndex != out[0].LedgerIndex+1 {
		t.Errorf("AddBatch() ledger indexes = %d, %d; want consecutive", out[0].LedgerIndex, out[1].LedgerIndex)
	}
}

func TestSupersedeAndRetract(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := f.input(domain.EvidenceNote)
	in.Note = "draft"
	first, err := f.svc.Add(ctx, f.actor, f.org.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Note = "final"
	second, err := f.svc.Supersede(ctx, f.actor, f.org.ID, first.ID, in)
	if err != nil {
		t.Fatalf("Supersede() = %v", err)
	}
	if second.Supersedes == nil || *second.Supersedes != first.ID {
		t.Errorf("Supersede() supersedes = %v; want %d", second.Supersedes, first.ID)
	}
	old, err := f.st.Evidence(ctx, f.org.ID, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.Current() || old.SupersededBy == nil || *old.SupersededBy != second.ID {
		t.Errorf("old item superseded by %v; want %d", old.SupersededBy, second.ID)
	}
	if _, err := f.svc.Retract(ctx, f.actor, f.org.ID, second.ID, " "); domain.FieldOf(err) != "reason" {
		t.Errorf("Retract() without reason = %v; want invalid reason", err)
	}
	r, err := f.svc.Retract(ctx, f.actor, f.org.ID, second.ID, "Uploaded to the wrong control.")
	if err != nil {
		t.Fatalf("Retract() = %v", err)
	}
	if r.RetractedAt == nil || r.RetractReason != "Uploaded to the wrong control." {
		t.Errorf("Retract() = %+v; want retracted with the reason", r)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "ledger.key")
	skey, vkey, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKey() = %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v; want 0600", info.Mode().Perm())
	}
	skey2, vkey2, err := LoadOrCreateKey(path)
	if err != nil || skey2 != skey || vkey2 != vkey {
		t.Errorf("second LoadOrCreateKey() = %q, %v; want the same key", vkey2, err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadOrCreateKey(corrupt) = %v; want an error naming the file", err)
	}
}

func TestPublisher(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	skey, vkey, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	p := &Publisher{Store: f.st, Signer: signer, Now: f.svc.Now}

	if err := p.PublishDue(ctx); err != nil {
		t.Fatalf("PublishDue() = %v", err)
	}
	first, err := f.st.LatestCheckpoint(ctx, f.org.ID)
	if err != nil {
		t.Fatalf("LatestCheckpoint() after PublishDue = %v", err)
	}
	if due, _ := f.st.OrgsNeedingCheckpoint(ctx); len(due) != 0 {
		t.Errorf("OrgsNeedingCheckpoint() after publishing = %v; want none", due)
	}

	in := f.input(domain.EvidenceNote)
	in.Note = "reviewed"
	for range 5 {
		if _, err := f.svc.Add(ctx, f.actor, f.org.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	second, err := p.Checkpoint(ctx, f.org.ID)
	if err != nil {
		t.Fatalf("Checkpoint() = %v", err)
	}
	if second.Size != first.Size+5 {
		t.Errorf("Checkpoint() size = %d; want %d", second.Size, first.Size+5)
	}
	again, err := p.Checkpoint(ctx, f.org.ID)
	if err != nil || again.Note != second.Note {
		t.Errorf("Checkpoint() with no new entries signed another: %v", err)
	}

	older, err := ledger.ParseCheckpoint([]byte(first.Note), vkey)
	if err != nil {
		t.Fatalf("ParseCheckpoint(first) = %v", err)
	}
	newer, err := ledger.ParseCheckpoint([]byte(second.Note), vkey)
	if err != nil {
		t.Fatalf("ParseCheckpoint(second) = %v", err)
	}
	if newer.Origin != Origin("acme") {
		t.Errorf("origin = %q; want %q", newer.Origin, Origin("acme"))
	}
	proof, err := ledger.ConsistencyProof(older.Size, newer.Size, f.st.LedgerHashReader(ctx, f.org.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency(older, newer, proof); err != nil {
		t.Errorf("VerifyConsistency(first, second) = %v", err)
	}
}
