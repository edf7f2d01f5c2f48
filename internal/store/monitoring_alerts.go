package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// How a task closed (domain.Task.Resolution).
const (
	taskRecovered    = "recovered"     // its test passes again
	taskDismissed    = "dismissed"     // a person closed it
	taskTestDisabled = "test_disabled" // its test was disabled
	taskTestDeleted  = "test_deleted"  // its test was deleted, or left the library
)

func exceptionSubject(id int64) string { return fmt.Sprintf("exception:%d", id) }
func taskSubject(id int64) string      { return fmt.Sprintf("task:%d", id) }

// encodeList encodes a list of strings or integers as a JSON array, [] for none.
func encodeList[T string | int64](v []T) string {
	if v == nil {
		v = []T{}
	}
	b, _ := json.Marshal(v) // a list of strings or integers always encodes
	return string(b)
}

// raiseAlert records that a test started failing or recovered: the alert, its ledger
// entry, and the tasks it opens (one per owner of the controls the test supports, or one
// for nobody when they have none) or closes. exceptions are those in force at the run's
// time, as activeExceptions returns them.
func (s *Store) raiseAlert(ctx context.Context, tx *sql.Tx, orgID int64, run *domain.TestRun, j *judged,
	state domain.AlertState, failing int, controls map[string]controlOwner, exceptions map[string]int64) (*domain.Alert, error) {
	a := &domain.Alert{
		OrgID: orgID, TestID: j.test.ID, TestTitle: j.test.Title, Severity: string(j.test.Severity), State: state,
		Failing: failing, ControlIDs: []int64{}, OwnerIDs: []int64{}, TestRunID: run.ID, CreatedAt: s.now(),
	}
	for _, ref := range j.test.Controls {
		c, ok := controls[ref]
		if !ok {
			continue
		}
		a.ControlIDs = append(a.ControlIDs, c.id)
		if c.owner != nil && !slices.Contains(a.OwnerIDs, *c.owner) {
			a.OwnerIDs = append(a.OwnerIDs, *c.owner)
		}
	}
	slices.Sort(a.ControlIDs)
	slices.Sort(a.OwnerIDs)
	resources := "[]"
	if state == domain.AlertFailing {
		resources = failingResources(j, exceptions)
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO alerts (org_id, test_id, test_title, severity, state, failing, control_ids,
			owner_ids, test_run_id, created_at, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		orgID, a.TestID, a.TestTitle, a.Severity, string(state), failing, encodeList(a.ControlIDs), encodeList(a.OwnerIDs),
		run.ID, s.t(a.CreatedAt), resources).Scan(&a.ID)
	if err != nil {
		return nil, fmt.Errorf("raise alert for test %s: %w", j.test.ID, err)
	}
	typ := domain.EventTestFailing
	if state == domain.AlertRecovered {
		typ = domain.EventTestRecovered
	}
	err = s.appendEvent(ctx, tx, domain.SystemActor, orgID, typ, testSubject(j.test.ID), map[string]any{
		"test_id":     j.test.ID,
		"title":       j.test.Title,
		"severity":    j.test.Severity,
		"failing":     failing,
		"alert_id":    a.ID,
		"test_run_id": run.ID,
		"control_ids": a.ControlIDs,
	})
	if err != nil {
		return nil, err
	}
	if state == domain.AlertRecovered {
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET closed_at = $1, resolution = $2
			WHERE org_id = $3 AND test_id = $4 AND closed_at IS NULL`, s.t(a.CreatedAt), taskRecovered, orgID, j.test.ID); err != nil {
			return nil, fmt.Errorf("close tasks of test %s: %w", j.test.ID, err)
		}
		return a, nil
	}
	assignees := make([]*int64, 0, len(a.OwnerIDs))
	for i := range a.OwnerIDs {
		assignees = append(assignees, &a.OwnerIDs[i])
	}
	if len(assignees) == 0 {
		assignees = append(assignees, nil)
	}
	title, detail := taskText(j, failing, controls)
	for _, who := range assignees {
		var open int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tasks WHERE org_id = $1 AND test_id = $2 AND closed_at IS NULL
			AND (assignee_id = $3 OR (assignee_id IS NULL AND $4))`, orgID, j.test.ID, nullID(who), who == nil).Scan(&open); err != nil {
			return nil, fmt.Errorf("open task for test %s: %w", j.test.ID, err)
		}
		if open > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tasks (org_id, assignee_id, kind, test_id, alert_id, title, detail, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, orgID, nullID(who), string(domain.TaskFixTest), j.test.ID, a.ID,
			title, detail, s.t(a.CreatedAt)); err != nil {
			return nil, fmt.Errorf("open task for test %s: %w", j.test.ID, err)
		}
	}
	return a, nil
}

// failingResources lists, as the JSON of the alerts table, the first resources failing a
// test in a run without one of exceptions, those in force at the run's time.
func failingResources(j *judged, exceptions map[string]int64) string {
	out := []domain.AlertResource{}
	for _, v := range j.verdicts {
		if len(out) == domain.MaxAlertResources {
			break
		}
		if v.Status != monitor.StatusFail {
			continue
		}
		if _, ok := exceptions[exceptionKey(j.test.ID, v.ExternalID)]; ok {
			continue
		}
		out = append(out, domain.AlertResource{Type: j.test.Type, ExternalID: v.ExternalID, Name: v.Name})
	}
	b, _ := json.Marshal(out) // a list of strings always encodes
	return string(b)
}

// taskText is the title and detail of the task a failing test opens.
func taskText(j *judged, failing int, controls map[string]controlOwner) (string, string) {
	title := "Fix: " + j.test.Title
	var refs []string
	for _, ref := range j.test.Controls {
		if _, ok := controls[ref]; ok {
			refs = append(refs, ref)
		}
	}
	detail := fmt.Sprintf("The test %s fails on %s.", j.test.ID, plural(failing, "resource"))
	if len(refs) > 0 {
		detail += " It supports " + strings.Join(refs, ", ") + "."
	}
	if r := strings.TrimSpace(j.test.Remediation); r != "" {
		detail += " " + r
	}
	return title, detail
}

// plural writes a count with its noun: "1 resource", "3 resources".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// CreateException accepts a resource currently failing one of the organization's tests
// until e.ExpiresAt, with a ledger entry. The approver must be one of
// domain.ExceptionApprovers for the actor (else KindInvalid for "approver_id"): an owner,
// admin or member other than the actor, unless nobody else may approve; a resource not
// failing the test is KindInvalid for "external_id";
// an exception in force for the same test and resource is KindConflict. On success e holds
// what was stored.
func (s *Store) CreateException(ctx context.Context, actor domain.Actor, e *domain.Exception) error {
	now := s.now()
	if err := domain.ValidateException(e, now); err != nil {
		return err
	}
	e.ExpiresAt = trunc(e.ExpiresAt)
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, e.OrgID); err != nil {
		return err
	}
	approver, _, err := s.memberRole(ctx, tx, e.OrgID, e.ApproverID)
	if domain.IsNotFound(err) {
		return domain.Invalid("approver_id", "is not a member of this organization")
	}
	if err != nil {
		return err
	}
	members, err := s.members(ctx, tx, e.OrgID)
	if err != nil {
		return err
	}
	if err := domain.CheckExceptionApprover(members, actor.UserID, e.ApproverID); err != nil {
		return err
	}
	var status string
	err = tx.QueryRowContext(ctx, `SELECT status FROM test_state WHERE org_id = $1 AND test_id = $2 AND external_id = $3`,
		e.OrgID, e.TestID, e.ExternalID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != string(domain.ResultFail)) {
		return domain.Invalid("external_id", "%q is not failing the test %s", e.ExternalID, e.TestID)
	}
	if err != nil {
		return fmt.Errorf("create exception: %w", err)
	}
	active, err := s.activeExceptions(ctx, tx, e.OrgID, e.TestID, now)
	if err != nil {
		return err
	}
	if _, ok := active[exceptionKey(e.TestID, e.ExternalID)]; ok {
		return domain.Errorf(domain.KindConflict, "%q already has an exception to the test %s; revoke it first", e.ExternalID, e.TestID)
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO exceptions (org_id, test_id, external_id, justification, approver_id, expires_at,
			created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		e.OrgID, e.TestID, e.ExternalID, e.Justification, e.ApproverID, s.t(e.ExpiresAt), actor.UserID, s.t(now)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("create exception: %w", err)
	}
	err = s.appendEvent(ctx, tx, actor, e.OrgID, domain.EventExceptionCreated, exceptionSubject(e.ID), map[string]any{
		"exception_id":  e.ID,
		"test_id":       e.TestID,
		"external_id":   e.ExternalID,
		"justification": e.Justification,
		"approver_id":   e.ApproverID,
		"approver":      approver,
		"expires_at":    e.ExpiresAt.Format(time.RFC3339),
	})
	if err != nil {
		return err
	}
	stored, err := s.loadException(ctx, tx, e.OrgID, e.ID)
	if err != nil {
		return err
	}
	if err := s.commit(tx, "create exception"); err != nil {
		return err
	}
	*e = *stored
	return nil
}

const exceptionSelect = `SELECT e.id, e.org_id, e.test_id, e.external_id, e.justification, e.approver_id,
	COALESCE(NULLIF(u.name, ''), u.email, ''), e.expires_at, e.created_by, e.created_at, e.revoked_at, e.revoked_by
	FROM exceptions e LEFT JOIN users u ON u.id = e.approver_id`

func scanException(row interface{ Scan(...any) error }, e *domain.Exception) error {
	var expires, created dbTime
	var revoked nullTime
	err := row.Scan(&e.ID, &e.OrgID, &e.TestID, &e.ExternalID, &e.Justification, &e.ApproverID, &e.ApproverName,
		&expires, &e.CreatedBy, &created, &revoked, &e.RevokedBy)
	if err != nil {
		return err
	}
	e.ExpiresAt, e.CreatedAt, e.RevokedAt = expires.t, created.t, revoked.t
	return nil
}

func (s *Store) loadException(ctx context.Context, q querier, orgID, id int64) (*domain.Exception, error) {
	var e domain.Exception
	err := scanException(q.QueryRowContext(ctx, exceptionSelect+` WHERE e.org_id = $1 AND e.id = $2`, orgID, id), &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("exception")
	}
	if err != nil {
		return nil, fmt.Errorf("load exception %d: %w", id, err)
	}
	return &e, nil
}

// Exception returns one of the organization's exceptions.
func (s *Store) Exception(ctx context.Context, orgID, id int64) (*domain.Exception, error) {
	return s.loadException(ctx, s.rdb, orgID, id)
}

// Exceptions lists the organization's exceptions matching the filter, newest first.
func (s *Store) Exceptions(ctx context.Context, orgID int64, f domain.ExceptionFilter) ([]domain.Exception, error) {
	if f.ActiveAt != nil {
		return s.ExceptionsInState(ctx, orgID, ExceptionActive, *f.ActiveAt, 0, f)
	}
	return s.ExceptionsInState(ctx, orgID, "", time.Time{}, 0, f)
}

// RevokeException ends an exception in force, with a ledger entry. One already revoked or
// expired is KindConflict. RevokeExceptionWithReason also records why.
func (s *Store) RevokeException(ctx context.Context, actor domain.Actor, orgID, id int64) error {
	return s.revokeException(ctx, actor, orgID, id, "")
}

// alertColumns are the columns scanAlert reads, in its order.
const alertColumns = `id, org_id, test_id, test_title, severity, state, failing, control_ids, owner_ids, test_run_id,
	created_at, delivered_at`

const alertSelect = `SELECT ` + alertColumns + ` FROM alerts`

// scanAlert reads the columns of alertColumns into a, then any more columns into more.
func scanAlert(rows *sql.Rows, a *domain.Alert, more ...any) error {
	var controls, owners string
	var created dbTime
	var delivered nullTime
	dest := append([]any{&a.ID, &a.OrgID, &a.TestID, &a.TestTitle, &a.Severity, &a.State, &a.Failing, &controls, &owners,
		&a.TestRunID, &created, &delivered}, more...)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	a.CreatedAt, a.DeliveredAt = created.t, delivered.t
	if err := json.Unmarshal([]byte(controls), &a.ControlIDs); err != nil {
		return fmt.Errorf("alert %d: control IDs: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(owners), &a.OwnerIDs); err != nil {
		return fmt.Errorf("alert %d: owner IDs: %w", a.ID, err)
	}
	return nil
}

func scanAlerts(rows *sql.Rows) ([]domain.Alert, error) {
	out := []domain.Alert{}
	for rows.Next() {
		var a domain.Alert
		if err := scanAlert(rows, &a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// alertListQuery completes sel, a select of alerts, with the filter's conditions, newest
// first.
func alertListQuery(sel string, orgID int64, f domain.AlertFilter) (string, args, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return "", nil, err
	}
	var a args
	where := []string{"org_id = " + a.add(orgID)}
	if f.TestID != "" {
		where = append(where, "test_id = "+a.add(f.TestID))
	}
	if f.Before > 0 {
		where = append(where, "id < "+a.add(f.Before))
	}
	return sel + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id DESC LIMIT ` + a.add(limit), a, nil
}

// Alerts lists the organization's alerts, newest first.
func (s *Store) Alerts(ctx context.Context, orgID int64, f domain.AlertFilter) ([]domain.Alert, error) {
	query, a, err := alertListQuery(alertSelect, orgID, f)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out, err := scanAlerts(rows)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// PendingAlerts claims up to limit undelivered alerts of any organization for owner, a
// notifier process, for the lease, and returns them oldest first. An alert another owner
// claimed and whose lease has not run out is skipped (on PostgreSQL, FOR NO KEY UPDATE
// SKIP LOCKED keeps replicas claiming at the same time apart), so each alert is delivered
// by one notifier at a time; one whose notifier died is claimed again once the lease ends.
func (s *Store) PendingAlerts(ctx context.Context, owner string, lease time.Duration, limit int) ([]domain.Alert, error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, domain.Invalid("limit", "must be positive")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	now := s.now()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM alerts WHERE delivered_at IS NULL AND (claim_until IS NULL OR claim_until <= $1)
		ORDER BY id LIMIT $2`+s.skipLocked(), s.t(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim alerts: %w", err)
		}
		ids = append(ids, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	if len(ids) == 0 {
		return []domain.Alert{}, nil
	}
	var a args
	until := a.add(s.t(now.Add(lease)))
	who := a.add(owner)
	marks := make([]string, len(ids))
	for i, id := range ids {
		marks[i] = a.add(id)
	}
	in := strings.Join(marks, ", ")
	if _, err := tx.ExecContext(ctx, `UPDATE alerts SET claim_owner = `+who+`, claim_until = `+until+` WHERE id IN (`+in+`)`, a...); err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	var b args
	for i, id := range ids {
		marks[i] = b.add(id)
	}
	rows, err = tx.QueryContext(ctx, alertSelect+` WHERE id IN (`+strings.Join(marks, ", ")+`) ORDER BY id`, b...)
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	out, err := scanAlerts(rows)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	if err := s.commit(tx, "claim alerts"); err != nil {
		return nil, err
	}
	return out, nil
}

// MarkDelivered records that owner delivered an alert it claimed. An unknown alert is
// KindNotFound; one delivered already, or whose claim another owner has taken over, is
// KindConflict.
func (s *Store) MarkDelivered(ctx context.Context, owner string, alertID int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE alerts SET delivered_at = $1 WHERE id = $2 AND claim_owner = $3 AND delivered_at IS NULL`,
		s.t(s.now()), alertID, owner)
	if err != nil {
		return fmt.Errorf("mark alert %d delivered: %w", alertID, err)
	}
	return s.claimHeld(ctx, res, 0, alertID)
}

// claimHeld reports how an update of an undelivered alert that a claim holds went, from
// its result: nil when it changed the alert; KindNotFound when the organization (any, for
// orgID 0) has no such alert; KindConflict when the alert was delivered already or
// another owner took the claim over.
func (s *Store) claimHeld(ctx context.Context, res sql.Result, orgID, alertID int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update alert %d: %w", alertID, err)
	}
	if n == 1 {
		return nil
	}
	var a args
	query := `SELECT delivered_at FROM alerts WHERE id = ` + a.add(alertID)
	if orgID != 0 {
		query += ` AND org_id = ` + a.add(orgID)
	}
	var delivered nullTime
	err = s.db.QueryRowContext(ctx, query, a...).Scan(&delivered)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return domain.NotFound("alert")
	case err != nil:
		return fmt.Errorf("load alert %d: %w", alertID, err)
	case delivered.t != nil:
		return domain.Errorf(domain.KindConflict, "alert %d was delivered already", alertID)
	}
	return domain.Errorf(domain.KindConflict, "the claim on alert %d was lost", alertID)
}

const taskSelect = `SELECT t.id, t.org_id, t.assignee_id, COALESCE(NULLIF(u.name, ''), u.email, ''), t.kind, t.test_id,
	t.alert_id, t.title, t.detail, t.created_at, t.closed_at, t.resolution
	FROM tasks t LEFT JOIN users u ON u.id = t.assignee_id`

func scanTask(row interface{ Scan(...any) error }, t *domain.Task) error {
	var assignee sql.NullInt64
	var created dbTime
	var closed nullTime
	if err := row.Scan(&t.ID, &t.OrgID, &assignee, &t.AssigneeName, &t.Kind, &t.TestID, &t.AlertID, &t.Title, &t.Detail,
		&created, &closed, &t.Resolution); err != nil {
		return err
	}
	t.AssigneeID = nil
	if assignee.Valid {
		id := assignee.Int64
		t.AssigneeID = &id
	}
	t.CreatedAt, t.ClosedAt = created.t, closed.t
	return nil
}

// taskWhere returns the conditions of a task filter other than its limit, over tasks t.
func taskWhere(a *args, orgID int64, f domain.TaskFilter) string {
	where := []string{"t.org_id = " + a.add(orgID)}
	if f.ID != 0 {
		where = append(where, "t.id = "+a.add(f.ID))
	}
	switch {
	case f.AssigneeID > 0:
		where = append(where, "t.assignee_id = "+a.add(f.AssigneeID))
	case f.AssigneeID == -1:
		where = append(where, "t.assignee_id IS NULL")
	}
	if f.TestID != "" {
		where = append(where, "t.test_id = "+a.add(f.TestID))
	}
	if !f.IncludeClosed {
		where = append(where, "t.closed_at IS NULL")
	}
	return strings.Join(where, " AND ")
}

// Tasks lists the organization's tasks matching the filter, newest first.
func (s *Store) Tasks(ctx context.Context, orgID int64, f domain.TaskFilter) ([]domain.Task, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	var a args
	where := taskWhere(&a, orgID, f)
	rows, err := s.rdb.QueryContext(ctx, taskSelect+` WHERE `+where+` ORDER BY t.id DESC LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	out := []domain.Task{}
	for rows.Next() {
		var t domain.Task
		if err := scanTask(rows, &t); err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// CloseTask dismisses an open task of the organization, with a ledger entry. A closed task
// is KindConflict.
func (s *Store) CloseTask(ctx context.Context, actor domain.Actor, orgID, id int64) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "task"); err != nil {
		return err
	}
	var t domain.Task
	err = scanTask(tx.QueryRowContext(ctx, taskSelect+` WHERE t.org_id = $1 AND t.id = $2`, orgID, id), &t)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.NotFound("task")
	}
	if err != nil {
		return fmt.Errorf("load task %d: %w", id, err)
	}
	if t.ClosedAt != nil {
		return domain.Errorf(domain.KindConflict, "the task was closed already")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tasks SET closed_at = $1, resolution = $2 WHERE id = $3`,
		s.t(s.now()), taskDismissed, id); err != nil {
		return fmt.Errorf("close task %d: %w", id, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventTaskClosed, taskSubject(id), map[string]any{
		"task_id": id,
		"test_id": t.TestID,
		"title":   t.Title,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "close task")
}

// ReleaseAlert gives up owner's claim on an alert that is not delivered yet, to be
// claimed again from until on: the notifier's next try. An unknown alert is KindNotFound;
// one delivered already, or whose claim another owner has taken over, is KindConflict.
func (s *Store) ReleaseAlert(ctx context.Context, owner string, orgID, alertID int64, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE alerts SET claim_owner = '', claim_until = $1
		WHERE org_id = $2 AND id = $3 AND claim_owner = $4 AND delivered_at IS NULL`, s.t(until), orgID, alertID, owner)
	if err != nil {
		return fmt.Errorf("release alert %d: %w", alertID, err)
	}
	return s.claimHeld(ctx, res, orgID, alertID)
}

// CountTasks counts the organization's tasks matching the filter; its Limit is ignored.
func (s *Store) CountTasks(ctx context.Context, orgID int64, f domain.TaskFilter) (int, error) {
	var a args
	where := taskWhere(&a, orgID, f)
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM tasks t WHERE `+where, a...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return n, nil
}
