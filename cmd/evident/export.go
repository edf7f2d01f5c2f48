package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
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
		src := evidence.NewBundleSource(m.Store, svc, *o, key.Public)
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
