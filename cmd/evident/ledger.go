package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/ledger"
)

// ledgerKey is the key that signs checkpoints, loaded from its file.
type ledgerKey struct {
	Signer *ledger.Signer
	// Public is the verifier key auditors check checkpoints with.
	Public string
}

// loadLedgerKey reads the signing key from --ledger-key. With create, a missing key is
// generated and written with mode 0600, as the server does at its first start; without,
// a missing key is an error, so that a command run on another machine than the servers
// never signs with a key of its own.
func (m *Main) loadLedgerKey(create bool) (*ledgerKey, error) {
	path := m.Config.LedgerKeyPath()
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--ledger-key: no signing key at %s; start the server once with 'evident serve' to create it, or point --ledger-key (%s) at the key the servers use", path, envLedgerKey)
		}
	}
	skey, vkey, err := evidence.LoadOrCreateKey(path)
	if err != nil {
		return nil, fmt.Errorf("--ledger-key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 && m.Logger != nil {
		m.Logger.Warn("other users can read the ledger signing key; restrict it to Evident's user",
			"path", path, "mode", fi.Mode().Perm().String(), "fix", "chmod 600 "+path)
	}
	signer, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("--ledger-key: %s: %w", path, err)
	}
	return &ledgerKey{Signer: signer, Public: vkey}, nil
}

// newPublisher returns the checkpoint publisher over the open store.
func (m *Main) newPublisher(key *ledgerKey) *evidence.Publisher {
	return &evidence.Publisher{Store: m.Store, Signer: key.Signer, Now: m.Now, Logger: m.Logger}
}

func (m *Main) ledgerCheckpointCommand() *command {
	c := newCommand("ledger checkpoint", "", "sign a checkpoint of an organization's ledger and print it",
		`Prints the latest signed checkpoint of an organization's ledger, first signing a new
one when the ledger has grown since the last. The checkpoint (a C2SP signed note) is
printed alone on standard output, for an auditor to save:

  evident ledger checkpoint --org acme > acme-checkpoint.txt

Given to 'evident verify --checkpoint' with a later bundle, it proves that nothing the
ledger held when it was signed has changed since. The public key to check it with is
printed on standard error. The signing key must exist (--ledger-key): it is created by
the server at its first start.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindLedgerKey(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	c.run = func(ctx context.Context, _ []string) error {
		if err := requireFlags(c.name, map[string]string{"org": *org}); err != nil {
			return err
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		key, err := m.loadLedgerKey(false)
		if err != nil {
			return err
		}
		cp, err := m.newPublisher(key).Checkpoint(ctx, o.ID)
		if err != nil {
			return fmt.Errorf("checkpoint of %s: %w", o.Slug, err)
		}
		fmt.Fprint(m.Stdout, cp.Note)
		if !strings.HasSuffix(cp.Note, "\n") {
			fmt.Fprintln(m.Stdout)
		}
		fmt.Fprintf(m.Stderr, "Checkpoint of %s's ledger: %s, signed %s.\nPublic key: %s\n",
			o.Slug, plural(int(cp.Size), "entry", "entries"), cp.CreatedAt.UTC().Format(time.RFC3339), key.Public)
		return nil
	}
	return c
}
