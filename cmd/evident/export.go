package main

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/ledger"
)

func (m *Main) exportEvidenceCommand() *command {
	c := newCommand("export evidence", "", "write a verifiable evidence bundle",
		`Writes an organization's evidence to a zip file an auditor can check offline: the
files, a manifest and the metadata of every item, the whole ledger up to a signed
checkpoint with an inclusion proof for each item, the public key, and an index.html to
open in a browser. A checkpoint is signed first when the ledger has grown, so that the
bundle holds everything recorded until now.

--control keeps the evidence of one control (by reference or ID); --from and --to keep
the evidence whose effective period overlaps those dates. The bundle is written as it is
read, to a temporary file renamed to --out once complete, with mode 0600; --out - writes
it to standard output. Check it with 'evident verify'.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindBlobs(c.flags)
	m.Config.bindLedgerKey(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	control := c.flags.String("control", "", "only the evidence of this control, by reference or ID")
	from := c.flags.String("from", "", "only evidence whose period reaches this date or later, as 2026-01-01")
	to := c.flags.String("to", "", "only evidence whose period starts on this date or earlier, as 2026-12-31")
	out := c.flags.String("out", "", "the zip file to write, or - for standard output (required)")
	c.run = func(ctx context.Context, _ []string) error {
		if err := requireFlags(c.name, map[string]string{"org": *org, "out": *out}); err != nil {
			return err
		}
		opts := bundle.WriteOptions{Now: m.Now}
		var err error
		if *from != "" {
			if opts.From, err = domain.ParseDate("from", *from); err != nil {
				return err
			}
		}
		if *to != "" {
			if opts.To, err = domain.ParseDate("to", *to); err != nil {
				return err
			}
		}
		if !opts.From.IsZero() && !opts.To.IsZero() && opts.To.Before(opts.From) {
			return domain.Invalid("to", "%s is before --from %s", *to, *from)
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		if *control != "" {
			ctl, err := m.controlByRefOrID(ctx, o, *control)
			if err != nil {
				return err
			}
			opts.Control = ctl.Ref
		}
		key, err := m.loadLedgerKey(false)
		if err != nil {
			return err
		}
		if _, err := m.newPublisher(key).Checkpoint(ctx, o.ID); err != nil {
			return fmt.Errorf("checkpoint of %s: %w", o.Slug, err)
		}
		svc, err := m.evidenceService(ctx)
		if err != nil {
			return err
		}
		src := &storeSource{store: m.Store, evidence: svc, org: *o, publicKey: key.Public}
		var sum bundle.Summary
		if *out == "-" {
			if sum, err = bundle.Write(ctx, m.Stdout, src, opts); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		} else if sum, err = writeBundleFile(ctx, *out, src, opts); err != nil {
			return err
		}
		report := m.Stdout
		if *out == "-" {
			report = m.Stderr
		}
		name := *out
		if name == "-" {
			name = "the bundle"
		}
		fmt.Fprintf(report, "Wrote %s: %s (%s, %s), %s, proved by the checkpoint of %s.\n",
			name, plural(int(sum.Items), "item", "items"), plural(int(sum.Files), "file", "files"), formatBytes(sum.FileBytes),
			plural(int(sum.Entries), "ledger entry", "ledger entries"), plural(int(sum.Checkpoint.Size), "entry", "entries"))
		if sum.Skipped > 0 {
			fmt.Fprintf(report, "%s recorded after the checkpoint %s left out; export again to include them.\n",
				plural(int(sum.Skipped), "item", "items"), map[bool]string{true: "was", false: "were"}[sum.Skipped == 1])
		}
		if *out != "-" {
			fmt.Fprintf(report, "Check it with: evident verify %s --key %s\n", shellQuote(*out), key.Public)
		}
		return nil
	}
	return c
}

// writeBundleFile writes the bundle to a temporary file beside path and renames it to
// path once it is complete and synced, so that a failed export leaves no partial zip
// that could be taken for a whole one.
func writeBundleFile(ctx context.Context, path string, src bundle.Source, opts bundle.WriteOptions) (bundle.Summary, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".evident-export-*.zip")
	if err != nil {
		return bundle.Summary{}, fmt.Errorf("--out: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	sum, err := bundle.Write(ctx, f, src, opts)
	if err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	if err := f.Sync(); err != nil {
		return sum, fmt.Errorf("--out: %w", err)
	}
	if err := f.Close(); err != nil {
		return sum, fmt.Errorf("--out: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return sum, fmt.Errorf("--out: %w", err)
	}
	done = true
	return sum, nil
}

// shellQuote quotes a path for a command line shown to copy, when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./+=:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sourcePage is how many items or ledger entries storeSource reads at a time.
const sourcePage = 1000

// storeSource is a bundle.Source over the store and the evidence service, for one
// organization. It reads items and entries a page at a time, so that memory grows with
// the number of items only by the eight bytes of each ID.
type storeSource struct {
	store     domain.Store
	evidence  *evidence.Service
	org       domain.Organization
	publicKey string

	controls map[int64]bundle.Control // loaded on first use
}

var _ bundle.Source = (*storeSource)(nil)

func (s *storeSource) Organization(context.Context) (domain.Organization, error) {
	return s.org, nil
}

func (s *storeSource) Checkpoint(ctx context.Context) ([]byte, string, error) {
	cp, err := s.store.LatestCheckpoint(ctx, s.org.ID)
	if err != nil {
		return nil, "", fmt.Errorf("latest checkpoint of %s: %w", s.org.Slug, err)
	}
	return []byte(cp.Note), s.publicKey, nil
}

func (s *storeSource) Control(ctx context.Context, ref string) (bundle.Control, error) {
	c, err := s.store.ControlByRef(ctx, s.org.ID, ref)
	if err != nil {
		return bundle.Control{}, err
	}
	return bundle.Control{ID: c.ID, Ref: c.Ref, Title: c.Title}, nil
}

// loadControls reads the organization's controls, retired ones too, by ID.
func (s *storeSource) loadControls(ctx context.Context) error {
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
func (s *storeSource) Items(ctx context.Context, f bundle.Filter) iter.Seq2[bundle.Item, error] {
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

func (s *storeSource) Open(ctx context.Context, e *domain.Evidence) (io.ReadCloser, error) {
	return s.evidence.Open(ctx, s.org.ID, e)
}

func (s *storeSource) Entries(ctx context.Context, size int64) iter.Seq2[ledger.Entry, error] {
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

func (s *storeSource) Hashes(ctx context.Context) (tlog.HashReader, error) {
	return s.store.LedgerHashReader(ctx, s.org.ID), nil
}
