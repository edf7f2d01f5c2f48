package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

func testSubject(id string) string { return "test:" + id }

// maxDefinition bounds a custom test's definition.
const maxDefinition = 64 << 10

// libraryTest reports whether id is a test of the shipped library.
func libraryTest(id string) (monitor.Test, bool) {
	for _, t := range monitor.Library() {
		if t.ID == id {
			return t, true
		}
	}
	return monitor.Test{}, false
}

// ParseCustomTest reads and compiles a custom test's definition: one test in the
// library's YAML format, or its JSON. Errors are KindInvalid: a CEL error names its field
// ("where", "expression" or "message") and its position in it; any other names the field
// and the line of the definition, or "definition" itself.
func ParseCustomTest(definition string) (monitor.Test, error) {
	if strings.TrimSpace(definition) == "" {
		return monitor.Test{}, domain.Invalid("definition", "is required")
	}
	if len(definition) > maxDefinition {
		return monitor.Test{}, domain.Invalid("definition", "must be at most %d bytes", maxDefinition)
	}
	tests, err := monitor.ParseTests("definition", []byte(definition))
	if err != nil {
		return monitor.Test{}, definitionError(err)
	}
	if len(tests) != 1 {
		return monitor.Test{}, domain.Invalid("definition", "must hold exactly one test, not %d", len(tests))
	}
	t := tests[0]
	if _, err := monitor.Compile(t); err != nil {
		var ce *monitor.CompileError
		if errors.As(err, &ce) {
			return monitor.Test{}, err
		}
		if domain.KindOf(err) == domain.KindInvalid {
			return monitor.Test{}, err
		}
		return monitor.Test{}, domain.Invalid("definition", "%v", err)
	}
	return t, nil
}

// definitionError turns an error of monitor.ParseTests, "definition:LINE: [field: ]message",
// into an invalid-input error naming the field (or the definition) and the line.
func definitionError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "definition:")
	line := ""
	if num, rest, ok := strings.Cut(msg, ": "); ok {
		if _, convErr := strconv.Atoi(num); convErr == nil {
			line, msg = num, rest
		}
	}
	field := "definition"
	var e *domain.Error
	if errors.As(err, &e) && e.Kind == domain.KindInvalid && e.Field != "" {
		field, msg = e.Field, e.Message
	}
	if line != "" {
		return domain.Invalid(field, "line %s: %s", line, msg)
	}
	return domain.Invalid(field, "%s", msg)
}

// customTestEntry is the data of a test.created or test.updated ledger entry: the test
// as written, so the ledger shows exactly what was checked.
func customTestEntry(t monitor.Test, definition string) map[string]any {
	return map[string]any{
		"test_id":    t.ID,
		"title":      t.Title,
		"type":       t.Type,
		"severity":   t.Severity,
		"controls":   t.Controls,
		"definition": definition,
	}
}

func encodeStrings(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // a list of strings always encodes
	return string(b)
}

// CreateCustomTest validates and compiles a test definition (see ParseCustomTest) and
// stores it as one of the organization's tests, enabled. An ID the library or the
// organization already uses is KindConflict.
func (s *Store) CreateCustomTest(ctx context.Context, actor domain.Actor, orgID int64, definition string) (*domain.CustomTest, error) {
	t, err := ParseCustomTest(definition)
	if err != nil {
		return nil, err
	}
	if _, ok := libraryTest(t.ID); ok {
		return nil, domain.Errorf(domain.KindConflict, "the test ID %q is used by the test library; choose another", t.ID)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return nil, err
	}
	now := s.t(s.now())
	_, err = tx.ExecContext(ctx, `INSERT INTO custom_tests (org_id, test_id, title, type, severity, controls, definition,
			created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
		orgID, t.ID, t.Title, t.Type, string(t.Severity), encodeStrings(t.Controls), definition, actor.UserID, now)
	if s.d.isUnique(err) {
		return nil, domain.Errorf(domain.KindConflict, "the test ID %q is already used in this organization", t.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("create test %s: %w", t.ID, err)
	}
	// A setting left by an earlier test of the same ID does not carry over.
	if _, err := tx.ExecContext(ctx, `DELETE FROM test_settings WHERE org_id = $1 AND test_id = $2`, orgID, t.ID); err != nil {
		return nil, fmt.Errorf("create test %s: %w", t.ID, err)
	}
	if err := s.appendEvent(ctx, tx, actor, orgID, domain.EventTestCreated, testSubject(t.ID), customTestEntry(t, definition)); err != nil {
		return nil, err
	}
	stored, err := s.loadCustomTest(ctx, tx, orgID, t.ID)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, "create test "+t.ID); err != nil {
		return nil, err
	}
	return stored, nil
}

// UpdateCustomTest replaces the definition of one of the organization's tests. Its ID
// cannot change.
func (s *Store) UpdateCustomTest(ctx context.Context, actor domain.Actor, orgID int64, testID, definition string) (*domain.CustomTest, error) {
	t, err := ParseCustomTest(definition)
	if err != nil {
		return nil, err
	}
	if t.ID != testID {
		return nil, domain.Invalid("id", "cannot change from %q; create a new test instead", testID)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "test"); err != nil {
		return nil, err
	}
	old, err := s.loadCustomTest(ctx, tx, orgID, testID)
	if err != nil {
		return nil, err
	}
	if old.Definition == definition {
		return old, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE custom_tests SET title = $1, type = $2, severity = $3, controls = $4,
		definition = $5, updated_at = $6 WHERE org_id = $7 AND test_id = $8`,
		t.Title, t.Type, string(t.Severity), encodeStrings(t.Controls), definition, s.t(s.now()), orgID, testID); err != nil {
		return nil, fmt.Errorf("update test %s: %w", testID, err)
	}
	if err := s.appendEvent(ctx, tx, actor, orgID, domain.EventTestUpdated, testSubject(testID), customTestEntry(t, definition)); err != nil {
		return nil, err
	}
	stored, err := s.loadCustomTest(ctx, tx, orgID, testID)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, "update test "+testID); err != nil {
		return nil, err
	}
	return stored, nil
}

// DeleteCustomTest deletes one of the organization's tests with its current results and
// setting, and closes its open tasks. Past runs keep its results.
func (s *Store) DeleteCustomTest(ctx context.Context, actor domain.Actor, orgID int64, testID string) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "test"); err != nil {
		return err
	}
	old, err := s.loadCustomTest(ctx, tx, orgID, testID)
	if err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM custom_tests WHERE org_id = $1 AND test_id = $2`,
		`DELETE FROM test_settings WHERE org_id = $1 AND test_id = $2`,
	} {
		if _, err := tx.ExecContext(ctx, q, orgID, testID); err != nil {
			return fmt.Errorf("delete test %s: %w", testID, err)
		}
	}
	if err := s.dropTestResults(ctx, tx, orgID, testID, taskTestDeleted); err != nil {
		return err
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventTestDeleted, testSubject(testID), map[string]any{
		"test_id": testID,
		"title":   old.Title,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "delete test "+testID)
}

// dropTestResults forgets a test's current results, for a test no longer judged, and
// closes its open tasks with the resolution given. Past runs keep their results.
func (s *Store) dropTestResults(ctx context.Context, tx *sql.Tx, orgID int64, testID, resolution string) error {
	for _, q := range []string{
		`DELETE FROM test_state WHERE org_id = $1 AND test_id = $2`,
		`DELETE FROM test_status WHERE org_id = $1 AND test_id = $2`,
	} {
		if _, err := tx.ExecContext(ctx, q, orgID, testID); err != nil {
			return fmt.Errorf("drop results of test %s: %w", testID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tasks SET closed_at = $1, resolution = $2
		WHERE org_id = $3 AND test_id = $4 AND closed_at IS NULL`, s.t(s.now()), resolution, orgID, testID); err != nil {
		return fmt.Errorf("close tasks of test %s: %w", testID, err)
	}
	return nil
}

const customTestSelect = `SELECT t.org_id, t.test_id, t.title, t.type, t.severity, t.controls, t.definition,
	COALESCE(ts.enabled, TRUE), t.created_by, t.created_at, t.updated_at
	FROM custom_tests t LEFT JOIN test_settings ts ON ts.org_id = t.org_id AND ts.test_id = t.test_id`

func scanCustomTest(row interface{ Scan(...any) error }, t *domain.CustomTest) error {
	var controls string
	var created, updated dbTime
	err := row.Scan(&t.OrgID, &t.TestID, &t.Title, &t.Type, &t.Severity, &controls, &t.Definition, &t.Enabled,
		&t.CreatedBy, &created, &updated)
	if err != nil {
		return err
	}
	t.CreatedAt, t.UpdatedAt = created.t, updated.t
	t.Controls = []string{}
	if err := json.Unmarshal([]byte(controls), &t.Controls); err != nil {
		return fmt.Errorf("test %s: controls: %w", t.TestID, err)
	}
	return nil
}

func (s *Store) loadCustomTest(ctx context.Context, q querier, orgID int64, testID string) (*domain.CustomTest, error) {
	var t domain.CustomTest
	err := scanCustomTest(q.QueryRowContext(ctx, customTestSelect+` WHERE t.org_id = $1 AND t.test_id = $2`, orgID, testID), &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("test")
	}
	if err != nil {
		return nil, fmt.Errorf("load test %s: %w", testID, err)
	}
	return &t, nil
}

// CustomTest returns one of the organization's own tests.
func (s *Store) CustomTest(ctx context.Context, orgID int64, testID string) (*domain.CustomTest, error) {
	return s.loadCustomTest(ctx, s.rdb, orgID, testID)
}

// CustomTests lists the organization's own tests by ID.
func (s *Store) CustomTests(ctx context.Context, orgID int64) ([]domain.CustomTest, error) {
	rows, err := s.rdb.QueryContext(ctx, customTestSelect+` WHERE t.org_id = $1 ORDER BY t.test_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list tests: %w", err)
	}
	defer rows.Close()
	out := []domain.CustomTest{}
	for rows.Next() {
		var t domain.CustomTest
		if err := scanCustomTest(rows, &t); err != nil {
			return nil, fmt.Errorf("list tests: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tests: %w", err)
	}
	return out, nil
}

// SetTestEnabled enables or disables a library test or one of the organization's own for
// the organization. Disabling drops the test's current results and closes its open tasks.
// An unknown test is KindNotFound; a change to the state it has already records nothing.
func (s *Store) SetTestEnabled(ctx context.Context, actor domain.Actor, orgID int64, testID string, enabled bool) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "test"); err != nil {
		return err
	}
	title := ""
	if t, ok := libraryTest(testID); ok {
		title = t.Title
	} else {
		ct, err := s.loadCustomTest(ctx, tx, orgID, testID)
		if err != nil {
			return err
		}
		title = ct.Title
	}
	var was sql.NullBool
	err = tx.QueryRowContext(ctx, `SELECT enabled FROM test_settings WHERE org_id = $1 AND test_id = $2`, orgID, testID).Scan(&was)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("load setting of test %s: %w", testID, err)
	}
	if (!was.Valid || was.Bool) == enabled {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO test_settings (org_id, test_id, enabled, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, test_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
		orgID, testID, enabled, s.t(s.now())); err != nil {
		return fmt.Errorf("set test %s: %w", testID, err)
	}
	typ := domain.EventTestEnabled
	if !enabled {
		typ = domain.EventTestDisabled
		if err := s.dropTestResults(ctx, tx, orgID, testID, taskTestDisabled); err != nil {
			return err
		}
	}
	if err := s.appendEvent(ctx, tx, actor, orgID, typ, testSubject(testID), map[string]any{"test_id": testID, "title": title}); err != nil {
		return err
	}
	return s.commit(tx, "set test "+testID)
}

// DisabledTests lists the IDs of the organization's disabled tests, sorted.
func (s *Store) DisabledTests(ctx context.Context, orgID int64) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT test_id FROM test_settings WHERE org_id = $1 AND NOT enabled ORDER BY test_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list disabled tests: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list disabled tests: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list disabled tests: %w", err)
	}
	return out, nil
}
