package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/ledger"
	"github.com/evidenthq/evident/internal/store"
)

// The test binary doubles as the child processes of the durability tests: with one of
// these variables set, TestMain runs the child instead of the tests.
const (
	// crashChildEnv holds a crashChildConfig as JSON: the child appends evidence until
	// it is killed.
	crashChildEnv = "EVIDENT_TEST_CRASH_CHILD"
	// serveChildEnv holds a command line as a JSON array: the child runs it like the
	// binary, until SIGTERM.
	serveChildEnv = "EVIDENT_TEST_SERVE_CHILD"
	// crashSeedEnv fixes the crash test's random choices, to replay a failure.
	crashSeedEnv = "EVIDENT_TEST_CRASH_SEED"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(crashChildEnv); cfg != "" {
		os.Exit(crashChild(cfg))
	}
	if args := os.Getenv(serveChildEnv); args != "" {
		os.Exit(serveChild(args))
	}
	os.Exit(m.Run())
}

// serveChild runs a command line as the binary does, stopping on SIGTERM or SIGINT.
func serveChild(argsJSON string) int {
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", serveChildEnv, err)
		return 2
	}
	ctx, stop := signalContext()
	defer stop()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
}

// crashChildConfig is what a crash child appends to.
type crashChildConfig struct {
	DSN      string  `json:"dsn"`
	DataDir  string  `json:"data"`
	KeyPath  string  `json:"key"`
	OrgID    int64   `json:"org"`
	Controls []int64 `json:"controls"`
	Seed     uint64  `json:"seed"`
	Round    int     `json:"round"`
}

// The lines a crash child prints, each once the change it reports is committed:
//
//	ready
//	add <id> <ledger index> <sha256>
//	supersede <new id> <ledger index> <sha256> <old id>
//	retract <id>
//	checkpoint <signed note in base64>

// fileEvidenceSize is the size of the files a crash child adds: more than the database
// keeps inline, so that they go to the blob store first.
const fileEvidenceSize = domain.MaxInlineContent + 4096

// crashChild appends evidence in a loop, printing each item once the store has committed
// it, until it is killed.
func crashChild(cfgJSON string) int {
	var cfg crashChildConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", crashChildEnv, err)
		return 2
	}
	ctx := context.Background()
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "crash child round %d: %s: %v\n", cfg.Round, what, err)
		return 1
	}
	st, err := store.Open(ctx, cfg.DSN)
	if err != nil {
		return fail("open store", err)
	}
	if err := st.CheckSchema(ctx); err != nil {
		return fail("check schema", err)
	}
	blobs, err := blob.Open(ctx, "", cfg.DataDir)
	if err != nil {
		return fail("open blobs", err)
	}
	svc := &evidence.Service{Store: st, Blobs: blobs}
	skey, _, err := evidence.LoadOrCreateKey(cfg.KeyPath)
	if err != nil {
		return fail("signing key", err)
	}
	signer, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		return fail("signing key", err)
	}
	pub := &evidence.Publisher{Store: st, Signer: signer}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Round)))
	out := os.Stdout // unbuffered: every line is one write, made after the commit
	fmt.Fprintln(out, "ready")
	var mine []int64 // current items this round added, for supersessions and retractions
	period := func() (time.Time, time.Time) {
		start := time.Date(2025, time.Month(1+rng.IntN(12)), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, -1)
	}
	control := func() []int64 { return []int64{cfg.Controls[rng.IntN(len(cfg.Controls))]} }
	for i := 0; ; i++ {
		title := fmt.Sprintf("round %d item %d", cfg.Round, i)
		from, to := period()
		switch r := rng.IntN(20); {
		case r < 10: // a note, kept in the database
			e, err := svc.Add(ctx, domain.SystemActor, cfg.OrgID, evidence.Input{
				Kind: domain.EvidenceNote, Title: title, ControlIDs: control(), PeriodStart: from, PeriodEnd: to,
				Note: fmt.Sprintf("Reviewed %s on %s; %d findings.", title, from.Format(time.DateOnly), rng.IntN(5)),
			})
			if err != nil {
				return fail("add note", err)
			}
			fmt.Fprintf(out, "add %d %d %s\n", e.ID, e.LedgerIndex, e.SHA256)
			mine = append(mine, e.ID)
		case r < 14: // a file too large to keep inline: the blob store, then the database
			content := make([]byte, fileEvidenceSize)
			for j := range content {
				content[j] = byte('a' + rng.IntN(26))
			}
			e, err := svc.Add(ctx, domain.SystemActor, cfg.OrgID, evidence.Input{
				Kind: domain.EvidenceFile, Title: title, ControlIDs: control(), PeriodStart: from, PeriodEnd: to,
				File: bytes.NewReader(content), FileName: "export-" + strconv.Itoa(i) + ".txt",
			})
			if err != nil {
				return fail("add file", err)
			}
			fmt.Fprintf(out, "add %d %d %s\n", e.ID, e.LedgerIndex, e.SHA256)
			mine = append(mine, e.ID)
		case r < 16: // a batch, all or nothing
			n := 2 + rng.IntN(4)
			ins := make([]evidence.Input, n)
			for j := range ins {
				ins[j] = evidence.Input{
					Kind: domain.EvidenceNote, Title: fmt.Sprintf("%s.%d", title, j), ControlIDs: control(),
					PeriodStart: from, PeriodEnd: to, Note: fmt.Sprintf("Batch entry %d of %s.", j, title),
				}
			}
			es, err := svc.AddBatch(ctx, domain.SystemActor, cfg.OrgID, ins)
			if err != nil {
				return fail("add batch", err)
			}
			var b strings.Builder
			for _, e := range es {
				fmt.Fprintf(&b, "add %d %d %s\n", e.ID, e.LedgerIndex, e.SHA256)
				mine = append(mine, e.ID)
			}
			// One write for the whole batch: it was committed as one.
			io.WriteString(out, b.String())
		case r < 17 && len(mine) > 0: // a correction
			k := rng.IntN(len(mine))
			old := mine[k]
			e, err := svc.Supersede(ctx, domain.SystemActor, cfg.OrgID, old, evidence.Input{
				Kind: domain.EvidenceNote, Title: title + " (corrected)", ControlIDs: control(),
				PeriodStart: from, PeriodEnd: to, Note: "Corrected figures for " + title + ".",
			})
			if err != nil {
				return fail("supersede", err)
			}
			fmt.Fprintf(out, "supersede %d %d %s %d\n", e.ID, e.LedgerIndex, e.SHA256, old)
			mine[k] = e.ID
		case r < 18 && len(mine) > 0: // a withdrawal
			k := rng.IntN(len(mine))
			id := mine[k]
			if _, err := svc.Retract(ctx, domain.SystemActor, cfg.OrgID, id, "Uploaded to the wrong control."); err != nil {
				return fail("retract", err)
			}
			fmt.Fprintf(out, "retract %d\n", id)
			mine = append(mine[:k], mine[k+1:]...)
		default: // a checkpoint, as the publisher makes them
			cp, err := pub.Checkpoint(ctx, cfg.OrgID)
			if err != nil {
				return fail("checkpoint", err)
			}
			fmt.Fprintf(out, "checkpoint %s\n", base64.StdEncoding.EncodeToString([]byte(cp.Note)))
		}
	}
}

// crashLog is what the crash children acknowledged, over every round.
type crashLog struct {
	added       map[int64]ackedItem // by ID
	superseded  map[int64]int64     // old ID → new ID
	retracted   map[int64]bool
	checkpoints []string
	lines       int
}

type ackedItem struct {
	index int64
	sha   string
	round int
}

// record reads one line a child printed.
func (l *crashLog) record(tb testing.TB, round int, line string) {
	tb.Helper()
	f := strings.Fields(line)
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			tb.Fatalf("round %d: bad line %q", round, line)
		}
		return n
	}
	l.lines++
	switch {
	case len(f) == 1 && f[0] == "ready":
		l.lines--
	case len(f) == 4 && f[0] == "add":
		l.added[num(f[1])] = ackedItem{index: num(f[2]), sha: f[3], round: round}
	case len(f) == 5 && f[0] == "supersede":
		l.added[num(f[1])] = ackedItem{index: num(f[2]), sha: f[3], round: round}
		l.superseded[num(f[4])] = num(f[1])
	case len(f) == 2 && f[0] == "retract":
		l.retracted[num(f[1])] = true
	case len(f) == 2 && f[0] == "checkpoint":
		b, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			tb.Fatalf("round %d: bad checkpoint line %q", round, line)
		}
		l.checkpoints = append(l.checkpoints, string(b))
	default:
		tb.Fatalf("round %d: unexpected line %q", round, line)
	}
}

// crashRounds is how many times the child is killed.
const crashRounds = 24

// TestCrashDurability kills a process that appends evidence with SIGKILL at random moments,
// restarts it, and checks that everything it acknowledged survived and that the ledger
// still verifies, consistent with every checkpoint it published: on SQLite, and on
// PostgreSQL when EVIDENT_TEST_POSTGRES_URL is set.
func TestCrashDurability(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, v, err)
		}
		seed = s
	}
	t.Logf("crash seed %d (replay with %s=%d)", seed, crashSeedEnv, seed)
	t.Run("sqlite", func(t *testing.T) {
		crashTest(t, filepath.Join(t.TempDir(), "evident.db"), seed)
	})
	t.Run("postgres", func(t *testing.T) {
		crashTest(t, postgresURL(t), seed)
	})
}

func crashTest(t *testing.T, dsn string, seed uint64) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	org := &domain.Organization{Slug: "crash", Name: "Crash Test Ltd"}
	lib := []domain.LibraryControl{
		{Ref: "AC-01", Title: "Access review", Domain: "Access", Frequency: domain.FrequencyQuarterly, Criteria: []string{"CC6.2"}},
		{Ref: "CM-01", Title: "Change approval", Domain: "Change", Frequency: domain.FrequencyPerEvent, Criteria: []string{"CC8.1"}},
	}
	if err := st.CreateOrganization(ctx, domain.SystemActor, org, nil, lib); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	cs, err := st.Controls(ctx, org.ID, domain.ControlFilter{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := crashChildConfig{DSN: dsn, DataDir: data, KeyPath: filepath.Join(data, "ledger.key"), OrgID: org.ID, Seed: seed}
	for _, c := range cs {
		cfg.Controls = append(cfg.Controls, c.ID)
	}
	_, vkey, err := evidence.LoadOrCreateKey(cfg.KeyPath)
	if err != nil {
		t.Fatalf("signing key: %v", err)
	}

	rng := rand.New(rand.NewPCG(seed, 0))
	log := &crashLog{added: map[int64]ackedItem{}, superseded: map[int64]int64{}, retracted: map[int64]bool{}}
	cfg.DSN = childDSN(t, dsn)
	for round := range crashRounds {
		cfg.Round = round
		runCrashChild(t, cfg, rng, log)
	}
	waitForChildSessions(t, dsn)
	if len(log.added) == 0 || len(log.checkpoints) == 0 {
		t.Fatalf("the children acknowledged %d items and %d checkpoints; want some of each", len(log.added), len(log.checkpoints))
	}
	stored := verifyCrashLog(t, st, blobOpener(t, data), org.ID, vkey, log)
	t.Logf("%d kills: %d changes and %d checkpoints acknowledged; %d items stored, %d of them committed but not acknowledged before the kill",
		crashRounds, log.lines, len(log.checkpoints), stored, stored-len(log.added))
}

// crashChildApp names the crash children's PostgreSQL sessions.
const crashChildApp = "evident_crash_child"

// childDSN is the database the children open: on PostgreSQL, with sessions named so that
// the parent can tell when the last one has gone.
func childDSN(tb testing.TB, dsn string) string {
	tb.Helper()
	if !strings.HasPrefix(dsn, "postgres") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", crashChildApp)
	u.RawQuery = q.Encode()
	return u.String()
}

// waitForChildSessions waits until PostgreSQL has ended the sessions of the killed
// children. A child killed just after sending COMMIT has its transaction committed by
// the server after the child is gone; the checks must see it, or else not at all.
func waitForChildSessions(tb testing.TB, dsn string) {
	tb.Helper()
	if !strings.HasPrefix(dsn, "postgres") {
		return
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, crashChildApp).Scan(&n); err != nil {
			tb.Fatalf("sessions of the crash children: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("PostgreSQL still has %d sessions of killed crash children after a minute", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runCrashChild starts a child, lets it append, kills it at a random moment and records
// every line it printed in full.
func runCrashChild(t *testing.T, cfg crashChildConfig, rng *rand.Rand, log *crashLog) {
	t.Helper()
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(b))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash child: %v", err)
	}
	var (
		mu    sync.Mutex
		lines []string
		acks  = make(chan struct{}, 1024)
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				// A line cut short by the kill was never acknowledged.
				return
			}
			mu.Lock()
			lines = append(lines, strings.TrimSuffix(line, "\n"))
			mu.Unlock()
			select {
			case acks <- struct{}{}:
			default:
			}
		}
	}()

	// Kill at a random moment: now and then early, while the child is still starting,
	// otherwise after a random number of acknowledged changes and a random pause.
	if rng.IntN(6) == 0 {
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
	} else {
		want := 1 + rng.IntN(40)
		deadline := time.After(time.Minute)
		for n := 0; n < want; {
			select {
			case <-acks:
				mu.Lock()
				n = len(lines)
				mu.Unlock()
			case <-done:
				t.Fatalf("round %d: the crash child ended by itself:\n%s", cfg.Round, stderr.String())
			case <-deadline:
				t.Fatalf("round %d: the crash child printed %d lines in a minute; want %d:\n%s", cfg.Round, n, want, stderr.String())
			}
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-done
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the crash child ended with %v, not by SIGKILL:\n%s", cfg.Round, err, stderr.String())
	}
	for _, line := range lines {
		log.record(t, cfg.Round, line)
	}
}

// blobOpener returns the blob store the children wrote files to.
func blobOpener(tb testing.TB, data string) blob.Store {
	tb.Helper()
	b, err := blob.Open(context.Background(), "", data)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// verifyCrashLog checks the database against what the children acknowledged: every
// item is there with its ledger index and content, every correction and withdrawal is
// recorded, the ledger's entries are gapless and hash to the stored tree's root, and
// every published checkpoint is signed and consistent with the final tree. Items that
// were committed but not acknowledged before a kill must be whole too: each with its
// ledger entry and its content. It returns how many items are stored.
func verifyCrashLog(t *testing.T, st *store.Store, blobs blob.Store, orgID int64, vkey string, log *crashLog) int {
	t.Helper()
	ctx := context.Background()
	svc := &evidence.Service{Store: st, Blobs: blobs}
	mem, entries := ledgerTree(t, st, orgID)
	n := mem.Size()
	stored, err := ledger.TreeRoot(n, st.LedgerHashReader(ctx, orgID))
	if err != nil {
		t.Fatalf("root of the stored hashes: %v", err)
	}
	if root, err := mem.Root(); err != nil || root != stored {
		t.Fatalf("the root recomputed from the %d entries is %v (%v); the stored hashes give %v", n, root, err, stored)
	}

	published, err := st.ListCheckpoints(ctx, orgID, domain.CheckpointFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	notes := append([]string(nil), log.checkpoints...)
	for _, cp := range published {
		notes = append(notes, cp.Note)
	}
	for _, note := range notes {
		cp, err := ledger.ParseCheckpoint([]byte(note), vkey)
		if err != nil {
			t.Errorf("checkpoint does not verify with the key: %v\n%s", err, note)
			continue
		}
		if cp.Size > n {
			t.Errorf("checkpoint of size %d, but the ledger has %d entries: acknowledged entries were lost", cp.Size, n)
			continue
		}
		if root, err := ledger.TreeRoot(cp.Size, mem); err != nil || root != cp.Root {
			t.Errorf("checkpoint of size %d has root %v, but the final ledger's first %d entries give %v (%v)", cp.Size, cp.Root, cp.Size, root, err)
		}
	}

	for id, want := range log.added {
		e, err := st.Evidence(ctx, orgID, id)
		if err != nil {
			t.Errorf("item %d acknowledged in round %d: %v", id, want.round, err)
			continue
		}
		if e.LedgerIndex != want.index || e.SHA256 != want.sha {
			t.Errorf("item %d: ledger index %d, sha256 %s; acknowledged as %d, %s", id, e.LedgerIndex, e.SHA256, want.index, want.sha)
		}
		if want.index >= n {
			t.Errorf("item %d acknowledged at ledger index %d, past the ledger's %d entries", id, want.index, n)
		} else if ev := entries[want.index]; ev.Subject != "evidence:"+strconv.FormatInt(id, 10) {
			t.Errorf("ledger entry %d is %s %s; want the entry of item %d", want.index, ev.Type, ev.Subject, id)
		}
		checkContent(t, svc, orgID, e)
	}
	for old, replacement := range log.superseded {
		e, err := st.Evidence(ctx, orgID, old)
		switch {
		case err != nil:
			t.Errorf("item %d, acknowledged as superseded: %v", old, err)
		case e.SupersededBy == nil || *e.SupersededBy != replacement:
			t.Errorf("item %d: superseded by %v; acknowledged as superseded by %d", old, e.SupersededBy, replacement)
		}
	}
	for id := range log.retracted {
		e, err := st.Evidence(ctx, orgID, id)
		switch {
		case err != nil:
			t.Errorf("item %d, acknowledged as retracted: %v", id, err)
		case e.RetractedAt == nil:
			t.Errorf("item %d is not retracted; it was acknowledged as retracted", id)
		}
	}

	count := 0
	f := domain.EvidenceFilter{IncludeSuperseded: true, IncludeRetracted: true, Limit: 1000}
	for {
		page, err := st.EvidenceList(ctx, orgID, f)
		if err != nil {
			t.Fatal(err)
		}
		for i := range page {
			e := &page[i]
			count++
			if _, acked := log.added[e.ID]; acked {
				continue
			}
			if e.LedgerIndex >= n {
				t.Errorf("item %d %q, committed but not acknowledged, has ledger index %d, past the ledger's %d entries", e.ID, e.Title, e.LedgerIndex, n)
			} else if ev := entries[e.LedgerIndex]; ev.Subject != "evidence:"+strconv.FormatInt(e.ID, 10) {
				t.Errorf("item %d %q, committed but not acknowledged, has ledger index %d, which records %s %s %s", e.ID, e.Title, e.LedgerIndex, ev.Type, ev.Subject, ev.Data)
			}
			checkContent(t, svc, orgID, e)
		}
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	return count
}

// ledgerTree reads the organization's whole ledger, checking that its indexes count from
// 0 without gaps, and returns the tree its entries make and the entries.
func ledgerTree(tb testing.TB, st *store.Store, orgID int64) (*ledger.MemoryHashes, []domain.Event) {
	tb.Helper()
	ctx := context.Background()
	n, err := st.LedgerSize(ctx, orgID)
	if err != nil {
		tb.Fatal(err)
	}
	var all []domain.Event
	mem := &ledger.MemoryHashes{}
	for from := int64(0); from < n; from += 10000 {
		evs, err := st.LedgerEvents(ctx, orgID, from, min(from+10000, n))
		if err != nil {
			tb.Fatalf("ledger entries from %d: %v", from, err)
		}
		for _, ev := range evs {
			if ev.Index != int64(len(all)) {
				tb.Fatalf("ledger entry %d has index %d: the indexes have a gap or a repeat", len(all), ev.Index)
			}
			h, err := ledger.FromEvent(ev).Hash()
			if err != nil {
				tb.Fatalf("entry %d: %v", ev.Index, err)
			}
			if _, err := mem.AppendLeafHash(h); err != nil {
				tb.Fatal(err)
			}
			all = append(all, ev)
		}
	}
	if int64(len(all)) != n {
		tb.Fatalf("read %d ledger entries; the ledger has %d", len(all), n)
	}
	return mem, all
}

// checkContent checks that an item's content is stored, in the database or the blob
// store, and matches its SHA-256.
func checkContent(tb testing.TB, svc *evidence.Service, orgID int64, e *domain.Evidence) {
	tb.Helper()
	rc, err := svc.Open(context.Background(), orgID, e)
	if err != nil {
		tb.Errorf("item %d: content %s: %v", e.ID, e.SHA256, err)
		return
	}
	defer rc.Close()
	content, err := io.ReadAll(rc)
	if err != nil {
		tb.Errorf("item %d: read content: %v", e.ID, err)
		return
	}
	if got := sha256Of(content); got != e.SHA256 {
		tb.Errorf("item %d: content hashes to %s; want %s", e.ID, got, e.SHA256)
	}
}
