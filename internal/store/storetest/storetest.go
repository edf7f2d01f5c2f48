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
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(tb.TempDir(), "evident.db"))
	if err != nil {
		tb.Fatalf("open sqlite store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close sqlite store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate sqlite store: %v", err)
	}
	return s
}

// Postgres returns a fresh, migrated store in a throwaway database created on the server
// that EVIDENT_TEST_POSTGRES_URL names, and drops the database when the test ends. It skips
// the test when the variable is not set.
func Postgres(tb testing.TB) *store.Store {
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
	s, err := store.Open(ctx, u.String())
	if err != nil {
		tb.Fatalf("open postgres store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close postgres store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate postgres store: %v", err)
	}
	return s
}

// Each runs fn as the subtests "sqlite" and "postgres", each with its own fresh store;
// the PostgreSQL one skips when EVIDENT_TEST_POSTGRES_URL is not set.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random database name: %v", err)
	}
	return hex.EncodeToString(b)
}
