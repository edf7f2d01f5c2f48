package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evidenthq/evident/internal/domain"
)

// The reads and the one change the tests pages and routes need beyond the test store: the
// resources behind a test's verdicts, a test's history a page at a time, exceptions by
// state with their ledger entries, and revocation with a reason.

// The states of an exception at a time, for ExceptionsInState.
const (
	ExceptionActive  = "active"  // in force
	ExceptionExpired = "expired" // ran out without being revoked
	ExceptionRevoked = "revoked" // ended early
)

// maxRevokeReason bounds the reason given for revoking an exception.
const maxRevokeReason = 2000

// inListChunk is how many values one IN list of ResourcesByExternalID and ExceptionEvents
// holds, well under both engines' limits on parameters.
const inListChunk = 500

// ResourcesByExternalID returns the organization's current (not gone) resources of a type
// with the given external IDs, by external ID: the verdicts of tests name resources by
// external ID only. When two sources report the same external ID, the resource first
// stored wins. Attributes are not read. External IDs without a current resource are
// missing from the map.
func (s *Store) ResourcesByExternalID(ctx context.Context, orgID int64, typ string, externalIDs []string) (map[string]domain.Resource, error) {
	out := map[string]domain.Resource{}
	for len(externalIDs) > 0 {
		chunk := externalIDs[:min(len(externalIDs), inListChunk)]
		externalIDs = externalIDs[len(chunk):]
		var a args
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			marks[i] = a.add(id)
		}
		rows, err := s.rdb.QueryContext(ctx, `SELECT r.id, r.org_id, r.connection_id, COALESCE(c.name, r.source), r.type,
				r.external_id, r.name, r.hash, r.version, r.first_seen, r.last_seen, r.changed_at
			FROM resources r LEFT JOIN connections c ON c.id = r.connection_id
			WHERE r.org_id = `+a.add(orgID)+` AND r.type = `+a.add(typ)+` AND r.gone_at IS NULL
				AND r.external_id IN (`+strings.Join(marks, ", ")+`) ORDER BY r.id`, a...)
		if err != nil {
			return nil, fmt.Errorf("find %s resources: %w", typ, err)
		}
		for rows.Next() {
			var r domain.Resource
			var conn sql.NullInt64
			var first, last, changed dbTime
			if err := rows.Scan(&r.ID, &r.OrgID, &conn, &r.Source, &r.Type, &r.ExternalID, &r.Name, &r.Hash, &r.Version,
				&first, &last, &changed); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find %s resources: %w", typ, err)
			}
			if conn.Valid {
				id := conn.Int64
				r.ConnectionID = &id
			}
			r.FirstSeen, r.LastSeen, r.ChangedAt = first.t, last.t, changed.t
			if _, ok := out[r.ExternalID]; !ok {
				out[r.ExternalID] = r
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("find %s resources: %w", typ, err)
		}
	}
	return out, nil
}

// TestHistoryBefore returns a test's outcome in the organization's runs that judged it,
// newest first, a page at a time: runs with an ID below before (0: from the latest), at
// most limit of them (0: 100).
func (s *Store) TestHistoryBefore(ctx context.Context, orgID int64, testID string, before int64, limit int) ([]domain.TestHistoryPoint, error) {
	limit, err := listLimit(limit)
	if err != nil {
		return nil, err
	}
	if before < 0 {
		return nil, domain.Invalid("before", "must be a test run ID")
	}
	var a args
	where := "r.org_id = " + a.add(orgID) + " AND r.test_id = " + a.add(testID)
	if before > 0 {
		where += " AND r.run_id < " + a.add(before)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.run_id, tr.at, r.status, r.passed, r.failed, r.errors, r.excepted
		FROM test_results r JOIN test_runs tr ON tr.id = r.run_id
		WHERE `+where+` ORDER BY r.run_id DESC LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, fmt.Errorf("load history of test %s: %w", testID, err)
	}
	defer rows.Close()
	out := []domain.TestHistoryPoint{}
	for rows.Next() {
		var p domain.TestHistoryPoint
		var at dbTime
		if err := rows.Scan(&p.RunID, &at, &p.Status, &p.Passed, &p.Failed, &p.Errors, &p.Excepted); err != nil {
			return nil, fmt.Errorf("load history of test %s: %w", testID, err)
		}
		p.At = at.t
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load history of test %s: %w", testID, err)
	}
	return out, nil
}

// ExceptionsInState lists the organization's exceptions matching f (its TestID, ExternalID
// and Limit; its ActiveAt is ignored) that are in the given state at time at: "active",
// "expired" or "revoked" (see the Exception constants), or "" for every state. Newest
// first; before > 0 keeps the exceptions with an ID below it, for paging.
func (s *Store) ExceptionsInState(ctx context.Context, orgID int64, state string, at time.Time, before int64, f domain.ExceptionFilter) ([]domain.Exception, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if before < 0 {
		return nil, domain.Invalid("before", "must be an exception ID")
	}
	var a args
	where := []string{"e.org_id = " + a.add(orgID)}
	if f.TestID != "" {
		where = append(where, "e.test_id = "+a.add(f.TestID))
	}
	if f.ExternalID != "" {
		where = append(where, "e.external_id = "+a.add(f.ExternalID))
	}
	if before > 0 {
		where = append(where, "e.id < "+a.add(before))
	}
	switch state {
	case "":
	case ExceptionActive:
		where = append(where, inForce("e.", a.add(s.t(at))))
	case ExceptionExpired:
		p := a.add(s.t(at))
		where = append(where, "e.expires_at <= "+p, "(e.revoked_at IS NULL OR e.revoked_at > "+p+")")
	case ExceptionRevoked:
		where = append(where, "e.revoked_at IS NOT NULL", "e.revoked_at <= "+a.add(s.t(at)))
	default:
		return nil, domain.Invalid("state", "must be active, expired or revoked")
	}
	rows, err := s.rdb.QueryContext(ctx, exceptionSelect+` WHERE `+strings.Join(where, " AND ")+` ORDER BY e.id DESC LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	defer rows.Close()
	out := []domain.Exception{}
	for rows.Next() {
		var e domain.Exception
		if err := scanException(rows, &e); err != nil {
			return nil, fmt.Errorf("list exceptions: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	return out, nil
}

// ExceptionEvents returns the ledger entries of the organization's exceptions with the
// given IDs (their creation and, when revoked, their revocation), oldest first: what an
// auditor follows from an exception to the signed log.
func (s *Store) ExceptionEvents(ctx context.Context, orgID int64, ids []int64) ([]domain.Event, error) {
	out := []domain.Event{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), inListChunk)]
		ids = ids[len(chunk):]
		var a args
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			marks[i] = a.add(exceptionSubject(id))
		}
		rows, err := s.rdb.QueryContext(ctx, `SELECT org_id, idx, at, actor_id, actor, type, subject, data FROM events
			WHERE org_id = `+a.add(orgID)+` AND subject IN (`+strings.Join(marks, ", ")+`) ORDER BY idx`, a...)
		if err != nil {
			return nil, fmt.Errorf("load exception entries: %w", err)
		}
		out, err = scanEvents(rows, out)
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("load exception entries: %w", err)
		}
	}
	return out, nil
}

// RevokeExceptionWithReason ends an exception in force, recording in its ledger entry who
// ended it and why. The reason is required; an exception already revoked or expired is
// KindConflict, one of another organization KindNotFound.
func (s *Store) RevokeExceptionWithReason(ctx context.Context, actor domain.Actor, orgID, id int64, reason string) error {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return domain.Invalid("reason", "is required: say why the exception ends")
	case utf8.RuneCountInString(reason) > maxRevokeReason:
		return domain.Invalid("reason", "must be at most %d characters", maxRevokeReason)
	}
	return s.revokeException(ctx, actor, orgID, id, reason)
}

// revokeException ends an exception in force; a reason, when given, goes into its ledger entry.
func (s *Store) revokeException(ctx context.Context, actor domain.Actor, orgID, id int64, reason string) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "exception"); err != nil {
		return err
	}
	e, err := s.loadException(ctx, tx, orgID, id)
	if err != nil {
		return err
	}
	now := s.now()
	switch {
	case e.RevokedAt != nil:
		return domain.Errorf(domain.KindConflict, "the exception was revoked already")
	case !now.Before(e.ExpiresAt):
		return domain.Errorf(domain.KindConflict, "the exception has expired already")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND org_id = $4`,
		s.t(now), actor.UserID, id, orgID); err != nil {
		return fmt.Errorf("revoke exception %d: %w", id, err)
	}
	data := map[string]any{
		"exception_id": id,
		"test_id":      e.TestID,
		"external_id":  e.ExternalID,
	}
	if reason != "" {
		data["reason"] = reason
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventExceptionRevoked, exceptionSubject(id), data)
	if err != nil {
		return err
	}
	return s.commit(tx, "revoke exception")
}
