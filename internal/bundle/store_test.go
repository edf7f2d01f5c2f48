package bundle_test

import (
	"bytes"
	"context"
	"io"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// storeSource reads a bundle's evidence from the store, as the export does.
type storeSource struct {
	st     *store.Store
	orgID  int64
	signer *ledger.Signer
}

func (s *storeSource) Organization(ctx context.Context) (domain.Organization, error) {
	o, err := s.st.Organization(ctx, s.orgID)
	if err != nil {
		return domain.Organization{}, err
	}
	return *o, nil
}

func (s *storeSource) Checkpoint(ctx context.Context) ([]byte, string, error) {
	cp, err := s.st.LatestCheckpoint(ctx, s.orgID)
	if err != nil {
		return nil, "", err
	}
	return []byte(cp.Note), s.signer.VerifierKey(), nil
}

func (s *storeSource) Control(ctx context.Context, ref string) (bundle.Control, error) {
	c, err := s.st.ControlByRef(ctx, s.orgID, ref)
	if err != nil {
		return bundle.Control{}, err
	}
	return bundle.Control{ID: c.ID, Ref: c.Ref, Title: c.Title}, nil
}

// Items lists the evidence newest first, as the store pages it, and yields it oldest
// first; a test organization's evidence fits in memory.
func (s *storeSource) Items(ctx context.Context, f bundle.Filter) iter.Seq2[bundle.Item, error] {
	return func(yield func(bundle.Item, error) bool) {
		filter := domain.EvidenceFilter{ControlID: f.ControlID, IncludeSuperseded: true, IncludeRetracted: true, Limit: 1000}
		if !f.From.IsZero() {
			filter.Since = &f.From
		}
		if !f.To.IsZero() {
			filter.Until = &f.To
		}
		var all []domain.Evidence
		for {
			page, err := s.st.EvidenceList(ctx, s.orgID, filter)
			if err != nil {
				yield(bundle.Item{}, err)
				return
			}
			all = append(all, page...)
			if len(page) < filter.Limit {
				break
			}
			filter.Before = page[len(page)-1].ID
		}
		slices.SortFunc(all, func(a, b domain.Evidence) int { return int(a.LedgerIndex - b.LedgerIndex) })
		for _, e := range all {
			it := bundle.Item{Evidence: e}
			for _, id := range e.ControlIDs {
				c, err := s.st.Control(ctx, s.orgID, id)
				if err != nil {
					yield(bundle.Item{}, err)
					return
				}
				it.Controls = append(it.Controls, bundle.Control{ID: c.ID, Ref: c.Ref, Title: c.Title})
			}
			if !yield(it, nil) {
				return
			}
		}
	}
}

func (s *storeSource) Open(ctx context.Context, e *domain.Evidence) (io.ReadCloser, error) {
	b, err := s.st.EvidenceContent(ctx, s.orgID, e.ID)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *storeSource) Entries(ctx context.Context, size int64) iter.Seq2[ledger.Entry, error] {
	return func(yield func(ledger.Entry, error) bool) {
		for from := int64(0); from < size; from += 1000 {
			events, err := s.st.LedgerEvents(ctx, s.orgID, from, min(from+1000, size))
			if err != nil {
				yield(ledger.Entry{}, err)
				return
			}
			for _, e := range events {
				if !yield(ledger.FromEvent(e), nil) {
					return
				}
			}
		}
	}
}

func (s *storeSource) Hashes(ctx context.Context) (tlog.HashReader, error) {
	return s.st.LedgerHashReader(ctx, s.orgID), nil
}

// sign signs and stores a checkpoint of the organization's whole ledger.
func (s *storeSource) sign(tb testing.TB, ctx context.Context, at time.Time) *domain.Checkpoint {
	tb.Helper()
	size, err := s.st.LedgerSize(ctx, s.orgID)
	if err != nil {
		tb.Fatal(err)
	}
	root, err := ledger.TreeRoot(size, s.st.LedgerHashReader(ctx, s.orgID))
	if err != nil {
		tb.Fatal(err)
	}
	cp, err := s.signer.SignCheckpoint("evident.test/acme", size, root, at)
	if err != nil {
		tb.Fatal(err)
	}
	saved := &domain.Checkpoint{OrgID: s.orgID, Size: size, Root: root, Note: cp.Note, CreatedAt: at}
	if err := s.st.SaveCheckpoint(ctx, saved); err != nil {
		tb.Fatal(err)
	}
	return saved
}

// TestThroughTheStore exports evidence kept by the real store (SQLite) and verifies it,
// with a checkpoint saved before the latest changes.
func TestThroughTheStore(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	admin := domain.Actor{Email: "admin@acme.test"}
	org := &domain.Organization{Slug: "acme", Name: "Acme"}
	library := []domain.LibraryControl{
		{Ref: "AC-01", Title: "Access reviews", Description: "Access is reviewed every quarter.", Domain: "Access control",
			Frequency: domain.FrequencyQuarterly, Criteria: []string{"CC6.2"}},
		{Ref: "CM-01", Title: "Change review", Description: "Every change is reviewed.", Domain: "Change management",
			Frequency: domain.FrequencyPerEvent, Criteria: []string{"CC8.1"}},
	}
	if err := st.CreateOrganization(ctx, admin, org, nil, library); err != nil {
		t.Fatalf("CreateOrganization: %v", err)
	}
	ac, err := st.ControlByRef(ctx, org.ID, "AC-01")
	if err != nil {
		t.Fatal(err)
	}
	cm, err := st.ControlByRef(ctx, org.ID, "CM-01")
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{4}, 32)), "evident.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	src := &storeSource{st: st, orgID: org.ID, signer: signer}

	item := func(title string, controls []int64, from, to string, content string) domain.NewEvidence {
		start, _ := time.Parse(time.DateOnly, from)
		end, _ := time.Parse(time.DateOnly, to)
		return domain.NewEvidence{Evidence: domain.Evidence{
			Kind: domain.EvidenceFile, Title: title, Description: "About " + title, ControlIDs: controls,
			PeriodStart: start, PeriodEnd: end, Source: "admin@acme.test", MediaType: "text/plain",
			FileName: strings.ReplaceAll(title, " ", "-") + ".txt",
		}, Content: []byte(content)}
	}
	added, err := st.AddEvidence(ctx, admin, org.ID, []domain.NewEvidence{
		item("Q1 access review", []int64{ac.ID}, "2025-01-01", "2025-03-31", "review of Q1"),
		item("Change log", []int64{cm.ID, ac.ID}, "2025-01-01", "2025-01-31", "changes in January"),
		item("Same log again", []int64{cm.ID}, "2025-02-01", "2025-02-28", "changes in January"),
	})
	if err != nil {
		t.Fatalf("AddEvidence: %v", err)
	}
	saved := src.sign(t, ctx, time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC))

	if _, err := st.SupersedeEvidence(ctx, admin, org.ID, added[0].ID, item("Q1 access review, corrected", []int64{ac.ID}, "2025-01-01", "2025-03-31", "review of Q1, corrected")); err != nil {
		t.Fatalf("SupersedeEvidence: %v", err)
	}
	if _, err := st.RetractEvidence(ctx, admin, org.ID, added[2].ID, "duplicate upload"); err != nil {
		t.Fatalf("RetractEvidence: %v", err)
	}
	src.sign(t, ctx, time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC))
	// Evidence added after the checkpoint is left out of the bundle.
	if _, err := st.AddEvidence(ctx, admin, org.ID, []domain.NewEvidence{item("Late", []int64{cm.ID}, "2025-03-01", "2025-03-31", "late")}); err != nil {
		t.Fatalf("AddEvidence: %v", err)
	}

	for _, tt := range []struct {
		name      string
		opts      bundle.WriteOptions
		items     int64
		skipped   int64
		wantFiles int64
	}{
		{"everything", bundle.WriteOptions{}, 4, 1, 3},
		{"one control", bundle.WriteOptions{Control: "CM-01"}, 2, 1, 1},
		{"a window", bundle.WriteOptions{From: time.Date(2025, 2, 15, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 2, 20, 0, 0, 0, 0, time.UTC)}, 3, 0, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			sum, err := bundle.Write(ctx, &buf, src, tt.opts)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if sum.Items != tt.items || sum.Skipped != tt.skipped || sum.Files != tt.wantFiles {
				t.Errorf("Write summary = %d items, %d skipped, %d files; want %d, %d, %d", sum.Items, sum.Skipped, sum.Files, tt.items, tt.skipped, tt.wantFiles)
			}
			rep, err := bundle.Verify(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), bundle.VerifyOptions{Key: signer.VerifierKey(), Saved: saved.Note})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !rep.OK {
				t.Fatalf("Verify: %s\n%v", rep.Summary, rep.Problems)
			}
			if !strings.Contains(rep.Summary, "consistent with the saved checkpoint") {
				t.Errorf("Summary = %q; want consistency with the saved checkpoint", rep.Summary)
			}
		})
	}
}
