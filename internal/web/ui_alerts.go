package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
)

// alertStore is the part of the store the alerts pages and routes use.
type alertStore interface {
	// AlertDetails lists alerts, newest first, with their resources and deliveries.
	AlertDetails(ctx context.Context, orgID int64, f domain.AlertFilter) ([]domain.AlertDetail, error)
	AlertTargets(ctx context.Context, orgID int64) ([]domain.AlertTarget, error)
	AlertTarget(ctx context.Context, orgID, id int64) (*domain.AlertTarget, error)
	DeleteAlertTarget(ctx context.Context, actor domain.Actor, orgID, id int64) error
	Tasks(ctx context.Context, orgID int64, f domain.TaskFilter) ([]domain.Task, error)
	CountTasks(ctx context.Context, orgID int64, f domain.TaskFilter) (int, error)
	CloseTask(ctx context.Context, actor domain.Actor, orgID, id int64) error
	// FailingTests lists the tests failing now on resources without an exception.
	FailingTests(ctx context.Context, orgID int64, now time.Time) ([]domain.FailingTest, error)
}

// routesAlerts registers the alerts pages.
func (s *Server) routesAlerts(mux *http.ServeMux) {
	mux.HandleFunc("GET /alerts", s.signedIn(s.alertsPage))
	mux.HandleFunc("GET /alerts/targets", s.signedIn(s.alertTargetsPage))
	mux.HandleFunc("POST /alerts/targets", s.admin(s.createAlertTarget))
	mux.HandleFunc("GET /alerts/targets/{id}", s.signedIn(s.alertTargetPage))
	mux.HandleFunc("POST /alerts/targets/{id}", s.admin(s.updateAlertTarget))
	mux.HandleFunc("POST /alerts/targets/{id}/enable", s.admin(s.enableAlertTarget))
	mux.HandleFunc("POST /alerts/targets/{id}/disable", s.admin(s.disableAlertTarget))
	mux.HandleFunc("POST /alerts/targets/{id}/rotate", s.admin(s.rotateAlertTarget))
	mux.HandleFunc("POST /alerts/targets/{id}/test", s.admin(s.testAlertTarget))
	mux.HandleFunc("POST /alerts/targets/{id}/delete", s.admin(s.deleteAlertTarget))
	mux.HandleFunc("POST /tasks/{id}/close", s.signedIn(s.closeTask))
}

// errNoNotifier is a server built without the alert notifier: a configuration error.
var errNoNotifier = errors.New("alerts: no notifier configured")

// alertsStore returns the store of alerts, or an error when the server has none.
func (s *Server) alertsStore() (alertStore, error) {
	if s.cfg.Monitoring == nil {
		return nil, errNoMonitoring
	}
	return s.cfg.Monitoring, nil
}

// notifier returns the alert notifier, or an error when the server has none.
func (s *Server) notifier() (*collect.Notifier, error) {
	if s.cfg.Notifier == nil {
		return nil, errNoNotifier
	}
	return s.cfg.Notifier, nil
}

// alertsPageSize is how many alerts the alerts page lists at once.
const alertsPageSize = 50

// shownAlertResources is how many failing resources a line of the alerts page names.
const shownAlertResources = 3

// alertRow is one alert on the alerts page and the dashboard.
type alertRow struct {
	domain.AlertDetail
	// Named are the first failing resources' names, More how many others fail.
	Named []string
	More  int
}

// IsFailing reports whether the alert says the test started failing.
func (r alertRow) IsFailing() bool { return r.State == domain.AlertFailing }

// SeverityBadge is the test's severity for the "severity" template.
func (r alertRow) SeverityBadge() readiness.Severity { return readiness.Severity(r.Severity) }

func newAlertRow(d domain.AlertDetail) alertRow {
	row := alertRow{AlertDetail: d}
	if d.State != domain.AlertFailing {
		return row
	}
	for _, res := range d.Resources {
		if len(row.Named) == shownAlertResources {
			break
		}
		name := res.Name
		if name == "" {
			name = res.ExternalID
		}
		row.Named = append(row.Named, name)
	}
	row.More = max(d.Failing-len(row.Named), 0)
	return row
}

// alertsView is the data of the alerts page.
type alertsView struct {
	Alerts  []alertRow
	Targets int // enabled targets
	TestID  string
	Older   string
	Now     time.Time
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := domain.AlertFilter{TestID: strings.TrimSpace(q.Get("test")), Limit: alertsPageSize}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return domain.Invalid("before", "must be a positive number")
		}
		f.Before = n
	}
	ctx := r.Context()
	details, err := st.AlertDetails(ctx, p.Org.ID, f)
	if err != nil {
		return err
	}
	targets, err := st.AlertTargets(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := alertsView{TestID: f.TestID, Now: s.now()}
	for _, t := range targets {
		if t.Enabled {
			v.Targets++
		}
	}
	for _, d := range details {
		v.Alerts = append(v.Alerts, newAlertRow(d))
	}
	if len(details) == alertsPageSize {
		older := url.Values{"before": {strconv.FormatInt(details[len(details)-1].ID, 10)}}
		if f.TestID != "" {
			older.Set("test", f.TestID)
		}
		v.Older = "/alerts?" + older.Encode()
	}
	pg := s.newPage(w, r, p, "Alerts", "alerts")
	pg.Data = v
	return s.render(w, http.StatusOK, "alerts", pg)
}

// targetRow is one alert target on the targets page.
type targetRow struct {
	domain.AlertTarget
}

// Events says which changes of state the target hears of.
func (t targetRow) Events() string {
	switch {
	case t.OnFailing && t.OnRecovered:
		return "Failing and recovered"
	case t.OnFailing:
		return "Failing only"
	}
	return "Recovered only"
}

// Where says where the target sends, for people: never a URL's path.
func (t targetRow) Where() string {
	if t.Kind == domain.TargetEmail {
		if len(t.Recipients) == 0 {
			return "The owners of the test's controls"
		}
		return strings.Join(t.Recipients, ", ")
	}
	return t.Destination
}

// targetsView is the data of the alert targets page and of one target's page.
type targetsView struct {
	Targets []targetRow
	// Target is the target of the one-target page.
	Target *targetRow
	// Secret is a webhook's signing secret, on the page that shows it once; SecretFor
	// names its target.
	Secret    string
	SecretFor string
	// Tested is the outcome of "Send a test alert", on the page that answers it.
	Tested *testOutcome
	// CanChange reports that targets can be added and changed: the server has a notifier.
	CanChange bool
	// EmailOff reports that the server has no mail server, so email targets fail.
	EmailOff   bool
	Kinds      []domain.AlertTargetKind
	Severities []string
}

// testOutcome is how a test alert went.
type testOutcome struct {
	Target    string
	Delivered bool
	Message   string
}

// newTargetForm is the add form with its defaults: both events, every severity, enabled.
func newTargetForm() *form {
	return newForm(url.Values{"kind": {"email"}, "events": {"failing", "recovered"}, "min_severity": {"low"}, "enabled": {"on"}})
}

func (s *Server) alertTargetsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderTargets(w, r, p, newTargetForm(), targetsView{}, http.StatusOK)
}

// loadTargets fills the targets page's list and settings.
func (s *Server) loadTargets(ctx context.Context, orgID int64, v targetsView) (targetsView, error) {
	st, err := s.alertsStore()
	if err != nil {
		return v, err
	}
	targets, err := st.AlertTargets(ctx, orgID)
	if err != nil {
		return v, err
	}
	for _, t := range targets {
		v.Targets = append(v.Targets, targetRow{t})
	}
	return s.withTargetSettings(v), nil
}

// withTargetSettings fills in what the targets' forms offer and whether they can be used.
func (s *Server) withTargetSettings(v targetsView) targetsView {
	v.CanChange = s.cfg.Notifier != nil
	v.EmailOff = s.cfg.Notifier != nil && !s.cfg.Notifier.EmailEnabled()
	v.Kinds, v.Severities = domain.AlertTargetKinds, domain.AlertSeverities
	return v
}

func (s *Server) renderTargets(w http.ResponseWriter, r *http.Request, p *principal, f *form, v targetsView, status int) error {
	v, err := s.loadTargets(r.Context(), p.Org.ID, v)
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, p, "Alert targets", "alerts")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "alert_targets", pg)
}

// targetFields are the form fields a target's errors may name.
var targetFields = []string{"kind", "name", "recipients", "url", "events", "min_severity"}

// splitRecipients reads a list of email addresses separated by commas, semicolons,
// spaces or lines.
func splitRecipients(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
	})
}

// formEvents reads the events checkboxes.
func formEvents(f *form) (failing, recovered bool) {
	return f.Has("events", "failing"), f.Has("events", "recovered")
}

func (s *Server) createAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	in := collect.TargetInput{
		Kind: domain.AlertTargetKind(f.Get("kind")), Name: f.Get("name"), MinSeverity: f.Get("min_severity"),
		Enabled: f.Get("enabled") != "",
	}
	in.OnFailing, in.OnRecovered = formEvents(f)
	if in.Kind == domain.TargetEmail {
		in.Recipients = splitRecipients(f.Get("recipients"))
	} else {
		in.URL = f.Get("url")
	}
	t, secret, err := n.CreateTarget(r.Context(), p.Actor(), p.Org.ID, in)
	if err != nil {
		if !f.fail(err, targetFields...) {
			return err
		}
		// A URL may hold a secret (a Slack webhook's does): it is never sent back.
		f.Values.Del("url")
		return s.renderTargets(w, r, p, f, targetsView{}, statusOf(err))
	}
	if secret != "" {
		return s.renderTargets(w, r, p, newTargetForm(), targetsView{Secret: secret, SecretFor: t.Name}, http.StatusOK)
	}
	return s.redirect(w, r, "/alerts/targets", "Added "+t.Name+".")
}

// pathTarget loads the target the path names, in the principal's organization.
func (s *Server) pathTarget(r *http.Request, p *principal) (*domain.AlertTarget, error) {
	st, err := s.alertsStore()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id", "alert target")
	if err != nil {
		return nil, err
	}
	return st.AlertTarget(r.Context(), p.Org.ID, id)
}

// targetForm fills the edit form with a target's settings.
func targetForm(t *domain.AlertTarget) *form {
	v := url.Values{"name": {t.Name}, "recipients": {strings.Join(t.Recipients, "\n")}, "min_severity": {t.MinSeverity}}
	if t.OnFailing {
		v.Add("events", "failing")
	}
	if t.OnRecovered {
		v.Add("events", "recovered")
	}
	if t.Enabled {
		v.Set("enabled", "on")
	}
	return newForm(v)
}

func (s *Server) alertTargetPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := s.pathTarget(r, p)
	if err != nil {
		return err
	}
	return s.renderTarget(w, r, p, t, targetForm(t), targetsView{}, http.StatusOK)
}

func (s *Server) renderTarget(w http.ResponseWriter, r *http.Request, p *principal, t *domain.AlertTarget, f *form, v targetsView, status int) error {
	v.Target = &targetRow{*t}
	pg := s.newPage(w, r, p, t.Name+" · Alert targets", "alerts")
	pg.Form = f
	pg.Data = s.withTargetSettings(v)
	return s.render(w, status, "alert_targets", pg)
}

func (s *Server) updateAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	t, err := s.pathTarget(r, p)
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	name, severity := f.Get("name"), f.Get("min_severity")
	failing, recovered := formEvents(f)
	enabled := f.Get("enabled") != ""
	up := collect.TargetUpdate{Name: &name, MinSeverity: &severity, OnFailing: &failing, OnRecovered: &recovered, Enabled: &enabled}
	if t.Kind == domain.TargetEmail {
		rs := splitRecipients(f.Get("recipients"))
		up.Recipients = &rs
	} else if u := strings.TrimSpace(f.Get("url")); u != "" {
		up.URL = &u
	}
	updated, _, err := n.UpdateTarget(r.Context(), p.Actor(), p.Org.ID, t.ID, up)
	if err != nil {
		if !f.fail(err, targetFields...) {
			return err
		}
		f.Values.Del("url")
		return s.renderTarget(w, r, p, t, f, targetsView{}, statusOf(err))
	}
	return s.redirect(w, r, "/alerts/targets", "Saved "+updated.Name+".")
}

func (s *Server) setTargetEnabled(w http.ResponseWriter, r *http.Request, p *principal, on bool) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	t, err := s.pathTarget(r, p)
	if err != nil {
		return err
	}
	if _, _, err := n.UpdateTarget(r.Context(), p.Actor(), p.Org.ID, t.ID, collect.TargetUpdate{Enabled: &on}); err != nil {
		return err
	}
	if on {
		return s.redirect(w, r, "/alerts/targets", "Enabled "+t.Name+": it hears of new alerts again.")
	}
	return s.redirect(w, r, "/alerts/targets", "Disabled "+t.Name+": it hears of no alert until enabled.")
}

func (s *Server) enableAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setTargetEnabled(w, r, p, true)
}

func (s *Server) disableAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setTargetEnabled(w, r, p, false)
}

// rotateAlertTarget gives a webhook target a new signing secret, shown on this page once.
func (s *Server) rotateAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	t, err := s.pathTarget(r, p)
	if err != nil {
		return err
	}
	_, secret, err := n.UpdateTarget(r.Context(), p.Actor(), p.Org.ID, t.ID, collect.TargetUpdate{RotateSecret: true})
	if err != nil {
		return err
	}
	return s.renderTargets(w, r, p, newTargetForm(), targetsView{Secret: secret, SecretFor: t.Name}, http.StatusOK)
}

// maxShownError bounds a delivery error as a page shows it.
const maxShownError = 300

func (s *Server) testAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	t, err := s.pathTarget(r, p)
	if err != nil {
		return err
	}
	res, err := n.SendTest(r.Context(), p.Actor(), p.Org.ID, t.ID)
	if err != nil {
		return err
	}
	out := &testOutcome{Target: t.Name, Delivered: res.Delivered()}
	if res.Err != nil {
		out.Message = shorten(res.Err.Error(), maxShownError)
	}
	return s.renderTargets(w, r, p, newTargetForm(), targetsView{Tested: out}, http.StatusOK)
}

func (s *Server) deleteAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	t, err := s.pathTarget(r, p)
	if err != nil {
		return err
	}
	if err := st.DeleteAlertTarget(r.Context(), p.Actor(), p.Org.ID, t.ID); err != nil {
		return err
	}
	return s.redirect(w, r, "/alerts/targets", "Deleted "+t.Name+". Past deliveries keep its name.")
}

// closeTask closes one of the organization's monitoring tasks: its assignee, or anyone
// who may edit, marks it resolved.
func (s *Server) closeTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "task")
	if err != nil {
		return err
	}
	ctx := r.Context()
	if !p.Role.CanEdit() {
		n, err := st.CountTasks(ctx, p.Org.ID, domain.TaskFilter{ID: id, AssigneeID: p.User.ID, IncludeClosed: true})
		if err != nil {
			return err
		}
		if n == 0 {
			// Not theirs: as far as they are concerned, there is no such task.
			return domain.NotFound("task")
		}
	}
	if err := st.CloseTask(ctx, p.Actor(), p.Org.ID, id); err != nil {
		if domain.KindOf(err) == domain.KindConflict {
			return s.redirect(w, r, "/tasks", "That task was already closed.")
		}
		return err
	}
	return s.redirect(w, r, "/tasks", "Closed the task.")
}

// shorten cuts text to at most n characters, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
