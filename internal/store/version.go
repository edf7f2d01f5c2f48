package store

import (
	"context"
	"fmt"

	"github.com/evidenthq/evident/internal/domain"
)

// orgVersionSQL reads an organization's version: the size of its ledger and its latest
// test run, each the last row of a primary-key or org-first index.
const orgVersionSQL = `SELECT
	COALESCE((SELECT MAX(idx) + 1 FROM events WHERE org_id = $1), 0),
	COALESCE((SELECT MAX(id) FROM test_runs WHERE org_id = $1), 0)`

// OrgVersion returns the organization's current version, in one query on two indexes.
// Because every change to what readiness reads appends a ledger entry in the change's
// own transaction, and test runs are numbered in the order they commit, a reader that
// sees a version sees at least the data of that version.
func (s *Store) OrgVersion(ctx context.Context, orgID int64) (domain.OrgVersion, error) {
	var v domain.OrgVersion
	if err := s.readRow(ctx, orgVersionSQL, orgID).Scan(&v.Ledger, &v.TestRun); err != nil {
		return domain.OrgVersion{}, fmt.Errorf("version of organization %d: %w", orgID, err)
	}
	return v, nil
}
