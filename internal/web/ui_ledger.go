package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// CheckpointPublisher signs and stores a checkpoint of an organization's ledger on demand.
// When the ledger has not grown since the latest checkpoint, it returns that one.
type CheckpointPublisher interface {
	Checkpoint(ctx context.Context, orgID int64) (*domain.Checkpoint, error)
}

// inclusionDoc is an inclusion proof that can be checked offline: the entry, exactly as
// hashed, its position in the tree of a checkpoint, the audit path, the signed
// checkpoint and the key that signed it.
type inclusionDoc struct {
	// EvidenceID is set when the entry is the one that recorded an item of evidence.
	EvidenceID int64 `json:"evidence_id,omitempty"`
	// Entry is the entry as a JSON object in its canonical form.
	Entry ledger.Entry `json:"entry"`
	// EntryCanonical is the exact bytes the leaf hash is computed over.
	EntryCanonical string    `json:"entry_canonical"`
	LeafHash       tlog.Hash `json:"leaf_hash"`
	ledger.Inclusion
	RootHash tlog.Hash `json:"root_hash"`
	// Checkpoint is the signed note of the tree the proof is in; empty when no checkpoint
	// of that size was published.
	Checkpoint string `json:"checkpoint"`
	PublicKey  string `json:"public_key"`
}

// consistencyDoc is a consistency proof between two sizes of a ledger, with their roots
// and, where published, their signed checkpoints.
type consistencyDoc struct {
	ledger.Consistency
	OldRoot       tlog.Hash `json:"old_root_hash"`
	NewRoot       tlog.Hash `json:"new_root_hash"`
	OldCheckpoint string    `json:"old_checkpoint"`
	NewCheckpoint string    `json:"new_checkpoint"`
	PublicKey     string    `json:"public_key"`
}

// latestCheckpoint returns the organization's latest checkpoint, or nil when none was
// published yet.
func (s *Server) latestCheckpoint(ctx context.Context, orgID int64) (*domain.Checkpoint, error) {
	cp, err := s.cfg.Store.LatestCheckpoint(ctx, orgID)
	if domain.IsNotFound(err) {
		return nil, nil
	}
	return cp, err
}

// publish signs a checkpoint of the organization's ledger now.
func (s *Server) publish(ctx context.Context, orgID int64) (*domain.Checkpoint, error) {
	if s.cfg.Publisher == nil {
		return nil, fmt.Errorf("publish checkpoint: no checkpoint publisher configured")
	}
	return s.cfg.Publisher.Checkpoint(ctx, orgID)
}

// checkpointCovering returns a checkpoint whose tree includes the entry at index: the
// latest one, or one published now when the latest is older than the entry. Proofs are
// worth something only against a signed checkpoint, and an auditor asking for one right
// after an upload should not have to wait for the next scheduled checkpoint.
func (s *Server) checkpointCovering(ctx context.Context, orgID, index int64) (*domain.Checkpoint, error) {
	cp, err := s.latestCheckpoint(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if cp != nil && cp.Size > index {
		return cp, nil
	}
	if cp, err = s.publish(ctx, orgID); err != nil {
		return nil, err
	}
	if cp.Size <= index {
		return nil, domain.Errorf(domain.KindConflict, "no checkpoint covers ledger entry %d yet", index)
	}
	return cp, nil
}

// ledgerEntry reads one entry of the organization's ledger.
func (s *Server) ledgerEntry(ctx context.Context, orgID, index int64) (ledger.Entry, error) {
	if index < 0 {
		return ledger.Entry{}, domain.NotFound("ledger entry")
	}
	evs, err := s.cfg.Store.LedgerEvents(ctx, orgID, index, index+1)
	if err != nil {
		return ledger.Entry{}, err
	}
	if len(evs) == 0 {
		return ledger.Entry{}, domain.NotFound("ledger entry")
	}
	return ledger.FromEvent(evs[0]), nil
}

// inclusion builds the proof that the entry at index is in the tree of size entries.
// size 0 means the latest checkpoint, published now if it does not cover the entry yet.
// Another size must be above index and at most the ledger's size; the proof then carries
// the checkpoint of that size when one was published.
func (s *Server) inclusion(ctx context.Context, orgID, index, size int64) (*inclusionDoc, error) {
	e, err := s.ledgerEntry(ctx, orgID, index)
	if err != nil {
		return nil, err
	}
	doc := &inclusionDoc{Entry: e, PublicKey: s.cfg.LedgerKey}
	var root tlog.Hash
	if size == 0 {
		cp, err := s.checkpointCovering(ctx, orgID, index)
		if err != nil {
			return nil, err
		}
		size, root, doc.Checkpoint = cp.Size, cp.Root, cp.Note
	} else {
		n, err := s.cfg.Store.LedgerSize(ctx, orgID)
		if err != nil {
			return nil, err
		}
		if size <= index || size > n {
			return nil, domain.Invalid("size", "must be above the entry's index %d and at most the ledger's size %d", index, n)
		}
		if cp, err := s.cfg.Store.CheckpointAt(ctx, orgID, size); err == nil {
			root, doc.Checkpoint = cp.Root, cp.Note
		} else if !domain.IsNotFound(err) {
			return nil, err
		} else if root, err = ledger.TreeRoot(size, s.cfg.Store.LedgerHashReader(ctx, orgID)); err != nil {
			return nil, fmt.Errorf("ledger root at size %d: %w", size, err)
		}
	}
	canonical, err := e.Canonical()
	if err != nil {
		return nil, fmt.Errorf("ledger entry %d: %w", index, err)
	}
	if doc.LeafHash, err = e.Hash(); err != nil {
		return nil, fmt.Errorf("ledger entry %d: %w", index, err)
	}
	proof, err := ledger.InclusionProof(index, size, s.cfg.Store.LedgerHashReader(ctx, orgID))
	if err != nil {
		return nil, err
	}
	if proof == nil {
		proof = tlog.RecordProof{} // a tree of one entry: an empty path, not none
	}
	// A proof that does not check out against the root served with it is our fault, and
	// must not reach an auditor as if it were evidence of anything.
	if err := ledger.CheckInclusion(proof, size, root, doc.LeafHash, index); err != nil {
		return nil, fmt.Errorf("inclusion proof of entry %d: %w", index, err)
	}
	doc.EntryCanonical = string(canonical)
	doc.Inclusion = ledger.Inclusion{Index: index, TreeSize: size, Hashes: proof}
	doc.RootHash = root
	return doc, nil
}

// consistency builds the proof that the ledger's first to entries extend its first from
// entries. to 0 means the latest checkpoint's size.
func (s *Server) consistency(ctx context.Context, orgID, from, to int64) (*consistencyDoc, error) {
	n, err := s.cfg.Store.LedgerSize(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if to == 0 {
		cp, err := s.latestCheckpoint(ctx, orgID)
		if err != nil {
			return nil, err
		}
		if cp == nil {
			return nil, domain.Invalid("to", "is required: no checkpoint has been published yet")
		}
		to = cp.Size
	}
	switch {
	case from < 0:
		return nil, domain.Invalid("from", "must not be negative")
	case to > n:
		return nil, domain.Invalid("to", "must be at most the ledger's size, %d", n)
	case from > to:
		return nil, domain.Invalid("from", "must not be larger than to (%d)", to)
	}
	hr := s.cfg.Store.LedgerHashReader(ctx, orgID)
	proof, err := ledger.ConsistencyProof(from, to, hr)
	if err != nil {
		return nil, err
	}
	doc := &consistencyDoc{Consistency: ledger.Consistency{OldSize: from, NewSize: to, Hashes: proof}, PublicKey: s.cfg.LedgerKey}
	if doc.Hashes == nil {
		doc.Hashes = tlog.TreeProof{}
	}
	if doc.OldRoot, err = ledger.TreeRoot(from, hr); err != nil {
		return nil, fmt.Errorf("ledger root at size %d: %w", from, err)
	}
	if doc.NewRoot, err = ledger.TreeRoot(to, hr); err != nil {
		return nil, fmt.Errorf("ledger root at size %d: %w", to, err)
	}
	if err := ledger.CheckConsistency(doc.Hashes, from, doc.OldRoot, to, doc.NewRoot); err != nil {
		return nil, fmt.Errorf("consistency proof %d to %d: %w", from, to, err)
	}
	for _, side := range []struct {
		size int64
		note *string
	}{{from, &doc.OldCheckpoint}, {to, &doc.NewCheckpoint}} {
		cp, err := s.cfg.Store.CheckpointAt(ctx, orgID, side.size)
		if err == nil {
			*side.note = cp.Note
		} else if !domain.IsNotFound(err) {
			return nil, err
		}
	}
	return doc, nil
}

// ledgerView is the data of the ledger page.
type ledgerView struct {
	PublicKey string
	Size      int64
	Latest    *domain.Checkpoint
	Recent    []domain.Checkpoint
	// Entry is the entry asked for with ?index=, if any.
	Entry *ledgerEntryView
	// Consistency is the consistency-proof form.
	Consistency *form
	Now         time.Time
}

// ledgerEntryView is one ledger entry as the ledger page shows it.
type ledgerEntryView struct {
	Event     eventView
	Canonical string
	LeafHash  tlog.Hash
	// Covered reports whether the latest checkpoint includes the entry.
	Covered bool
}

// recentCheckpoints is how many checkpoints the ledger page lists.
const recentCheckpoints = 20

func (s *Server) ledgerPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(url.Values{"from": {r.URL.Query().Get("from")}, "to": {r.URL.Query().Get("to")}})
	var entry *ledgerEntryView
	if raw := r.URL.Query().Get("index"); raw != "" {
		index, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || index < 0 {
			return domain.Invalid("index", "must be a ledger index: 0 or a positive number")
		}
		if entry, err = s.ledgerEntryView(r, p, index); err != nil {
			return err
		}
	}
	return s.renderLedger(w, r, p, entry, f, http.StatusOK)
}

// ledgerEntryView reads an entry for the ledger page.
func (s *Server) ledgerEntryView(r *http.Request, p *principal, index int64) (*ledgerEntryView, error) {
	ctx := r.Context()
	e, err := s.ledgerEntry(ctx, p.Org.ID, index)
	if err != nil {
		return nil, err
	}
	canonical, err := e.Canonical()
	if err != nil {
		return nil, fmt.Errorf("ledger entry %d: %w", index, err)
	}
	h, err := e.Hash()
	if err != nil {
		return nil, fmt.Errorf("ledger entry %d: %w", index, err)
	}
	evs, err := s.events(r, p, domain.EventFilter{Before: index + 1, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(evs) != 1 || evs[0].Index != index {
		return nil, domain.NotFound("ledger entry")
	}
	return &ledgerEntryView{Event: evs[0], Canonical: string(canonical), LeafHash: h}, nil
}

func (s *Server) renderLedger(w http.ResponseWriter, r *http.Request, p *principal, entry *ledgerEntryView, f *form, status int) error {
	ctx := r.Context()
	size, err := s.cfg.Store.LedgerSize(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	recent, err := s.cfg.Store.ListCheckpoints(ctx, p.Org.ID, domain.CheckpointFilter{Limit: recentCheckpoints})
	if err != nil {
		return err
	}
	v := ledgerView{PublicKey: s.cfg.LedgerKey, Size: size, Recent: recent, Entry: entry, Consistency: f, Now: s.now()}
	if len(recent) > 0 {
		v.Latest = &recent[0]
	}
	if entry != nil && v.Latest != nil {
		entry.Covered = v.Latest.Size > entry.Event.Index
	}
	pg := s.newPage(w, r, p, "Ledger", "ledger")
	pg.Data = v
	return s.render(w, status, "ledger", pg)
}

// checkpointText offers the latest signed checkpoint for download, as auditors keep it.
func (s *Server) checkpointText(w http.ResponseWriter, r *http.Request, p *principal) error {
	cp, err := s.cfg.Store.LatestCheckpoint(r.Context(), p.Org.ID)
	if err != nil {
		if domain.IsNotFound(err) {
			return domain.NotFound("checkpoint")
		}
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="checkpoint-%s-%d.txt"`, p.Org.Slug, cp.Size))
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(cp.Note))
	return nil
}

// publishCheckpoint signs a checkpoint now, for admins who want one before the next
// scheduled one.
func (s *Server) publishCheckpoint(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	before, err := s.latestCheckpoint(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	cp, err := s.publish(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	if before != nil && before.Size == cp.Size {
		return s.redirect(w, r, "/ledger", fmt.Sprintf("No new entries since the checkpoint of size %d; it is still the latest.", cp.Size))
	}
	return s.redirect(w, r, "/ledger", fmt.Sprintf("Published a checkpoint of size %d.", cp.Size))
}

// consistencyDownload offers a consistency proof between two sizes as a JSON file; a bad
// size re-renders the ledger page with the form's error.
func (s *Server) consistencyDownload(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	f := newForm(url.Values{"from": {q.Get("from")}, "to": {q.Get("to")}})
	doc, err := func() (*consistencyDoc, error) {
		from, err := parseSize("from", q.Get("from"), true)
		if err != nil {
			return nil, err
		}
		to, err := parseSize("to", q.Get("to"), false)
		if err != nil {
			return nil, err
		}
		return s.consistency(r.Context(), p.Org.ID, from, to)
	}()
	if err != nil {
		if !f.fail(err, "from", "to") {
			return err
		}
		return s.renderLedger(w, r, p, nil, f, statusOf(err))
	}
	return writeJSONFile(w, fmt.Sprintf("consistency-%s-%d-%d.json", p.Org.Slug, doc.OldSize, doc.NewSize), doc)
}

// entryProofDownload offers the inclusion proof of any ledger entry as a JSON file.
func (s *Server) entryProofDownload(w http.ResponseWriter, r *http.Request, p *principal) error {
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		return domain.NotFound("ledger entry")
	}
	doc, err := s.inclusion(r.Context(), p.Org.ID, index, 0)
	if err != nil {
		return err
	}
	return writeJSONFile(w, fmt.Sprintf("inclusion-%s-%d.json", p.Org.Slug, index), doc)
}

// parseSize reads a ledger size or index from a query parameter. An empty value is
// an error when required, else 0.
func parseSize(name, raw string, required bool) (int64, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		if required {
			return 0, domain.Invalid(name, "is required")
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0, domain.Invalid(name, "must be a whole number, 0 or more")
	}
	return n, nil
}

// writeJSONFile writes v as an indented JSON attachment named name. HTML characters are
// not escaped, so that the canonical entries inside stay byte for byte what was hashed.
func writeJSONFile(w http.ResponseWriter, name string, v any) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	return encodeJSON(w, http.StatusOK, v, "  ")
}

// encodeJSON writes v as JSON without HTML escaping.
func encodeJSON(w http.ResponseWriter, status int, v any, indent string) error {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	_ = enc.Encode(v) // the client hanging up is not our error
	return nil
}
