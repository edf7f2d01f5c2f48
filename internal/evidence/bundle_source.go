package evidence

import (
	"context"
	"fmt"
	"io"
	"iter"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// sourcePage is how many items or ledger entries BundleSource reads at a time.
const sourcePage = 1000

// BundleSource is a bundle.Source over the store and the evidence service, for one
// organization. It reads items and entries a page at a time, so that memory grows with
// the number of items only by the eight bytes of each ID.
type BundleSource struct {
	store     domain.Store
	evidence  *Service
	org       domain.Organization
	publicKey string

	controls map[int64]bundle.Control // loaded on first use
}

// NewBundleSource returns the bundle source of one organization's evidence and ledger;
// publicKey is the verifier key of the checkpoints.
func NewBundleSource(store domain.Store, svc *Service, org domain.Organization, publicKey string) *BundleSource {
	return &BundleSource{store: store, evidence: svc, org: org, publicKey: publicKey}
}

var _ bundle.Source = (*BundleSource)(nil)

func (s *BundleSource) Organization(context.Context) (domain.Organization, error) {
	return s.org, nil
}

func (s *BundleSource) Checkpoint(ctx context.Context) ([]byte, string, error) {
	cp, err := s.store.LatestCheckpoint(ctx, s.org.ID)
	if err != nil {
		return nil, "", fmt.Errorf("latest checkpoint of %s: %w", s.org.Slug, err)
	}
	return []byte(cp.Note), s.publicKey, nil
}

func (s *BundleSource) Control(ctx context.Context, ref string) (bundle.Control, error) {
	c, err := s.store.ControlByRef(ctx, s.org.ID, ref)
	if err != nil {
		return bundle.Control{}, err
	}
	return bundle.Control{ID: c.ID, Ref: c.Ref, Title: c.Title}, nil
}

// loadControls reads the organization's controls, retired ones too, by ID.
func (s *BundleSource) loadControls(ctx context.Context) error {
	if s.controls != nil {
		return nil
	}
	cs, err := s.store.Controls(ctx, s.org.ID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		return err
	}
	s.controls = make(map[int64]bundle.Control, len(cs))
	for _, c := range cs {
		s.controls[c.ID] = bundle.Control{ID: c.ID, Ref: c.Ref, Title: c.Title}
	}
	return nil
}

// evidenceFilter is the store's filter for a bundle's, every state included.
func evidenceFilter(f bundle.Filter) domain.EvidenceFilter {
	ef := domain.EvidenceFilter{ControlID: f.ControlID, IncludeSuperseded: true, IncludeRetracted: true}
	if !f.From.IsZero() {
		from := f.From
		ef.Since = &from
	}
	if !f.To.IsZero() {
		to := f.To
		ef.Until = &to
	}
	return ef
}

// Items yields the matching items in ascending ledger order. The store lists newest
// first, so it first collects the IDs, then reads the items back a page at a time from
// the oldest.
func (s *BundleSource) Items(ctx context.Context, f bundle.Filter) iter.Seq2[bundle.Item, error] {
	return func(yield func(bundle.Item, error) bool) {
		if err := s.loadControls(ctx); err != nil {
			yield(bundle.Item{}, err)
			return
		}
		ef := evidenceFilter(f)
		ef.Limit = sourcePage
		var ids []int64
		for {
			page, err := s.store.EvidenceList(ctx, s.org.ID, ef)
			if err != nil {
				yield(bundle.Item{}, err)
				return
			}
			for _, e := range page {
				ids = append(ids, e.ID)
			}
			if len(page) < sourcePage {
				break
			}
			ef.Before = page[len(page)-1].ID
		}
		slices.Reverse(ids)
		for start := 0; start < len(ids); start += sourcePage {
			chunk := ids[start:min(start+sourcePage, len(ids))]
			pf := evidenceFilter(f)
			pf.Before, pf.Limit = chunk[len(chunk)-1]+1, len(chunk)
			page, err := s.store.EvidenceList(ctx, s.org.ID, pf)
			if err != nil {
				yield(bundle.Item{}, err)
				return
			}
			slices.SortFunc(page, func(a, b domain.Evidence) int { return int(a.LedgerIndex - b.LedgerIndex) })
			for i := range page {
				it := bundle.Item{Evidence: page[i]}
				for _, id := range page[i].ControlIDs {
					c, ok := s.controls[id]
					if !ok {
						c = bundle.Control{ID: id}
					}
					it.Controls = append(it.Controls, c)
				}
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

func (s *BundleSource) Open(ctx context.Context, e *domain.Evidence) (io.ReadCloser, error) {
	return s.evidence.Open(ctx, s.org.ID, e)
}

func (s *BundleSource) Entries(ctx context.Context, size int64) iter.Seq2[ledger.Entry, error] {
	return func(yield func(ledger.Entry, error) bool) {
		for from := int64(0); from < size; {
			evs, err := s.store.LedgerEvents(ctx, s.org.ID, from, min(from+sourcePage, size))
			if err != nil {
				yield(ledger.Entry{}, err)
				return
			}
			if len(evs) == 0 {
				yield(ledger.Entry{}, fmt.Errorf("ledger of %s: no entries from %d", s.org.Slug, from))
				return
			}
			for _, ev := range evs {
				if !yield(ledger.FromEvent(ev), nil) {
					return
				}
			}
			from += int64(len(evs))
		}
	}
}

func (s *BundleSource) Hashes(ctx context.Context) (tlog.HashReader, error) {
	return s.store.LedgerHashReader(ctx, s.org.ID), nil
}
