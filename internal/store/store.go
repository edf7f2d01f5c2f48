// Package store keeps everything Evident knows, in SQLite or PostgreSQL, behind domain.Store.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/evidenthq/evident/internal/domain"
)

// Store is domain.Store over a SQL database: SQLite for one machine, PostgreSQL for several.
type Store struct {
	d dialect
	// db takes every transaction and write. On SQLite it holds exactly one connection, so
	// writers queue in the process instead of contending for the file lock.
	db *sql.DB
	// rdb serves reads outside transactions: a query-only pool on SQLite, db on PostgreSQL.
	rdb *sql.DB

	// Now is the clock for the times the store sets itself (creation, update and event
	// times). It defaults to time.Now; tests replace it before using the store.
	Now func() time.Time

	failures atomic.Uint64 // counts RecordFailure calls, to prune old rows now and then

	// frontier caches committed ledger hashes that the next appends will read.
	frontier frontierCache
	// appending maps each open transaction that has appended ledger entries (*sql.Tx) to
	// its *txLedgers; commit hands their hashes to frontier, rollback forgets them.
	appending sync.Map

	// stmts keeps the read pool's prepared statements for the hottest reads (prepared.go).
	stmts stmtCache[string]
	// bulk keeps the writer's prepared bulk inserts (bulk.go).
	bulk stmtCache[bulkKey]

	// ckpt checkpoints SQLite's write-ahead log in the background (checkpointer.go); nil
	// on PostgreSQL.
	ckpt *walCheckpointer
}

var _ domain.Store = (*Store)(nil)

// sqliteBusyTimeout is how long an SQLite connection waits for another process's lock
// (the CLI migrating while the server runs, say) before giving up.
const sqliteBusyTimeout = 10 * time.Second

// Open connects to the database the DSN names. A postgres:// or postgresql:// URL selects
// PostgreSQL; anything else is the path of an SQLite file, optionally prefixed with
// "sqlite:" or "file:", created if it does not exist. Open does not change the schema:
// call Migrate, or CheckSchema to refuse a database that needs it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &Store{d: postgresDialect{}, db: db, rdb: db, Now: time.Now}, nil
}

func openSQLite(ctx context.Context, dsn string) (*Store, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite: give a plain file path without options, not %q", dsn)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, ":") {
		return nil, fmt.Errorf("open sqlite: %q is not a file path; give the path of the database file", dsn)
	}
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("open sqlite: directory of %s: %w", path, err)
	}
	// The database holds password hashes and session tokens: create it readable by its
	// owner only. SQLite gives its -wal and -shm files the same permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("open sqlite: create %s: %w", path, err)
	}
	base := (&url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath()}).String()
	busy := fmt.Sprint(sqliteBusyTimeout.Milliseconds())

	// The writer sets WAL first: the journal mode lives in the file, so readers opened
	// afterwards find it already set.
	wq := url.Values{}
	wq.Add("_pragma", "busy_timeout("+busy+")")
	wq.Add("_pragma", "page_size(16384)")
	wq.Add("_pragma", "synchronous(FULL)")
	wq.Add("_pragma", "foreign_keys(1)")
	wq.Add("_pragma", "cache_size(-65536)")
	wq.Add("_pragma", "temp_store(MEMORY)")
	wq.Add("_pragma", "wal_autocheckpoint(0)") // see checkpointer.go
	wq.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", base+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if _, err := w.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+busy+")")
	rq.Add("_pragma", "foreign_keys(1)")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", base+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	cq := url.Values{}
	cq.Add("_pragma", "busy_timeout("+busy+")")
	ckpt, err := startCheckpointer(base+"?"+cq.Encode(), path)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return &Store{d: sqliteDialect{}, db: w, rdb: r, Now: time.Now, ckpt: ckpt}, nil
}

// Engine names the database engine: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.d.name() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.name(), err)
	}
	if s.rdb != s.db {
		if err := s.rdb.PingContext(ctx); err != nil {
			return fmt.Errorf("ping %s readers: %w", s.d.name(), err)
		}
	}
	return nil
}

// Close closes the database connections.
func (s *Store) Close() error {
	err := errors.Join(s.stmts.close(), s.bulk.close(), s.db.Close())
	if s.ckpt != nil {
		err = errors.Join(err, s.ckpt.close())
	}
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// begin starts a read-write transaction on the writer.
func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return tx, nil
}

// commit commits tx, naming what it was for when that fails. Once the commit has
// succeeded, and only then, the ledger hashes the transaction wrote join the cache of
// committed hashes.
func (s *Store) commit(tx *sql.Tx, what string) error {
	if err := s.brokenLedger(tx); err != nil {
		s.rollback(tx)
		return fmt.Errorf("%s: %w", what, err)
	}
	pending, _ := s.appending.LoadAndDelete(tx)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	if pending != nil {
		s.committed(pending.(*txLedgers))
	}
	if s.ckpt != nil {
		s.ckpt.committed()
	}
	return nil
}

// rollback ends tx unless it was committed, forgetting the ledger hashes it wrote.
// Every transaction defers it right after begin.
func (s *Store) rollback(tx *sql.Tx) {
	s.appending.Delete(tx)
	tx.Rollback()
}

// querier is what both *sql.DB and *sql.Tx offer, so read helpers serve both.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// now is the store's clock, in UTC and truncated to what both engines keep.
func (s *Store) now() time.Time { return trunc(s.Now()) }

// trunc puts t in UTC at microsecond precision, the precision both engines keep.
func trunc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// truncPtr is trunc for optional times.
func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := trunc(*t)
	return &v
}

// t converts a time into the dialect's column value.
func (s *Store) t(t time.Time) any { return s.d.timeValue(trunc(t)) }

// tp converts an optional time into the dialect's column value, NULL for nil.
func (s *Store) tp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.t(*t)
}
