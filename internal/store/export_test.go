package store

import "context"

// ExecForTest runs a statement on the store's writer, so that tests can put the database
// into states no store method produces, such as a schema from a newer binary.
func (s *Store) ExecForTest(ctx context.Context, query string, args ...any) error {
	_, err := s.db.ExecContext(ctx, query, args...)
	return err
}
