package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

// lockOrg makes sure the organization exists and, on PostgreSQL, locks its row until the
// transaction ends. Every change to an organization's objects takes this lock first, so
// such changes apply one at a time and their events get consecutive indexes. The events
// themselves are written by appendEvent and appendEvents (ledger.go), the one place that
// does.
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

// lockOrgFor is lockOrg for a change to one of the organization's objects: an
// organization that does not exist is KindNotFound for the object, named what.
func (s *Store) lockOrgFor(ctx context.Context, tx *sql.Tx, orgID int64, what string) error {
	err := s.lockOrg(ctx, tx, orgID)
	if domain.IsNotFound(err) {
		return domain.NotFound(what)
	}
	return err
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
	return scanEvents(rows, []domain.Event{})
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
