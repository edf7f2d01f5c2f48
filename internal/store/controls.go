package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
)

func controlSubject(id int64) string { return fmt.Sprintf("control:%d", id) }

// validCriterion reports whether id names a criterion of the catalog.
func validCriterion(id string) bool {
	_, ok := catalog.Default().Criterion(id)
	return ok
}

// validateNewControl checks a control about to be created: its fields, and its criteria
// against the catalog, which it sorts and de-duplicates.
func validateNewControl(c *domain.Control) error {
	if err := domain.ValidateControl(c); err != nil {
		return err
	}
	if len(c.Domain) > 100 {
		return domain.Invalid("domain", "must be at most 100 characters")
	}
	if len(c.EvidenceExpected) > 20000 {
		return domain.Invalid("evidence_expected", "must be at most 20000 characters")
	}
	seen := map[string]bool{}
	crit := make([]string, 0, len(c.Criteria))
	for _, id := range c.Criteria {
		id = strings.TrimSpace(id)
		if !validCriterion(id) {
			return domain.Invalid("criteria", "unknown criterion %q", id)
		}
		if !seen[id] {
			seen[id] = true
			crit = append(crit, id)
		}
	}
	sort.Strings(crit)
	c.Criteria = crit
	return nil
}

// requireMember checks that a would-be owner belongs to the organization.
func (s *Store) requireMember(ctx context.Context, tx *sql.Tx, orgID int64, ownerID *int64) error {
	if ownerID == nil {
		return nil
	}
	if _, _, err := s.memberRole(ctx, tx, orgID, *ownerID); err != nil {
		if domain.IsNotFound(err) {
			return domain.Invalid("owner_id", "is not a member of this organization")
		}
		return err
	}
	return nil
}

// insertControl inserts a validated control and its criteria mappings, setting its ID and
// times. A ref already used in the organization is KindConflict.
func (s *Store) insertControl(ctx context.Context, tx *sql.Tx, c *domain.Control, now time.Time) error {
	c.RetiredAt = truncPtr(c.RetiredAt)
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO controls (org_id, ref, title, description, domain, frequency, evidence_expected,
			owner_id, status, justification, from_library, retired_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id`,
		c.OrgID, c.Ref, c.Title, c.Description, c.Domain, string(c.Frequency), c.EvidenceExpected,
		nullID(c.OwnerID), string(c.Status), c.Justification, c.FromLibrary, s.tp(c.RetiredAt), s.t(now)).Scan(&id)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "the control ref %q is already used in this organization", c.Ref)
	}
	if err != nil {
		return fmt.Errorf("create control %s: %w", c.Ref, err)
	}
	for _, crit := range c.Criteria {
		if _, err := tx.ExecContext(ctx, `INSERT INTO control_criteria (org_id, control_id, criterion_id) VALUES ($1, $2, $3)`,
			c.OrgID, id, crit); err != nil {
			return fmt.Errorf("map control %s to %s: %w", c.Ref, crit, err)
		}
	}
	c.ID, c.CreatedAt, c.UpdatedAt = id, now, now
	return nil
}

// CreateControl creates one of an organization's own controls; an empty status means not
// started. A ref already used in the organization is KindConflict; an owner who is not a
// member is KindInvalid. On success c holds what was stored.
func (s *Store) CreateControl(ctx context.Context, actor domain.Actor, c *domain.Control) error {
	if c.Status == "" {
		c.Status = domain.StatusNotStarted
	}
	if err := validateNewControl(c); err != nil {
		return err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, c.OrgID); err != nil {
		return err
	}
	if err := s.requireMember(ctx, tx, c.OrgID, c.OwnerID); err != nil {
		return err
	}
	if err := s.insertControl(ctx, tx, c, s.now()); err != nil {
		return err
	}
	err = s.appendEvent(ctx, tx, actor, c.OrgID, domain.EventControlCreated, controlSubject(c.ID), map[string]any{
		"ref":          c.Ref,
		"title":        c.Title,
		"status":       c.Status,
		"frequency":    c.Frequency,
		"owner_id":     ownerValue(c.OwnerID),
		"criteria":     c.Criteria,
		"from_library": c.FromLibrary,
	})
	if err != nil {
		return err
	}
	stored, err := s.loadControl(ctx, tx, c.OrgID, "c.id", c.ID)
	if err != nil {
		return err
	}
	if err := s.commit(tx, "create control "+c.Ref); err != nil {
		return err
	}
	*c = *stored
	return nil
}

// controlSelect reads controls with their owner's name (or email, for a user without one).
const controlSelect = `SELECT c.id, c.org_id, c.ref, c.title, c.description, c.domain, c.frequency, c.evidence_expected,
	c.owner_id, COALESCE(NULLIF(u.name, ''), u.email, ''), c.status, c.justification, c.from_library,
	c.retired_at, c.created_at, c.updated_at
	FROM controls c LEFT JOIN users u ON u.id = c.owner_id`

func scanControl(row interface{ Scan(...any) error }, c *domain.Control) error {
	var owner sql.NullInt64
	var retired nullTime
	var created, updated dbTime
	err := row.Scan(&c.ID, &c.OrgID, &c.Ref, &c.Title, &c.Description, &c.Domain, &c.Frequency, &c.EvidenceExpected,
		&owner, &c.OwnerName, &c.Status, &c.Justification, &c.FromLibrary, &retired, &created, &updated)
	if err != nil {
		return err
	}
	c.OwnerID = nil
	if owner.Valid {
		id := owner.Int64
		c.OwnerID = &id
	}
	c.RetiredAt, c.CreatedAt, c.UpdatedAt = retired.t, created.t, updated.t
	return nil
}

// loadControl reads one of the organization's controls, found by the given column, with
// its criteria.
func (s *Store) loadControl(ctx context.Context, q querier, orgID int64, column string, key any) (*domain.Control, error) {
	var c domain.Control
	err := scanControl(q.QueryRowContext(ctx, controlSelect+` WHERE c.org_id = $1 AND `+column+` = $2`, orgID, key), &c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("control")
	}
	if err != nil {
		return nil, fmt.Errorf("load control %v: %w", key, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT criterion_id FROM control_criteria WHERE control_id = $1`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("load criteria of control %s: %w", c.Ref, err)
	}
	defer rows.Close()
	c.Criteria = []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load criteria of control %s: %w", c.Ref, err)
		}
		c.Criteria = append(c.Criteria, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load criteria of control %s: %w", c.Ref, err)
	}
	sort.Strings(c.Criteria)
	return &c, nil
}

// Control returns one of the organization's controls.
func (s *Store) Control(ctx context.Context, orgID, id int64) (*domain.Control, error) {
	return s.loadControl(ctx, s.rdb, orgID, "c.id", id)
}

// ControlByRef returns the organization's control with the given ref.
func (s *Store) ControlByRef(ctx context.Context, orgID int64, ref string) (*domain.Control, error) {
	return s.loadControl(ctx, s.rdb, orgID, "c.ref", strings.TrimSpace(ref))
}

// Controls lists the organization's controls that match the filter, by ref, with their
// criteria. It takes two queries whatever the number of controls.
func (s *Store) Controls(ctx context.Context, orgID int64, f domain.ControlFilter) ([]domain.Control, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, domain.Invalid("status", "must be one of not_started, in_progress, implemented, not_applicable")
	}
	if f.OwnerID < -1 {
		return nil, domain.Invalid("owner_id", "must be a user ID, 0 for any owner or -1 for none")
	}
	var a args
	where := []string{"c.org_id = " + a.add(orgID)}
	if q := strings.TrimSpace(f.Query); q != "" {
		p := a.add("%" + escapeLike(q) + "%")
		like := " " + s.d.likeOp() + " " + p + ` ESCAPE '\'`
		where = append(where, "(c.ref"+like+" OR c.title"+like+" OR c.description"+like+")")
	}
	if f.Status != "" {
		where = append(where, "c.status = "+a.add(string(f.Status)))
	}
	switch {
	case f.OwnerID == -1:
		where = append(where, "c.owner_id IS NULL")
	case f.OwnerID > 0:
		where = append(where, "c.owner_id = "+a.add(f.OwnerID))
	}
	if f.Criterion != "" {
		where = append(where, "EXISTS (SELECT 1 FROM control_criteria cc WHERE cc.control_id = c.id AND cc.criterion_id = "+a.add(f.Criterion)+")")
	}
	if f.Domain != "" {
		where = append(where, "c.domain = "+a.add(f.Domain))
	}
	if !f.IncludeRetired {
		where = append(where, "c.retired_at IS NULL")
	}
	rows, err := s.rdb.QueryContext(ctx, controlSelect+` WHERE `+strings.Join(where, " AND "), a...)
	if err != nil {
		return nil, fmt.Errorf("list controls: %w", err)
	}
	defer rows.Close()
	out := []domain.Control{}
	byID := map[int64]int{}
	for rows.Next() {
		var c domain.Control
		if err := scanControl(rows, &c); err != nil {
			return nil, fmt.Errorf("list controls: %w", err)
		}
		c.Criteria = []string{}
		byID[c.ID] = len(out)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list controls: %w", err)
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}

	rows, err = s.rdb.QueryContext(ctx, `SELECT control_id, criterion_id FROM control_criteria WHERE org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list control criteria: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var crit string
		if err := rows.Scan(&id, &crit); err != nil {
			return nil, fmt.Errorf("list control criteria: %w", err)
		}
		if i, ok := byID[id]; ok {
			out[i].Criteria = append(out[i].Criteria, crit)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list control criteria: %w", err)
	}
	// Sorted here rather than in SQL so that both engines order text the same way,
	// byte by byte, whatever the database's collation.
	for i := range out {
		sort.Strings(out[i].Criteria)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// UpdateControl applies a partial change to one of the organization's controls, validates
// the result as a whole and returns it. Retired true retires the control (keeping the
// first retirement time), false brings it back. It records one control.updated event with
// the fields that changed, none when nothing did.
func (s *Store) UpdateControl(ctx context.Context, actor domain.Actor, orgID, id int64, ch domain.ControlChange) (*domain.Control, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "control"); err != nil {
		return nil, err
	}
	old, err := s.loadControl(ctx, tx, orgID, "c.id", id)
	if err != nil {
		return nil, err
	}
	c := *old
	now := s.now()
	applyControlChange(&c, ch, now)
	if err := domain.ValidateControl(&c); err != nil {
		return nil, err
	}
	if len(c.Domain) > 100 {
		return nil, domain.Invalid("domain", "must be at most 100 characters")
	}
	if len(c.EvidenceExpected) > 20000 {
		return nil, domain.Invalid("evidence_expected", "must be at most 20000 characters")
	}
	diff := changes{}
	diff.note("title", old.Title, c.Title)
	diff.note("description", old.Description, c.Description)
	diff.note("domain", old.Domain, c.Domain)
	diff.note("frequency", string(old.Frequency), string(c.Frequency))
	diff.note("evidence_expected", old.EvidenceExpected, c.EvidenceExpected)
	diff.note("status", string(old.Status), string(c.Status))
	diff.note("justification", old.Justification, c.Justification)
	diff.note("owner_id", ownerValue(old.OwnerID), ownerValue(c.OwnerID))
	diff.note("retired", old.Retired(), c.Retired())
	if len(diff) == 0 {
		return old, nil
	}
	if _, changed := diff["owner_id"]; changed {
		if err := s.requireMember(ctx, tx, orgID, c.OwnerID); err != nil {
			return nil, err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE controls SET title = $1, description = $2, domain = $3, frequency = $4,
			evidence_expected = $5, status = $6, justification = $7, owner_id = $8, retired_at = $9, updated_at = $10
		WHERE org_id = $11 AND id = $12`,
		c.Title, c.Description, c.Domain, string(c.Frequency), c.EvidenceExpected, string(c.Status), c.Justification,
		nullID(c.OwnerID), s.tp(c.RetiredAt), s.t(now), orgID, id)
	if err != nil {
		return nil, fmt.Errorf("update control %s: %w", c.Ref, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventControlUpdated, controlSubject(id), map[string]any{
		"ref":     c.Ref,
		"changes": diff,
	})
	if err != nil {
		return nil, err
	}
	updated, err := s.loadControl(ctx, tx, orgID, "c.id", id)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, "update control "+c.Ref); err != nil {
		return nil, err
	}
	return updated, nil
}

// applyControlChange copies the change's set fields onto c.
func applyControlChange(c *domain.Control, ch domain.ControlChange, now time.Time) {
	if ch.Title != nil {
		c.Title = *ch.Title
	}
	if ch.Description != nil {
		c.Description = *ch.Description
	}
	if ch.Domain != nil {
		c.Domain = strings.TrimSpace(*ch.Domain)
	}
	if ch.Frequency != nil {
		c.Frequency = *ch.Frequency
	}
	if ch.EvidenceExpected != nil {
		c.EvidenceExpected = *ch.EvidenceExpected
	}
	if ch.Status != nil {
		c.Status = *ch.Status
	}
	if ch.Justification != nil {
		c.Justification = *ch.Justification
	}
	if ch.OwnerID != nil {
		c.OwnerID = nil
		if *ch.OwnerID != nil {
			id := **ch.OwnerID
			c.OwnerID = &id
		}
	}
	if ch.Retired != nil {
		switch {
		case *ch.Retired && c.RetiredAt == nil:
			c.RetiredAt = &now
		case !*ch.Retired:
			c.RetiredAt = nil
		}
	}
}

// MapControl maps one of the organization's controls to a criterion. A mapping that
// already exists is KindConflict.
func (s *Store) MapControl(ctx context.Context, actor domain.Actor, orgID, id int64, criterionID string) error {
	criterionID = strings.TrimSpace(criterionID)
	if !validCriterion(criterionID) {
		return domain.Invalid("criterion", "unknown criterion %q", criterionID)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	ref, err := s.lockControl(ctx, tx, orgID, id)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO control_criteria (org_id, control_id, criterion_id) VALUES ($1, $2, $3)`, orgID, id, criterionID)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "control %s is already mapped to %s", ref, criterionID)
	}
	if err != nil {
		return fmt.Errorf("map control %s to %s: %w", ref, criterionID, err)
	}
	if err := s.touchControl(ctx, tx, orgID, id); err != nil {
		return err
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventControlMapped, controlSubject(id), map[string]any{
		"ref":       ref,
		"criterion": criterionID,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "map control "+ref)
}

// UnmapControl removes a control's mapping to a criterion. A mapping that does not exist
// is KindNotFound.
func (s *Store) UnmapControl(ctx context.Context, actor domain.Actor, orgID, id int64, criterionID string) error {
	criterionID = strings.TrimSpace(criterionID)
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	ref, err := s.lockControl(ctx, tx, orgID, id)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM control_criteria WHERE org_id = $1 AND control_id = $2 AND criterion_id = $3`, orgID, id, criterionID)
	if err != nil {
		return fmt.Errorf("unmap control %s from %s: %w", ref, criterionID, err)
	}
	if err := mustAffect(res, "mapping"); err != nil {
		return domain.Errorf(domain.KindNotFound, "control %s is not mapped to %s", ref, criterionID)
	}
	if err := s.touchControl(ctx, tx, orgID, id); err != nil {
		return err
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventControlUnmapped, controlSubject(id), map[string]any{
		"ref":       ref,
		"criterion": criterionID,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "unmap control "+ref)
}

// lockControl locks the organization and returns the ref of one of its controls.
func (s *Store) lockControl(ctx context.Context, tx *sql.Tx, orgID, id int64) (string, error) {
	if err := s.lockOrgFor(ctx, tx, orgID, "control"); err != nil {
		return "", err
	}
	var ref string
	err := tx.QueryRowContext(ctx, `SELECT ref FROM controls WHERE org_id = $1 AND id = $2`, orgID, id).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", domain.NotFound("control")
	}
	if err != nil {
		return "", fmt.Errorf("load control %d: %w", id, err)
	}
	return ref, nil
}

// touchControl sets a control's update time.
func (s *Store) touchControl(ctx context.Context, tx *sql.Tx, orgID, id int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE controls SET updated_at = $1 WHERE org_id = $2 AND id = $3`, s.t(s.now()), orgID, id); err != nil {
		return fmt.Errorf("touch control %d: %w", id, err)
	}
	return nil
}
