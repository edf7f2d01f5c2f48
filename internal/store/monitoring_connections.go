package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

func connectionSubject(id int64) string { return fmt.Sprintf("connection:%d", id) }

// connectionSource is the source key of a connection's resources. It names the connection
// by ID, so that renaming it keeps its inventory.
func connectionSource(id int64) string { return "connection:" + strconv.FormatInt(id, 10) }

// gcmNonceSize is the nonce size of AES-GCM as sealed secrets use it.
const gcmNonceSize = 12

// validateSecret checks that a sealed secret has its parts.
func validateSecret(sec domain.SealedSecret) error {
	switch {
	case sec.KeyID == "" || len(sec.KeyID) > 64:
		return domain.Invalid("credentials", "are not sealed: the key ID is missing")
	case len(sec.Nonce) != gcmNonceSize:
		return domain.Invalid("credentials", "are not sealed: the nonce must be %d bytes", gcmNonceSize)
	case len(sec.Ciphertext) == 0:
		return domain.Invalid("credentials", "are required")
	case len(sec.Ciphertext) > 1<<20:
		return domain.Invalid("credentials", "must be at most 1 MiB")
	}
	return nil
}

// skipLocked is the locking clause of a claim: on PostgreSQL it locks the rows a replica
// claims and skips those another replica is claiming; on SQLite the single writer already
// serializes claims.
func (s *Store) skipLocked() string {
	if s.d.name() == "postgres" {
		return ` FOR NO KEY UPDATE SKIP LOCKED`
	}
	return ""
}

// forUpdate locks the selected rows until the transaction ends, on PostgreSQL.
func (s *Store) forUpdate() string {
	if s.d.name() == "postgres" {
		return ` FOR NO KEY UPDATE`
	}
	return ""
}

// CreateConnection creates a connection with its sealed credentials, due to run now. A
// name already used in the organization is KindConflict. On success c holds what was stored.
func (s *Store) CreateConnection(ctx context.Context, actor domain.Actor, c *domain.Connection, secret domain.SealedSecret) error {
	if err := domain.ValidateConnection(c); err != nil {
		return err
	}
	if err := validateSecret(secret); err != nil {
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
	now := s.now()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO connections (org_id, kind, name, interval_seconds, enabled, secret_key_id,
			secret_nonce, secret, next_run_at, created_at, updated_at, credentials_set_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9, $9) RETURNING id`,
		c.OrgID, c.Kind, c.Name, int64(c.Interval/time.Second), c.Enabled, secret.KeyID, secret.Nonce, secret.Ciphertext,
		s.t(now)).Scan(&id)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "the connection name %q is already used in this organization", c.Name)
	}
	if err != nil {
		return fmt.Errorf("create connection %q: %w", c.Name, err)
	}
	err = s.appendEvent(ctx, tx, actor, c.OrgID, domain.EventConnectionCreated, connectionSubject(id), map[string]any{
		"kind":             c.Kind,
		"name":             c.Name,
		"interval_seconds": int64(c.Interval / time.Second),
		"enabled":          c.Enabled,
	})
	if err != nil {
		return err
	}
	stored, err := s.loadConnection(ctx, tx, c.OrgID, "id", id)
	if err != nil {
		return err
	}
	if err := s.commit(tx, "create connection "+c.Name); err != nil {
		return err
	}
	*c = *stored
	return nil
}

const connectionSelect = `SELECT id, org_id, kind, name, interval_seconds, enabled, next_run_at, created_at, updated_at,
	credentials_set_at FROM connections`

func scanConnection(row interface{ Scan(...any) error }, c *domain.Connection) error {
	var secs int64
	var next, created, updated, credentials dbTime
	if err := row.Scan(&c.ID, &c.OrgID, &c.Kind, &c.Name, &secs, &c.Enabled, &next, &created, &updated, &credentials); err != nil {
		return err
	}
	c.Interval = time.Duration(secs) * time.Second
	c.NextRunAt, c.CreatedAt, c.UpdatedAt, c.CredentialsSetAt = next.t, created.t, updated.t, credentials.t
	return nil
}

// loadConnection reads one of the organization's connections, found by the given column,
// with its latest run.
func (s *Store) loadConnection(ctx context.Context, q querier, orgID int64, column string, key any) (*domain.Connection, error) {
	var c domain.Connection
	err := scanConnection(q.QueryRowContext(ctx, connectionSelect+` WHERE org_id = $1 AND `+column+` = $2`, orgID, key), &c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("connection")
	}
	if err != nil {
		return nil, fmt.Errorf("load connection %v: %w", key, err)
	}
	runs, err := s.latestRuns(ctx, q, orgID, c.ID)
	if err != nil {
		return nil, err
	}
	if r, ok := runs[c.ID]; ok {
		c.LastRun = &r
	}
	return &c, nil
}

// latestRuns returns the latest run of each of the organization's connections, or of one
// connection when connectionID is not 0.
func (s *Store) latestRuns(ctx context.Context, q querier, orgID, connectionID int64) (map[int64]domain.ConnectionRun, error) {
	var a args
	where := "org_id = " + a.add(orgID)
	if connectionID != 0 {
		where += " AND connection_id = " + a.add(connectionID)
	}
	rows, err := q.QueryContext(ctx, runSelect+` WHERE r.id IN (SELECT MAX(id) FROM connection_runs WHERE `+where+
		` GROUP BY connection_id)`, a...)
	if err != nil {
		return nil, fmt.Errorf("load latest runs: %w", err)
	}
	defer rows.Close()
	out := map[int64]domain.ConnectionRun{}
	for rows.Next() {
		var r domain.ConnectionRun
		if err := scanRun(rows, &r); err != nil {
			return nil, fmt.Errorf("load latest runs: %w", err)
		}
		out[r.ConnectionID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load latest runs: %w", err)
	}
	return out, nil
}

// Connection returns one of the organization's connections.
func (s *Store) Connection(ctx context.Context, orgID, id int64) (*domain.Connection, error) {
	return s.loadConnection(ctx, s.rdb, orgID, "id", id)
}

// ConnectionByName returns the organization's connection with the given name.
func (s *Store) ConnectionByName(ctx context.Context, orgID int64, name string) (*domain.Connection, error) {
	return s.loadConnection(ctx, s.rdb, orgID, "name", strings.TrimSpace(name))
}

// Connections lists the organization's connections by name, each with its latest run.
func (s *Store) Connections(ctx context.Context, orgID int64) ([]domain.Connection, error) {
	rows, err := s.rdb.QueryContext(ctx, connectionSelect+` WHERE org_id = $1 ORDER BY name`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	out := []domain.Connection{}
	for rows.Next() {
		var c domain.Connection
		if err := scanConnection(rows, &c); err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	rows.Close()
	runs, err := s.latestRuns(ctx, s.rdb, orgID, 0)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if r, ok := runs[out[i].ID]; ok {
			out[i].LastRun = &r
		}
	}
	return out, nil
}

// UpdateConnection applies a partial change to a connection, validated as a whole, and
// returns the result. The event records what changed, and that the credentials were
// replaced, never the credentials.
func (s *Store) UpdateConnection(ctx context.Context, actor domain.Actor, orgID, id int64, ch domain.ConnectionChange) (*domain.Connection, error) {
	if ch.Secret != nil {
		if err := validateSecret(*ch.Secret); err != nil {
			return nil, err
		}
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "connection"); err != nil {
		return nil, err
	}
	old, err := s.loadConnection(ctx, tx, orgID, "id", id)
	if err != nil {
		return nil, err
	}
	c := *old
	if ch.Name != nil {
		c.Name = *ch.Name
	}
	if ch.Interval != nil {
		c.Interval = *ch.Interval
		if c.Interval == 0 {
			return nil, domain.Invalid("interval", "must be between %s and %s", domain.MinConnectionInterval, "30 days")
		}
	}
	if ch.Enabled != nil {
		c.Enabled = *ch.Enabled
	}
	if err := domain.ValidateConnection(&c); err != nil {
		return nil, err
	}
	diff := changes{}
	diff.note("name", old.Name, c.Name)
	diff.note("interval_seconds", int64(old.Interval/time.Second), int64(c.Interval/time.Second))
	diff.note("enabled", old.Enabled, c.Enabled)
	if ch.Secret != nil {
		diff["credentials"] = change{From: "sealed", To: "replaced"}
	}
	if len(diff) == 0 {
		return old, nil
	}
	now := s.now()
	_, err = tx.ExecContext(ctx, `UPDATE connections SET name = $1, interval_seconds = $2, enabled = $3, updated_at = $4
		WHERE org_id = $5 AND id = $6`, c.Name, int64(c.Interval/time.Second), c.Enabled, s.t(now), orgID, id)
	if s.d.isUnique(err) {
		return nil, domain.Errorf(domain.KindConflict, "the connection name %q is already used in this organization", c.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("update connection %q: %w", old.Name, err)
	}
	if ch.Secret != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET secret_key_id = $1, secret_nonce = $2, secret = $3,
			credentials_set_at = $4 WHERE org_id = $5 AND id = $6`, ch.Secret.KeyID, ch.Secret.Nonce, ch.Secret.Ciphertext,
			s.t(now), orgID, id); err != nil {
			return nil, fmt.Errorf("update connection %q: credentials: %w", old.Name, err)
		}
	}
	// The entry has the time the row keeps, so that the credentials' time is the entry's.
	_, err = s.appendEventsAt(ctx, tx, actor, orgID, now, []newEvent{{typ: domain.EventConnectionUpdated, subject: connectionSubject(id),
		data: map[string]any{"name": c.Name, "changes": diff}}})
	if err != nil {
		return nil, err
	}
	stored, err := s.loadConnection(ctx, tx, orgID, "id", id)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, "update connection "+old.Name); err != nil {
		return nil, err
	}
	return stored, nil
}

// DeleteConnection deletes a connection and its runs. Its resources stay in the
// inventory, marked gone; its snapshots stay in the evidence.
func (s *Store) DeleteConnection(ctx context.Context, actor domain.Actor, orgID, id int64) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "connection"); err != nil {
		return err
	}
	old, err := s.loadConnection(ctx, tx, orgID, "id", id)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE resources SET gone_at = $1 WHERE org_id = $2 AND connection_id = $3 AND gone_at IS NULL`,
		s.t(s.now()), orgID, id)
	if err != nil {
		return fmt.Errorf("delete connection %q: mark resources gone: %w", old.Name, err)
	}
	gone, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete connection %q: %w", old.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM connections WHERE org_id = $1 AND id = $2`, orgID, id); err != nil {
		return fmt.Errorf("delete connection %q: %w", old.Name, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventConnectionDeleted, connectionSubject(id), map[string]any{
		"kind":           old.Kind,
		"name":           old.Name,
		"resources_gone": gone,
	})
	if err != nil {
		return err
	}
	return s.commit(tx, "delete connection "+old.Name)
}

// ConnectionSecret returns a connection's sealed credentials. Only the runner calls it;
// no page or API response shows them.
func (s *Store) ConnectionSecret(ctx context.Context, orgID, id int64) (*domain.SealedSecret, error) {
	var sec domain.SealedSecret
	err := s.rdb.QueryRowContext(ctx, `SELECT secret_key_id, secret_nonce, secret FROM connections WHERE org_id = $1 AND id = $2`,
		orgID, id).Scan(&sec.KeyID, &sec.Nonce, &sec.Ciphertext)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("connection")
	}
	if err != nil {
		return nil, fmt.Errorf("load credentials of connection %d: %w", id, err)
	}
	return &sec, nil
}

const runSelect = `SELECT r.id, r.org_id, r.connection_id, c.name, r.triggered_by, r.due_at, r.started_at, r.finished_at,
	r.status, r.counts, r.errors, r.message, r.added, r.changed, r.gone, r.evidence_id
	FROM connection_runs r JOIN connections c ON c.id = r.connection_id`

func scanRun(row interface{ Scan(...any) error }, r *domain.ConnectionRun) error {
	var due, started dbTime
	var finished nullTime
	var counts, errs string
	var evidence sql.NullInt64
	err := row.Scan(&r.ID, &r.OrgID, &r.ConnectionID, &r.ConnectionName, &r.Trigger, &due, &started, &finished,
		&r.Status, &counts, &errs, &r.Message, &r.Added, &r.Changed, &r.Gone, &evidence)
	if err != nil {
		return err
	}
	r.DueAt, r.StartedAt, r.FinishedAt = due.t, started.t, finished.t
	r.Counts, r.Errors = map[string]int{}, []domain.TypeError{}
	if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
		return fmt.Errorf("run %d: counts: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(errs), &r.Errors); err != nil {
		return fmt.Errorf("run %d: errors: %w", r.ID, err)
	}
	r.EvidenceID = nil
	if evidence.Valid {
		id := evidence.Int64
		r.EvidenceID = &id
	}
	return nil
}

func (s *Store) loadRun(ctx context.Context, q querier, orgID, id int64) (*domain.ConnectionRun, error) {
	var r domain.ConnectionRun
	err := scanRun(q.QueryRowContext(ctx, runSelect+` WHERE r.org_id = $1 AND r.id = $2`, orgID, id), &r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("connection run")
	}
	if err != nil {
		return nil, fmt.Errorf("load connection run %d: %w", id, err)
	}
	return &r, nil
}

// ConnectionRun returns one of the organization's connection runs.
func (s *Store) ConnectionRun(ctx context.Context, orgID, id int64) (*domain.ConnectionRun, error) {
	return s.loadRun(ctx, s.rdb, orgID, id)
}

const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// listLimit checks a filter's limit and applies the default and the maximum.
func listLimit(limit int) (int, error) {
	if limit < 0 {
		return 0, domain.Invalid("limit", "must not be negative")
	}
	if limit == 0 {
		return defaultListLimit, nil
	}
	return min(limit, maxListLimit), nil
}

// ConnectionRuns lists the organization's connection runs, newest first.
func (s *Store) ConnectionRuns(ctx context.Context, orgID int64, f domain.RunFilter) ([]domain.ConnectionRun, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	var a args
	where := []string{"r.org_id = " + a.add(orgID)}
	if f.ConnectionID != 0 {
		where = append(where, "r.connection_id = "+a.add(f.ConnectionID))
	}
	if f.Before > 0 {
		where = append(where, "r.id < "+a.add(f.Before))
	}
	rows, err := s.rdb.QueryContext(ctx, runSelect+` WHERE `+strings.Join(where, " AND ")+` ORDER BY r.id DESC LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, fmt.Errorf("list connection runs: %w", err)
	}
	defer rows.Close()
	out := []domain.ConnectionRun{}
	for rows.Next() {
		var r domain.ConnectionRun
		if err := scanRun(rows, &r); err != nil {
			return nil, fmt.Errorf("list connection runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list connection runs: %w", err)
	}
	return out, nil
}

// abandonedMessage is the message of a run whose runner stopped before finishing it.
const abandonedMessage = "abandoned: the process running it stopped before it finished, and its claim expired"

// checkClaim checks the arguments of a claim.
func checkClaim(owner string, lease time.Duration) error {
	switch {
	case strings.TrimSpace(owner) == "" || len(owner) > 200:
		return domain.Invalid("owner", "must name the claiming process in 1 to 200 characters")
	case lease < time.Second:
		return domain.Invalid("lease", "must be at least a second")
	}
	return nil
}

// claimRow is a connection about to be claimed.
type claimRow struct {
	id, orgID int64
	next      time.Time
	staleRun  sql.NullInt64
}

// claim starts a run of the connection in tx: it fails the run of an expired claim, inserts
// the new run and records the claim with its lease.
func (s *Store) claim(ctx context.Context, tx *sql.Tx, c claimRow, trigger domain.RunTrigger, due time.Time, owner string, lease time.Duration) (int64, error) {
	now := s.now()
	if c.staleRun.Valid {
		if _, err := tx.ExecContext(ctx, `UPDATE connection_runs SET status = 'failed', finished_at = $1, message = $2
			WHERE id = $3 AND status = 'running'`, s.t(now), abandonedMessage, c.staleRun.Int64); err != nil {
			return 0, fmt.Errorf("claim connection %d: fail abandoned run: %w", c.id, err)
		}
	}
	var runID int64
	err := tx.QueryRowContext(ctx, `INSERT INTO connection_runs (org_id, connection_id, triggered_by, due_at, started_at, status)
		VALUES ($1, $2, $3, $4, $5, 'running') RETURNING id`, c.orgID, c.id, string(trigger), s.t(due), s.t(now)).Scan(&runID)
	if err != nil {
		return 0, fmt.Errorf("claim connection %d: start run: %w", c.id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE connections SET claim_run_id = $1, claim_owner = $2, claim_until = $3 WHERE id = $4`,
		runID, owner, s.t(now.Add(lease)), c.id); err != nil {
		return 0, fmt.Errorf("claim connection %d: %w", c.id, err)
	}
	return runID, nil
}

// ClaimDueConnections claims up to limit enabled connections, of any organization, whose
// next run is due and that no other process holds: for each it starts a run, which owner
// holds for the lease (see RenewClaim) until FinishConnectionRun. On PostgreSQL the rows
// are chosen with FOR NO KEY UPDATE SKIP LOCKED, so replicas claiming at the same time
// take different connections; a claim whose lease ran out (its process died) is taken
// over, and its run marked failed. It returns the started runs, oldest due first.
func (s *Store) ClaimDueConnections(ctx context.Context, owner string, lease time.Duration, limit int) ([]domain.ConnectionRun, error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, domain.Invalid("limit", "must be positive")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	now := s.now()
	rows, err := tx.QueryContext(ctx, `SELECT id, org_id, next_run_at, claim_run_id FROM connections
		WHERE enabled AND next_run_at <= $1 AND (claim_until IS NULL OR claim_until <= $1)
		ORDER BY next_run_at, id LIMIT $2`+s.skipLocked(), s.t(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim due connections: %w", err)
	}
	var due []claimRow
	for rows.Next() {
		var c claimRow
		var next dbTime
		if err := rows.Scan(&c.id, &c.orgID, &next, &c.staleRun); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim due connections: %w", err)
		}
		c.next = next.t
		due = append(due, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("claim due connections: %w", err)
	}
	ids := make([]int64, 0, len(due))
	for _, c := range due {
		id, err := s.claim(ctx, tx, c, domain.TriggerSchedule, c.next, owner, lease)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	out := make([]domain.ConnectionRun, 0, len(ids))
	for i, id := range ids {
		r, err := s.loadRun(ctx, tx, due[i].orgID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	if err := s.commit(tx, "claim due connections"); err != nil {
		return nil, err
	}
	return out, nil
}

// ClaimConnection claims one connection to run it now, whatever its schedule and even
// when it is disabled, and returns the started run. A connection another process is
// running is KindConflict.
func (s *Store) ClaimConnection(ctx context.Context, orgID, id int64, owner string, lease time.Duration) (*domain.ConnectionRun, error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	now := s.now()
	c := claimRow{id: id, orgID: orgID}
	var name string
	var until nullTime
	err = tx.QueryRowContext(ctx, `SELECT name, claim_run_id, claim_until FROM connections WHERE org_id = $1 AND id = $2`+s.forUpdate(),
		orgID, id).Scan(&name, &c.staleRun, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("connection")
	}
	if err != nil {
		return nil, fmt.Errorf("claim connection %d: %w", id, err)
	}
	if until.t != nil && until.t.After(now) {
		return nil, domain.Errorf(domain.KindConflict, "the connection %q is running already", name)
	}
	runID, err := s.claim(ctx, tx, c, domain.TriggerManual, now, owner, lease)
	if err != nil {
		return nil, err
	}
	r, err := s.loadRun(ctx, tx, orgID, runID)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, "claim connection "+name); err != nil {
		return nil, err
	}
	return r, nil
}

// RenewClaim extends owner's claim on a running run to the lease from now. A claim that
// was lost (taken over after its lease ran out, or its connection deleted) is KindConflict:
// the runner must stop.
func (s *Store) RenewClaim(ctx context.Context, runID int64, owner string, lease time.Duration) error {
	if err := checkClaim(owner, lease); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE connections SET claim_until = $1 WHERE claim_run_id = $2 AND claim_owner = $3`,
		s.t(s.now().Add(lease)), runID, owner)
	if err != nil {
		return fmt.Errorf("renew claim on run %d: %w", runID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("renew claim on run %d: %w", runID, err)
	} else if n == 0 {
		return domain.Errorf(domain.KindConflict, "the claim on connection run %d was lost", runID)
	}
	return nil
}

// nextRun is when a connection is due again after a run that started at started: a
// manual run restarts the schedule, a scheduled one keeps its cadence, skipping the times
// already past.
func nextRun(trigger domain.RunTrigger, due, started time.Time, interval time.Duration) time.Time {
	if trigger != domain.TriggerSchedule {
		return started.Add(interval)
	}
	next := due.Add(interval)
	if !next.After(started) {
		next = due.Add((started.Sub(due)/interval + 1) * interval)
	}
	return next
}

// FinishConnectionRun ends a claimed run: it stores the resources collected (unless the
// run failed) as the connection's inventory, marks gone the connection's resources it no
// longer reports (of the types that did not fail), records the outcome, schedules the
// next run and releases the claim, in one transaction. A run whose claim owner no longer
// holds is KindConflict, and nothing is stored.
func (s *Store) FinishConnectionRun(ctx context.Context, out domain.RunOutcome, resources []monitor.Resource) (*domain.ConnectionRun, error) {
	if out.Status != domain.RunSucceeded && out.Status != domain.RunPartial && out.Status != domain.RunFailed {
		return nil, domain.Invalid("status", "must be succeeded, partial or failed")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	var (
		connID          int64
		name, owner     string
		claimRun        sql.NullInt64
		secs            int64
		trigger, status string
		due, started    dbTime
	)
	err = tx.QueryRowContext(ctx, `SELECT c.id, c.name, c.claim_run_id, c.claim_owner, c.interval_seconds,
			r.triggered_by, r.status, r.due_at, r.started_at
		FROM connection_runs r JOIN connections c ON c.id = r.connection_id
		WHERE r.org_id = $1 AND r.id = $2`+s.forUpdate(), out.OrgID, out.RunID).
		Scan(&connID, &name, &claimRun, &owner, &secs, &trigger, &status, &due, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("connection run")
	}
	if err != nil {
		return nil, fmt.Errorf("finish run %d: %w", out.RunID, err)
	}
	if !claimRun.Valid || claimRun.Int64 != out.RunID || owner != out.Owner || status != string(domain.RunRunning) {
		return nil, domain.Errorf(domain.KindConflict, "the claim on run %d of connection %q was lost", out.RunID, name)
	}
	if out.EvidenceID != nil {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM evidence WHERE org_id = $1 AND id = $2`,
			out.OrgID, *out.EvidenceID).Scan(&n); err != nil {
			return nil, fmt.Errorf("finish run %d: check evidence: %w", out.RunID, err)
		}
		if n == 0 {
			return nil, domain.Invalid("evidence_id", "is not evidence of this organization")
		}
	}
	now := s.now()
	var sum domain.UpsertSummary
	if out.Status != domain.RunFailed {
		failed := map[string]bool{}
		for _, e := range out.Errors {
			failed[e.Type] = true
		}
		sweep := func(typ string) bool { return !failed[typ] }
		sum, err = s.upsertResources(ctx, tx, out.OrgID, &connID, connectionSource(connID), resources, sweep, now)
		if err != nil {
			return nil, fmt.Errorf("finish run %d of connection %q: %w", out.RunID, name, err)
		}
	}
	counts := out.Counts
	if counts == nil {
		counts = map[string]int{}
	}
	errs := out.Errors
	if errs == nil {
		errs = []domain.TypeError{}
	}
	countsJSON, err := json.Marshal(counts)
	if err != nil {
		return nil, fmt.Errorf("finish run %d: counts: %w", out.RunID, err)
	}
	errsJSON, err := json.Marshal(errs)
	if err != nil {
		return nil, fmt.Errorf("finish run %d: errors: %w", out.RunID, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE connection_runs SET finished_at = $1, status = $2, counts = $3, errors = $4,
			message = $5, added = $6, changed = $7, gone = $8, evidence_id = $9
		WHERE id = $10`, s.t(now), string(out.Status), string(countsJSON), string(errsJSON), out.Message,
		sum.Added, sum.Changed, sum.Gone, nullID(out.EvidenceID), out.RunID)
	if err != nil {
		return nil, fmt.Errorf("finish run %d: %w", out.RunID, err)
	}
	next := nextRun(domain.RunTrigger(trigger), due.t, started.t, time.Duration(secs)*time.Second)
	if _, err := tx.ExecContext(ctx, `UPDATE connections SET claim_run_id = NULL, claim_owner = '', claim_until = NULL,
		next_run_at = $1 WHERE id = $2`, s.t(next), connID); err != nil {
		return nil, fmt.Errorf("finish run %d: release claim: %w", out.RunID, err)
	}
	r, err := s.loadRun(ctx, tx, out.OrgID, out.RunID)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, "finish run of connection "+name); err != nil {
		return nil, err
	}
	return r, nil
}
