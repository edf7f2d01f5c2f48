package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

const scopeSubject = "scope"

// scopeEventData is a scope as events record it.
func scopeEventData(sc *domain.Scope) map[string]any {
	return map[string]any{
		"categories":   sc.Categories,
		"report_type":  sc.ReportType,
		"target_date":  sc.TargetDate,
		"period_start": sc.PeriodStart,
		"period_end":   sc.PeriodEnd,
		"out_of_scope": sc.OutOfScope,
	}
}

func joinCategories(cs []domain.Category) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = string(c)
	}
	return strings.Join(parts, ",")
}

func splitCategories(s string) []domain.Category {
	out := []domain.Category{}
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, domain.Category(p))
		}
	}
	return out
}

// insertScope writes a validated scope, replacing the organization's current one.
func (s *Store) insertScope(ctx context.Context, tx *sql.Tx, sc *domain.Scope) error {
	sc.TargetDate, sc.PeriodStart, sc.PeriodEnd = truncPtr(sc.TargetDate), truncPtr(sc.PeriodStart), truncPtr(sc.PeriodEnd)
	_, err := tx.ExecContext(ctx, `INSERT INTO scopes (org_id, categories, report_type, target_date, period_start, period_end, out_of_scope, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (org_id) DO UPDATE SET categories = excluded.categories, report_type = excluded.report_type,
			target_date = excluded.target_date, period_start = excluded.period_start, period_end = excluded.period_end,
			out_of_scope = excluded.out_of_scope, updated_at = excluded.updated_at`,
		sc.OrgID, joinCategories(sc.Categories), string(sc.ReportType), s.tp(sc.TargetDate), s.tp(sc.PeriodStart),
		s.tp(sc.PeriodEnd), sc.OutOfScope, s.t(sc.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store scope: %w", err)
	}
	return nil
}

func (s *Store) loadScope(ctx context.Context, q querier, orgID int64) (*domain.Scope, error) {
	sc := domain.Scope{OrgID: orgID}
	var cats string
	var target, start, end nullTime
	var updated dbTime
	err := q.QueryRowContext(ctx, `SELECT categories, report_type, target_date, period_start, period_end, out_of_scope, updated_at
		FROM scopes WHERE org_id = $1`, orgID).Scan(&cats, &sc.ReportType, &target, &start, &end, &sc.OutOfScope, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("scope")
	}
	if err != nil {
		return nil, fmt.Errorf("load scope: %w", err)
	}
	sc.Categories = splitCategories(cats)
	sc.TargetDate, sc.PeriodStart, sc.PeriodEnd, sc.UpdatedAt = target.t, start.t, end.t, updated.t
	return &sc, nil
}

// Scope returns what the organization's examination covers.
func (s *Store) Scope(ctx context.Context, orgID int64) (*domain.Scope, error) {
	return s.loadScope(ctx, s.rdb, orgID)
}

// UpdateScope replaces the organization's scope (sc.OrgID), validated and normalized, and
// records a scope.updated event with the new scope unless nothing changed. On success sc
// holds what was stored.
func (s *Store) UpdateScope(ctx context.Context, actor domain.Actor, sc *domain.Scope) error {
	next := *sc
	next.Categories = append([]domain.Category(nil), sc.Categories...)
	if err := domain.ValidateScope(&next); err != nil {
		return err
	}
	next.TargetDate, next.PeriodStart, next.PeriodEnd = truncPtr(next.TargetDate), truncPtr(next.PeriodStart), truncPtr(next.PeriodEnd)
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, sc.OrgID); err != nil {
		return err
	}
	old, err := s.loadScope(ctx, tx, sc.OrgID)
	if err != nil && !domain.IsNotFound(err) {
		return err
	}
	if old != nil && sameScope(old, &next) {
		*sc = *old
		return nil
	}
	next.UpdatedAt = s.now()
	if err := s.insertScope(ctx, tx, &next); err != nil {
		return err
	}
	if err := s.appendEvent(ctx, tx, actor, sc.OrgID, domain.EventScopeUpdated, scopeSubject, scopeEventData(&next)); err != nil {
		return err
	}
	if err := s.commit(tx, "update scope"); err != nil {
		return err
	}
	*sc = next
	return nil
}

func sameScope(a, b *domain.Scope) bool {
	return joinCategories(a.Categories) == joinCategories(b.Categories) &&
		a.ReportType == b.ReportType &&
		sameTime(a.TargetDate, b.TargetDate) &&
		sameTime(a.PeriodStart, b.PeriodStart) &&
		sameTime(a.PeriodEnd, b.PeriodEnd) &&
		a.OutOfScope == b.OutOfScope
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func systemSubject(id int64) string { return fmt.Sprintf("system:%d", id) }

// validateSystem checks a system with the domain's rules and the store's limits.
func validateSystem(sys *domain.System) error {
	if err := domain.ValidateSystem(sys); err != nil {
		return err
	}
	if len(sys.Description) > 20000 {
		return domain.Invalid("description", "must be at most 20000 characters")
	}
	return nil
}

// CreateSystem adds a system to the organization's scope (sys.OrgID). A name already used
// in the organization is KindConflict; an owner who is not a member is KindInvalid.
func (s *Store) CreateSystem(ctx context.Context, actor domain.Actor, sys *domain.System) error {
	if err := validateSystem(sys); err != nil {
		return err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, sys.OrgID); err != nil {
		return err
	}
	if err := s.requireMember(ctx, tx, sys.OrgID, sys.OwnerID); err != nil {
		return err
	}
	now := s.now()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO systems (org_id, name, description, kind, classification, owner_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`,
		sys.OrgID, sys.Name, sys.Description, sys.Kind, string(sys.Classification), nullID(sys.OwnerID), s.t(now)).Scan(&id)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "a system named %q already exists in this organization", sys.Name)
	}
	if err != nil {
		return fmt.Errorf("create system %q: %w", sys.Name, err)
	}
	err = s.appendEvent(ctx, tx, actor, sys.OrgID, domain.EventSystemCreated, systemSubject(id), map[string]any{
		"name":           sys.Name,
		"kind":           sys.Kind,
		"classification": sys.Classification,
		"owner_id":       ownerValue(sys.OwnerID),
	})
	if err != nil {
		return err
	}
	stored, err := s.loadSystem(ctx, tx, sys.OrgID, id)
	if err != nil {
		return err
	}
	if err := s.commit(tx, "create system "+sys.Name); err != nil {
		return err
	}
	*sys = *stored
	return nil
}

const systemSelect = `SELECT s.id, s.org_id, s.name, s.description, s.kind, s.classification, s.owner_id,
	COALESCE(NULLIF(u.name, ''), u.email, ''), s.created_at, s.updated_at
	FROM systems s LEFT JOIN users u ON u.id = s.owner_id`

func scanSystem(row interface{ Scan(...any) error }) (*domain.System, error) {
	var sys domain.System
	var owner sql.NullInt64
	var created, updated dbTime
	if err := row.Scan(&sys.ID, &sys.OrgID, &sys.Name, &sys.Description, &sys.Kind, &sys.Classification, &owner,
		&sys.OwnerName, &created, &updated); err != nil {
		return nil, err
	}
	if owner.Valid {
		id := owner.Int64
		sys.OwnerID = &id
	}
	sys.CreatedAt, sys.UpdatedAt = created.t, updated.t
	return &sys, nil
}

func (s *Store) loadSystem(ctx context.Context, q querier, orgID, id int64) (*domain.System, error) {
	sys, err := scanSystem(q.QueryRowContext(ctx, systemSelect+` WHERE s.org_id = $1 AND s.id = $2`, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("system")
	}
	if err != nil {
		return nil, fmt.Errorf("load system %d: %w", id, err)
	}
	return sys, nil
}

// System returns one of the organization's systems.
func (s *Store) System(ctx context.Context, orgID, id int64) (*domain.System, error) {
	return s.loadSystem(ctx, s.rdb, orgID, id)
}

// Systems lists the organization's systems by name.
func (s *Store) Systems(ctx context.Context, orgID int64) ([]domain.System, error) {
	rows, err := s.rdb.QueryContext(ctx, systemSelect+` WHERE s.org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list systems: %w", err)
	}
	defer rows.Close()
	out := []domain.System{}
	for rows.Next() {
		sys, err := scanSystem(rows)
		if err != nil {
			return nil, fmt.Errorf("list systems: %w", err)
		}
		out = append(out, *sys)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list systems: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
		if a != b {
			return a < b
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// UpdateSystem replaces the fields of one of the organization's systems (sys.OrgID,
// sys.ID) and records a system.updated event with the fields that changed, none when
// nothing did. On success sys holds what was stored.
func (s *Store) UpdateSystem(ctx context.Context, actor domain.Actor, sys *domain.System) error {
	next := *sys
	if err := validateSystem(&next); err != nil {
		return err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, sys.OrgID); err != nil {
		if domain.IsNotFound(err) {
			return domain.NotFound("system")
		}
		return err
	}
	old, err := s.loadSystem(ctx, tx, sys.OrgID, sys.ID)
	if err != nil {
		return err
	}
	diff := changes{}
	diff.note("name", old.Name, next.Name)
	diff.note("description", old.Description, next.Description)
	diff.note("kind", old.Kind, next.Kind)
	diff.note("classification", string(old.Classification), string(next.Classification))
	diff.note("owner_id", ownerValue(old.OwnerID), ownerValue(next.OwnerID))
	if len(diff) == 0 {
		*sys = *old
		return nil
	}
	if _, changed := diff["owner_id"]; changed {
		if err := s.requireMember(ctx, tx, sys.OrgID, next.OwnerID); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE systems SET name = $1, description = $2, kind = $3, classification = $4, owner_id = $5,
			updated_at = $6 WHERE org_id = $7 AND id = $8`,
		next.Name, next.Description, next.Kind, string(next.Classification), nullID(next.OwnerID), s.t(s.now()), sys.OrgID, sys.ID)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "a system named %q already exists in this organization", next.Name)
	}
	if err != nil {
		return fmt.Errorf("update system %q: %w", next.Name, err)
	}
	err = s.appendEvent(ctx, tx, actor, sys.OrgID, domain.EventSystemUpdated, systemSubject(sys.ID), map[string]any{
		"name":    next.Name,
		"changes": diff,
	})
	if err != nil {
		return err
	}
	stored, err := s.loadSystem(ctx, tx, sys.OrgID, sys.ID)
	if err != nil {
		return err
	}
	if err := s.commit(tx, "update system "+next.Name); err != nil {
		return err
	}
	*sys = *stored
	return nil
}

// DeleteSystem removes one of the organization's systems from its scope.
func (s *Store) DeleteSystem(ctx context.Context, actor domain.Actor, orgID, id int64) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "system"); err != nil {
		return err
	}
	old, err := s.loadSystem(ctx, tx, orgID, id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM systems WHERE org_id = $1 AND id = $2`, orgID, id); err != nil {
		return fmt.Errorf("delete system %q: %w", old.Name, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventSystemDeleted, systemSubject(id), map[string]any{
		"name": old.Name,
		"kind": old.Kind,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "delete system "+old.Name)
}
