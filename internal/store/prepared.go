package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps prepared statements by key until the store closes. The store keeps
// two: the read pool's hottest reads (readStmt) and the writer's bulk inserts
// (bulk.go), both on SQLite only.
type stmtCache[K comparable] struct {
	mu     sync.Mutex
	m      map[K]*sql.Stmt
	closed bool
}

// get returns the statement kept under k, or nil, and whether another may still be kept:
// the cache is open and holds fewer than limit.
func (c *stmtCache[K]) get(k K, limit int) (st *sql.Stmt, room bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k], !c.closed && len(c.m) < limit
}

// keep keeps st under k and returns it. When another statement was kept under k
// meanwhile, or the cache is closed, it closes st and returns the one kept (nil when
// closed).
func (c *stmtCache[K]) keep(k K, st *sql.Stmt) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.m[k]; ok || c.closed {
		st.Close()
		return have
	}
	if c.m == nil {
		c.m = map[K]*sql.Stmt{}
	}
	c.m[k] = st
	return st
}

// close closes the kept statements; later calls run unprepared.
func (c *stmtCache[K]) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for k, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, k)
	}
	return errors.Join(errs...)
}

// maxReadStmts bounds the statements kept. The queries that use them are constants, so
// the bound only guards against a caller passing a query built per request.
const maxReadStmts = 64

// readStmt returns the read pool's prepared statement for query, preparing it the first
// time; nil when the engine caches statements itself, when the cache is full or closed,
// or when preparing failed, in which case the caller runs the query unprepared and meets
// the same error there. It serves the queries asked on every request: the session, the
// member, the organization's version. Parsing and planning such a query costs SQLite more
// than running it; a prepared statement is parsed once per connection of the pool, which
// database/sql keeps it ready on. PostgreSQL needs none of this: its driver caches the
// statements of every query by itself.
func (s *Store) readStmt(ctx context.Context, query string) *sql.Stmt {
	if s.d.name() != "sqlite" {
		return nil
	}
	st, room := s.stmts.get(query, maxReadStmts)
	if st != nil || !room {
		return st
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	return s.stmts.keep(query, st)
}

// readRow runs a query that returns at most one row on the read pool, prepared on SQLite.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := s.readStmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.rdb.QueryRowContext(ctx, query, args...)
}

// readRows runs a query on the read pool, prepared on SQLite.
func (s *Store) readRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.readStmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.rdb.QueryContext(ctx, query, args...)
}
