package evidence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// KeyName is the name of the signing key in signed notes. One key signs the checkpoints
// of every organization on a deployment; each organization's log has its own origin.
const KeyName = "evident"

// Origin is the checkpoint origin of the ledger of the organization with the given slug,
// "evident/<slug>": what a checkpoint's first line says it is about.
func Origin(slug string) string { return KeyName + "/" + slug }

// keyFileMode is the mode of the signing key's file: the key signs for the whole
// deployment, so nobody but the service's user may read it.
const keyFileMode fs.FileMode = 0o600

// LoadOrCreateKey reads the ledger signing key (a signed-note secret key) from path, or,
// when the file does not exist, generates one and writes it there with mode 0600,
// creating the directory if needed. It returns the secret key and the verifier (public)
// key. A key file that others may read, or that holds no valid key, is an error naming
// the file. Replicas must share one key: several processes creating it at once all end
// up with the one that was written first.
func LoadOrCreateKey(path string) (skey, vkey string, err error) {
	skey, vkey, err = loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return skey, vkey, err
	}
	skey, vkey, err = ledger.GenerateKey(KeyName)
	if err != nil {
		return "", "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("ledger key %s: create directory: %w", path, err)
	}
	// Write the key whole under a temporary name, then link it into place: a crash
	// leaves either no key file or a complete one, and a link never replaces a key that
	// another process put there first.
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+randomSuffix()+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode)
	if err != nil {
		return "", "", fmt.Errorf("ledger key %s: %w", path, err)
	}
	defer os.Remove(tmp)
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("ledger key %s: write: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadKey(path) // another process was first
		}
		return "", "", fmt.Errorf("ledger key %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return skey, vkey, nil
}

// loadKey reads the key at path; an error wrapping fs.ErrNotExist means there is none.
func loadKey(path string) (skey, vkey string, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
		return "", "", fmt.Errorf("ledger key %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", "", fmt.Errorf("ledger key %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", "", fmt.Errorf("ledger key %s: mode %v lets others read the signing key; make it readable by its owner only (chmod 600)", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096)) // a key is about 100 bytes
	if err != nil {
		return "", "", fmt.Errorf("ledger key %s: %w", path, err)
	}
	skey = strings.TrimSpace(string(data))
	signer, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		return "", "", fmt.Errorf("ledger key %s: %w", path, err)
	}
	return skey, signer.VerifierKey(), nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Publisher signs checkpoints of organizations' ledgers. Store and Signer are required.
// Several replicas may publish at once: a checkpoint of a size already stored is taken
// as published, and the stored one stands.
type Publisher struct {
	Store  domain.Store
	Signer *ledger.Signer
	// Origin names an organization's log in its checkpoints; nil means Origin(org.Slug).
	Origin func(org *domain.Organization) string
	// Now is the clock for checkpoint times; nil means time.Now.
	Now func() time.Time
	// Logger receives the errors Run meets; nil means slog.Default().
	Logger *slog.Logger
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Publisher) origin(org *domain.Organization) string {
	if p.Origin != nil {
		return p.Origin(org)
	}
	return Origin(org.Slug)
}

// Checkpoint returns a checkpoint of the organization's whole ledger, signing and
// storing a new one when the ledger has grown since the latest.
func (p *Publisher) Checkpoint(ctx context.Context, orgID int64) (*domain.Checkpoint, error) {
	if p.Signer == nil {
		return nil, errors.New("publish checkpoint: no signing key")
	}
	org, err := p.Store.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	size, err := p.Store.LedgerSize(ctx, orgID)
	if err != nil {
		return nil, err
	}
	latest, err := p.Store.LatestCheckpoint(ctx, orgID)
	switch {
	case err == nil && latest.Size >= size:
		return latest, nil
	case err != nil && !domain.IsNotFound(err):
		return nil, err
	}
	// Stored hashes never change, so the root of the first size entries is the same
	// however many entries other transactions append meanwhile.
	root, err := ledger.TreeRoot(size, p.Store.LedgerHashReader(ctx, orgID))
	if err != nil {
		return nil, fmt.Errorf("ledger root of %s at %d: %w", org.Slug, size, err)
	}
	now := p.now()
	signed, err := p.Signer.SignCheckpoint(p.origin(org), size, root, now)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint of %s at %d: %w", org.Slug, size, err)
	}
	cp := &domain.Checkpoint{OrgID: orgID, Size: size, Root: root, Note: signed.Note, CreatedAt: now}
	if err := p.Store.SaveCheckpoint(ctx, cp); err != nil {
		return nil, fmt.Errorf("save checkpoint of %s at %d: %w", org.Slug, size, err)
	}
	return cp, nil
}

// PublishDue signs a checkpoint for every organization whose ledger has grown since its
// latest one. It goes on past one organization's failure and returns the errors joined.
func (p *Publisher) PublishDue(ctx context.Context) error {
	ids, err := p.Store.OrgsNeedingCheckpoint(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if _, err := p.Checkpoint(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("organization %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Run publishes due checkpoints at once, then every interval (a minute when every is not
// positive) until ctx ends, then once more so that the last changes before a shutdown
// are signed too. It logs the errors it meets and goes on.
func (p *Publisher) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := p.PublishDue(ctx); err != nil && ctx.Err() == nil {
		log.Error("publish ledger checkpoints", "err", err)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := p.PublishDue(final); err != nil {
				log.Error("publish ledger checkpoints at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := p.PublishDue(ctx); err != nil && ctx.Err() == nil {
				log.Error("publish ledger checkpoints", "err", err)
			}
		}
	}
}
