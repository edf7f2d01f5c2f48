package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

// lockOrg makes sure the organization exists and, on PostgreSQL, locks its row until the
// transaction ends. Every change to an organization's objects takes this lock first, so
// such changes apply one at a time and their events get consecutive indexes.
func (s *Store) lockOrg(ctx context.Context, tx *sql.Tx, orgID int64) error {
	var id int64
	err := tx.QueryRowContext(ctx, s.d.lockOrgSQL(), orgID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.NotFound("organization")
	}
	if err != nil {
		return fmt.Errorf("lock organization %d: %w", orgID, err)
	}
	return nil
}

// appendEvent adds an entry to the organization's audit trail, in the transaction of the
// change it records. It is the one place events are written.
func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, actor domain.Actor, orgID int64, typ, subject string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("event %s: encode data: %w", typ, err)
	}
	// Taken again here so that no caller can append without holding the lock.
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return err
	}
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM events WHERE org_id = $1`, orgID).Scan(&next); err != nil {
		return fmt.Errorf("event %s: next index: %w", typ, err)
	}
	name := actor.Email
	if name == "" {
		name = domain.SystemActor.Email
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO events (org_id, idx, at, actor_id, actor, type, subject, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		orgID, next, s.t(s.now()), actor.UserID, name, typ, subject, string(raw))
	if err != nil {
		return fmt.Errorf("event %s: %w", typ, err)
	}
	return nil
}

const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// Events lists an organization's audit trail, newest first.
func (s *Store) Events(ctx context.Context, orgID int64, f domain.EventFilter) ([]domain.Event, error) {
	if f.Limit < 0 {
		return nil, domain.Invalid("limit", "must not be negative")
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultEventLimit
	}
	limit = min(limit, maxEventLimit)

	var a args
	where := []string{"org_id = " + a.add(orgID)}
	switch {
	case f.Type == "":
	case strings.HasSuffix(f.Type, "."):
		where = append(where, "type LIKE "+a.add(escapeLike(f.Type)+"%")+` ESCAPE '\'`)
	default:
		where = append(where, "type = "+a.add(f.Type))
	}
	if f.ActorID != 0 {
		where = append(where, "actor_id = "+a.add(f.ActorID))
	}
	if f.Subject != "" {
		where = append(where, "subject = "+a.add(f.Subject))
	}
	if f.Since != nil {
		where = append(where, "at >= "+a.add(s.t(*f.Since)))
	}
	if f.Until != nil {
		where = append(where, "at < "+a.add(s.t(*f.Until)))
	}
	if f.Before > 0 {
		where = append(where, "idx < "+a.add(f.Before))
	}
	q := `SELECT org_id, idx, at, actor_id, actor, type, subject, data FROM events WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY idx DESC LIMIT ` + a.add(limit)
	rows, err := s.rdb.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out := []domain.Event{}
	for rows.Next() {
		var e domain.Event
		var at dbTime
		var data string
		if err := rows.Scan(&e.OrgID, &e.Index, &at, &e.ActorID, &e.Actor, &e.Type, &e.Subject, &data); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.At = at.t
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// change is one field's old and new value in an event.
type change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// changes collects the fields an update changed, keyed by field name.
type changes map[string]change

// note records a field if its value changed.
func (c changes) note(field string, from, to any) {
	if from != to {
		c[field] = change{From: from, To: to}
	}
}

// ownerValue turns an optional owner into a comparable event value: the ID or nil.
func ownerValue(id *int64) any {
	if id == nil {
		return nil
	}
	return *id
}
