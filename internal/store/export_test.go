package store

import (
	"context"

	"github.com/evidenthq/evident/internal/domain"
)

// ExecForTest runs a statement on the store's writer, so that tests can put the database
// into states no store method produces, such as a schema from a newer binary.
func (s *Store) ExecForTest(ctx context.Context, query string, args ...any) error {
	_, err := s.db.ExecContext(ctx, query, args...)
	return err
}

// MigrateToForTest applies the migrations up to and including version, so that tests can
// fill a database as an older binary left it before migrating it further.
func (s *Store) MigrateToForTest(ctx context.Context, version int) error {
	ms, err := migrations(s.d.name())
	if err != nil {
		return err
	}
	if err := s.createMigrationsTable(ctx); err != nil {
		return err
	}
	for _, m := range ms {
		if m.version > version {
			break
		}
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// AppendAndRollBackForTest appends n events to the organization's ledger in a
// transaction and rolls it back, as a change that fails after recording its events does.
func (s *Store) AppendAndRollBackForTest(ctx context.Context, actor domain.Actor, orgID int64, n int) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	evs := make([]newEvent, n)
	for i := range evs {
		evs[i] = newEvent{typ: "test.rolled_back", subject: "test", data: map[string]int{"n": i}}
	}
	_, err = s.appendEvents(ctx, tx, actor, orgID, evs)
	return err
}

// AddEvidenceWithoutLedgerForTest stores items as AddEvidence does, in one transaction,
// but without their ledger: with events false it records nothing in the audit trail;
// with events true it records the events without their ledger hashes. Benchmarks use it
// to measure what the ledger costs.
func (s *Store) AddEvidenceWithoutLedgerForTest(ctx context.Context, actor domain.Actor, orgID int64, items []domain.NewEvidence, events bool) error {
	evs, contents, err := prepareEvidence(actor, orgID, items, s.now())
	if err != nil {
		return err
	}
	s.prepareEvidenceInserts(ctx)
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return err
	}
	refs, err := s.controlRefs(ctx, tx, orgID, evs)
	if err != nil {
		return err
	}
	// Without the ledger, events and evidence rows may each be further ahead.
	nextEvent, err := ledgerSize(ctx, tx, orgID)
	if err != nil {
		return err
	}
	var nextItem int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(ledger_idx) + 1, 0) FROM evidence WHERE org_id = $1`, orgID).Scan(&nextItem); err != nil {
		return err
	}
	next := max(nextEvent, nextItem)
	for i := range evs {
		evs[i].LedgerIndex = next + int64(i)
	}
	if err := s.insertEvidenceRows(ctx, tx, actor, orgID, evs); err != nil {
		return err
	}
	if err := s.insertContents(ctx, tx, orgID, evs, contents); err != nil {
		return err
	}
	if err := s.insertEvidenceControls(ctx, tx, orgID, evs); err != nil {
		return err
	}
	if events {
		at, rows := s.now(), make([]domain.Event, len(evs))
		entries, err := evidenceEvents(evs, refs, domain.EventEvidenceAdded)
		if err != nil {
			return err
		}
		for i, ev := range entries {
			rows[i] = domain.Event{OrgID: orgID, Index: next + int64(i), At: at, ActorID: actor.UserID, Actor: actor.Email,
				Type: ev.typ, Subject: ev.subject, Data: ev.raw}
		}
		if err := s.insertEvents(ctx, tx, rows); err != nil {
			return err
		}
	}
	return s.commit(tx, "add evidence without ledger")
}
