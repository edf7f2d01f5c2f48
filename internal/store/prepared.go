package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// readStmts keeps prepared statements on the SQLite read pool for the queries asked on
// every request: the session, the member, the organization's version. Parsing and
// planning such a query costs SQLite more than running it; a prepared statement is parsed
// once per connection of the pool, which database/sql keeps it ready on. PostgreSQL needs
// none of this: its driver caches the statements of every query by itself.
type readStmts struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
}

// maxReadStmts bounds the statements kept. The queries that use them are constants, so
// the bound only guards against a caller passing a query built per request.
const maxReadStmts = 64

// readStmt returns the read pool's prepared statement for query, preparing it the first
// time; nil when the engine caches statements itself, when the cache is full or closed,
// or when preparing failed, in which case the caller runs the query unprepared and meets
// the same error there.
func (s *Store) readStmt(ctx context.Context, query string) *sql.Stmt {
	if s.d.name() != "sqlite" {
		return nil
	}
	c := &s.stmts
	c.mu.Lock()
	st, ok := c.m[query]
	full := c.closed || len(c.m) >= maxReadStmts
	c.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.m[query]; ok || c.closed {
		// Another request prepared it meanwhile, or the store is closing.
		st.Close()
		return have
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st
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

// close closes the prepared statements; later reads run unprepared.
func (c *readStmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
