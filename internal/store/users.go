package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

// validateUser normalizes and checks a user's fields.
func validateUser(u *domain.User) error {
	email, err := domain.NormalizeEmail(u.Email)
	if err != nil {
		return err
	}
	u.Email = email
	u.Name = strings.TrimSpace(u.Name)
	if len(u.Name) > 200 {
		return domain.Invalid("name", "must be at most 200 characters")
	}
	if len(u.PasswordHash) > 1000 {
		return domain.Invalid("password_hash", "must be at most 1000 characters")
	}
	return nil
}

// CreateUser creates a user. The email is normalized; one already taken is KindConflict.
// On success u holds the ID and creation time.
func (s *Store) CreateUser(ctx context.Context, u *domain.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	now := s.now()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		u.Email, u.Name, u.PasswordHash, s.t(now)).Scan(&id)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "the email %s is already taken", u.Email)
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Email, err)
	}
	if err := s.commit(tx, "create user "+u.Email); err != nil {
		return err
	}
	u.ID, u.CreatedAt = id, now
	return nil
}

const userColumns = `u.id, u.email, u.name, u.password_hash, u.created_at`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (*domain.User, error) {
	var u domain.User
	var created dbTime
	dest := append([]any{&u.ID, &u.Email, &u.Name, &u.PasswordHash, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.CreatedAt = created.t
	return &u, nil
}

// User returns the user with the given ID.
func (s *Store) User(ctx context.Context, id int64) (*domain.User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("user")
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", id, err)
	}
	return u, nil
}

// UserByEmail returns the user with the given email, compared after normalizing.
func (s *Store) UserByEmail(ctx context.Context, email string) (*domain.User, error) {
	norm, err := domain.NormalizeEmail(email)
	if err != nil {
		return nil, domain.NotFound("user")
	}
	u, err := scanUser(s.rdb.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.email = $1`, norm))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("user")
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", norm, err)
	}
	return u, nil
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	if len(hash) > 1000 {
		return domain.Invalid("password_hash", "must be at most 1000 characters")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	if err := mustAffect(res, "user"); err != nil {
		return err
	}
	return s.commit(tx, "set password")
}

// mustAffect turns an update or delete that touched no row into KindNotFound.
func mustAffect(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return domain.NotFound(what)
	}
	return nil
}

func memberSubject(userID int64) string { return fmt.Sprintf("user:%d", userID) }

// AddMember gives a user a role in an organization. A user already a member is
// KindConflict; an unknown user or organization is KindNotFound.
func (s *Store) AddMember(ctx context.Context, actor domain.Actor, orgID, userID int64, role domain.Role) error {
	if !role.Valid() {
		return domain.Invalid("role", "must be one of owner, admin, member, viewer, auditor")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return err
	}
	var email string
	err = tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = $1`, userID).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.NotFound("user")
	}
	if err != nil {
		return fmt.Errorf("add member %d: %w", userID, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		orgID, userID, string(role), s.t(s.now()))
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "%s is already a member of this organization", email)
	}
	if err != nil {
		return fmt.Errorf("add member %s: %w", email, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventMemberAdded, memberSubject(userID), map[string]any{
		"email": email,
		"role":  role,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "add member "+email)
}

// memberRole returns a member's email and role inside a transaction.
func (s *Store) memberRole(ctx context.Context, q querier, orgID, userID int64) (string, domain.Role, error) {
	var email string
	var role domain.Role
	err := q.QueryRowContext(ctx, `SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID).Scan(&email, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", domain.NotFound("member")
	}
	if err != nil {
		return "", "", fmt.Errorf("load member %d: %w", userID, err)
	}
	return email, role, nil
}

// otherOwners counts the organization's owners other than the given user.
func (s *Store) otherOwners(ctx context.Context, tx *sql.Tx, orgID, userID int64) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner' AND user_id <> $2`,
		orgID, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

// SetRole changes a member's role. Demoting the organization's last owner is
// KindConflict; setting the role a member already has changes nothing.
func (s *Store) SetRole(ctx context.Context, actor domain.Actor, orgID, userID int64, role domain.Role) error {
	if !role.Valid() {
		return domain.Invalid("role", "must be one of owner, admin, member, viewer, auditor")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return err
	}
	email, old, err := s.memberRole(ctx, tx, orgID, userID)
	if err != nil {
		return err
	}
	if old == role {
		return nil
	}
	if old == domain.RoleOwner {
		n, err := s.otherOwners(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return domain.Errorf(domain.KindConflict, "%s is the last owner of this organization; make someone else an owner first", email)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3`,
		string(role), orgID, userID); err != nil {
		return fmt.Errorf("set role of %s: %w", email, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventMemberRoleChanged, memberSubject(userID), map[string]any{
		"email":         email,
		"role":          role,
		"previous_role": old,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "set role of "+email)
}

// RemoveMember removes a member from an organization. Removing the last owner is
// KindConflict. The member's controls and systems in the organization lose their owner,
// their sessions in it end and their API tokens for it are revoked.
func (s *Store) RemoveMember(ctx context.Context, actor domain.Actor, orgID, userID int64) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return err
	}
	email, role, err := s.memberRole(ctx, tx, orgID, userID)
	if err != nil {
		return err
	}
	if role == domain.RoleOwner {
		n, err := s.otherOwners(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return domain.Errorf(domain.KindConflict, "%s is the last owner of this organization; make someone else an owner first", email)
		}
	}
	now := s.t(s.now())
	res, err := tx.ExecContext(ctx, `UPDATE controls SET owner_id = NULL, updated_at = $1 WHERE org_id = $2 AND owner_id = $3`, now, orgID, userID)
	if err != nil {
		return fmt.Errorf("remove member %s: unassign controls: %w", email, err)
	}
	controls, _ := res.RowsAffected()
	res, err = tx.ExecContext(ctx, `UPDATE systems SET owner_id = NULL, updated_at = $1 WHERE org_id = $2 AND owner_id = $3`, now, orgID, userID)
	if err != nil {
		return fmt.Errorf("remove member %s: unassign systems: %w", email, err)
	}
	systems, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE org_id = $1 AND user_id = $2`, orgID, userID); err != nil {
		return fmt.Errorf("remove member %s: end sessions: %w", email, err)
	}
	res, err = tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE org_id = $2 AND user_id = $3 AND revoked_at IS NULL`, now, orgID, userID)
	if err != nil {
		return fmt.Errorf("remove member %s: revoke tokens: %w", email, err)
	}
	tokens, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID); err != nil {
		return fmt.Errorf("remove member %s: %w", email, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventMemberRemoved, memberSubject(userID), map[string]any{
		"email":               email,
		"role":                role,
		"controls_unassigned": controls,
		"systems_unassigned":  systems,
		"tokens_revoked":      tokens,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "remove member "+email)
}

const memberColumns = userColumns + `, m.org_id, m.role`

func scanMember(row interface{ Scan(...any) error }) (*domain.Member, error) {
	var m domain.Member
	u, err := scanUser(row, &m.OrgID, &m.Role)
	if err != nil {
		return nil, err
	}
	m.User = *u
	return &m, nil
}

// Member returns a user as a member of the organization.
func (s *Store) Member(ctx context.Context, orgID, userID int64) (*domain.Member, error) {
	m, err := scanMember(s.readRow(ctx, `SELECT `+memberColumns+`
		FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("member")
	}
	if err != nil {
		return nil, fmt.Errorf("load member %d: %w", userID, err)
	}
	return m, nil
}

// Members lists the organization's members by email.
func (s *Store) Members(ctx context.Context, orgID int64) ([]domain.Member, error) {
	return s.members(ctx, s.rdb, orgID)
}

// members lists the organization's members through q, by email.
func (s *Store) members(ctx context.Context, q querier, orgID int64) ([]domain.Member, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+memberColumns+`
		FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	out := []domain.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("list members: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out, nil
}

// Memberships lists the organizations a user belongs to, by organization name.
func (s *Store) Memberships(ctx context.Context, userID int64) ([]domain.Membership, error) {
	rows, err := s.readRows(ctx, `SELECT o.id, o.slug, o.name, o.created_at, m.role
		FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	defer rows.Close()
	out := []domain.Membership{}
	for rows.Next() {
		var m domain.Membership
		var created dbTime
		if err := rows.Scan(&m.Organization.ID, &m.Organization.Slug, &m.Organization.Name, &created, &m.Role); err != nil {
			return nil, fmt.Errorf("list memberships: %w", err)
		}
		m.Organization.CreatedAt = created.t
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return orgLess(&out[i].Organization, &out[j].Organization) })
	return out, nil
}
