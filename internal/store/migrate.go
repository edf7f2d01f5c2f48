package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one schema change, from a file named NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationSteps are the parts of migrations that SQL cannot do, by version. Each runs in
// its migration's transaction, after the migration's SQL, on either engine.
var migrationSteps = map[int]func(s *Store, ctx context.Context, tx *sql.Tx) error{
	2: (*Store).backfillLedger,   // the ledger hashes of the events recorded under version 1
	6: (*Store).moveLedgerHashes, // the ledger hashes regrouped one row per entry
}

// migrations returns the dialect's migrations in version order.
func migrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive version number and an underscore", engine, e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// SchemaVersion is the newest schema version this binary knows for the store's engine.
func (s *Store) SchemaVersion() int {
	ms, err := migrations(s.d.name())
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at TEXT NOT NULL
)`

// migrationLockKey is the PostgreSQL advisory lock that keeps two replicas starting at the
// same time from applying the same migration twice.
const migrationLockKey = 0x45766964656e74 // "Evident"

// Migrate applies the migrations the database has not seen yet, each in its own
// transaction, and records them in schema_migrations. It refuses a database whose schema
// is newer than this binary.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations(s.d.name())
	if err != nil {
		return err
	}
	if err := s.createMigrationsTable(ctx); err != nil {
		return err
	}
	if err := s.refuseNewer(ctx, ms); err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// createMigrationsTable creates schema_migrations if it is missing.
func (s *Store) createMigrationsTable(ctx context.Context) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockMigrations(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return s.commit(tx, "create schema_migrations")
}

// lockMigrations keeps other processes from migrating until tx ends. SQLite's immediate
// transactions already hold the database's write lock.
func (s *Store) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if s.d.name() != "postgres" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey)); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	return nil
}

// apply runs one migration unless it is already recorded.
func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockMigrations(ctx, tx); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if step := migrationSteps[m.version]; step != nil {
		if err := step(s, ctx, tx); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, s.now().Format(sqliteTimeLayout)); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	return s.commit(tx, "migration "+m.name)
}

// appliedVersions returns the versions recorded in schema_migrations, or none when the
// table does not exist yet.
func (s *Store) appliedVersions(ctx context.Context) (map[int]bool, int, error) {
	var exists bool
	var q string
	if s.d.name() == "postgres" {
		q = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	} else {
		q = `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	}
	if err := s.rdb.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return nil, 0, fmt.Errorf("read schema version: %w", err)
	}
	applied := map[int]bool{}
	if !exists {
		return applied, 0, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, 0, fmt.Errorf("read schema version: %w", err)
	}
	defer rows.Close()
	top := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, 0, fmt.Errorf("read schema version: %w", err)
		}
		applied[v] = true
		top = max(top, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read schema version: %w", err)
	}
	return applied, top, nil
}

func (s *Store) refuseNewer(ctx context.Context, ms []migration) error {
	_, top, err := s.appliedVersions(ctx)
	if err != nil {
		return err
	}
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	if top > known {
		return fmt.Errorf("database schema is newer than this binary (version %d > %d); upgrade evident", top, known)
	}
	return nil
}

// CheckSchema reports an error unless the database's schema is exactly the one this binary
// knows: migrations pending (run `evident migrate`) or a newer schema (upgrade evident).
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := migrations(s.d.name())
	if err != nil {
		return err
	}
	if err := s.refuseNewer(ctx, ms); err != nil {
		return err
	}
	applied, _, err := s.appliedVersions(ctx)
	if err != nil {
		return err
	}
	var pending []string
	for _, m := range ms {
		if !applied[m.version] {
			pending = append(pending, strconv.Itoa(m.version))
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("database schema is out of date: migrations %s are pending; run evident migrate", strings.Join(pending, ", "))
	}
	return nil
}
