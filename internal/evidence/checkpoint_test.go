package evidence

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func TestLoadOrCreateKeyConcurrently(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.key")
	const n = 8
	keys := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, keys[i], errs[i] = LoadOrCreateKey(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || keys[i] != keys[0] {
			t.Errorf("LoadOrCreateKey() #%d = %q, %v; want the key all others got, %q", i, keys[i], errs[i], keys[0])
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("the key's directory holds %d files (%v); want only the key", len(entries), err)
	}
}

func TestLoadOrCreateKeyRefusesOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.key")
	if _, _, err := LoadOrCreateKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadOrCreateKey(key readable by others) = %v; want an error saying to chmod 600", err)
	}
}

// newSigner returns a signer and its verifier key.
func newSigner(tb testing.TB) (*ledger.Signer, string) {
	tb.Helper()
	skey, vkey, err := LoadOrCreateKey(filepath.Join(tb.TempDir(), "ledger.key"))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	return s, vkey
}

func TestPublisherOrigin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	signer, vkey := newSigner(t)
	p := &Publisher{Store: f.st, Signer: signer, Origin: func(o *domain.Organization) string { return "evident.example.com/" + o.Slug }}
	cp, err := p.Checkpoint(ctx, f.org.ID)
	if err != nil {
		t.Fatalf("Checkpoint() = %v", err)
	}
	parsed, err := ledger.ParseCheckpoint([]byte(cp.Note), vkey)
	if err != nil {
		t.Fatalf("ParseCheckpoint() = %v", err)
	}
	if parsed.Origin != "evident.example.com/acme" || parsed.Size != cp.Size || parsed.Root != cp.Root {
		t.Errorf("checkpoint = %s %d %s; want evident.example.com/acme %d %s", parsed.Origin, parsed.Size, parsed.Root, cp.Size, cp.Root)
	}
	if _, err := (&Publisher{Store: f.st}).Checkpoint(ctx, f.org.ID); err == nil {
		t.Errorf("Checkpoint() without a signer = nil error")
	}
	if _, err := p.Checkpoint(ctx, f.org.ID+1000); !domain.IsNotFound(err) {
		t.Errorf("Checkpoint(unknown organization) = %v; want not found", err)
	}
}

// TestPublishersOnReplicas has two replicas publish at once while entries are appended:
// neither fails, and every stored checkpoint verifies and extends the one before.
func TestPublishersOnReplicas(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		ctx := context.Background()
		org := &domain.Organization{Slug: "acme", Name: "Acme"}
		if err := a.CreateOrganization(ctx, domain.SystemActor, org, nil, nil); err != nil {
			t.Fatal(err)
		}
		signer, vkey := newSigner(t)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for _, st := range []*store.Store{a, b} {
			p := &Publisher{Store: st, Signer: signer}
			svc := &Service{Store: st}
			wg.Go(func() {
				for i := range 10 {
					in := Input{Kind: domain.EvidenceNote, Title: "Note", Note: "n", PeriodStart: time.Now(), PeriodEnd: time.Now()}
					if _, err := svc.Add(ctx, domain.SystemActor, org.ID, in); err != nil {
						errs <- err
					}
					if i%2 == 0 {
						errs <- p.PublishDue(ctx)
					} else {
						_, err := p.Checkpoint(ctx, org.ID)
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("publishing on two replicas: %v", err)
			}
		}
		cps, err := a.ListCheckpoints(ctx, org.ID, domain.CheckpointFilter{})
		if err != nil {
			t.Fatal(err)
		}
		size, err := a.LedgerSize(ctx, org.ID)
		if err != nil || len(cps) == 0 || cps[0].Size != size {
			t.Fatalf("latest checkpoint = %v of ledger size %d (%v); want one of the whole ledger", cps, size, err)
		}
		r := a.LedgerHashReader(ctx, org.ID)
		var newer ledger.Checkpoint
		for i, cp := range cps { // largest first
			parsed, err := ledger.ParseCheckpoint([]byte(cp.Note), vkey)
			if err != nil {
				t.Fatalf("checkpoint %d: %v", cp.Size, err)
			}
			if i > 0 {
				proof, err := ledger.ConsistencyProof(parsed.Size, newer.Size, r)
				if err != nil {
					t.Fatal(err)
				}
				if err := ledger.VerifyConsistency(parsed, newer, proof); err != nil {
					t.Errorf("checkpoint %d does not extend checkpoint %d: %v", newer.Size, parsed.Size, err)
				}
			}
			newer = parsed
		}
	})
}

func TestPublisherRun(t *testing.T) {
	f := newFixture(t)
	signer, _ := newSigner(t)
	p := &Publisher{Store: f.st, Signer: signer}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx, time.Hour); close(done) }()
	// Run publishes as it starts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := f.st.LatestCheckpoint(context.Background(), f.org.ID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run() published no checkpoint as it started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What changes before the shutdown is signed as Run ends.
	in := f.input(domain.EvidenceNote)
	in.Note = "last words"
	e, err := f.svc.Add(context.Background(), f.actor, f.org.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	latest, err := f.st.LatestCheckpoint(context.Background(), f.org.ID)
	if err != nil || latest.Size != e.LedgerIndex+1 {
		t.Errorf("latest checkpoint after Run() = %v, %v; want one of size %d", latest, err, e.LedgerIndex+1)
	}
}
