package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the engines. Everything else, including the text of
// most queries, is shared: both drivers accept $1, $2… placeholders and RETURNING.
type dialect interface {
	name() string
	// timeValue converts a UTC, microsecond time into the value the engine stores.
	timeValue(t time.Time) any
	// lockOrgSQL selects an organization's ID and, where the engine needs it, locks the row
	// until the transaction ends, so that changes to one organization are serialized.
	lockOrgSQL() string
	// likeOp is the case-insensitive LIKE operator.
	likeOp() string
	// newIDs returns n new IDs for rows of table, whose key is the column id, for a
	// transaction that inserts them with their IDs given.
	newIDs(ctx context.Context, tx *sql.Tx, table string, n int) ([]int64, error)
	// bulkInsert begins a statement that inserts many rows in a transaction that rolls back
	// as a whole when the statement fails.
	bulkInsert() string
	// seqPlaceholder is the placeholder of the nth argument of a statement whose
	// placeholders each appear once, in the order of the arguments.
	seqPlaceholder(n int) string
	// isUnique and isForeignKey classify constraint violations.
	isUnique(err error) bool
	isForeignKey(err error) bool
}

// sqliteTimeLayout is fixed-width, so stored times compare correctly as strings.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

type sqliteDialect struct{}

func (sqliteDialect) name() string { return "sqlite" }

func (sqliteDialect) timeValue(t time.Time) any { return t.Format(sqliteTimeLayout) }

// SQLite needs no row lock: the single writer connection serializes every transaction.
func (sqliteDialect) lockOrgSQL() string { return `SELECT id FROM organizations WHERE id = $1` }

// SQLite looks "$N" placeholders up by name in a list, when parsing and again when
// binding, which is quadratic in their number; plain "?" placeholders are numbered in
// order without a list. Statements inserting hundreds of rows at once use them.
func (sqliteDialect) seqPlaceholder(int) string { return "?" }

// SQLite gives a new row the ID after the largest; the writer's transaction holds the
// database's write lock (BEGIN IMMEDIATE), so the next n are free until it ends.
func (sqliteDialect) newIDs(ctx context.Context, tx *sql.Tx, table string, n int) ([]int64, error) {
	var top int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM `+table).Scan(&top); err != nil {
		return nil, fmt.Errorf("new IDs for %s: %w", table, err)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = top + 1 + int64(i)
	}
	return ids, nil
}

// OR FAIL spares SQLite a journal of the statement's changes, kept so that a failing
// statement can be undone alone; the whole transaction rolls back instead.
func (sqliteDialect) bulkInsert() string { return "INSERT OR FAIL INTO" }

// SQLite's LIKE ignores case for ASCII letters.
func (sqliteDialect) likeOp() string { return "LIKE" }

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func (sqliteDialect) isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func (sqliteDialect) isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

func (postgresDialect) timeValue(t time.Time) any { return t }

// FOR NO KEY UPDATE serializes writers of one organization without blocking inserts
// elsewhere whose foreign keys only need a key-share lock on the row.
func (postgresDialect) lockOrgSQL() string {
	return `SELECT id FROM organizations WHERE id = $1 FOR NO KEY UPDATE`
}

func (postgresDialect) likeOp() string { return "ILIKE" }

// PostgreSQL hands out IDs from the identity column's sequence, to every transaction at
// once.
func (postgresDialect) newIDs(ctx context.Context, tx *sql.Tx, table string, n int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)`, table, n)
	if err != nil {
		return nil, fmt.Errorf("new IDs for %s: %w", table, err)
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("new IDs for %s: %w", table, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("new IDs for %s: %w", table, err)
	}
	if len(ids) != n {
		return nil, fmt.Errorf("new IDs for %s: got %d, want %d", table, len(ids), n)
	}
	return ids, nil
}

func (postgresDialect) bulkInsert() string { return "INSERT INTO" }

func (postgresDialect) seqPlaceholder(n int) string { return "$" + strconv.Itoa(n) }

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (postgresDialect) isUnique(err error) bool     { return pgCode(err) == "23505" }
func (postgresDialect) isForeignKey(err error) bool { return pgCode(err) == "23503" }

// dbTime scans a time column of either engine: time.Time from PostgreSQL, text from SQLite.
type dbTime struct{ t time.Time }

func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		d.t = trunc(v)
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

func (d *dbTime) parse(s string) error {
	if t, ok := parseSQLiteTime(s); ok {
		d.t = t
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", s, err)
	}
	d.t = t.UTC()
	return nil
}

// parseSQLiteTime reads a time in sqliteTimeLayout without the generality of time.Parse,
// which matters when a list of hundreds of rows has several times each.
func parseSQLiteTime(s string) (time.Time, bool) {
	if len(s) != len(sqliteTimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	micro, ok7 := num(20, 26)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || month < 1 || month > 12 || day < 1 || day > 31 ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC), true
}

// nullTime scans an optional time column.
type nullTime struct{ t *time.Time }

func (n *nullTime) Scan(src any) error {
	if src == nil {
		n.t = nil
		return nil
	}
	var d dbTime
	if err := d.Scan(src); err != nil {
		return err
	}
	n.t = &d.t
	return nil
}

var (
	_ sql.Scanner = (*dbTime)(nil)
	_ sql.Scanner = (*nullTime)(nil)
)

// nullID converts an optional ID into a column value.
func nullID(id *int64) driver.Value {
	if id == nil {
		return nil
	}
	return *id
}

// escapeLike escapes LIKE's wildcards so that s matches literally; queries use ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// args collects query arguments and hands out their placeholders.
type args []any

// add appends v and returns its placeholder, such as "$3".
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// seq appends v and returns its placeholder in the dialect's form for statements whose
// placeholders each appear once, in the order of the arguments. Such statements must
// use seq for every argument.
func (a *args) seq(d dialect, v any) string {
	*a = append(*a, v)
	return d.seqPlaceholder(len(*a))
}
