package store

import (
	"context"
	"database/sql"
	"math"
	"strings"
)

// bulk describes a statement that inserts many rows at once into table (with its column
// list), a group of cols placeholders for each row, then suffix. Batched ingest adds thousands of rows per
// transaction; one statement per few hundred rows, prepared once per transaction, keeps
// the cost of parsing and of the driver's round trips small beside the rows themselves.
type bulk struct {
	table  string // such as "t (a, b)"
	suffix string // such as " ON CONFLICT DO NOTHING" or " RETURNING id"; may be empty
	cols   int
	chunk  int // rows per statement, at most
}

// text returns the statement for rows rows.
func (b bulk) text(d dialect, rows int) string {
	var q strings.Builder
	q.Grow(len(b.table) + len(b.suffix) + rows*b.cols*6 + 32)
	q.WriteString(d.bulkInsert() + " " + b.table + " VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		for c := range b.cols {
			if c > 0 {
				q.WriteString(", ")
			}
			n++
			q.WriteString(d.seqPlaceholder(n))
		}
		q.WriteByte(')')
	}
	q.WriteString(b.suffix)
	return q.String()
}

// The writer keeps its bulk inserts prepared across transactions on SQLite (Store.bulk): a
// statement of a few hundred rows costs SQLite about as much to parse as a few dozen of
// its rows cost to insert, and the writer's one connection keeps it ready from one
// transaction to the next. PostgreSQL's driver caches the statements of every query by
// itself.

// bulkKey names the statement of a bulk insert with a number of rows.
type bulkKey struct {
	table, suffix string
	rows          int
}

// keptBulkSize reports whether statements of b with rows rows are worth keeping: a whole
// chunk, as batches use, and one row, as single changes use.
func keptBulkSize(b bulk, rows int) bool { return rows == b.chunk || rows == 1 }

// prepareBulk prepares and keeps the statements worth keeping of each bulk insert, once
// per store. It takes the writer's connection, so it must be called outside any
// transaction of the caller's: before one begins.
func (s *Store) prepareBulk(ctx context.Context, bs ...bulk) {
	if s.d.name() != "sqlite" {
		return
	}
	for _, b := range bs {
		for _, rows := range []int{b.chunk, 1} {
			key := bulkKey{b.table, b.suffix, rows}
			if st, room := s.bulk.get(key, math.MaxInt); st != nil || !room {
				continue
			}
			st, err := s.db.PrepareContext(ctx, b.text(s.d, rows))
			if err != nil {
				continue // the transaction prepares its own, and meets the error there
			}
			s.bulk.keep(key, st)
		}
	}
}

// bulkStmt returns the kept statement of b with rows rows in tx, or nil if none is kept.
func (s *Store) bulkStmt(ctx context.Context, tx *sql.Tx, b bulk, rows int) *sql.Stmt {
	if s.d.name() != "sqlite" || !keptBulkSize(b, rows) {
		return nil
	}
	st, _ := s.bulk.get(bulkKey{b.table, b.suffix, rows}, 0)
	if st == nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// run inserts n rows in tx, as many per statement as b allows; row appends the values
// of row i to a, b.cols of them. When each is not nil the statement returns rows, and
// each reads them one at a time.
func (s *Store) run(ctx context.Context, tx *sql.Tx, b bulk, n int, row func(a args, i int) args, each func(*sql.Rows) error) error {
	var full *sql.Stmt // the statement for a whole chunk, prepared when first needed
	var one *sql.Stmt  // the kept statement for one row, when the last chunk has one
	defer func() {
		if full != nil {
			full.Close()
		}
		if one != nil {
			one.Close()
		}
	}()
	a := make(args, 0, b.cols*min(n, b.chunk))
	for start := 0; start < n; start += b.chunk {
		end := min(n, start+b.chunk)
		a = a[:0]
		for i := start; i < end; i++ {
			a = row(a, i)
		}
		var stmt *sql.Stmt
		switch rows := end - start; {
		case rows == b.chunk:
			if full == nil {
				if full = s.bulkStmt(ctx, tx, b, rows); full == nil && n > b.chunk {
					var err error
					if full, err = tx.PrepareContext(ctx, b.text(s.d, b.chunk)); err != nil {
						return err
					}
				}
			}
			stmt = full
		case rows == 1:
			one = s.bulkStmt(ctx, tx, b, rows)
			stmt = one
		}
		if each == nil {
			var err error
			if stmt != nil {
				_, err = stmt.ExecContext(ctx, a...)
			} else {
				_, err = tx.ExecContext(ctx, b.text(s.d, end-start), a...)
			}
			if err != nil {
				return err
			}
			continue
		}
		var rows *sql.Rows
		var err error
		if stmt != nil {
			rows, err = stmt.QueryContext(ctx, a...)
		} else {
			rows, err = tx.QueryContext(ctx, b.text(s.d, end-start), a...)
		}
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := each(rows); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
