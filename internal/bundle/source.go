package bundle

import (
	"context"
	"io"
	"iter"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// Source is what Write reads: one organization's evidence, its ledger and a signed
// checkpoint of that ledger. The store and the evidence service provide it; Write calls
// each method from one goroutine.
type Source interface {
	// Organization returns the organization whose evidence is exported.
	Organization(ctx context.Context) (domain.Organization, error)
	// Checkpoint returns the organization's latest signed checkpoint, exactly as stored,
	// and the public key that signed it (ledger.Signer.VerifierKey).
	Checkpoint(ctx context.Context) (note []byte, verifierKey string, err error)
	// Control returns the organization's control with the given ref; an unknown ref is
	// domain.KindNotFound. It is called only when WriteOptions.Control is set.
	Control(ctx context.Context, ref string) (Control, error)
	// Items yields every evidence item matching f, current, superseded and retracted
	// alike, in ascending order of LedgerIndex. Write calls it three times and checks that
	// each call yields the same items.
	Items(ctx context.Context, f Filter) iter.Seq2[Item, error]
	// Open returns the content of an item, whose SHA-256 is e.SHA256. Write checks it.
	Open(ctx context.Context, e *domain.Evidence) (io.ReadCloser, error)
	// Entries yields the ledger's entries with indexes 0 to size-1, in index order
	// (ledger.FromEvent makes them from the store's events). Write calls it three times:
	// once to copy the ledger and twice alongside Items, taking each item's time of
	// addition from its entry; it may stop those early.
	Entries(ctx context.Context, size int64) iter.Seq2[ledger.Entry, error]
	// Hashes returns the ledger's stored hashes, from which Write makes inclusion proofs
	// in the tree of the checkpoint's size.
	Hashes(ctx context.Context) (tlog.HashReader, error)
}

// Filter selects the evidence a bundle carries. Zero fields select everything.
type Filter struct {
	// ControlID selects items that support this control.
	ControlID int64
	// From and To, UTC midnights, select items whose effective period overlaps the days
	// From to To, both included: PeriodEnd on or after From, PeriodStart on or before To.
	From, To time.Time
}

// Matches reports whether an item with these controls and effective period is selected.
// The verifier applies it to the ledger's record of every item, so the Source's Items must
// select exactly the same.
func (f Filter) Matches(controlIDs []int64, start, end time.Time) bool {
	if f.ControlID != 0 {
		found := false
		for _, id := range controlIDs {
			found = found || id == f.ControlID
		}
		if !found {
			return false
		}
	}
	if !f.From.IsZero() && end.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && start.After(f.To) {
		return false
	}
	return true
}

// Item is one evidence item as a Source yields it.
type Item struct {
	// Evidence is the item with every field filled, including AddedByName, SupersededBy,
	// RetractedAt, RetractReason and LedgerIndex.
	Evidence domain.Evidence
	// Controls names the controls in Evidence.ControlIDs, in any order.
	Controls []Control
}

// Control names a control in a bundle.
type Control struct {
	ID    int64
	Ref   string
	Title string
}

// WriteOptions selects what Write exports.
type WriteOptions struct {
	// Control is the ref of a control; when set, only evidence supporting it is exported.
	Control string
	// From and To, dates (UTC midnights), select the evidence whose effective period
	// overlaps them; zero values leave that side open.
	From, To time.Time
	// Now returns the time recorded as the bundle's generation time; time.Now if nil.
	Now func() time.Time
	// TempDir is where Write keeps, in temporary files it removes before it returns, what
	// would otherwise make its memory grow with the number of items: the zip's central
	// directory and the sorted lists it makes. os.TempDir() when empty. A bundle of a few
	// thousand items needs no temporary file.
	TempDir string
}

// Summary describes a bundle Write has written.
type Summary struct {
	Organization string // slug
	Items        int64
	// Skipped counts the items that matched but were recorded after the checkpoint, and so
	// are left out: sign a new checkpoint first to include them.
	Skipped   int64
	Files     int64
	FileBytes int64
	Entries   int64
	// Checkpoint is the checkpoint the bundle proves against.
	Checkpoint ledger.Checkpoint
}
