package store

import (
	"context"
	"fmt"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// ClaimDigest claims the email digest of a person in an organization for a day (the UTC
// date of day), recording when, and reports whether this call made the claim. It is false
// when the digest was claimed already, by this process or another replica, so that
// exactly one of them sends it. An unknown organization or user is KindNotFound.
func (s *Store) ClaimDigest(ctx context.Context, orgID, userID int64, day time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO digests (org_id, user_id, day, claimed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, user_id, day) DO NOTHING`,
		orgID, userID, digestDay(day), s.t(s.now()))
	switch {
	case s.d.isForeignKey(err):
		return false, domain.NotFound("user or organization")
	case err != nil:
		return false, fmt.Errorf("claim digest of user %d in organization %d: %w", userID, orgID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim digest of user %d in organization %d: %w", userID, orgID, err)
	}
	return n == 1, nil
}

// ReleaseDigest withdraws the claim on a digest that could not be sent, so that a later
// attempt, by any replica, sends it. Releasing a digest nobody claimed does nothing.
func (s *Store) ReleaseDigest(ctx context.Context, orgID, userID int64, day time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM digests WHERE org_id = $1 AND user_id = $2 AND day = $3`,
		orgID, userID, digestDay(day)); err != nil {
		return fmt.Errorf("release digest of user %d in organization %d: %w", userID, orgID, err)
	}
	return nil
}

// digestDay is the UTC date a digest is claimed for, as the digests table keeps it.
func digestDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }
