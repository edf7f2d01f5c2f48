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

// CreateSession stores a session. CreatedAt and LastSeenAt default to now; ExpiresAt is
// required. A token hash already stored is KindConflict; an unknown user or organization
// is KindNotFound.
func (s *Store) CreateSession(ctx context.Context, sess *domain.Session) error {
	if len(sess.TokenHash) == 0 {
		return domain.Invalid("token_hash", "is required")
	}
	if sess.ExpiresAt.IsZero() {
		return domain.Invalid("expires_at", "is required")
	}
	if len(sess.UserAgent) > 512 {
		sess.UserAgent = truncateUTF8(sess.UserAgent, 512)
	}
	if len(sess.IP) > 64 {
		return domain.Invalid("ip", "must be at most 64 characters")
	}
	now := s.now()
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = now
	}
	if sess.LastSeenAt.IsZero() {
		sess.LastSeenAt = sess.CreatedAt
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = trunc(sess.CreatedAt), trunc(sess.LastSeenAt), trunc(sess.ExpiresAt)

	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	_, err = tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, org_id, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		sess.TokenHash, sess.UserID, sess.OrgID, s.t(sess.CreatedAt), s.t(sess.LastSeenAt), s.t(sess.ExpiresAt), sess.IP, sess.UserAgent)
	switch {
	case s.d.isUnique(err):
		return domain.Errorf(domain.KindConflict, "a session with this token already exists")
	case s.d.isForeignKey(err):
		return domain.NotFound("user or organization")
	case err != nil:
		return fmt.Errorf("create session: %w", err)
	}
	return s.commit(tx, "create session")
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Session returns the session with the given token hash, expired or not: the caller
// decides, since it knows the timeouts.
func (s *Store) Session(ctx context.Context, tokenHash []byte) (*domain.Session, error) {
	var sess domain.Session
	var created, seen, expires dbTime
	err := s.readRow(ctx, `SELECT token_hash, user_id, org_id, created_at, last_seen_at, expires_at, ip, user_agent
		FROM sessions WHERE token_hash = $1`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.OrgID, &created, &seen, &expires, &sess.IP, &sess.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("session")
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = created.t, seen.t, expires.t
	return &sess, nil
}

// TouchSession records that the session was used at the given time.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2`, s.t(at), tokenHash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if err := mustAffect(res, "session"); err != nil {
		return err
	}
	return s.commit(tx, "touch session")
}

// DeleteSession ends a session. Ending one that does not exist is not an error, so that
// signing out twice is harmless.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return s.commit(tx, "delete session")
}

// DeleteUserSessions ends every session of a user, in every organization.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return s.commit(tx, "delete user sessions")
}

// DeleteExpiredSessions deletes the sessions idle since before idleBefore or past their
// absolute expiry at now, and returns how many it deleted.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer s.rollback(tx)
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen_at < $1 OR expires_at < $2`, s.t(idleBefore), s.t(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	if err := s.commit(tx, "delete expired sessions"); err != nil {
		return 0, err
	}
	return n, nil
}

// failureRetention is how long failed sign-ins are kept before RecordFailure prunes them
// on its own; it is longer than any throttling window.
const failureRetention = 24 * time.Hour

// pruneEvery is how many RecordFailure calls pass between prunes.
const pruneEvery = 64

// RecordFailure adds a failed sign-in for key at the given time and returns how many
// failures key has had since `since`, this one included. Every so often it also deletes
// failures older than a day before `since`.
func (s *Store) RecordFailure(ctx context.Context, key string, at, since time.Time) (int, error) {
	if key == "" {
		return 0, domain.Invalid("key", "is required")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer s.rollback(tx)
	if s.failures.Add(1)%pruneEvery == 1 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at < $1`, s.t(since.Add(-failureRetention))); err != nil {
			return 0, fmt.Errorf("prune sign-in failures: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (key, at) VALUES ($1, $2)`, key, s.t(at)); err != nil {
		return 0, fmt.Errorf("record sign-in failure: %w", err)
	}
	n, err := countFailures(ctx, tx, s.t(since), key)
	if err != nil {
		return 0, err
	}
	if err := s.commit(tx, "record sign-in failure"); err != nil {
		return 0, err
	}
	return n, nil
}

func countFailures(ctx context.Context, q querier, since any, key string) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM login_failures WHERE key = $1 AND at >= $2`, key, since).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sign-in failures: %w", err)
	}
	return n, nil
}

// Failures returns how many failed sign-ins key has had since `since`.
func (s *Store) Failures(ctx context.Context, key string, since time.Time) (int, error) {
	return countFailures(ctx, s.rdb, s.t(since), key)
}

// ClearFailures forgets key's failed sign-ins, after a successful one.
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE key = $1`, key); err != nil {
		return fmt.Errorf("clear sign-in failures: %w", err)
	}
	return s.commit(tx, "clear sign-in failures")
}
