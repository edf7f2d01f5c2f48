package store

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// storedVerdict is one line of a result's compact verdicts: the resource's external ID,
// name, status and message.
type storedVerdict struct {
	ID      string `json:"i"`
	Name    string `json:"n,omitempty"`
	Status  string `json:"s"`
	Message string `json:"m,omitempty"`
}

// statusRank orders resource statuses by how bad they are, to merge the verdicts of
// resources of two sources that share an external ID.
func statusRank(s monitor.Status) int {
	switch s {
	case monitor.StatusFail:
		return 3
	case monitor.StatusError:
		return 2
	case monitor.StatusPass:
		return 1
	}
	return 0
}

// verdict is a test's verdict on one resource, with the resource's name.
type verdict struct {
	ExternalID, Name, Message string
	Status                    monitor.Status
}

// judged is one test's outcome prepared for storing: its verdicts merged by external ID,
// in inventory order, and its counts over them.
type judged struct {
	test                    monitor.Test
	status                  monitor.Status
	err                     string
	verdicts                []verdict
	index                   map[string]int // external ID → position in verdicts
	passed, failed, errors_ int
	excepted                int
	blob                    []byte
}

// prepareResult merges a test's verdicts by external ID, keeping the worst, names their
// resources from names (external ID → name), and counts them.
func prepareResult(t monitor.Test, tr *monitor.TestResult, names map[string]string) (*judged, error) {
	j := &judged{test: t, err: tr.Err, index: make(map[string]int, len(tr.Resources))}
	for _, r := range tr.Resources {
		v := verdict{ExternalID: r.ExternalID, Name: names[r.ExternalID], Message: r.Message, Status: r.Status}
		if k, dup := j.index[v.ExternalID]; dup {
			if statusRank(v.Status) > statusRank(j.verdicts[k].Status) {
				j.verdicts[k] = v
			}
			continue
		}
		j.index[v.ExternalID] = len(j.verdicts)
		j.verdicts = append(j.verdicts, v)
	}
	for _, v := range j.verdicts {
		switch v.Status {
		case monitor.StatusPass:
			j.passed++
		case monitor.StatusFail:
			j.failed++
		default:
			j.errors_++
		}
	}
	switch {
	case j.failed > 0:
		j.status = monitor.StatusFail
	case j.errors_ > 0 || j.err != "":
		j.status = monitor.StatusError
	case j.passed > 0:
		j.status = monitor.StatusPass
	default:
		j.status = monitor.StatusNoData
	}
	j.blob = []byte{}
	if len(j.verdicts) == 0 {
		return j, nil
	}
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	enc := json.NewEncoder(zw)
	for _, v := range j.verdicts {
		if err := enc.Encode(storedVerdict{ID: v.ExternalID, Name: v.Name, Status: v.Status.String(), Message: v.Message}); err != nil {
			return nil, fmt.Errorf("encode verdicts of test %s: %w", t.ID, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encode verdicts of test %s: %w", t.ID, err)
	}
	j.blob = buf.Bytes()
	return j, nil
}

// gzipWriters holds compressors for verdicts: each allocates hundreds of kilobytes, and a
// run compresses the verdicts of every test.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level never fails
	return zw
}}

// decodeVerdicts reads a result's compact verdicts; an empty blob holds none.
func decodeVerdicts(blob []byte) ([]storedVerdict, error) {
	if len(blob) == 0 {
		return nil, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	dec := json.NewDecoder(bufio.NewReader(zr))
	var out []storedVerdict
	for {
		var v storedVerdict
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// resourceNames maps the external IDs of the organization's current resources of a type
// to their names, for the verdicts the engine reports by external ID.
func (s *Store) resourceNames(ctx context.Context, orgID int64, typ string) (map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT external_id, name FROM resources WHERE org_id = $1 AND type = $2 AND gone_at IS NULL`,
		orgID, typ)
	if err != nil {
		return nil, fmt.Errorf("read names of %s resources: %w", typ, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var ext, name string
		if err := rows.Scan(&ext, &name); err != nil {
			return nil, fmt.Errorf("read names of %s resources: %w", typ, err)
		}
		if _, ok := out[ext]; !ok {
			out[ext] = name
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read names of %s resources: %w", typ, err)
	}
	return out, nil
}

// exceptionKey identifies the resource of a test an exception covers.
func exceptionKey(testID, externalID string) string { return testID + "\x00" + externalID }

// except marks v excepted when it is a failure that one of exceptions, as
// activeExceptions returns them, covers.
func except(v *domain.Verdict, exceptions map[string]int64) {
	if v.Status != domain.ResultFail {
		return
	}
	if id, ok := exceptions[exceptionKey(v.TestID, v.ExternalID)]; ok {
		v.Status, v.ExceptionID = domain.ResultExcepted, &id
	}
}

// inForce is the condition that an exception, a row of exceptions named by prefix ("" or
// such as "e."), is in force at the time of the parameter p: created, neither expired nor
// revoked.
func inForce(prefix, p string) string {
	return prefix + "created_at <= " + p + " AND " + prefix + "expires_at > " + p +
		" AND (" + prefix + "revoked_at IS NULL OR " + prefix + "revoked_at > " + p + ")"
}

// activeExceptions returns the organization's exceptions in force at time at, by test and
// external ID.
func (s *Store) activeExceptions(ctx context.Context, q querier, orgID int64, testID string, at time.Time) (map[string]int64, error) {
	var a args
	query := `SELECT id, test_id, external_id FROM exceptions WHERE org_id = ` + a.add(orgID) +
		` AND ` + inForce("", a.add(s.t(at)))
	if testID != "" {
		query += ` AND test_id = ` + a.add(testID)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY id`, a...)
	if err != nil {
		return nil, fmt.Errorf("load exceptions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id int64
		var test, ext string
		if err := rows.Scan(&id, &test, &ext); err != nil {
			return nil, fmt.Errorf("load exceptions: %w", err)
		}
		if _, ok := out[exceptionKey(test, ext)]; !ok {
			out[exceptionKey(test, ext)] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load exceptions: %w", err)
	}
	return out, nil
}

// stateRow is a current verdict as test_state keeps it.
type stateRow struct {
	name, status, message string
}

// statusRow is a test's latest outcome as test_status keeps it.
type statusRow struct {
	status   string
	since    time.Time
	alerting bool
}

var insertStateRows = bulk{
	table: `test_state (org_id, test_id, external_id, name, status, message, since)`,
	cols:  7, chunk: 140,
}

// RecordTestRun stores an evaluation of the organization's tests: tests are the tests
// evaluated (their definitions give the titles, severities, remediations and controls
// stored with the results) and res their results. In one transaction it records the run
// and every test's result; then, unless a run judged at a later time was recorded first
// (another replica finished after it), it brings the current verdicts up to date, drops
// those of tests no longer judged, and raises an alert, with a ledger entry, for each test
// that started failing on a resource without an exception or recovered, opening a task
// for the owners of the controls the test supports or closing them. It returns the run
// and the alerts raised.
func (s *Store) RecordTestRun(ctx context.Context, orgID int64, trigger domain.RunTrigger, connectionRunID *int64,
	tests []monitor.Test, res monitor.Results) (*domain.TestRun, []domain.Alert, error) {
	if trigger != domain.TriggerSchedule && trigger != domain.TriggerManual && trigger != domain.TriggerPush {
		return nil, nil, domain.Invalid("trigger", "must be schedule, manual or push")
	}
	defs := make(map[string]monitor.Test, len(tests))
	for _, t := range tests {
		defs[t.ID] = t
	}
	results := make([]*judged, 0, len(res.Tests))
	seen := map[string]bool{}
	names := map[string]map[string]string{} // type → external ID → name
	for i := range res.Tests {
		tr := &res.Tests[i]
		t, ok := defs[tr.TestID]
		if !ok {
			return nil, nil, domain.Invalid("tests", "the result of test %s has no definition", tr.TestID)
		}
		if seen[tr.TestID] {
			return nil, nil, domain.Invalid("tests", "test %s has two results", tr.TestID)
		}
		seen[tr.TestID] = true
		if _, ok := names[t.Type]; !ok && len(tr.Resources) > 0 {
			m, err := s.resourceNames(ctx, orgID, t.Type)
			if err != nil {
				return nil, nil, err
			}
			names[t.Type] = m
		}
		j, err := prepareResult(t, tr, names[t.Type])
		if err != nil {
			return nil, nil, err
		}
		results = append(results, j)
	}
	at := trunc(res.At)
	if at.IsZero() {
		return nil, nil, domain.Invalid("at", "is required: the time the tests were judged at")
	}

	tx, err := s.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return nil, nil, err
	}
	var latest nullTime
	if err := tx.QueryRowContext(ctx, `SELECT MAX(at) FROM test_runs WHERE org_id = $1`, orgID).Scan(&latest); err != nil {
		return nil, nil, fmt.Errorf("record test run: %w", err)
	}
	stale := latest.t != nil && latest.t.After(at)
	exceptions, err := s.activeExceptions(ctx, tx, orgID, "", at)
	if err != nil {
		return nil, nil, err
	}
	run := &domain.TestRun{OrgID: orgID, At: at, FinishedAt: s.now(), Trigger: trigger, ConnectionRunID: connectionRunID,
		Tests: len(results)}
	for _, j := range results {
		for _, v := range j.verdicts {
			if v.Status == monitor.StatusFail {
				if _, ok := exceptions[exceptionKey(j.test.ID, v.ExternalID)]; ok {
					j.excepted++
				}
			}
		}
		switch {
		case j.failed > j.excepted:
			run.Failing++
		case j.status == monitor.StatusError:
			run.Erroring++
		case j.status == monitor.StatusNoData:
			run.NoData++
		default:
			run.Passing++
		}
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO test_runs (org_id, at, finished_at, triggered_by, connection_run_id, tests,
			passing, failing, erroring, no_data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		orgID, s.t(at), s.t(run.FinishedAt), string(trigger), nullID(connectionRunID), run.Tests,
		run.Passing, run.Failing, run.Erroring, run.NoData).Scan(&run.ID)
	if s.d.isForeignKey(err) {
		return nil, nil, domain.Invalid("connection_run_id", "is not a connection run")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("record test run: %w", err)
	}
	for _, j := range results {
		if _, err := tx.ExecContext(ctx, `INSERT INTO test_results (run_id, org_id, test_id, status, passed, failed, errors,
				excepted, err, verdicts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			run.ID, orgID, j.test.ID, j.status.String(), j.passed, j.failed, j.errors_, j.excepted, j.err, j.blob); err != nil {
			return nil, nil, fmt.Errorf("record result of test %s: %w", j.test.ID, err)
		}
	}
	var alerts []domain.Alert
	if !stale {
		if alerts, err = s.updateCurrent(ctx, tx, orgID, run, results, exceptions); err != nil {
			return nil, nil, err
		}
	}
	if err := s.commit(tx, "record test run"); err != nil {
		return nil, nil, err
	}
	if alerts == nil {
		alerts = []domain.Alert{}
	}
	return run, alerts, nil
}

// updateCurrent brings the current verdicts and test outcomes up to date with a run, and
// raises its alerts.
func (s *Store) updateCurrent(ctx context.Context, tx *sql.Tx, orgID int64, run *domain.TestRun, results []*judged,
	exceptions map[string]int64) ([]domain.Alert, error) {
	statuses := map[string]statusRow{}
	rows, err := tx.QueryContext(ctx, `SELECT test_id, status, since, alerting FROM test_status WHERE org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("load test outcomes: %w", err)
	}
	for rows.Next() {
		var id string
		var r statusRow
		var since dbTime
		if err := rows.Scan(&id, &r.status, &since, &r.alerting); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load test outcomes: %w", err)
		}
		r.since = since.t
		statuses[id] = r
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("load test outcomes: %w", err)
	}
	states, err := s.loadStates(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	judgedIDs := map[string]bool{}
	for _, j := range results {
		judgedIDs[j.test.ID] = true
	}
	// A test judged before and not now was removed from the library or the organization.
	for id := range statuses {
		if !judgedIDs[id] {
			if err := s.dropTestResults(ctx, tx, orgID, id, taskTestDeleted); err != nil {
				return nil, err
			}
		}
	}
	if err := s.updateStates(ctx, tx, orgID, run.At, results, states); err != nil {
		return nil, err
	}
	owners, err := s.controlOwners(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	var alerts []domain.Alert
	for _, j := range results {
		prev, had := statuses[j.test.ID]
		status := j.status.String()
		since := run.At
		if had && prev.status == status {
			since = prev.since
		}
		failing := j.failed - j.excepted
		alerting := had && prev.alerting
		var state domain.AlertState
		switch {
		case failing > 0 && !alerting:
			state, alerting = domain.AlertFailing, true
		case failing == 0 && alerting && j.status != monitor.StatusError:
			state, alerting = domain.AlertRecovered, false
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO test_status (org_id, test_id, title, type, severity, remediation, controls,
				status, passed, failed, errors, err, since, alerting, last_run_id, last_run_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (org_id, test_id) DO UPDATE SET title = excluded.title, type = excluded.type,
				severity = excluded.severity, remediation = excluded.remediation, controls = excluded.controls,
				status = excluded.status, passed = excluded.passed, failed = excluded.failed, errors = excluded.errors,
				err = excluded.err, since = excluded.since, alerting = excluded.alerting,
				last_run_id = excluded.last_run_id, last_run_at = excluded.last_run_at`,
			orgID, j.test.ID, j.test.Title, j.test.Type, string(j.test.Severity), j.test.Remediation,
			encodeStrings(j.test.Controls), status, j.passed, j.failed, j.errors_, j.err, s.t(since), alerting,
			run.ID, s.t(run.At)); err != nil {
			return nil, fmt.Errorf("record outcome of test %s: %w", j.test.ID, err)
		}
		if state == "" {
			continue
		}
		a, err := s.raiseAlert(ctx, tx, orgID, run, j, state, failing, owners, exceptions)
		if err != nil {
			return nil, err
		}
		alerts = append(alerts, *a)
	}
	return alerts, nil
}

// loadStates reads the organization's current verdicts, by test and external ID.
func (s *Store) loadStates(ctx context.Context, tx *sql.Tx, orgID int64) (map[string]map[string]stateRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT test_id, external_id, name, status, message FROM test_state WHERE org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("load verdicts: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]stateRow{}
	for rows.Next() {
		var test, ext string
		var r stateRow
		if err := rows.Scan(&test, &ext, &r.name, &r.status, &r.message); err != nil {
			return nil, fmt.Errorf("load verdicts: %w", err)
		}
		m := out[test]
		if m == nil {
			m = map[string]stateRow{}
			out[test] = m
		}
		m[ext] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load verdicts: %w", err)
	}
	return out, nil
}

// updateStates writes the differences between the current verdicts and a run's: new
// resources are inserted, changed ones updated (since moves when the status does), and
// resources the run did not judge deleted.
func (s *Store) updateStates(ctx context.Context, tx *sql.Tx, orgID int64, at time.Time, results []*judged,
	states map[string]map[string]stateRow) error {
	type key struct{ test, ext string }
	var inserts []struct {
		key
		v verdict
	}
	var update, updateStatus, del *sql.Stmt
	prepare := func(p **sql.Stmt, q string) (*sql.Stmt, error) {
		if *p == nil {
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return nil, err
			}
			*p = st
		}
		return *p, nil
	}
	defer func() {
		for _, st := range []*sql.Stmt{update, updateStatus, del} {
			if st != nil {
				st.Close()
			}
		}
	}()
	for _, j := range results {
		old := states[j.test.ID]
		for _, v := range j.verdicts {
			prev, ok := old[v.ExternalID]
			status := v.Status.String()
			switch {
			case !ok:
				inserts = append(inserts, struct {
					key
					v verdict
				}{key{j.test.ID, v.ExternalID}, v})
			case prev.status != status:
				st, err := prepare(&updateStatus, `UPDATE test_state SET name = $1, status = $2, message = $3, since = $4
					WHERE org_id = $5 AND test_id = $6 AND external_id = $7`)
				if err != nil {
					return fmt.Errorf("update verdicts: %w", err)
				}
				if _, err := st.ExecContext(ctx, v.Name, status, v.Message, s.t(at), orgID, j.test.ID, v.ExternalID); err != nil {
					return fmt.Errorf("update verdict of test %s on %s: %w", j.test.ID, v.ExternalID, err)
				}
			case prev.name != v.Name || prev.message != v.Message:
				st, err := prepare(&update, `UPDATE test_state SET name = $1, message = $2
					WHERE org_id = $3 AND test_id = $4 AND external_id = $5`)
				if err != nil {
					return fmt.Errorf("update verdicts: %w", err)
				}
				if _, err := st.ExecContext(ctx, v.Name, v.Message, orgID, j.test.ID, v.ExternalID); err != nil {
					return fmt.Errorf("update verdict of test %s on %s: %w", j.test.ID, v.ExternalID, err)
				}
			}
		}
		for ext := range old {
			if _, ok := j.index[ext]; ok {
				continue
			}
			st, err := prepare(&del, `DELETE FROM test_state WHERE org_id = $1 AND test_id = $2 AND external_id = $3`)
			if err != nil {
				return fmt.Errorf("update verdicts: %w", err)
			}
			if _, err := st.ExecContext(ctx, orgID, j.test.ID, ext); err != nil {
				return fmt.Errorf("drop verdict of test %s on %s: %w", j.test.ID, ext, err)
			}
		}
	}
	err := s.run(ctx, tx, insertStateRows, len(inserts), func(a args, i int) args {
		in := &inserts[i]
		return append(a, orgID, in.test, in.ext, in.v.Name, in.v.Status.String(), in.v.Message, s.t(at))
	}, nil)
	if err != nil {
		return fmt.Errorf("add verdicts: %w", err)
	}
	return nil
}

// controlOwner is a control as alerts name it.
type controlOwner struct {
	id    int64
	owner *int64
}

// controlOwners maps the refs of the organization's active controls to their IDs and owners.
func (s *Store) controlOwners(ctx context.Context, tx *sql.Tx, orgID int64) (map[string]controlOwner, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, ref, owner_id FROM controls WHERE org_id = $1 AND retired_at IS NULL`, orgID)
	if err != nil {
		return nil, fmt.Errorf("load control owners: %w", err)
	}
	defer rows.Close()
	out := map[string]controlOwner{}
	for rows.Next() {
		var c controlOwner
		var ref string
		var owner sql.NullInt64
		if err := rows.Scan(&c.id, &ref, &owner); err != nil {
			return nil, fmt.Errorf("load control owners: %w", err)
		}
		if owner.Valid {
			id := owner.Int64
			c.owner = &id
		}
		out[ref] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load control owners: %w", err)
	}
	return out, nil
}

// scanTestRuns reads test runs.
func (s *Store) scanTestRuns(rows *sql.Rows) ([]domain.TestRun, error) {
	out := []domain.TestRun{}
	for rows.Next() {
		var r domain.TestRun
		var at, finished dbTime
		var conn sql.NullInt64
		if err := rows.Scan(&r.ID, &r.OrgID, &at, &finished, &r.Trigger, &conn, &r.Tests, &r.Passing, &r.Failing,
			&r.Erroring, &r.NoData); err != nil {
			return nil, err
		}
		r.At, r.FinishedAt = at.t, finished.t
		if conn.Valid {
			id := conn.Int64
			r.ConnectionRunID = &id
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const testRunSelect = `SELECT id, org_id, at, finished_at, triggered_by, connection_run_id, tests, passing, failing,
	erroring, no_data FROM test_runs`

// TestRun returns one of the organization's test runs.
func (s *Store) TestRun(ctx context.Context, orgID, id int64) (*domain.TestRun, error) {
	rows, err := s.rdb.QueryContext(ctx, testRunSelect+` WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return nil, fmt.Errorf("load test run %d: %w", id, err)
	}
	defer rows.Close()
	runs, err := s.scanTestRuns(rows)
	if err != nil {
		return nil, fmt.Errorf("load test run %d: %w", id, err)
	}
	if len(runs) == 0 {
		return nil, domain.NotFound("test run")
	}
	return &runs[0], nil
}

// TestRuns lists the organization's test runs, newest first.
func (s *Store) TestRuns(ctx context.Context, orgID int64, f domain.TestRunFilter) ([]domain.TestRun, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	var a args
	where := "org_id = " + a.add(orgID)
	if f.Before > 0 {
		where += " AND id < " + a.add(f.Before)
	}
	rows, err := s.rdb.QueryContext(ctx, testRunSelect+` WHERE `+where+` ORDER BY id DESC LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, fmt.Errorf("list test runs: %w", err)
	}
	defer rows.Close()
	runs, err := s.scanTestRuns(rows)
	if err != nil {
		return nil, fmt.Errorf("list test runs: %w", err)
	}
	return runs, nil
}

// summarySelect reads tests' latest outcomes with the number of their failing resources
// excepted at the time of the second argument.
const summarySelect = `SELECT ts.test_id, ts.title, ts.type, ts.severity, ts.remediation, ts.controls, ts.status,
	ts.passed, ts.failed, ts.errors, ts.err, ts.since, ts.last_run_id, ts.last_run_at,
	(SELECT count(DISTINCT st.external_id) FROM exceptions e
		JOIN test_state st ON st.org_id = e.org_id AND st.test_id = e.test_id AND st.external_id = e.external_id
		WHERE e.org_id = ts.org_id AND e.test_id = ts.test_id AND st.status = 'fail'
			AND e.created_at <= $2 AND e.expires_at > $2 AND (e.revoked_at IS NULL OR e.revoked_at > $2))
	FROM test_status ts WHERE ts.org_id = $1`

func scanSummary(row interface{ Scan(...any) error }, t *domain.TestSummary) error {
	var controls string
	var since, last dbTime
	err := row.Scan(&t.TestID, &t.Title, &t.Type, &t.Severity, &t.Remediation, &controls, &t.Status, &t.Passed, &t.Failed,
		&t.Errors, &t.Err, &since, &t.LastRunID, &last, &t.Excepted)
	if err != nil {
		return err
	}
	t.Since, t.LastRunAt = since.t, last.t
	t.Controls = []string{}
	if err := json.Unmarshal([]byte(controls), &t.Controls); err != nil {
		return fmt.Errorf("test %s: controls: %w", t.TestID, err)
	}
	if t.Status == domain.ResultFail && t.Excepted >= t.Failed {
		t.Status = domain.ResultExcepted
	}
	return nil
}

// TestSummaries returns the current outcome of every test the organization's latest run
// judged, with the exceptions in force at now, by test ID.
func (s *Store) TestSummaries(ctx context.Context, orgID int64, now time.Time) ([]domain.TestSummary, error) {
	rows, err := s.rdb.QueryContext(ctx, summarySelect+` ORDER BY ts.test_id`, orgID, s.t(now))
	if err != nil {
		return nil, fmt.Errorf("list test outcomes: %w", err)
	}
	defer rows.Close()
	out := []domain.TestSummary{}
	for rows.Next() {
		var t domain.TestSummary
		if err := scanSummary(rows, &t); err != nil {
			return nil, fmt.Errorf("list test outcomes: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list test outcomes: %w", err)
	}
	return out, nil
}

// TestSummary returns one test's current outcome; KindNotFound when it has not been judged.
func (s *Store) TestSummary(ctx context.Context, orgID int64, testID string, now time.Time) (*domain.TestSummary, error) {
	var t domain.TestSummary
	err := scanSummary(s.rdb.QueryRowContext(ctx, summarySelect+` AND ts.test_id = $3`, orgID, s.t(now), testID), &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("test result")
	}
	if err != nil {
		return nil, fmt.Errorf("load outcome of test %s: %w", testID, err)
	}
	return &t, nil
}

// FailingTests lists the tests failing at now on resources without an exception, by test
// ID: each is a readiness gap for every control it supports.
func (s *Store) FailingTests(ctx context.Context, orgID int64, now time.Time) ([]domain.FailingTest, error) {
	all, err := s.TestSummaries(ctx, orgID, now)
	if err != nil {
		return nil, err
	}
	out := []domain.FailingTest{}
	for _, t := range all {
		if t.Status != domain.ResultFail {
			continue
		}
		out = append(out, domain.FailingTest{
			TestID: t.TestID, Title: t.Title, Type: t.Type, Severity: t.Severity, Remediation: t.Remediation,
			Controls: t.Controls, Failing: t.Failed - t.Excepted,
		})
	}
	return out, nil
}

// TestHistory returns a test's outcome in the organization's latest runs that judged it,
// newest first; limit 0 means 100.
func (s *Store) TestHistory(ctx context.Context, orgID int64, testID string, limit int) ([]domain.TestHistoryPoint, error) {
	return s.TestHistoryBefore(ctx, orgID, testID, 0, limit)
}

// verdictOrder sorts verdicts: failures first (excepted ones after the others), then
// errors, then passes, each by external ID.
func verdictOrder(vs []domain.Verdict) {
	rank := func(s domain.ResultStatus) int {
		switch s {
		case domain.ResultFail:
			return 0
		case domain.ResultExcepted:
			return 1
		case domain.ResultError:
			return 2
		}
		return 3
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if a, b := rank(vs[i].Status), rank(vs[j].Status); a != b {
			return a < b
		}
		return vs[i].ExternalID < vs[j].ExternalID
	})
}

// TestVerdicts returns a test's current verdicts per resource, failures covered by an
// exception in force at now being excepted: failures first, then excepted ones, errors and
// passes, each by external ID.
func (s *Store) TestVerdicts(ctx context.Context, orgID int64, testID string, now time.Time, f domain.VerdictFilter) ([]domain.Verdict, error) {
	if f.Limit < 0 {
		return nil, domain.Invalid("limit", "must not be negative")
	}
	var a args
	where := []string{"org_id = " + a.add(orgID), "test_id = " + a.add(testID)}
	switch f.Status {
	case "":
	case domain.ResultFail, domain.ResultExcepted:
		where = append(where, "status = 'fail'")
	case domain.ResultPass, domain.ResultError:
		where = append(where, "status = "+a.add(string(f.Status)))
	default:
		return nil, domain.Invalid("status", "must be pass, fail, excepted or error")
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT external_id, name, status, message, since FROM test_state WHERE `+
		strings.Join(where, " AND "), a...)
	if err != nil {
		return nil, fmt.Errorf("load verdicts of test %s: %w", testID, err)
	}
	defer rows.Close()
	var out []domain.Verdict
	for rows.Next() {
		v := domain.Verdict{TestID: testID}
		var since dbTime
		if err := rows.Scan(&v.ExternalID, &v.Name, &v.Status, &v.Message, &since); err != nil {
			return nil, fmt.Errorf("load verdicts of test %s: %w", testID, err)
		}
		v.Since = since.t
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load verdicts of test %s: %w", testID, err)
	}
	rows.Close()
	exceptions, err := s.activeExceptions(ctx, s.rdb, orgID, testID, now)
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, v := range out {
		except(&v, exceptions)
		if f.Status == "" || v.Status == f.Status {
			kept = append(kept, v)
		}
	}
	verdictOrder(kept)
	if f.Limit > 0 && len(kept) > f.Limit {
		kept = kept[:f.Limit]
	}
	if kept == nil {
		kept = []domain.Verdict{}
	}
	return kept, nil
}

// RunVerdicts returns a test's verdicts in one of the organization's past runs, failures
// covered by an exception in force at the time of the run being excepted, in the order of
// TestVerdicts. Since is zero: a past run's verdicts say nothing of it.
func (s *Store) RunVerdicts(ctx context.Context, orgID, runID int64, testID string) ([]domain.Verdict, error) {
	var blob []byte
	var at dbTime
	err := s.rdb.QueryRowContext(ctx, `SELECT r.verdicts, tr.at FROM test_results r JOIN test_runs tr ON tr.id = r.run_id
		WHERE r.org_id = $1 AND r.run_id = $2 AND r.test_id = $3`, orgID, runID, testID).Scan(&blob, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("test result")
	}
	if err != nil {
		return nil, fmt.Errorf("load verdicts of test %s in run %d: %w", testID, runID, err)
	}
	stored, err := decodeVerdicts(blob)
	if err != nil {
		return nil, fmt.Errorf("decode verdicts of test %s in run %d: %w", testID, runID, err)
	}
	exceptions, err := s.activeExceptions(ctx, s.rdb, orgID, testID, at.t)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Verdict, len(stored))
	for i, v := range stored {
		out[i] = domain.Verdict{TestID: testID, ExternalID: v.ID, Name: v.Name, Status: domain.ResultStatus(v.Status), Message: v.Message}
		except(&out[i], exceptions)
	}
	verdictOrder(out)
	return out, nil
}
