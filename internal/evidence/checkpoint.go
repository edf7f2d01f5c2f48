package evidence

import (
	"context"
	"errors"
	"fmt"
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

// Origin is the checkpoint origin of an organization's ledger.
func Origin(slug string) string { return KeyName + "/" + slug }

// LoadOrCreateKey reads the ledger signing key (a signed-note secret key) from path, or,
// when the file does not exist, generates one and writes it there with mode 0600. It
// returns the secret key and the verifier (public) key. Replicas must share one key.
func LoadOrCreateKey(path string) (skey, vkey string, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		skey = strings.TrimSpace(string(data))
		signer, err := ledger.NewCheckpointSigner(skey)
		if err != nil {
			return "", "", fmt.Errorf("ledger key %s: %w", path, err)
		}
		return skey, signer.VerifierKey(), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("read ledger key: %w", err)
	}
	skey, vkey, err = ledger.GenerateKey(KeyName)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", fmt.Errorf("create ledger key directory: %w", err)
	}
	// O_EXCL: if another process created the key meanwhile, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(path)
	}
	if err != nil {
		return "", "", fmt.Errorf("create ledger key: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return "", "", fmt.Errorf("write ledger key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", "", fmt.Errorf("write ledger key: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("write ledger key: %w", err)
	}
	return skey, vkey, nil
}

// Publisher signs checkpoints of organizations' ledgers. Store and Signer are required.
type Publisher struct {
	Store  domain.Store
	Signer *ledger.Signer
	Now    func() time.Time
	Logger *slog.Logger
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// Checkpoint returns a checkpoint of the organization's whole ledger, signing a new one
// when the ledger has grown since the latest.
func (p *Publisher) Checkpoint(ctx context.Context, orgID int64) (*domain.Checkpoint, error) {
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
	case err == nil && latest.Size == size:
		return latest, nil
	case err != nil && !domain.IsNotFound(err):
		return nil, err
	}
	root, err := ledger.TreeRoot(size, p.Store.LedgerHashReader(ctx, orgID))
	if err != nil {
		return nil, fmt.Errorf("ledger root of %s at %d: %w", org.Slug, size, err)
	}
	signed, err := p.Signer.SignCheckpoint(Origin(org.Slug), size, root, p.now())
	if err != nil {
		return nil, err
	}
	cp := &domain.Checkpoint{OrgID: orgID, Size: size, Root: root, Note: signed.Note, CreatedAt: p.now()}
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
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run publishes due checkpoints every interval until ctx ends, then once more so the
// last changes before a shutdown are signed too.
func (p *Publisher) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	log := p.Logger
	if log == nil {
		log = slog.Default()
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
