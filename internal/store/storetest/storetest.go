// Package storetest gives tests fresh, migrated stores on SQLite and PostgreSQL.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop test databases

	"github.com/evidenthq/evident/internal/store"
)

// PostgresEnv names the environment variable with the URL of a PostgreSQL server where
// tests may create and drop databases, such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const PostgresEnv = "EVIDENT_TEST_POSTGRES_URL"

// SQLite returns a fresh, migrated store in a SQLite file under tb.TempDir(), closed
// when the test ends.
func SQLite(tb testing.TB) *store.Store {
	tb.Helper()
	return open(tb, filepath.Join(tb.TempDir(), "evident.db"), true)
}

// SQLitePair returns two stores over one fresh, migrated SQLite file, as two processes on
// one machine have.
func SQLitePair(tb testing.TB) (*store.Store, *store.Store) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "evident.db")
	return open(tb, path, true), open(tb, path, false)
}

// Postgres returns a fresh, migrated store in a throwaway database created on the server
// that EVIDENT_TEST_POSTGRES_URL names, and drops the database when the test ends. It skips
// the test when the variable is not set.
func Postgres(tb testing.TB) *store.Store {
	tb.Helper()
	return open(tb, postgresDatabase(tb), true)
}

// PostgresPair returns two stores over one throwaway PostgreSQL database, as two
// replicas have. It skips the test when EVIDENT_TEST_POSTGRES_URL is not set.
func PostgresPair(tb testing.TB) (*store.Store, *store.Store) {
	tb.Helper()
	dsn := postgresDatabase(tb)
	return open(tb, dsn, true), open(tb, dsn, false)
}

// open opens a store closed when the test ends, migrating it if asked to.
func open(tb testing.TB, dsn string, migrate bool) *store.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close %s store: %v", s.Engine(), err)
		}
	})
	if migrate {
		if err := s.Migrate(ctx); err != nil {
			tb.Fatalf("migrate %s store: %v", s.Engine(), err)
		}
	}
	return s
}

// postgresDatabase creates a throwaway database, dropped when the test ends, and returns
// its URL. It skips the test when EVIDENT_TEST_POSTGRES_URL is not set.
func postgresDatabase(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s to a server URL where tests may create databases, such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", PostgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", PostgresEnv, err)
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	tb.Cleanup(func() { admin.Close() })

	name := "evident_test_" + randomHex(tb, 8)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Each runs fn as the subtests "sqlite" and "postgres", each with its own fresh store;
// the PostgreSQL one skips when EVIDENT_TEST_POSTGRES_URL is not set.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// EachEmpty runs fn as the subtests "sqlite" and "postgres", each with a store over a
// fresh database that has not been migrated, for tests of the migrations themselves; the
// PostgreSQL one skips when EVIDENT_TEST_POSTGRES_URL is not set.
func EachEmpty(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, open(t, filepath.Join(t.TempDir(), "evident.db"), false)) })
	t.Run("postgres", func(t *testing.T) { fn(t, open(t, postgresDatabase(t), false)) })
}

// EachPair runs fn as the subtests "sqlite" and "postgres", each with two stores over one
// fresh database, as two processes or replicas have; the PostgreSQL one skips when
// EVIDENT_TEST_POSTGRES_URL is not set.
func EachPair(t *testing.T, fn func(t *testing.T, a, b *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { a, b := SQLitePair(t); fn(t, a, b) })
	t.Run("postgres", func(t *testing.T) { a, b := PostgresPair(t); fn(t, a, b) })
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random database name: %v", err)
	}
	return hex.EncodeToString(b)
}
