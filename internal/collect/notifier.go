package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/alert"
	"github.com/evidenthq/evident/internal/domain"
)

// The notifier delivers the alerts that test runs raise to the organizations' alert
// targets. It lives beside the scheduler because it works the same way (claims with a
// lease, so that any number of replicas share the work and never do the same job twice)
// and because target URLs and signing secrets are sealed with the same Sealer as
// connection credentials.

// NotifierStore is what the notifier keeps its data in. *store.Store satisfies it.
type NotifierStore interface {
	Organization(ctx context.Context, id int64) (*domain.Organization, error)
	Members(ctx context.Context, orgID int64) ([]domain.Member, error)
	Controls(ctx context.Context, orgID int64, f domain.ControlFilter) ([]domain.Control, error)
	TestSummary(ctx context.Context, orgID int64, testID string, now time.Time) (*domain.TestSummary, error)

	// PendingAlerts claims up to limit undelivered alerts for owner for the lease.
	PendingAlerts(ctx context.Context, owner string, lease time.Duration, limit int) ([]domain.Alert, error)
	// MarkDelivered ends the delivery of a claimed alert.
	MarkDelivered(ctx context.Context, owner string, alertID int64) error
	// ReleaseAlert gives up a claim until the next try.
	ReleaseAlert(ctx context.Context, owner string, orgID, alertID int64, until time.Time) error
	AlertDetail(ctx context.Context, orgID, id int64) (*domain.AlertDetail, error)
	// RecordAlertDeliveries records a claimed alert's deliveries; KindConflict when the
	// claim was lost.
	RecordAlertDeliveries(ctx context.Context, owner string, orgID, alertID int64, ds []domain.AlertDelivery) error

	AlertTargets(ctx context.Context, orgID int64) ([]domain.AlertTarget, error)
	AlertTarget(ctx context.Context, orgID, id int64) (*domain.AlertTarget, error)
	AlertTargetSecret(ctx context.Context, orgID, id int64) (*domain.SealedSecret, error)
	CreateAlertTarget(ctx context.Context, actor domain.Actor, t *domain.AlertTarget, sec *domain.SealedSecret) error
	UpdateAlertTarget(ctx context.Context, actor domain.Actor, orgID, id int64, ch domain.AlertTargetChange) (*domain.AlertTarget, error)
}

// Defaults of Notifier.
const (
	DefaultNotifierPoll    = 10 * time.Second
	DefaultNotifierLease   = 5 * time.Minute
	DefaultNotifierWorkers = 2
	// DefaultRetryBackoff is the wait before the notifier's second pass over a target
	// that failed in a way that may pass; each further wait doubles, up to
	// MaxRetryBackoff.
	DefaultRetryBackoff = time.Minute
	MaxRetryBackoff     = time.Hour
	// DefaultMaxRounds is how many passes the notifier makes over a failing target, each
	// of the Dispatcher's few attempts, before it gives up: about two hours in all.
	DefaultMaxRounds = 8
)

// Notifier delivers alerts to alert targets, and creates and tests the targets. Store,
// Sealer, Dispatcher and Guard are required.
type Notifier struct {
	Store NotifierStore
	// Sealer seals a Slack or webhook target's URL and signing secret.
	Sealer *Sealer
	// Dispatcher sends alerts; its HTTP client must enforce Guard (alert.NewDispatcher
	// builds it so), and its Email channel is nil when no mail server is configured.
	Dispatcher *alert.Dispatcher
	// Guard checks a target's URL when it is saved.
	Guard *alert.Guard
	// BaseURL is the address people reach Evident at, for links in alerts.
	BaseURL string
	// Owner names this process in claims; empty means the host name, process ID and a
	// random suffix.
	Owner string
	// Poll is the time between two looks for pending alerts (default DefaultNotifierPoll).
	Poll time.Duration
	// Lease is how long a claim on an alert holds (default DefaultNotifierLease); one
	// pass over an alert's targets is cut off at half of it, so that the claim cannot run
	// out while it sends.
	Lease time.Duration
	// Workers is how many alerts this process delivers at once (default
	// DefaultNotifierWorkers).
	Workers int
	// RetryBackoff and MaxRounds shape the retries of targets that failed in a way that
	// may pass (defaults DefaultRetryBackoff and DefaultMaxRounds).
	RetryBackoff time.Duration
	MaxRounds    int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives errors; nil means slog.Default. Secrets are never logged.
	Logger *slog.Logger

	owner claimOwner
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now().UTC()
	}
	return time.Now().UTC()
}

func (n *Notifier) lease() time.Duration {
	if n.Lease > 0 {
		return n.Lease
	}
	return DefaultNotifierLease
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}

func (n *Notifier) ownerName() string { return n.owner.get(n.Owner, "notifier:") }

// EmailEnabled reports whether email targets can be reached: a mail server is configured.
func (n *Notifier) EmailEnabled() bool { return n.Dispatcher != nil && n.Dispatcher.Email != nil }

// Run delivers pending alerts until ctx ends, looking for them every Poll. It returns nil
// once ctx ends; errors are logged, not returned.
func (n *Notifier) Run(ctx context.Context) error {
	poll := n.Poll
	if poll <= 0 {
		poll = DefaultNotifierPoll
	}
	pollEvery(ctx, poll, func(ctx context.Context) {
		if _, err := n.DeliverPending(ctx); err != nil && ctx.Err() == nil {
			n.logger().Error("deliver alerts", "err", err)
		}
	})
	return nil
}

// DeliverPending delivers every alert pending now, claiming them one at a time on each of
// Workers workers until none is left, and returns how many it worked on. The error joins
// the failures to claim alerts or record their deliveries; a target's failure is recorded
// in its delivery instead.
func (n *Notifier) DeliverPending(ctx context.Context) (int, error) {
	workers := n.Workers
	if workers <= 0 {
		workers = DefaultNotifierWorkers
	}
	claim := func(ctx context.Context) ([]domain.Alert, error) {
		return n.Store.PendingAlerts(ctx, n.ownerName(), n.lease(), 1)
	}
	return drainClaims(ctx, workers, claim, func(ctx context.Context, a *domain.Alert) error {
		err := n.deliver(ctx, *a)
		if err != nil {
			n.logger().Error("alert delivery", "org_id", a.OrgID, "alert_id", a.ID, "err", err)
		}
		return err
	})
}

// recordTimeout bounds recording a pass's outcome.
const recordTimeout = 30 * time.Second

// deliver makes one pass over a claimed alert: it sends the alert to each enabled
// target that wants it and has not had it yet, records how each delivery went, and
// marks the alert delivered once every delivery is over, or releases it until the next
// retry is due.
func (n *Notifier) deliver(ctx context.Context, a domain.Alert) error {
	owner := n.ownerName()
	detail, err := n.Store.AlertDetail(ctx, a.OrgID, a.ID)
	if err != nil {
		return err
	}
	targets, err := n.Store.AlertTargets(ctx, a.OrgID)
	if err != nil {
		return err
	}
	prev := map[int64]domain.AlertDelivery{}
	for _, d := range detail.Deliveries {
		if d.TargetID != nil {
			prev[*d.TargetID] = d
		}
	}
	now := n.now()
	var due []domain.AlertTarget
	var recs []domain.AlertDelivery // starting with the retries a target no longer wants
	var later time.Time             // the earliest retry not due yet
	for _, t := range targets {
		p, had := prev[t.ID]
		if !t.Matches(&a) {
			if had && !p.Status.Final() {
				p.Status, p.NextAttemptAt = domain.DeliveryFailed, nil
				p.LastError = "not sent: the target was disabled or changed to not want this alert; last error: " + p.LastError
				recs = append(recs, p)
			}
			continue
		}
		switch {
		case had && p.Status.Final():
			continue
		case had && p.NextAttemptAt != nil && p.NextAttemptAt.After(now):
			later = earliest(later, *p.NextAttemptAt)
			continue
		}
		due = append(due, t)
	}
	if len(due) > 0 {
		sent, next, err := n.send(ctx, detail, due, prev)
		if err != nil {
			return err
		}
		recs, later = append(recs, sent...), earliest(later, next)
	}
	// The outcome is recorded even when the pass was stopped, so that deliveries already
	// made are not made again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if len(recs) > 0 {
		if err := n.Store.RecordAlertDeliveries(rctx, owner, a.OrgID, a.ID, recs); err != nil {
			return err
		}
	}
	if later.IsZero() {
		return n.Store.MarkDelivered(rctx, owner, a.ID)
	}
	return n.Store.ReleaseAlert(rctx, owner, a.OrgID, a.ID, later)
}

// send delivers the alert to the due targets and returns the record of each delivery,
// and when the earliest retry is due, zero when none is.
func (n *Notifier) send(ctx context.Context, detail *domain.AlertDetail, due []domain.AlertTarget,
	prev map[int64]domain.AlertDelivery) ([]domain.AlertDelivery, time.Time, error) {
	msg, err := n.message(ctx, detail)
	if err != nil {
		return nil, time.Time{}, err
	}
	var recs []domain.AlertDelivery
	var sendTo []alert.Target
	var sent []domain.AlertTarget
	for _, t := range due {
		at, err := n.target(ctx, &t)
		if err != nil {
			// A target whose settings do not open (another key, altered) cannot be helped
			// by trying again; its delivery fails and the page says why.
			p := prev[t.ID]
			recs = append(recs, domain.AlertDelivery{TargetID: &t.ID, TargetName: t.Name, TargetKind: t.Kind,
				Status: domain.DeliveryFailed, Attempts: p.Attempts, Rounds: p.Rounds + 1, LastError: err.Error(),
				DeliveryID: p.DeliveryID})
			continue
		}
		sendTo = append(sendTo, at)
		sent = append(sent, t)
	}
	var results []alert.Result
	if len(sendTo) > 0 {
		dctx, cancel := context.WithTimeout(ctx, n.lease()/2)
		results = n.Dispatcher.Deliver(dctx, msg, sendTo)
		cancel()
	}
	stopped := ctx.Err() != nil
	now := n.now()
	var later time.Time
	for i, res := range results {
		t := sent[i]
		rec := n.outcome(&t, prev[t.ID], res, now, stopped)
		if rec.NextAttemptAt != nil {
			later = earliest(later, *rec.NextAttemptAt)
		}
		recs = append(recs, rec)
	}
	return recs, later, nil
}

// outcome turns one target's result into its delivery record.
func (n *Notifier) outcome(t *domain.AlertTarget, p domain.AlertDelivery, res alert.Result, now time.Time, stopped bool) domain.AlertDelivery {
	rec := domain.AlertDelivery{TargetID: &t.ID, TargetName: t.Name, TargetKind: t.Kind, Attempts: p.Attempts + res.Attempts,
		Rounds: p.Rounds + 1, DeliveryID: res.DeliveryID}
	switch {
	case res.Delivered():
		rec.Status, rec.DeliveredAt = domain.DeliveryDelivered, &now
		return rec
	case res.Permanent:
		rec.Status, rec.LastError = domain.DeliveryFailed, res.Err.Error()
		return rec
	case stopped:
		// Evident is stopping: the pass does not count, and any replica may try again now.
		rec.Status, rec.Rounds, rec.LastError, rec.NextAttemptAt = domain.DeliveryRetrying, p.Rounds, res.Err.Error(), &now
		return rec
	}
	rounds := n.MaxRounds
	if rounds <= 0 {
		rounds = DefaultMaxRounds
	}
	if rec.Rounds >= rounds {
		rec.Status = domain.DeliveryFailed
		rec.LastError = fmt.Sprintf("gave up after %d attempts: %v", rec.Attempts, res.Err)
		return rec
	}
	wait := n.RetryBackoff
	if wait <= 0 {
		wait = DefaultRetryBackoff
	}
	for i := 1; i < rec.Rounds && wait < MaxRetryBackoff; i++ {
		wait *= 2
	}
	next := now.Add(min(wait, MaxRetryBackoff))
	rec.Status, rec.LastError, rec.NextAttemptAt = domain.DeliveryRetrying, res.Err.Error(), &next
	return rec
}

// earliest returns the earlier of two times, a zero time standing for none.
func earliest(a, b time.Time) time.Time {
	if b.IsZero() {
		return a
	}
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// message builds the alert as the channels tell it: the organization, the test with its
// remediation, the failing resources, the controls and their owners.
func (n *Notifier) message(ctx context.Context, d *domain.AlertDetail) (alert.Alert, error) {
	org, err := n.Store.Organization(ctx, d.OrgID)
	if err != nil {
		return alert.Alert{}, err
	}
	msg := alert.Alert{
		ID:             strconv.FormatInt(d.ID, 10),
		Org:            alert.Org{Slug: org.Slug, Name: org.Name},
		Test:           alert.Test{ID: d.TestID, Title: d.TestTitle, Severity: d.Severity},
		State:          alert.State(d.State),
		TotalResources: d.Failing,
		At:             d.CreatedAt,
		BaseURL:        n.BaseURL,
		Path:           alert.TestPath(d.TestID),
	}
	sum, err := n.Store.TestSummary(ctx, d.OrgID, d.TestID, n.now())
	switch {
	case err == nil:
		msg.Test.Remediation = sum.Remediation
	case !domain.IsNotFound(err):
		return alert.Alert{}, err
	}
	if d.State == domain.AlertFailing {
		for _, r := range d.Resources {
			msg.Resources = append(msg.Resources, alert.Resource{Type: r.Type, ID: r.ExternalID, Name: r.Name})
		}
	}
	if len(d.ControlIDs) > 0 {
		controls, err := n.Store.Controls(ctx, d.OrgID, domain.ControlFilter{IncludeRetired: true})
		if err != nil {
			return alert.Alert{}, err
		}
		for _, c := range controls {
			if slices.Contains(d.ControlIDs, c.ID) {
				msg.Controls = append(msg.Controls, alert.Control{Ref: c.Ref, Title: c.Title})
			}
		}
		slices.SortFunc(msg.Controls, func(a, b alert.Control) int { return strings.Compare(a.Ref, b.Ref) })
	}
	if len(d.OwnerIDs) > 0 {
		members, err := n.Store.Members(ctx, d.OrgID)
		if err != nil {
			return alert.Alert{}, err
		}
		// Owners who have left the organization no longer hear of its tests.
		for _, m := range members {
			if slices.Contains(d.OwnerIDs, m.User.ID) {
				msg.Owners = append(msg.Owners, alert.Owner{Name: m.User.Name, Email: m.User.Email})
			}
		}
	}
	return msg, nil
}

// targetSettings are the sealed part of a Slack or webhook target.
type targetSettings struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// sealKind binds a target's sealed settings to targets of its kind: they do not open as
// another kind's, nor as a connection's credentials.
func sealKind(k domain.AlertTargetKind) string { return "alert-target/" + string(k) }

func (n *Notifier) seal(orgID int64, k domain.AlertTargetKind, s targetSettings) (*domain.SealedSecret, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("seal alert target: %w", err)
	}
	sec, err := n.Sealer.Seal(orgID, sealKind(k), b)
	clear(b)
	if err != nil {
		return nil, err
	}
	return &sec, nil
}

func (n *Notifier) open(ctx context.Context, t *domain.AlertTarget) (targetSettings, error) {
	var s targetSettings
	if t.Kind == domain.TargetEmail {
		return s, nil
	}
	sec, err := n.Store.AlertTargetSecret(ctx, t.OrgID, t.ID)
	if err != nil {
		return s, err
	}
	b, err := n.Sealer.Open(t.OrgID, sealKind(t.Kind), *sec)
	if err != nil {
		return s, fmt.Errorf("the target's URL cannot be read: %w", err)
	}
	defer clear(b)
	if err := json.Unmarshal(b, &s); err != nil {
		return s, errors.New("the target's URL cannot be read: its sealed settings are not JSON")
	}
	return s, nil
}

// target returns the target as the dispatcher reaches it, its URL and secret opened.
func (n *Notifier) target(ctx context.Context, t *domain.AlertTarget) (alert.Target, error) {
	s, err := n.open(ctx, t)
	if err != nil {
		return alert.Target{}, err
	}
	return alert.Target{Name: t.Name, Kind: alert.Kind(t.Kind), URL: s.URL, Secret: s.Secret, To: slices.Clone(t.Recipients)}, nil
}

// TargetInput is a new alert target.
type TargetInput struct {
	Kind domain.AlertTargetKind
	Name string
	// Recipients are an email target's addresses; none writes to the control owners.
	Recipients []string
	// URL is a Slack incoming webhook's or a generic webhook's address.
	URL         string
	OnFailing   bool
	OnRecovered bool
	MinSeverity string
	Enabled     bool
}

// CreateTarget validates and creates an alert target, its URL sealed, and returns it
// with, for a webhook target, the signing secret Evident generated for it: shown to the
// caller once, never again.
func (n *Notifier) CreateTarget(ctx context.Context, actor domain.Actor, orgID int64, in TargetInput) (*domain.AlertTarget, string, error) {
	t := &domain.AlertTarget{OrgID: orgID, Kind: in.Kind, Name: in.Name, Recipients: slices.Clone(in.Recipients),
		OnFailing: in.OnFailing, OnRecovered: in.OnRecovered, MinSeverity: in.MinSeverity, Enabled: in.Enabled}
	if t.Kind == domain.TargetEmail && strings.TrimSpace(in.URL) != "" {
		return nil, "", domain.Invalid("url", "is not a setting of email targets")
	}
	if err := domain.ValidateAlertTarget(t); err != nil {
		return nil, "", err
	}
	var sec *domain.SealedSecret
	var secret string
	if t.Kind != domain.TargetEmail {
		s := targetSettings{URL: strings.TrimSpace(in.URL)}
		if t.Kind == domain.TargetWebhook {
			var err error
			if s.Secret, err = alert.NewSecret(); err != nil {
				return nil, "", err
			}
			secret = s.Secret
		}
		if err := n.checkURL(t, s); err != nil {
			return nil, "", err
		}
		t.Destination = alert.RedactURL(s.URL)
		var err error
		if sec, err = n.seal(orgID, t.Kind, s); err != nil {
			return nil, "", err
		}
	}
	if err := n.Store.CreateAlertTarget(ctx, actor, t, sec); err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// checkURL checks a Slack or webhook target's URL and secret as alert.Target does, with
// the guard: an http or https URL whose host the configuration permits.
func (n *Notifier) checkURL(t *domain.AlertTarget, s targetSettings) error {
	at := alert.Target{Name: t.Name, Kind: alert.Kind(t.Kind), URL: s.URL, Secret: s.Secret}
	if err := at.Validate(n.Guard); err != nil {
		if domain.FieldOf(err) == "secret" {
			// Evident made the secret; a fault in it is ours, not the caller's.
			return fmt.Errorf("webhook secret: %s", domain.MessageOf(err))
		}
		return err
	}
	return nil
}

// TargetUpdate is a partial change of an alert target: nil fields stay as they are.
type TargetUpdate struct {
	Name        *string
	Recipients  *[]string
	OnFailing   *bool
	OnRecovered *bool
	MinSeverity *string
	Enabled     *bool
	// URL replaces a Slack or webhook target's URL.
	URL *string
	// RotateSecret gives a webhook target a new signing secret.
	RotateSecret bool
}

// UpdateTarget changes an alert target and returns it with, when RotateSecret was asked
// for, the new signing secret, shown to the caller once.
func (n *Notifier) UpdateTarget(ctx context.Context, actor domain.Actor, orgID, id int64, up TargetUpdate) (*domain.AlertTarget, string, error) {
	ch := domain.AlertTargetChange{Name: up.Name, Recipients: up.Recipients, OnFailing: up.OnFailing,
		OnRecovered: up.OnRecovered, MinSeverity: up.MinSeverity, Enabled: up.Enabled}
	var secret string
	if up.URL != nil || up.RotateSecret {
		t, err := n.Store.AlertTarget(ctx, orgID, id)
		if err != nil {
			return nil, "", err
		}
		switch {
		case t.Kind == domain.TargetEmail && up.URL != nil:
			return nil, "", domain.Invalid("url", "is not a setting of email targets")
		case t.Kind != domain.TargetWebhook && up.RotateSecret:
			return nil, "", domain.Invalid("rotate_secret", "is for webhook targets only: they alone sign what they send")
		}
		s, err := n.open(ctx, t)
		if err != nil {
			if up.URL == nil || (t.Kind == domain.TargetWebhook && !up.RotateSecret) {
				return nil, "", err
			}
			// Unreadable settings are replaced whole: a new URL, and a new secret for a webhook.
		}
		var what []string
		if up.URL != nil {
			s.URL = strings.TrimSpace(*up.URL)
			what = append(what, "url")
		}
		if up.RotateSecret {
			if s.Secret, err = alert.NewSecret(); err != nil {
				return nil, "", err
			}
			secret = s.Secret
			what = append(what, "signing secret")
		}
		named := *t
		if up.Name != nil {
			named.Name = *up.Name
		}
		if err := n.checkURL(&named, s); err != nil {
			return nil, "", err
		}
		dest := alert.RedactURL(s.URL)
		if ch.Secret, err = n.seal(orgID, t.Kind, s); err != nil {
			return nil, "", err
		}
		ch.Destination, ch.SecretChange = &dest, strings.Join(what, " and ")
	}
	t, err := n.Store.UpdateAlertTarget(ctx, actor, orgID, id, ch)
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// testAlertPath is where a test alert's link leads: the alert targets' page.
const testAlertPath = "/alerts/targets"

// SendTest sends a sample alert to one of the organization's targets, once, and returns
// how it went. An email target without recipients writes to the person asking, whose
// address is actor.Email. The sample is not recorded as an alert.
func (n *Notifier) SendTest(ctx context.Context, actor domain.Actor, orgID, id int64) (alert.Result, error) {
	t, err := n.Store.AlertTarget(ctx, orgID, id)
	if err != nil {
		return alert.Result{}, err
	}
	org, err := n.Store.Organization(ctx, orgID)
	if err != nil {
		return alert.Result{}, err
	}
	at, err := n.target(ctx, t)
	if err != nil {
		return alert.Result{Target: t.Name, Kind: alert.Kind(t.Kind), Err: err, Permanent: true}, nil
	}
	severity := t.MinSeverity
	if severity == "" {
		severity = "low"
	}
	msg := alert.Alert{
		Org: alert.Org{Slug: org.Slug, Name: org.Name},
		Test: alert.Test{ID: "evident-test-alert", Title: "Test alert from Evident", Severity: severity,
			Remediation: "Nothing to fix: this alert shows that " + t.Name + " reaches you."},
		State:          alert.Failing,
		Resources:      []alert.Resource{{Type: "example", ID: "example-1", Name: "Example resource"}},
		TotalResources: 1,
		Controls:       []alert.Control{{Ref: "EX-01", Title: "Example control"}},
		Owners:         []alert.Owner{{Email: actor.Email}},
		BaseURL:        n.BaseURL,
		Path:           testAlertPath,
	}
	d := *n.Dispatcher
	d.Attempts = 1
	results := d.Deliver(ctx, msg, []alert.Target{at})
	return results[0], nil
}
