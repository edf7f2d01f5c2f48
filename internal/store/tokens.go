package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

func tokenSubject(id int64) string { return fmt.Sprintf("token:%d", id) }

// CreateAPIToken stores a token for a member of the organization. Name, prefix and hash
// are required; CreatedAt defaults to now. On success t holds its ID.
func (s *Store) CreateAPIToken(ctx context.Context, actor domain.Actor, t *domain.APIToken) error {
	t.Name = strings.TrimSpace(t.Name)
	switch {
	case t.Name == "":
		return domain.Invalid("name", "is required")
	case len(t.Name) > 100:
		return domain.Invalid("name", "must be at most 100 characters")
	case t.Prefix == "" || len(t.Prefix) > 32:
		return domain.Invalid("prefix", "must be 1 to 32 characters")
	case len(t.Hash) == 0:
		return domain.Invalid("hash", "is required")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	t.CreatedAt = trunc(t.CreatedAt)
	t.LastUsedAt, t.RevokedAt = truncPtr(t.LastUsedAt), truncPtr(t.RevokedAt)

	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, t.OrgID); err != nil {
		return err
	}
	if _, _, err := s.memberRole(ctx, tx, t.OrgID, t.UserID); err != nil {
		if domain.IsNotFound(err) {
			return domain.Invalid("user_id", "is not a member of this organization")
		}
		return err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO api_tokens (org_id, user_id, name, prefix, hash, created_at, last_used_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		t.OrgID, t.UserID, t.Name, t.Prefix, t.Hash, s.t(t.CreatedAt), s.tp(t.LastUsedAt), s.tp(t.RevokedAt)).Scan(&id)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "a token with this secret already exists")
	}
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.Name, err)
	}
	err = s.appendEvent(ctx, tx, actor, t.OrgID, domain.EventTokenCreated, tokenSubject(id), map[string]any{
		"name":    t.Name,
		"prefix":  t.Prefix,
		"user_id": t.UserID,
	})
	if err != nil {
		return err
	}
	if err := s.commit(tx, "create token "+t.Name); err != nil {
		return err
	}
	t.ID = id
	return nil
}

const tokenColumns = `id, org_id, user_id, name, prefix, hash, created_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*domain.APIToken, error) {
	var t domain.APIToken
	var created dbTime
	var used, revoked nullTime
	if err := row.Scan(&t.ID, &t.OrgID, &t.UserID, &t.Name, &t.Prefix, &t.Hash, &created, &used, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = created.t, used.t, revoked.t
	return &t, nil
}

// APITokens lists the organization's tokens, revoked ones included, newest first.
func (s *Store) APITokens(ctx context.Context, orgID int64) ([]domain.APIToken, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE org_id = $1 ORDER BY created_at DESC, id DESC`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []domain.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// APITokenByHash returns the token with the given secret hash. A revoked token is
// KindNotFound, so that it cannot authenticate by accident.
func (s *Store) APITokenByHash(ctx context.Context, hash []byte) (*domain.APIToken, error) {
	t, err := scanToken(s.rdb.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("token")
	}
	if err != nil {
		return nil, fmt.Errorf("load token: %w", err)
	}
	return t, nil
}

// TouchAPIToken records that the token was used at the given time.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, s.t(at), id)
	if err != nil {
		return fmt.Errorf("touch token %d: %w", id, err)
	}
	if err := mustAffect(res, "token"); err != nil {
		return err
	}
	return s.commit(tx, "touch token")
}

// RevokeAPIToken revokes one of the organization's tokens at the given time. Revoking a
// token already revoked changes nothing.
func (s *Store) RevokeAPIToken(ctx context.Context, actor domain.Actor, orgID, id int64, at time.Time) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "token"); err != nil {
		return err
	}
	var name, prefix string
	var revoked nullTime
	err = tx.QueryRowContext(ctx, `SELECT name, prefix, revoked_at FROM api_tokens WHERE org_id = $1 AND id = $2`, orgID, id).
		Scan(&name, &prefix, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.NotFound("token")
	}
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if revoked.t != nil {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE org_id = $2 AND id = $3`, s.t(at), orgID, id); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventTokenRevoked, tokenSubject(id), map[string]any{
		"name":   name,
		"prefix": prefix,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "revoke token")
}
