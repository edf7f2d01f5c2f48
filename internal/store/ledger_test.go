package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// ledgerEntries returns the organization's whole ledger, oldest first.
func ledgerEntries(tb testing.TB, s *store.Store, orgID int64) []domain.Event {
	tb.Helper()
	size, err := s.LedgerSize(ctx, orgID)
	if err != nil {
		tb.Fatalf("LedgerSize(%d) = %v", orgID, err)
	}
	var all []domain.Event
	for from := int64(0); from < size; from += 10000 {
		page, err := s.LedgerEvents(ctx, orgID, from, min(from+10000, size))
		if err != nil {
			tb.Fatalf("LedgerEvents(%d, %d) = %v", orgID, from, err)
		}
		all = append(all, page...)
	}
	if int64(len(all)) != size {
		tb.Fatalf("LedgerEvents gave %d entries; LedgerSize says %d", len(all), size)
	}
	return all
}

// memoryLedger rebuilds the organization's tree in memory from the canonical encodings
// of its stored entries alone.
func memoryLedger(tb testing.TB, events []domain.Event) *ledger.MemoryHashes {
	tb.Helper()
	var m ledger.MemoryHashes
	for _, e := range events {
		c, err := ledger.FromEvent(e).Canonical()
		if err != nil {
			tb.Fatalf("entry %d (%s): Canonical() = %v", e.Index, e.Type, err)
		}
		i, err := m.Append(c)
		if err != nil || i != e.Index {
			tb.Fatalf("MemoryHashes.Append(entry %d) = %d, %v", e.Index, i, err)
		}
	}
	return &m
}

// checkLedger checks that the organization's stored hashes are exactly the tree of its
// entries, hash for hash, and that both give the same root at every size; it returns the
// root of the whole ledger.
func checkLedger(tb testing.TB, s *store.Store, orgID int64) tlog.Hash {
	tb.Helper()
	events := ledgerEntries(tb, s, orgID)
	if diff := cmp.Diff(trail(tb, s, orgID), events); diff != "" {
		tb.Fatalf("LedgerEvents and Events disagree (-events +ledger):\n%s", diff)
	}
	mem := memoryLedger(tb, events)
	n := int64(len(events))
	r := s.LedgerHashReader(ctx, orgID)
	indexes := make([]int64, tlog.StoredHashCount(n))
	for i := range indexes {
		indexes[i] = int64(i)
	}
	stored, err := r.ReadHashes(indexes)
	if err != nil {
		tb.Fatalf("LedgerHashReader(%d).ReadHashes(all %d) = %v", orgID, len(indexes), err)
	}
	want, err := mem.ReadHashes(indexes)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range want {
		if stored[i] != want[i] {
			tb.Fatalf("organization %d: stored hash %d = %s; the entries give %s", orgID, i, stored[i], want[i])
		}
	}
	if _, err := r.ReadHashes([]int64{int64(len(indexes))}); err == nil {
		tb.Errorf("ReadHashes(%d) beyond a ledger of %d entries = nil error; want an error", len(indexes), n)
	}
	for size := int64(1); size <= n; size++ {
		got, err := tlog.TreeHash(size, r)
		if err != nil {
			tb.Fatalf("tlog.TreeHash(%d, stored) = %v", size, err)
		}
		if wantRoot, _ := ledger.TreeRoot(size, mem); got != wantRoot {
			tb.Fatalf("organization %d: root of the first %d entries = %s from stored hashes, %s from the entries", orgID, size, got, wantRoot)
		}
	}
	root, err := mem.Root()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// noteItem is an inline note for the given controls, covering Q1 2026.
func noteItem(title string, controls ...int64) domain.NewEvidence {
	return domain.NewEvidence{
		Evidence: domain.Evidence{
			Kind: domain.EvidenceNote, Title: title, ControlIDs: controls, MediaType: "text/plain; charset=utf-8",
			PeriodStart: day("2026-01-01"), PeriodEnd: day("2026-03-31"), Source: admin.Email,
		},
		Content: []byte("Reviewed: " + title),
	}
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLedgerMatchesEntries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		acme, other := newOrg(t, s, "acme"), newOrg(t, s, "other")
		mfa := controlByRef(t, s, acme.ID, "AC-01")
		training := controlByRef(t, s, acme.ID, "HR-01")
		statuses := []domain.ControlStatus{domain.StatusInProgress, domain.StatusImplemented}
		for i := range 5 {
			_, err := s.UpdateControl(ctx, admin, acme.ID, mfa.ID, domain.ControlChange{Status: &statuses[i%2]})
			must(t, "UpdateControl", err)
			newMember(t, s, other.ID, fmt.Sprintf("p%d@other.example", i), domain.RoleMember)
		}
		var batch []domain.NewEvidence
		for i := range 40 {
			batch = append(batch, noteItem(fmt.Sprintf("Batch item %d", i), mfa.ID, training.ID))
		}
		added, err := s.AddEvidence(ctx, admin, acme.ID, batch)
		must(t, "AddEvidence(40)", err)
		for i := range 5 {
			_, err := s.AddEvidence(ctx, admin, acme.ID, []domain.NewEvidence{noteItem(fmt.Sprintf("Single %d", i), mfa.ID)})
			must(t, "AddEvidence(1)", err)
		}
		_, err = s.SupersedeEvidence(ctx, admin, acme.ID, added[0].ID, noteItem("Corrected", mfa.ID))
		must(t, "SupersedeEvidence", err)
		_, err = s.RetractEvidence(ctx, admin, acme.ID, added[1].ID, "uploaded twice")
		must(t, "RetractEvidence", err)

		checkLedger(t, s, acme.ID)
		checkLedger(t, s, other.ID)
		if n, err := s.LedgerSize(ctx, acme.ID); err != nil || n != 1+5+40+5+2 {
			t.Errorf("LedgerSize(acme) = %d, %v; want %d", n, err, 1+5+40+5+2)
		}
	})
}

func TestLedgerEventsRange(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		c := controlByRef(t, s, o.ID, "AC-01")
		for _, st := range []domain.ControlStatus{domain.StatusInProgress, domain.StatusImplemented, domain.StatusInProgress} {
			_, err := s.UpdateControl(ctx, admin, o.ID, c.ID, domain.ControlChange{Status: &st})
			must(t, "UpdateControl", err)
		}
		tests := []struct {
			name     string
			from, to int64
			want     []int64
			field    string
		}{
			{"all", 0, 4, []int64{0, 1, 2, 3}, ""},
			{"middle", 1, 3, []int64{1, 2}, ""},
			{"empty range", 2, 2, []int64{}, ""},
			{"past the end", 3, 100, []int64{3}, ""},
			{"negative from", -1, 2, nil, "from"},
			{"to before from", 3, 2, nil, "to"},
			{"too many", 0, 10001, nil, "to"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.LedgerEvents(ctx, o.ID, tt.from, tt.to)
				if tt.field != "" {
					wantInvalid(t, fmt.Sprintf("LedgerEvents(%d, %d)", tt.from, tt.to), err, tt.field)
					return
				}
				must(t, "LedgerEvents", err)
				idx := []int64{}
				for _, e := range got {
					idx = append(idx, e.Index)
				}
				if diff := cmp.Diff(tt.want, idx); diff != "" {
					t.Errorf("LedgerEvents(%d, %d) indexes mismatch (-want +got):\n%s", tt.from, tt.to, diff)
				}
			})
		}
		_, err := s.LedgerSize(ctx, o.ID+1000)
		wantKind(t, "LedgerSize(unknown organization)", err, domain.KindNotFound)
	})
}

// TestLedgerRollbackLeavesNoTrace checks that hashes of a transaction that rolled back
// never serve a later append, even when another process (or replica) appends different
// entries at the same positions meanwhile.
func TestLedgerRollbackLeavesNoTrace(t *testing.T) {
	t.Parallel()
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		o := newOrg(t, a, "acme")
		c := controlByRef(t, a, o.ID, "AC-01")
		statuses := []domain.ControlStatus{domain.StatusInProgress, domain.StatusImplemented}
		for k := 1; k <= 5; k++ {
			before, err := a.LedgerSize(ctx, o.ID)
			must(t, "LedgerSize", err)
			must(t, "AppendAndRollBackForTest", a.AppendAndRollBackForTest(ctx, admin, o.ID, k))
			if n, err := a.LedgerSize(ctx, o.ID); err != nil || n != before {
				t.Fatalf("LedgerSize after a rolled-back append = %d, %v; want %d", n, err, before)
			}
			for i := range k {
				_, err := b.UpdateControl(ctx, admin, o.ID, c.ID, domain.ControlChange{Status: &statuses[i%2]})
				must(t, "UpdateControl on the other store", err)
			}
			_, err = a.AddEvidence(ctx, admin, o.ID, []domain.NewEvidence{noteItem(fmt.Sprintf("After %d", k), c.ID)})
			must(t, "AddEvidence after the rollback", err)
		}
		checkLedger(t, a, o.ID)
		checkLedger(t, b, o.ID)
	})
}

// TestLedgerConcurrentAppends has two stores over one database, as two processes or
// replicas, append to one organization at once: the result is one consistent ledger.
func TestLedgerConcurrentAppends(t *testing.T) {
	t.Parallel()
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		o := newOrg(t, a, "acme")
		c := controlByRef(t, a, o.ID, "AC-01")
		const perWriter = 12
		var wg sync.WaitGroup
		errs := make(chan error, 4*perWriter)
		for w, s := range []*store.Store{a, b, a, b} {
			wg.Go(func() {
				for i := range perWriter {
					var err error
					if i%3 == 0 {
						_, err = s.AddEvidence(ctx, admin, o.ID, []domain.NewEvidence{
							noteItem(fmt.Sprintf("Writer %d item %d", w, i), c.ID),
							noteItem(fmt.Sprintf("Writer %d item %d bis", w, i), c.ID),
						})
					} else {
						st := []domain.ControlStatus{domain.StatusInProgress, domain.StatusImplemented}[i%2]
						_, err = s.UpdateControl(ctx, admin, o.ID, c.ID, domain.ControlChange{Status: &st})
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent append: %v", err)
		}
		ra, rb := checkLedger(t, a, o.ID), checkLedger(t, b, o.ID)
		if ra != rb {
			t.Errorf("the two stores see roots %s and %s", ra, rb)
		}
	})
}

// TestMigrationBackfillsLedger fills a database as version 1 left it, with events that
// have no ledger hashes, and checks that migrating stores their hashes in order and that
// the ledger grows from there.
func TestMigrationBackfillsLedger(t *testing.T) {
	t.Parallel()
	storetest.EachEmpty(t, func(t *testing.T, s *store.Store) {
		must(t, "MigrateToForTest(1)", s.MigrateToForTest(ctx, 1))
		at := func(sec int) any {
			tm := time.Date(2026, 2, 3, 4, 5, sec, 123456000, time.UTC)
			if s.Engine() == "sqlite" {
				return tm.Format("2006-01-02T15:04:05.000000Z")
			}
			return tm
		}
		datas := []string{
			`{"slug": "old", "name": "Old Org", "controls": []}`,
			`{"z": 1, "a": [1, 2.50, {"y": null, "x": true}]}`,
			`{"name":"Ünïcödé \u00e9 \"quoted\" </script>"}`,
			`null`,
			`{"big": 12345678901234567890}`,
		}
		for _, slug := range []string{"old", "older", "empty"} {
			must(t, "insert organization", s.ExecForTest(ctx, `INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3)`, slug, "Org "+slug, at(0)))
		}
		orgs, err := s.Organizations(ctx)
		must(t, "Organizations", err)
		ids := map[string]int64{}
		for _, o := range orgs {
			ids[o.Slug] = o.ID
		}
		for _, slug := range []string{"old", "older"} {
			for i, d := range datas {
				err := s.ExecForTest(ctx, `INSERT INTO events (org_id, idx, at, actor_id, actor, type, subject, data)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, ids[slug], i, at(i), 0, "system", "test.v1", fmt.Sprintf("thing:%d", i), d)
				must(t, "insert event", err)
			}
		}
		// A second page of events for one organization.
		for from := len(datas); from < 1100; from += 100 {
			q := `INSERT INTO events (org_id, idx, at, actor_id, actor, type, subject, data) VALUES `
			var args []any
			for i := from; i < from+100 && i < 1100; i++ {
				if i > from {
					q += ", "
				}
				n := len(args)
				q += fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8)
				args = append(args, ids["older"], i, at(i%60), 7, "ops@example.com", "test.v1", "", `{"i":`+fmt.Sprint(i)+`}`)
			}
			must(t, "insert events", s.ExecForTest(ctx, q, args...))
		}
		must(t, "Migrate", s.Migrate(ctx))
		must(t, "CheckSchema", s.CheckSchema(ctx))

		checkLedger(t, s, ids["old"])
		checkLedger(t, s, ids["older"])
		if n, err := s.LedgerSize(ctx, ids["older"]); err != nil || n != 1100 {
			t.Errorf("LedgerSize(older) = %d, %v; want 1100", n, err)
		}
		// The ledgers grow from where the back-fill left them.
		ctl := &domain.Control{OrgID: ids["old"], Ref: "NEW-1", Title: "New control", Frequency: domain.FrequencyMonthly}
		must(t, "CreateControl", s.CreateControl(ctx, admin, ctl))
		_, err = s.AddEvidence(ctx, admin, ids["old"], []domain.NewEvidence{noteItem("After the upgrade", ctl.ID)})
		must(t, "AddEvidence", err)
		ctl2 := &domain.Control{OrgID: ids["empty"], Ref: "NEW-1", Title: "New control", Frequency: domain.FrequencyMonthly}
		must(t, "CreateControl", s.CreateControl(ctx, admin, ctl2))
		checkLedger(t, s, ids["old"])
		checkLedger(t, s, ids["empty"])
		if n, err := s.LedgerSize(ctx, ids["old"]); err != nil || n != int64(len(datas))+2 {
			t.Errorf("LedgerSize(old) = %d, %v; want %d", n, err, len(datas)+2)
		}
	})
}

// version5Ledgers fills a database migrated to version 5 with organizations whose events
// have their stored hashes one row each in ledger_hashes, as versions 2 to 5 kept them:
// counts gives each organization's number of events. It returns the organizations' IDs
// and their trees, by slug.
func version5Ledgers(t *testing.T, s *store.Store, counts map[string]int) (map[string]int64, map[string]*ledger.MemoryHashes) {
	t.Helper()
	must(t, "MigrateToForTest(5)", s.MigrateToForTest(ctx, 5))
	at := time.Date(2026, 2, 3, 4, 5, 6, 123456000, time.UTC)
	atValue := any(at)
	if s.Engine() == "sqlite" {
		atValue = at.Format("2006-01-02T15:04:05.000000Z")
	}
	ids, trees := map[string]int64{}, map[string]*ledger.MemoryHashes{}
	for slug := range counts {
		must(t, "insert organization", s.ExecForTest(ctx, `INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3)`, slug, "Org "+slug, atValue))
	}
	orgs, err := s.Organizations(ctx)
	must(t, "Organizations", err)
	for _, o := range orgs {
		ids[o.Slug] = o.ID
	}
	for slug, n := range counts {
		var events []domain.Event
		for i := range n {
			e := domain.Event{OrgID: ids[slug], Index: int64(i), At: at, Actor: "system", Type: "test.v5",
				Subject: fmt.Sprintf("thing:%d", i), Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}
			events = append(events, e)
			must(t, "insert event", s.ExecForTest(ctx, `INSERT INTO events (org_id, idx, at, actor_id, actor, type, subject, data)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.OrgID, e.Index, atValue, e.ActorID, e.Actor, e.Type, e.Subject, string(e.Data)))
		}
		tree := memoryLedger(t, events)
		indexes := make([]int64, tlog.StoredHashCount(int64(n)))
		for i := range indexes {
			indexes[i] = int64(i)
		}
		hashes, err := tree.ReadHashes(indexes)
		must(t, "ReadHashes", err)
		for from := 0; from < len(hashes); from += 200 {
			q := `INSERT INTO ledger_hashes (org_id, hash_index, hash) VALUES `
			var args []any
			for i := from; i < min(from+200, len(hashes)); i++ {
				if i > from {
					q += ", "
				}
				q += fmt.Sprintf("($%d, $%d, $%d)", len(args)+1, len(args)+2, len(args)+3)
				args = append(args, ids[slug], int64(i), hashes[i][:])
			}
			must(t, "insert hashes", s.ExecForTest(ctx, q, args...))
		}
		trees[slug] = tree
	}
	return ids, trees
}

// TestMigrationMovesLedgerHashes fills a database as version 5 left it, with one row per
// stored hash, and checks that migrating moves every hash, as stored, into one row per
// entry, and that the ledgers grow from there.
func TestMigrationMovesLedgerHashes(t *testing.T) {
	t.Parallel()
	storetest.EachEmpty(t, func(t *testing.T, s *store.Store) {
		ids, _ := version5Ledgers(t, s, map[string]int{"big": 2345, "small": 7, "empty": 0})
		// A hash that no longer matches its entry moves as it is: the move recomputes
		// nothing, so that the tree still shows what was done to it.
		altered := tlog.StoredHashIndex(1, 1) // the subtree of entries 2 and 3
		var junk tlog.Hash
		copy(junk[:], "altered while at version 5......")
		must(t, "alter hash", s.ExecForTest(ctx, `UPDATE ledger_hashes SET hash = $1 WHERE org_id = $2 AND hash_index = $3`,
			junk[:], ids["small"], altered))

		must(t, "Migrate", s.Migrate(ctx))
		must(t, "CheckSchema", s.CheckSchema(ctx))
		if err := s.ExecForTest(ctx, `SELECT count(*) FROM ledger_hashes`); err == nil {
			t.Errorf("ledger_hashes still exists after the migration")
		}
		checkLedger(t, s, ids["big"])
		got, err := s.LedgerHashReader(ctx, ids["small"]).ReadHashes([]int64{altered, altered - 1})
		must(t, "ReadHashes", err)
		if got[0] != junk {
			t.Errorf("altered hash %d = %s after the move; want it as stored, %s", altered, got[0], junk)
		}

		// The ledgers grow from where the move left them.
		for _, slug := range []string{"big", "empty"} {
			ctl := &domain.Control{OrgID: ids[slug], Ref: "NEW-1", Title: "New control", Frequency: domain.FrequencyMonthly}
			must(t, "CreateControl", s.CreateControl(ctx, admin, ctl))
			_, err = s.AddEvidence(ctx, admin, ids[slug], []domain.NewEvidence{noteItem("After the upgrade", ctl.ID)})
			must(t, "AddEvidence", err)
			checkLedger(t, s, ids[slug])
		}
		if n, err := s.LedgerSize(ctx, ids["big"]); err != nil || n != 2345+2 {
			t.Errorf("LedgerSize(big) = %d, %v; want %d", n, err, 2345+2)
		}
	})
}

// TestMigrationRefusesBrokenLedgerHashes checks that the move of version 6 stops, changing
// nothing, when a ledger's stored hashes are incomplete or reach beyond its entries.
func TestMigrationRefusesBrokenLedgerHashes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(s *store.Store, orgID int64) error
		want  string
	}{
		{"missing", func(s *store.Store, orgID int64) error {
			return s.ExecForTest(ctx, `DELETE FROM ledger_hashes WHERE org_id = $1 AND hash_index = $2`, orgID, ledger.AppendIndex(1500))
		}, fmt.Sprintf("stored hash %d is missing (entry 1500)", ledger.AppendIndex(1500))},
		{"missing at the end", func(s *store.Store, orgID int64) error {
			return s.ExecForTest(ctx, `DELETE FROM ledger_hashes WHERE org_id = $1 AND hash_index = $2`, orgID, tlog.StoredHashCount(1600)-1)
		}, fmt.Sprintf("stored hash %d is missing (entry 1599)", tlog.StoredHashCount(1600)-1)},
		{"beyond", func(s *store.Store, orgID int64) error {
			return s.ExecForTest(ctx, `INSERT INTO ledger_hashes (org_id, hash_index, hash) VALUES ($1, $2, $3)`,
				orgID, tlog.StoredHashCount(1600)+3, make([]byte, 32))
		}, "1 stored hashes lie beyond the ledger's 1600 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.EachEmpty(t, func(t *testing.T, s *store.Store) {
				ids, _ := version5Ledgers(t, s, map[string]int{"broken": 1600})
				must(t, "break the ledger", tc.spoil(s, ids["broken"]))
				err := s.Migrate(ctx)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Migrate = %v; want an error saying %q", err, tc.want)
				}
				if err := s.CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "migrations 6") {
					t.Errorf("CheckSchema after the failed migration = %v; want migration 6 pending", err)
				}
				if err := s.ExecForTest(ctx, `SELECT count(*) FROM ledger_entry_hashes`); err == nil {
					t.Errorf("ledger_entry_hashes exists after the failed migration")
				}
				if err := s.ExecForTest(ctx, `SELECT count(*) FROM ledger_hashes`); err != nil {
					t.Errorf("ledger_hashes after the failed migration: %v; want it kept", err)
				}
			})
		})
	}
}

func TestCheckpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		acme, other := newOrg(t, s, "acme"), newOrg(t, s, "other")
		c := controlByRef(t, s, acme.ID, "AC-01")
		needing := func() []int64 {
			t.Helper()
			ids, err := s.OrgsNeedingCheckpoint(ctx)
			must(t, "OrgsNeedingCheckpoint", err)
			return ids
		}
		if diff := cmp.Diff([]int64{acme.ID, other.ID}, needing()); diff != "" {
			t.Errorf("OrgsNeedingCheckpoint before any checkpoint (-want +got):\n%s", diff)
		}
		_, err := s.LatestCheckpoint(ctx, acme.ID)
		wantKind(t, "LatestCheckpoint before any", err, domain.KindNotFound)

		// save stores a checkpoint of the organization's whole ledger, as the publisher does.
		save := func(orgID int64, note string) domain.Checkpoint {
			t.Helper()
			size, err := s.LedgerSize(ctx, orgID)
			must(t, "LedgerSize", err)
			root, err := ledger.TreeRoot(size, s.LedgerHashReader(ctx, orgID))
			must(t, "TreeRoot", err)
			cp := domain.Checkpoint{OrgID: orgID, Size: size, Root: root, Note: note}
			must(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, &cp))
			return cp
		}
		first := save(acme.ID, "note 1")
		if diff := cmp.Diff([]int64{other.ID}, needing()); diff != "" {
			t.Errorf("OrgsNeedingCheckpoint after acme's (-want +got):\n%s", diff)
		}
		st := domain.StatusImplemented
		_, err = s.UpdateControl(ctx, admin, acme.ID, c.ID, domain.ControlChange{Status: &st})
		must(t, "UpdateControl", err)
		if diff := cmp.Diff([]int64{acme.ID, other.ID}, needing()); diff != "" {
			t.Errorf("OrgsNeedingCheckpoint after acme grew (-want +got):\n%s", diff)
		}
		second := save(acme.ID, "note 2")

		// A second save of the same size, as by another replica, keeps the first.
		again := domain.Checkpoint{OrgID: acme.ID, Size: second.Size, Root: second.Root, Note: "note 2 from elsewhere"}
		must(t, "SaveCheckpoint(same size again)", s.SaveCheckpoint(ctx, &again))
		if diff := cmp.Diff(second, again); diff != "" {
			t.Errorf("SaveCheckpoint(same size again) gave (-first +got):\n%s", diff)
		}

		latest, err := s.LatestCheckpoint(ctx, acme.ID)
		must(t, "LatestCheckpoint", err)
		if diff := cmp.Diff(second, *latest); diff != "" {
			t.Errorf("LatestCheckpoint mismatch (-saved +got):\n%s", diff)
		}
		at, err := s.CheckpointAt(ctx, acme.ID, first.Size)
		must(t, "CheckpointAt", err)
		if diff := cmp.Diff(first, *at); diff != "" {
			t.Errorf("CheckpointAt mismatch (-saved +got):\n%s", diff)
		}
		list, err := s.ListCheckpoints(ctx, acme.ID, domain.CheckpointFilter{})
		must(t, "ListCheckpoints", err)
		if diff := cmp.Diff([]domain.Checkpoint{second, first}, list); diff != "" {
			t.Errorf("ListCheckpoints mismatch (-want +got):\n%s", diff)
		}
		list, err = s.ListCheckpoints(ctx, acme.ID, domain.CheckpointFilter{Before: second.Size, Limit: 5})
		must(t, "ListCheckpoints(before)", err)
		if diff := cmp.Diff([]domain.Checkpoint{first}, list); diff != "" {
			t.Errorf("ListCheckpoints(before %d) mismatch (-want +got):\n%s", second.Size, diff)
		}

		bad := []struct {
			name  string
			cp    domain.Checkpoint
			field string
		}{
			{"beyond the ledger", domain.Checkpoint{OrgID: acme.ID, Size: second.Size + 1, Root: second.Root, Note: "n"}, "size"},
			{"wrong root", domain.Checkpoint{OrgID: acme.ID, Size: first.Size, Root: second.Root, Note: "n"}, "root"},
			{"negative size", domain.Checkpoint{OrgID: acme.ID, Size: -1, Note: "n"}, "size"},
			{"no note", domain.Checkpoint{OrgID: acme.ID, Size: first.Size, Root: first.Root}, "note"},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				cp := tt.cp
				wantInvalid(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, &cp), tt.field)
			})
		}
		// Another organization's checkpoints are not found.
		_, err = s.CheckpointAt(ctx, other.ID, first.Size)
		wantKind(t, "CheckpointAt(other organization)", err, domain.KindNotFound)
		list, err = s.ListCheckpoints(ctx, other.ID, domain.CheckpointFilter{})
		must(t, "ListCheckpoints(other)", err)
		if len(list) != 0 {
			t.Errorf("ListCheckpoints(other) = %d checkpoints; want none", len(list))
		}
		cp := domain.Checkpoint{OrgID: acme.ID + 1000, Size: 1, Root: first.Root, Note: "n"}
		wantKind(t, "SaveCheckpoint(unknown organization)", s.SaveCheckpoint(ctx, &cp), domain.KindNotFound)
	})
}
