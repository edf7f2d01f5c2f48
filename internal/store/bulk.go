package store

import (
	"context"
	"database/sql"
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

// run inserts n rows in tx, as many per statement as b allows; row appends the values
// of row i to a, b.cols of them. When each is not nil the statement returns rows, and
// each reads them one at a time.
func (s *Store) run(ctx context.Context, tx *sql.Tx, b bulk, n int, row func(a args, i int) args, each func(*sql.Rows) error) error {
	var full *sql.Stmt // the statement for a whole chunk, prepared when first needed
	defer func() {
		if full != nil {
			full.Close()
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
		if end-start == b.chunk && n > b.chunk {
			if full == nil {
				var err error
				if full, err = tx.PrepareContext(ctx, b.text(s.d, b.chunk)); err != nil {
					return err
				}
			}
			stmt = full
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
