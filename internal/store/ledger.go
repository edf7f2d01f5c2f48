package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// Every event is an entry of its organization's ledger, a Merkle log kept as tlog's
// "stored hashes": appending entry n adds the hashes ledger.HashesForAppend returns, the
// stored hashes at positions ledger.AppendIndex(n) onward, written together as one row of
// ledger_entry_hashes in the transaction of the event. Computing them reads a few earlier
// hashes (the "frontier": the roots of the complete subtrees left of the new entry).
// Those come from three places, cheapest first: the hashes this transaction wrote or read
// already, a process-wide cache of committed hashes, and the database.

// newEvent is an event about to be appended.
type newEvent struct {
	typ     string
	subject string
	data    any    // encoded as JSON, unless raw is set
	raw     []byte // the data already encoded as JSON, or nil
}

// txLedger is one organization's ledger as one transaction sees it while it appends.
type txLedger struct {
	orgID int64
	// start is the ledger's size when the transaction first appended to it. The
	// transaction holds the organization's lock, so every entry below start is committed.
	start int64
	next  int64 // the index of the next entry
	// written holds the stored hashes the transaction wrote, which are those at positions
	// ledger.AppendIndex(start) onward, in order; read holds the committed ones it read.
	written []tlog.Hash
	read    map[int64]tlog.Hash
	// broken is set when an append failed part way; the transaction must not commit.
	broken error
}

// txLedgers is the ledger state of one transaction, for each organization it appended to.
type txLedgers struct {
	orgs []*txLedger
}

// ledgerFor returns the transaction's view of the organization's ledger. The first call
// in a transaction locks the organization (see lockOrg) and reads the ledger's size, so
// that no caller can append without holding the lock.
func (s *Store) ledgerFor(ctx context.Context, tx *sql.Tx, orgID int64) (*txLedger, error) {
	var ls *txLedgers
	if v, ok := s.appending.Load(tx); ok {
		ls = v.(*txLedgers)
		for _, l := range ls.orgs {
			if l.orgID == orgID {
				if l.broken != nil {
					return nil, l.broken
				}
				return l, nil
			}
		}
	}
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return nil, err
	}
	n, err := ledgerSize(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	l := &txLedger{orgID: orgID, start: n, next: n, read: map[int64]tlog.Hash{}}
	if ls == nil {
		ls = &txLedgers{}
		s.appending.Store(tx, ls)
	}
	ls.orgs = append(ls.orgs, l)
	return l, nil
}

// hash returns the stored hash at position x if the transaction wrote or read it.
func (l *txLedger) hash(x int64) (tlog.Hash, bool) {
	if base := ledger.AppendIndex(l.start); x >= base {
		if i := x - base; i < int64(len(l.written)) {
			return l.written[i], true
		}
		return tlog.Hash{}, false
	}
	h, ok := l.read[x]
	return h, ok
}

// committed hands the hashes of a committed transaction to the cache.
func (s *Store) committed(ls *txLedgers) {
	for _, l := range ls.orgs {
		s.frontier.add(l.orgID, l.next, l.hash)
	}
}

// brokenLedger reports why the transaction must not commit, if an append failed in it.
func (s *Store) brokenLedger(tx *sql.Tx) error {
	if v, ok := s.appending.Load(tx); ok {
		for _, l := range v.(*txLedgers).orgs {
			if l.broken != nil {
				return l.broken
			}
		}
	}
	return nil
}

// appendEvent adds an entry to the organization's audit trail and ledger, in the
// transaction of the change it records.
func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, actor domain.Actor, orgID int64, typ, subject string, data any) error {
	_, err := s.appendEvents(ctx, tx, actor, orgID, []newEvent{{typ: typ, subject: subject, data: data}})
	return err
}

// appendEvents adds entries to the organization's audit trail and ledger, in the
// transaction of the change they record, and returns the index of the first. It is the
// one place events are written. All get the same time.
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, actor domain.Actor, orgID int64, evs []newEvent) (int64, error) {
	return s.appendEventsAt(ctx, tx, actor, orgID, s.now(), evs)
}

// appendEventsAt is appendEvents at the given time: that of the change they record, when
// the change keeps its time in its own rows too.
func (s *Store) appendEventsAt(ctx context.Context, tx *sql.Tx, actor domain.Actor, orgID int64, at time.Time, evs []newEvent) (int64, error) {
	l, err := s.ledgerFor(ctx, tx, orgID)
	if err != nil {
		return 0, err
	}
	enc, err := encodeEvents(actor, orgID, l.next, at, evs)
	if err != nil {
		return 0, err
	}
	return s.appendEncoded(ctx, tx, l, enc)
}

// encodedEvents are events about to be appended, with the canonical encodings of their
// ledger entries.
type encodedEvents struct {
	events    []domain.Event
	canonical [][]byte
}

// encodeEvents encodes events about to be appended from index first, all at time at. It
// does no I/O, so a large batch can be encoded beside the statements of its transaction.
func encodeEvents(actor domain.Actor, orgID, first int64, at time.Time, evs []newEvent) (encodedEvents, error) {
	name := actor.Email
	if name == "" {
		name = domain.SystemActor.Email
	}
	enc := encodedEvents{events: make([]domain.Event, len(evs)), canonical: make([][]byte, len(evs))}
	// The entries are encoded one after another into one buffer, then cut apart.
	size := 0
	for _, ev := range evs {
		size += 200 + len(name) + len(ev.typ) + len(ev.subject) + len(ev.raw)
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(evs))
	for i, ev := range evs {
		raw := ev.raw
		if raw == nil {
			var err error
			if raw, err = json.Marshal(ev.data); err != nil {
				return encodedEvents{}, fmt.Errorf("event %s: encode data: %w", ev.typ, err)
			}
		}
		e := domain.Event{
			OrgID: orgID, Index: first + int64(i), At: at, ActorID: actor.UserID, Actor: name,
			Type: ev.typ, Subject: ev.subject, Data: raw,
		}
		// The entry is made from the event exactly as its row will store it, so that
		// anyone can recompute it from the row alone.
		var err error
		if buf, err = ledger.FromEvent(e).AppendCanonical(buf); err != nil {
			return encodedEvents{}, fmt.Errorf("event %s: ledger entry: %w", ev.typ, err)
		}
		enc.events[i], ends[i] = e, len(buf)
	}
	start := 0
	for i, end := range ends {
		enc.canonical[i] = buf[start:end:end]
		start = end
	}
	return enc, nil
}

// appendEncoded stores encoded events, which must start at the ledger's next index, with
// the stored hashes they add to the tree, and returns the index of the first.
func (s *Store) appendEncoded(ctx context.Context, tx *sql.Tx, l *txLedger, enc encodedEvents) (int64, error) {
	first := l.next
	if len(enc.events) == 0 {
		return first, nil
	}
	if enc.events[0].Index != first {
		return 0, fmt.Errorf("ledger of organization %d: events encoded from index %d, but the next is %d", l.orgID, enc.events[0].Index, first)
	}
	// From here on a failure leaves hashes in l that were never stored.
	hashes, err := s.entryHashes(ctx, tx, l, enc)
	if err == nil {
		err = s.insertEvents(ctx, tx, enc.events)
	}
	if err == nil {
		err = s.insertEntryHashes(ctx, tx, l.orgID, first, int64(len(enc.events)), hashes)
	}
	if err != nil {
		l.broken = fmt.Errorf("ledger of organization %d: an earlier append failed: %w", l.orgID, err)
		return 0, err
	}
	l.next += int64(len(enc.events))
	return first, nil
}

// entryHashes computes the stored hashes that appending the encoded events adds, in
// order, and records them in l.
func (s *Store) entryHashes(ctx context.Context, tx *sql.Tx, l *txLedger, enc encodedEvents) ([]tlog.Hash, error) {
	r := &txHashReader{ctx: ctx, tx: tx, s: s, l: l}
	from := len(l.written)
	if want := ledger.AppendIndex(enc.events[0].Index) - ledger.AppendIndex(l.start); want != int64(from) {
		return nil, fmt.Errorf("ledger of organization %d: %d hashes written, but entry %d starts at %d", l.orgID, from, enc.events[0].Index, want)
	}
	l.written = slices.Grow(l.written, 2*len(enc.events)+1)
	for i, e := range enc.events {
		hs, err := ledger.HashesForAppend(e.Index, enc.canonical[i], r)
		if err != nil {
			return nil, err
		}
		l.written = append(l.written, hs...)
	}
	return l.written[from:], nil
}

// The statements that append entries, many rows each; well under both engines' limits on
// placeholders.
var (
	insertEventRows = bulk{
		table: `events (org_id, idx, at, actor_id, actor, type, subject, data)`,
		cols:  8, chunk: 100,
	}
	insertEntryHashRows = bulk{table: `ledger_entry_hashes (org_id, idx, hashes)`, cols: 3, chunk: 250}
)

// insertEvents inserts event rows.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []domain.Event) error {
	var times timeValues
	err := s.run(ctx, tx, insertEventRows, len(events), func(a args, i int) args {
		e := &events[i]
		return append(a, e.OrgID, e.Index, times.of(s, e.At), e.ActorID, e.Actor, e.Type, e.Subject, string(e.Data))
	}, nil)
	if err != nil {
		return fmt.Errorf("event %s: %w", events[0].Type, err)
	}
	return nil
}

// insertEntryHashes stores the hashes that appending the n entries from first added, in
// order (those at positions ledger.AppendIndex(first) onward), one row per entry.
func (s *Store) insertEntryHashes(ctx context.Context, tx *sql.Tx, orgID, first, n int64, hashes []tlog.Hash) error {
	base := ledger.AppendIndex(first)
	if got, want := int64(len(hashes)), ledger.AppendIndex(first+n)-base; got != want {
		return fmt.Errorf("ledger of organization %d: %d hashes for entries %d to %d; want %d", orgID, got, first, first+n-1, want)
	}
	flat := make([]byte, 0, tlog.HashSize*len(hashes))
	for i := range hashes {
		flat = append(flat, hashes[i][:]...)
	}
	err := s.run(ctx, tx, insertEntryHashRows, int(n), func(a args, i int) args {
		idx := first + int64(i)
		from, to := tlog.HashSize*(ledger.AppendIndex(idx)-base), tlog.HashSize*(ledger.AppendIndex(idx+1)-base)
		return append(a, orgID, idx, flat[from:to:to])
	}, nil)
	if err != nil {
		return fmt.Errorf("ledger of organization %d: store hashes of entries %d to %d: %w", orgID, first, first+n-1, err)
	}
	return nil
}

// txHashReader reads stored hashes for appends inside a transaction.
type txHashReader struct {
	ctx context.Context // the transaction's; tlog.HashReader has no context of its own
	tx  *sql.Tx
	s   *Store
	l   *txLedger
}

func (r *txHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, x := range indexes {
		if h, ok := r.l.hash(x); ok {
			out[i] = h
		} else if h, ok := r.s.frontier.get(r.l.orgID, x); ok {
			out[i] = h
			r.l.read[x] = h
		} else {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	// Whatever this transaction has not written lies below start, so it is committed.
	found, err := readHashes(r.ctx, r.s.d, r.tx, r.l.orgID, missing)
	if err != nil {
		return nil, err
	}
	for i, x := range indexes {
		if h, ok := found[x]; ok {
			out[i] = h
			r.l.read[x] = h
		}
	}
	return out, nil
}

// hashesPerRead bounds the placeholders of one read of stored hashes.
const hashesPerRead = 500

// readHashes reads the organization's stored hashes at the given positions, each from the
// row of the entry whose append added it; a position that is not stored is an error.
func readHashes(ctx context.Context, d dialect, q querier, orgID int64, indexes []int64) (map[int64]tlog.Hash, error) {
	entries := make([]int64, 0, len(indexes))
	for _, x := range indexes {
		if x < 0 {
			return nil, fmt.Errorf("ledger of organization %d: stored hash %d does not exist", orgID, x)
		}
		entries = append(entries, ledger.AppendedBy(x))
	}
	slices.Sort(entries)
	entries = slices.Compact(entries)
	stored := make(map[int64][]byte, len(entries))
	for rest := entries; len(rest) > 0; {
		chunk := rest[:min(len(rest), hashesPerRead)]
		rest = rest[len(chunk):]
		var a args
		ph := make([]string, len(chunk))
		org := a.seq(d, orgID)
		for i, n := range chunk {
			ph[i] = a.seq(d, n)
		}
		rows, err := q.QueryContext(ctx, `SELECT idx, hashes FROM ledger_entry_hashes WHERE org_id = `+org+
			` AND idx IN (`+strings.Join(ph, ", ")+`)`, a...)
		if err != nil {
			return nil, fmt.Errorf("ledger of organization %d: read hashes: %w", orgID, err)
		}
		for rows.Next() {
			var n int64
			var b []byte
			if err := rows.Scan(&n, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("ledger of organization %d: read hashes: %w", orgID, err)
			}
			if want := tlog.HashSize * (ledger.AppendIndex(n+1) - ledger.AppendIndex(n)); int64(len(b)) != want {
				rows.Close()
				return nil, fmt.Errorf("ledger of organization %d: the stored hashes of entry %d have %d bytes, not %d", orgID, n, len(b), want)
			}
			stored[n] = b
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("ledger of organization %d: read hashes: %w", orgID, err)
		}
	}
	found := make(map[int64]tlog.Hash, len(indexes))
	for _, x := range indexes {
		n := ledger.AppendedBy(x)
		b, ok := stored[n]
		if !ok {
			return nil, fmt.Errorf("ledger of organization %d: stored hash %d does not exist", orgID, x)
		}
		at := tlog.HashSize * (x - ledger.AppendIndex(n))
		found[x] = tlog.Hash(b[at : at+tlog.HashSize])
	}
	return found, nil
}

// frontierCache keeps, for each organization recently appended to, the committed stored
// hashes that the next appends will read: the roots of the complete subtrees of the
// ledger at the largest size seen, at most one per bit of the size. Committed hashes never
// change, so the cache is right whatever other processes append meanwhile; it only
// ever saves reads. It holds hashes only after their transaction committed.
type frontierCache struct {
	mu   sync.Mutex
	orgs map[int64]*orgFrontier
}

// orgFrontier is one organization's cached hashes.
type orgFrontier struct {
	size   int64
	hashes map[int64]tlog.Hash
}

// maxFrontierOrgs bounds the cache at a few megabytes.
const maxFrontierOrgs = 4096

// frontierIndexes returns the positions of the stored hashes that appends to a ledger of
// n entries read: the root of each complete subtree, one for each bit set in n.
func frontierIndexes(n int64) []int64 {
	var out []int64
	for level := 0; n>>level > 0; level++ {
		if (n>>level)&1 == 1 {
			out = append(out, tlog.StoredHashIndex(level, n>>level-1))
		}
	}
	return out
}

func (c *frontierCache) get(orgID, index int64) (tlog.Hash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.orgs[orgID]; f != nil {
		h, ok := f.hashes[index]
		return h, ok
	}
	return tlog.Hash{}, false
}

// add records committed hashes of a ledger of at least size entries, which hashes looks
// up by position, keeping those on the frontier of the largest size seen.
func (c *frontierCache) add(orgID, size int64, hashes func(int64) (tlog.Hash, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.orgs == nil {
		c.orgs = map[int64]*orgFrontier{}
	}
	f := c.orgs[orgID]
	if f == nil {
		if len(c.orgs) >= maxFrontierOrgs {
			for id := range c.orgs { // drop one at random
				delete(c.orgs, id)
				break
			}
		}
		f = &orgFrontier{hashes: map[int64]tlog.Hash{}}
		c.orgs[orgID] = f
	}
	if size > f.size {
		keep := frontierIndexes(size)
		next := make(map[int64]tlog.Hash, len(keep))
		for _, x := range keep {
			if h, ok := hashes(x); ok {
				next[x] = h
			} else if h, ok := f.hashes[x]; ok {
				next[x] = h
			}
		}
		f.size, f.hashes = size, next
		return
	}
	for _, x := range frontierIndexes(f.size) {
		if h, ok := hashes(x); ok {
			f.hashes[x] = h
		}
	}
}

// LedgerSize returns the number of entries in the organization's ledger. Every
// organization has at least one, its creation; an unknown organization is KindNotFound.
func (s *Store) LedgerSize(ctx context.Context, orgID int64) (int64, error) {
	n, err := ledgerSize(ctx, s.rdb, orgID)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, domain.NotFound("organization")
	}
	return n, nil
}

// ledgerSize returns the number of entries in the organization's ledger, 0 for none.
func ledgerSize(ctx context.Context, q querier, orgID int64) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM events WHERE org_id = $1`, orgID).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger of organization %d: size: %w", orgID, err)
	}
	return n, nil
}

// maxLedgerEvents bounds one LedgerEvents call.
const maxLedgerEvents = 10000

// LedgerEvents returns the organization's entries with from <= index < to, oldest
// first; to - from may be at most 10,000. Entries beyond the ledger's end are simply
// absent.
func (s *Store) LedgerEvents(ctx context.Context, orgID int64, from, to int64) ([]domain.Event, error) {
	switch {
	case from < 0:
		return nil, domain.Invalid("from", "must not be negative")
	case to < from:
		return nil, domain.Invalid("to", "must not be below from")
	case to-from > maxLedgerEvents:
		return nil, domain.Invalid("to", "at most %d entries at a time", maxLedgerEvents)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT org_id, idx, at, actor_id, actor, type, subject, data FROM events
		WHERE org_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, orgID, from, to)
	if err != nil {
		return nil, fmt.Errorf("ledger events: %w", err)
	}
	defer rows.Close()
	return scanEvents(rows, make([]domain.Event, 0, min(to-from, 1000)))
}

// scanEvents reads event rows of the form org_id, idx, at, actor_id, actor, type,
// subject, data, appending them to out.
func scanEvents(rows *sql.Rows, out []domain.Event) ([]domain.Event, error) {
	for rows.Next() {
		var e domain.Event
		var at dbTime
		var data string
		if err := rows.Scan(&e.OrgID, &e.Index, &at, &e.ActorID, &e.Actor, &e.Type, &e.Subject, &data); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.At = at.t
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// LedgerHashReader returns a reader of the organization's committed stored hashes. It
// reads with ctx, which must outlive its use.
func (s *Store) LedgerHashReader(ctx context.Context, orgID int64) tlog.HashReader {
	return &committedHashReader{ctx: ctx, s: s, orgID: orgID}
}

// committedHashReader reads committed stored hashes outside any transaction.
type committedHashReader struct {
	ctx   context.Context // tlog.HashReader has no context of its own
	s     *Store
	orgID int64
}

func (r *committedHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, x := range indexes {
		if h, ok := r.s.frontier.get(r.orgID, x); ok {
			out[i] = h
		} else {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	found, err := readHashes(r.ctx, r.s.d, r.s.rdb, r.orgID, missing)
	if err != nil {
		return nil, err
	}
	for i, x := range indexes {
		if h, ok := found[x]; ok {
			out[i] = h
		}
	}
	return out, nil
}

// backfillLedger stores the ledger hashes of the events recorded before the ledger
// existed (schema version 2), organization by organization, in index order.
func (s *Store) backfillLedger(ctx context.Context, tx *sql.Tx) error {
	orgs, err := orgIDs(ctx, tx)
	if err != nil {
		return fmt.Errorf("ledger back-fill: %w", err)
	}
	for _, org := range orgs {
		if err := s.backfillOrg(ctx, tx, org); err != nil {
			return err
		}
	}
	return nil
}

// orgIDs returns the IDs of every organization, in order, for the migrations that go
// through the ledgers one at a time. The IDs are read whole before the caller writes:
// PostgreSQL cannot run a statement on a connection while another's rows are open.
func orgIDs(ctx context.Context, tx *sql.Tx) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM organizations ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// backfillPage is how many events the back-fill reads at a time.
const backfillPage = 1000

func (s *Store) backfillOrg(ctx context.Context, tx *sql.Tx, orgID int64) error {
	mem := hashMap{}
	var next int64
	for {
		// Read a whole page before writing: PostgreSQL cannot run a statement on a
		// connection while another's rows are open.
		rows, err := tx.QueryContext(ctx, `SELECT org_id, idx, at, actor_id, actor, type, subject, data FROM events
			WHERE org_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3`, orgID, next, backfillPage)
		if err != nil {
			return fmt.Errorf("ledger back-fill of organization %d: %w", orgID, err)
		}
		page, err := scanEvents(rows, nil)
		rows.Close()
		if err != nil {
			return fmt.Errorf("ledger back-fill of organization %d: %w", orgID, err)
		}
		if len(page) == 0 {
			return nil
		}
		var hashes []tlog.Hash
		first := ledger.AppendIndex(next)
		for _, e := range page {
			if e.Index != next {
				return fmt.Errorf("ledger back-fill of organization %d: event %d follows event %d; indexes must count from 0 without gaps", orgID, e.Index, next-1)
			}
			canonical, err := ledger.FromEvent(e).Canonical()
			if err != nil {
				return fmt.Errorf("ledger back-fill of organization %d: event %d: %w", orgID, e.Index, err)
			}
			hs, err := ledger.HashesForAppend(e.Index, canonical, mem)
			if err != nil {
				return fmt.Errorf("ledger back-fill of organization %d: %w", orgID, err)
			}
			base := ledger.AppendIndex(e.Index)
			for i, h := range hs {
				mem[base+int64(i)] = h
			}
			hashes = append(hashes, hs...)
			next++
		}
		if err := s.insertLegacyHashes(ctx, tx, orgID, first, hashes); err != nil {
			return err
		}
		mem.keepFrontier(next)
	}
}

// insertLegacyHashRows stores hashes one row each in ledger_hashes, the layout of schema
// versions 2 to 5: the back-fill of version 2 writes it, and version 6 moves its rows into
// ledger_entry_hashes.
var insertLegacyHashRows = bulk{table: `ledger_hashes (org_id, hash_index, hash)`, cols: 3, chunk: 250}

// insertLegacyHashes stores hashes at consecutive positions from first in ledger_hashes.
func (s *Store) insertLegacyHashes(ctx context.Context, tx *sql.Tx, orgID, first int64, hashes []tlog.Hash) error {
	err := s.run(ctx, tx, insertLegacyHashRows, len(hashes), func(a args, i int) args {
		return append(a, orgID, first+int64(i), hashes[i][:])
	}, nil)
	if err != nil {
		return fmt.Errorf("ledger back-fill of organization %d: store hashes from %d: %w", orgID, first, err)
	}
	return nil
}

// movePage is how many entries' hashes the move of schema version 6 reads at a time.
const movePage = 1000

// moveLedgerHashes moves every organization's stored hashes from ledger_hashes, one row
// per hash, into ledger_entry_hashes, one row per entry (schema version 6), then drops
// ledger_hashes. The hashes move as they are stored, never recomputed, so that a tree that
// no longer matches its entries still shows it; a hash missing for one of the ledger's
// entries, or one stored beyond them, stops the migration.
func (s *Store) moveLedgerHashes(ctx context.Context, tx *sql.Tx) error {
	orgs, err := orgIDs(ctx, tx)
	if err != nil {
		return fmt.Errorf("move ledger hashes: %w", err)
	}
	for _, org := range orgs {
		if err := s.moveOrgHashes(ctx, tx, org); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE ledger_hashes`); err != nil {
		return fmt.Errorf("move ledger hashes: drop ledger_hashes: %w", err)
	}
	return nil
}

func (s *Store) moveOrgHashes(ctx context.Context, tx *sql.Tx, orgID int64) error {
	size, err := ledgerSize(ctx, tx, orgID)
	if err != nil {
		return fmt.Errorf("move ledger hashes: %w", err)
	}
	missing := func(x int64) error {
		return fmt.Errorf("move ledger hashes of organization %d: stored hash %d is missing (entry %d)", orgID, x, ledger.AppendedBy(x))
	}
	hashes := make([]tlog.Hash, 0, 2*min(size, movePage)+1)
	for from := int64(0); from < size; from += movePage {
		to := min(size, from+movePage)
		lo, hi := ledger.AppendIndex(from), ledger.AppendIndex(to)
		// Read the page whole before writing: PostgreSQL cannot run a statement on a
		// connection while another's rows are open.
		rows, err := tx.QueryContext(ctx, `SELECT hash_index, hash FROM ledger_hashes
			WHERE org_id = $1 AND hash_index >= $2 AND hash_index < $3 ORDER BY hash_index`, orgID, lo, hi)
		if err != nil {
			return fmt.Errorf("move ledger hashes of organization %d: %w", orgID, err)
		}
		hashes = hashes[:0]
		for rows.Next() {
			var x int64
			var b []byte
			if err := rows.Scan(&x, &b); err != nil {
				rows.Close()
				return fmt.Errorf("move ledger hashes of organization %d: %w", orgID, err)
			}
			if want := lo + int64(len(hashes)); x != want {
				rows.Close()
				return missing(want)
			}
			if len(b) != tlog.HashSize {
				rows.Close()
				return fmt.Errorf("move ledger hashes of organization %d: stored hash %d has %d bytes, not %d", orgID, x, len(b), tlog.HashSize)
			}
			hashes = append(hashes, tlog.Hash(b))
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("move ledger hashes of organization %d: %w", orgID, err)
		}
		if x := lo + int64(len(hashes)); x < hi {
			return missing(x)
		}
		if err := s.insertEntryHashes(ctx, tx, orgID, from, to-from, hashes); err != nil {
			return fmt.Errorf("move ledger hashes: %w", err)
		}
	}
	var beyond int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM ledger_hashes WHERE org_id = $1 AND hash_index >= $2`,
		orgID, ledger.AppendIndex(size)).Scan(&beyond); err != nil {
		return fmt.Errorf("move ledger hashes of organization %d: %w", orgID, err)
	}
	if beyond > 0 {
		return fmt.Errorf("move ledger hashes of organization %d: %d stored hashes lie beyond the ledger's %d entries", orgID, beyond, size)
	}
	return nil
}

// hashMap holds stored hashes in memory by position; it is a tlog.HashReader.
type hashMap map[int64]tlog.Hash

func (m hashMap) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("ledger: stored hash %d is not at hand", x)
		}
		out[i] = h
	}
	return out, nil
}

// keepFrontier forgets every hash that appends to a ledger of n entries no longer read.
func (m hashMap) keepFrontier(n int64) {
	keep := map[int64]bool{}
	for _, x := range frontierIndexes(n) {
		keep[x] = true
	}
	for x := range m {
		if !keep[x] {
			delete(m, x)
		}
	}
}

// checkpointSelect reads checkpoints.
const checkpointSelect = `SELECT org_id, size, root, signed_note, created_at FROM checkpoints`

func scanCheckpoint(row interface{ Scan(...any) error }) (*domain.Checkpoint, error) {
	var cp domain.Checkpoint
	var root []byte
	var created dbTime
	if err := row.Scan(&cp.OrgID, &cp.Size, &root, &cp.Note, &created); err != nil {
		return nil, err
	}
	if len(root) != tlog.HashSize {
		return nil, fmt.Errorf("checkpoint %d of organization %d: root has %d bytes", cp.Size, cp.OrgID, len(root))
	}
	cp.Root = tlog.Hash(root)
	cp.CreatedAt = created.t
	return &cp, nil
}

// SaveCheckpoint stores a signed checkpoint after checking its size and root against the
// ledger. When one of the same size is already stored (another replica published it
// first), cp becomes the stored one and the call succeeds; one of the same size with
// another root is KindConflict. A zero CreatedAt is set to now.
func (s *Store) SaveCheckpoint(ctx context.Context, cp *domain.Checkpoint) error {
	if cp.Size < 0 {
		return domain.Invalid("size", "must not be negative")
	}
	if strings.TrimSpace(cp.Note) == "" {
		return domain.Invalid("note", "is required: the signed checkpoint")
	}
	size, err := s.LedgerSize(ctx, cp.OrgID)
	if err != nil {
		return err
	}
	if cp.Size > size {
		return domain.Invalid("size", "%d is more than the ledger's %d entries", cp.Size, size)
	}
	root, err := ledger.TreeRoot(cp.Size, s.LedgerHashReader(ctx, cp.OrgID))
	if err != nil {
		return fmt.Errorf("checkpoint %d of organization %d: %w", cp.Size, cp.OrgID, err)
	}
	if root != cp.Root {
		return domain.Invalid("root", "is not the root of the ledger's first %d entries", cp.Size)
	}
	if cp.CreatedAt.IsZero() {
		cp.CreatedAt = s.now()
	}
	cp.CreatedAt = trunc(cp.CreatedAt)
	res, err := s.db.ExecContext(ctx, `INSERT INTO checkpoints (org_id, size, root, signed_note, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, size) DO NOTHING`,
		cp.OrgID, cp.Size, cp.Root[:], cp.Note, s.t(cp.CreatedAt))
	if err != nil {
		return fmt.Errorf("save checkpoint %d of organization %d: %w", cp.Size, cp.OrgID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	stored, err := s.CheckpointAt(ctx, cp.OrgID, cp.Size)
	if err != nil {
		return err
	}
	if stored.Root != cp.Root {
		return domain.Errorf(domain.KindConflict, "a checkpoint of size %d with another root is already stored", cp.Size)
	}
	*cp = *stored
	return nil
}

// LatestCheckpoint returns the organization's largest checkpoint; KindNotFound if none.
func (s *Store) LatestCheckpoint(ctx context.Context, orgID int64) (*domain.Checkpoint, error) {
	cp, err := scanCheckpoint(s.rdb.QueryRowContext(ctx, checkpointSelect+` WHERE org_id = $1 ORDER BY size DESC LIMIT 1`, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("checkpoint")
	}
	if err != nil {
		return nil, fmt.Errorf("latest checkpoint of organization %d: %w", orgID, err)
	}
	return cp, nil
}

// CheckpointAt returns the organization's checkpoint of the given size.
func (s *Store) CheckpointAt(ctx context.Context, orgID, size int64) (*domain.Checkpoint, error) {
	cp, err := scanCheckpoint(s.rdb.QueryRowContext(ctx, checkpointSelect+` WHERE org_id = $1 AND size = $2`, orgID, size))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("checkpoint")
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d of organization %d: %w", size, orgID, err)
	}
	return cp, nil
}

const (
	defaultCheckpointLimit = 100
	maxCheckpointLimit     = 1000
)

// ListCheckpoints lists the organization's checkpoints, largest first.
func (s *Store) ListCheckpoints(ctx context.Context, orgID int64, f domain.CheckpointFilter) ([]domain.Checkpoint, error) {
	if f.Limit < 0 {
		return nil, domain.Invalid("limit", "must not be negative")
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultCheckpointLimit
	}
	limit = min(limit, maxCheckpointLimit)
	var a args
	q := checkpointSelect + ` WHERE org_id = ` + a.add(orgID)
	if f.Before > 0 {
		q += ` AND size < ` + a.add(f.Before)
	}
	q += ` ORDER BY size DESC LIMIT ` + a.add(limit)
	rows, err := s.rdb.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	defer rows.Close()
	out := []domain.Checkpoint{}
	for rows.Next() {
		cp, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list checkpoints: %w", err)
		}
		out = append(out, *cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return out, nil
}

// OrgsNeedingCheckpoint lists, by ID, the organizations whose ledger has grown past
// their latest checkpoint, or that have none.
func (s *Store) OrgsNeedingCheckpoint(ctx context.Context) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT o.id FROM organizations o
		WHERE (SELECT COALESCE(MAX(e.idx) + 1, 0) FROM events e WHERE e.org_id = o.id)
			> (SELECT COALESCE(MAX(c.size), 0) FROM checkpoints c WHERE c.org_id = o.id)
		ORDER BY o.id`)
	if err != nil {
		return nil, fmt.Errorf("organizations needing a checkpoint: %w", err)
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("organizations needing a checkpoint: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("organizations needing a checkpoint: %w", err)
	}
	return out, nil
}
