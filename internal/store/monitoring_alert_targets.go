package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

func alertTargetSubject(id int64) string { return fmt.Sprintf("alert_target:%d", id) }

// checkTargetSecret checks that a Slack or webhook target comes with its sealed URL and
// signing secret, and an email target with none.
func checkTargetSecret(kind domain.AlertTargetKind, sec *domain.SealedSecret) error {
	if kind == domain.TargetEmail {
		if sec != nil {
			return domain.Invalid("url", "is not a setting of email targets")
		}
		return nil
	}
	switch {
	case sec == nil || len(sec.Ciphertext) == 0:
		return domain.Invalid("url", "is required")
	case sec.KeyID == "" || len(sec.KeyID) > 64 || len(sec.Nonce) != gcmNonceSize:
		return domain.Invalid("url", "is not sealed")
	case len(sec.Ciphertext) > 64<<10:
		return domain.Invalid("url", "must be at most 64 KiB with its secret")
	}
	return nil
}

// alertTargetEventData is what the ledger records of a target: never its URL or secret.
func alertTargetEventData(t *domain.AlertTarget) map[string]any {
	return map[string]any{
		"name":         t.Name,
		"kind":         string(t.Kind),
		"destination":  t.Destination,
		"recipients":   t.Recipients,
		"on_failing":   t.OnFailing,
		"on_recovered": t.OnRecovered,
		"min_severity": t.MinSeverity,
		"enabled":      t.Enabled,
	}
}

// CreateAlertTarget creates one of the organization's alert targets with, for a Slack or
// webhook target, its sealed URL and signing secret, recording it in the ledger without
// them. A name already used in the organization is KindConflict. On success t holds what
// was stored.
func (s *Store) CreateAlertTarget(ctx context.Context, actor domain.Actor, t *domain.AlertTarget, sec *domain.SealedSecret) error {
	if err := domain.ValidateAlertTarget(t); err != nil {
		return err
	}
	if err := checkTargetSecret(t.Kind, sec); err != nil {
		return err
	}
	var keyID string
	var nonce, ciphertext []byte
	if sec != nil {
		keyID, nonce, ciphertext = sec.KeyID, sec.Nonce, sec.Ciphertext
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, t.OrgID); err != nil {
		return err
	}
	now := s.now()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO alert_targets (org_id, kind, name, recipients, destination, secret_key_id,
			secret_nonce, secret, on_failing, on_recovered, min_severity, enabled, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id`,
		t.OrgID, string(t.Kind), t.Name, encodeList(t.Recipients), t.Destination, keyID, nonce, ciphertext,
		t.OnFailing, t.OnRecovered, t.MinSeverity, t.Enabled, actor.UserID, s.t(now)).Scan(&id)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "the alert target name %q is already used in this organization", t.Name)
	}
	if err != nil {
		return fmt.Errorf("create alert target %q: %w", t.Name, err)
	}
	stored, err := s.loadAlertTarget(ctx, tx, t.OrgID, id)
	if err != nil {
		return err
	}
	if err := s.appendEvent(ctx, tx, actor, t.OrgID, domain.EventAlertTargetCreated, alertTargetSubject(id),
		alertTargetEventData(stored)); err != nil {
		return err
	}
	if err := s.commit(tx, "create alert target "+t.Name); err != nil {
		return err
	}
	*t = *stored
	return nil
}

const alertTargetSelect = `SELECT t.id, t.org_id, t.kind, t.name, t.recipients, t.destination, t.on_failing, t.on_recovered,
	t.min_severity, t.enabled, t.created_by, COALESCE(NULLIF(u.name, ''), u.email, ''), t.created_at, t.updated_at
	FROM alert_targets t LEFT JOIN users u ON u.id = t.created_by`

func scanAlertTarget(row interface{ Scan(...any) error }, t *domain.AlertTarget) error {
	var recipients string
	var created, updated dbTime
	if err := row.Scan(&t.ID, &t.OrgID, &t.Kind, &t.Name, &recipients, &t.Destination, &t.OnFailing, &t.OnRecovered,
		&t.MinSeverity, &t.Enabled, &t.CreatedBy, &t.CreatedByName, &created, &updated); err != nil {
		return err
	}
	t.CreatedAt, t.UpdatedAt = created.t, updated.t
	t.Recipients = []string{}
	if err := json.Unmarshal([]byte(recipients), &t.Recipients); err != nil {
		return fmt.Errorf("alert target %d: recipients: %w", t.ID, err)
	}
	return nil
}

func (s *Store) loadAlertTarget(ctx context.Context, q querier, orgID, id int64) (*domain.AlertTarget, error) {
	var t domain.AlertTarget
	err := scanAlertTarget(q.QueryRowContext(ctx, alertTargetSelect+` WHERE t.org_id = $1 AND t.id = $2`, orgID, id), &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("alert target")
	}
	if err != nil {
		return nil, fmt.Errorf("load alert target %d: %w", id, err)
	}
	return &t, nil
}

// AlertTarget returns one of the organization's alert targets.
func (s *Store) AlertTarget(ctx context.Context, orgID, id int64) (*domain.AlertTarget, error) {
	return s.loadAlertTarget(ctx, s.rdb, orgID, id)
}

// AlertTargets lists the organization's alert targets by name.
func (s *Store) AlertTargets(ctx context.Context, orgID int64) ([]domain.AlertTarget, error) {
	rows, err := s.rdb.QueryContext(ctx, alertTargetSelect+` WHERE t.org_id = $1 ORDER BY t.name, t.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list alert targets: %w", err)
	}
	defer rows.Close()
	out := []domain.AlertTarget{}
	for rows.Next() {
		var t domain.AlertTarget
		if err := scanAlertTarget(rows, &t); err != nil {
			return nil, fmt.Errorf("list alert targets: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alert targets: %w", err)
	}
	return out, nil
}

// UpdateAlertTarget applies a partial change to an alert target, validated as a whole,
// and returns the result. The ledger entry records what changed and, when the sealed
// settings were replaced, which of them, never their values.
func (s *Store) UpdateAlertTarget(ctx context.Context, actor domain.Actor, orgID, id int64, ch domain.AlertTargetChange) (*domain.AlertTarget, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "alert target"); err != nil {
		return nil, err
	}
	old, err := s.loadAlertTarget(ctx, tx, orgID, id)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Recipients = slices.Clone(old.Recipients)
	if ch.Name != nil {
		t.Name = *ch.Name
	}
	if ch.Recipients != nil {
		t.Recipients = slices.Clone(*ch.Recipients)
	}
	if ch.OnFailing != nil {
		t.OnFailing = *ch.OnFailing
	}
	if ch.OnRecovered != nil {
		t.OnRecovered = *ch.OnRecovered
	}
	if ch.MinSeverity != nil {
		t.MinSeverity = *ch.MinSeverity
		if t.MinSeverity == "" {
			return nil, domain.Invalid("min_severity", "must be one of low, medium, high, critical")
		}
	}
	if ch.Enabled != nil {
		t.Enabled = *ch.Enabled
	}
	if ch.Destination != nil {
		t.Destination = *ch.Destination
	}
	if err := domain.ValidateAlertTarget(&t); err != nil {
		return nil, err
	}
	if ch.Secret != nil || ch.Destination != nil {
		if err := checkTargetSecret(t.Kind, ch.Secret); err != nil {
			return nil, err
		}
	}
	diff := changes{}
	diff.note("name", old.Name, t.Name)
	diff.note("recipients", strings.Join(old.Recipients, ", "), strings.Join(t.Recipients, ", "))
	diff.note("on_failing", old.OnFailing, t.OnFailing)
	diff.note("on_recovered", old.OnRecovered, t.OnRecovered)
	diff.note("min_severity", old.MinSeverity, t.MinSeverity)
	diff.note("enabled", old.Enabled, t.Enabled)
	diff.note("destination", old.Destination, t.Destination)
	if ch.Secret != nil {
		what := ch.SecretChange
		if what == "" {
			what = "settings"
		}
		diff["sealed"] = change{From: "sealed", To: what + " replaced"}
	}
	if len(diff) == 0 {
		return old, nil
	}
	_, err = tx.ExecContext(ctx, `UPDATE alert_targets SET name = $1, recipients = $2, destination = $3, on_failing = $4,
			on_recovered = $5, min_severity = $6, enabled = $7, updated_at = $8 WHERE org_id = $9 AND id = $10`,
		t.Name, encodeList(t.Recipients), t.Destination, t.OnFailing, t.OnRecovered, t.MinSeverity, t.Enabled,
		s.t(s.now()), orgID, id)
	if s.d.isUnique(err) {
		return nil, domain.Errorf(domain.KindConflict, "the alert target name %q is already used in this organization", t.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("update alert target %q: %w", old.Name, err)
	}
	if ch.Secret != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE alert_targets SET secret_key_id = $1, secret_nonce = $2, secret = $3
			WHERE org_id = $4 AND id = $5`, ch.Secret.KeyID, ch.Secret.Nonce, ch.Secret.Ciphertext, orgID, id); err != nil {
			return nil, fmt.Errorf("update alert target %q: sealed settings: %w", old.Name, err)
		}
	}
	if err := s.appendEvent(ctx, tx, actor, orgID, domain.EventAlertTargetUpdated, alertTargetSubject(id), map[string]any{
		"name":    t.Name,
		"kind":    string(t.Kind),
		"changes": diff,
	}); err != nil {
		return nil, err
	}
	stored, err := s.loadAlertTarget(ctx, tx, orgID, id)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, "update alert target "+old.Name); err != nil {
		return nil, err
	}
	return stored, nil
}

// DeleteAlertTarget deletes one of the organization's alert targets, recording it in the
// ledger. Its deliveries stay in the alerts' history under its name.
func (s *Store) DeleteAlertTarget(ctx context.Context, actor domain.Actor, orgID, id int64) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	if err := s.lockOrgFor(ctx, tx, orgID, "alert target"); err != nil {
		return err
	}
	old, err := s.loadAlertTarget(ctx, tx, orgID, id)
	if err != nil {
		return err
	}
	// Its retries will not happen: say so, rather than leave them waiting.
	if _, err := tx.ExecContext(ctx, `UPDATE alert_deliveries SET status = $1, next_attempt_at = NULL, updated_at = $2,
			last_error = 'not sent: the target was deleted; last error: ' || last_error
		WHERE org_id = $3 AND target_id = $4 AND status = $5`,
		string(domain.DeliveryFailed), s.t(s.now()), orgID, id, string(domain.DeliveryRetrying)); err != nil {
		return fmt.Errorf("delete alert target %q: end its retries: %w", old.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM alert_targets WHERE org_id = $1 AND id = $2`, orgID, id); err != nil {
		return fmt.Errorf("delete alert target %q: %w", old.Name, err)
	}
	if err := s.appendEvent(ctx, tx, actor, orgID, domain.EventAlertTargetDeleted, alertTargetSubject(id), map[string]any{
		"name": old.Name,
		"kind": string(old.Kind),
	}); err != nil {
		return err
	}
	return s.commit(tx, "delete alert target "+old.Name)
}

// AlertTargetSecret returns a Slack or webhook target's sealed URL and signing secret,
// for the notifier only; no page or API response shows them. An email target has none:
// KindNotFound.
func (s *Store) AlertTargetSecret(ctx context.Context, orgID, id int64) (*domain.SealedSecret, error) {
	var sec domain.SealedSecret
	err := s.rdb.QueryRowContext(ctx, `SELECT secret_key_id, secret_nonce, secret FROM alert_targets
		WHERE org_id = $1 AND id = $2`, orgID, id).Scan(&sec.KeyID, &sec.Nonce, &sec.Ciphertext)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("alert target")
	}
	if err != nil {
		return nil, fmt.Errorf("load sealed settings of alert target %d: %w", id, err)
	}
	if len(sec.Ciphertext) == 0 {
		return nil, domain.NotFound("sealed settings of the alert target")
	}
	return &sec, nil
}

const alertDetailSelect = `SELECT ` + alertColumns + `, resources FROM alerts`

func scanAlertDetails(rows *sql.Rows) ([]domain.AlertDetail, error) {
	out := []domain.AlertDetail{}
	for rows.Next() {
		var d domain.AlertDetail
		var resources string
		if err := scanAlert(rows, &d.Alert, &resources); err != nil {
			return nil, err
		}
		d.Resources = []domain.AlertResource{}
		if err := json.Unmarshal([]byte(resources), &d.Resources); err != nil {
			return nil, fmt.Errorf("alert %d: resources: %w", d.ID, err)
		}
		d.Deliveries = []domain.AlertDelivery{}
		out = append(out, d)
	}
	return out, rows.Err()
}

// AlertDetails lists the organization's alerts matching the filter, newest first, each
// with its failing resources and its deliveries.
func (s *Store) AlertDetails(ctx context.Context, orgID int64, f domain.AlertFilter) ([]domain.AlertDetail, error) {
	query, a, err := alertListQuery(alertDetailSelect, orgID, f)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	out, err := scanAlertDetails(rows)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	if err := s.fillDeliveries(ctx, s.rdb, orgID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// AlertDetail returns one of the organization's alerts with its failing resources and
// its deliveries.
func (s *Store) AlertDetail(ctx context.Context, orgID, id int64) (*domain.AlertDetail, error) {
	rows, err := s.rdb.QueryContext(ctx, alertDetailSelect+` WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return nil, fmt.Errorf("load alert %d: %w", id, err)
	}
	out, err := scanAlertDetails(rows)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("load alert %d: %w", id, err)
	}
	if len(out) == 0 {
		return nil, domain.NotFound("alert")
	}
	if err := s.fillDeliveries(ctx, s.rdb, orgID, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

const deliverySelect = `SELECT alert_id, org_id, target_id, target_name, target_kind, status, attempts, rounds, last_error,
	delivery_id, next_attempt_at, delivered_at, updated_at FROM alert_deliveries`

// fillDeliveries reads the deliveries of the organization's alerts into them.
func (s *Store) fillDeliveries(ctx context.Context, q querier, orgID int64, alerts []domain.AlertDetail) error {
	if len(alerts) == 0 {
		return nil
	}
	var a args
	marks := make([]string, len(alerts))
	at := make(map[int64]int, len(alerts))
	org := a.add(orgID)
	for i, al := range alerts {
		marks[i] = a.add(al.ID)
		at[al.ID] = i
	}
	rows, err := q.QueryContext(ctx, deliverySelect+` WHERE org_id = `+org+` AND alert_id IN (`+strings.Join(marks, ", ")+
		`) ORDER BY alert_id, target_name, id`, a...)
	if err != nil {
		return fmt.Errorf("load alert deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d domain.AlertDelivery
		var target sql.NullInt64
		var next, delivered nullTime
		var updated dbTime
		if err := rows.Scan(&d.AlertID, &d.OrgID, &target, &d.TargetName, &d.TargetKind, &d.Status, &d.Attempts, &d.Rounds,
			&d.LastError, &d.DeliveryID, &next, &delivered, &updated); err != nil {
			return fmt.Errorf("load alert deliveries: %w", err)
		}
		if target.Valid {
			id := target.Int64
			d.TargetID = &id
		}
		d.NextAttemptAt, d.DeliveredAt, d.UpdatedAt = next.t, delivered.t, updated.t
		i := at[d.AlertID]
		alerts[i].Deliveries = append(alerts[i].Deliveries, d)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load alert deliveries: %w", err)
	}
	return nil
}

// RecordAlertDeliveries records how owner's delivery of an alert it claimed went, one
// record per target, replacing the targets' earlier records. An unknown alert is
// KindNotFound; one delivered already, or whose claim another owner has taken over, is
// KindConflict, and nothing is recorded.
func (s *Store) RecordAlertDeliveries(ctx context.Context, owner string, orgID, alertID int64, ds []domain.AlertDelivery) error {
	for i, d := range ds {
		switch {
		case d.TargetID == nil || *d.TargetID <= 0:
			return domain.Invalid(fmt.Sprintf("deliveries[%d].target_id", i), "is required")
		case !d.Status.Valid():
			return domain.Invalid(fmt.Sprintf("deliveries[%d].status", i), "must be delivered, retrying or failed")
		case !d.TargetKind.Valid():
			return domain.Invalid(fmt.Sprintf("deliveries[%d].target_kind", i), "must be email, slack or webhook")
		}
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	var claimOwner string
	var delivered nullTime
	err = tx.QueryRowContext(ctx, `SELECT claim_owner, delivered_at FROM alerts WHERE org_id = $1 AND id = $2`+s.forUpdate(),
		orgID, alertID).Scan(&claimOwner, &delivered)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return domain.NotFound("alert")
	case err != nil:
		return fmt.Errorf("record deliveries of alert %d: %w", alertID, err)
	case delivered.t != nil:
		return domain.Errorf(domain.KindConflict, "alert %d was delivered already", alertID)
	case claimOwner != owner:
		return domain.Errorf(domain.KindConflict, "the claim on alert %d was lost", alertID)
	}
	live, err := s.liveTargets(ctx, tx, orgID, ds)
	if err != nil {
		return err
	}
	now := s.now()
	for _, d := range ds {
		if !live[*d.TargetID] {
			// The target was deleted meanwhile; its delivery no longer matters.
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_deliveries (org_id, alert_id, target_id, target_name, target_kind,
				status, attempts, rounds, last_error, delivery_id, next_attempt_at, delivered_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (alert_id, target_id) DO UPDATE SET target_name = excluded.target_name,
				target_kind = excluded.target_kind, status = excluded.status, attempts = excluded.attempts,
				rounds = excluded.rounds, last_error = excluded.last_error, delivery_id = excluded.delivery_id,
				next_attempt_at = excluded.next_attempt_at, delivered_at = excluded.delivered_at,
				updated_at = excluded.updated_at`,
			orgID, alertID, *d.TargetID, d.TargetName, string(d.TargetKind), string(d.Status), d.Attempts, d.Rounds,
			d.LastError, d.DeliveryID, s.tp(d.NextAttemptAt), s.tp(d.DeliveredAt), s.t(now)); err != nil {
			return fmt.Errorf("record delivery of alert %d to %q: %w", alertID, d.TargetName, err)
		}
	}
	return s.commit(tx, fmt.Sprintf("record deliveries of alert %d", alertID))
}

// liveTargets returns which of the deliveries' targets still exist in the organization,
// locking them on PostgreSQL so that they cannot be deleted before the deliveries are
// recorded.
func (s *Store) liveTargets(ctx context.Context, tx *sql.Tx, orgID int64, ds []domain.AlertDelivery) (map[int64]bool, error) {
	live := map[int64]bool{}
	if len(ds) == 0 {
		return live, nil
	}
	var a args
	org := a.add(orgID)
	marks := make([]string, len(ds))
	for i, d := range ds {
		marks[i] = a.add(*d.TargetID)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM alert_targets WHERE org_id = `+org+` AND id IN (`+
		strings.Join(marks, ", ")+`) ORDER BY id`+s.forUpdate(), a...)
	if err != nil {
		return nil, fmt.Errorf("load alert targets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load alert targets: %w", err)
		}
		live[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load alert targets: %w", err)
	}
	return live, nil
}
