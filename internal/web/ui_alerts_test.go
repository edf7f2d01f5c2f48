package web

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/alert"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/notify"
	"github.com/evidenthq/evident/internal/notify/notifytest"
)

// slackToken is the secret part of the Slack URL the tests save: it must never appear in
// a page, an API answer, the ledger or the logs.
const slackToken = "T0000/B0000/SlackSecretToken42"

// alertsFixture is the UI fixture with continuous monitoring and a notifier that reaches
// local receivers: Northwind's test supports a control the member owns, and Bravo has a
// test, an alert and a target of its own that Northwind must never reach.
type alertsFixture struct {
	*uiFixture
	n        *collect.Notifier
	strict   *collect.Notifier // refuses private addresses
	receiver *hookReceiver
	mail     *notifytest.Server
	test     monitor.Test
	bravoT   monitor.Test

	bravoTarget *domain.AlertTarget
	bravoAlert  domain.Alert
}

// hookReceiver is a local Slack or webhook endpoint that answers with the queued
// statuses, then 200.
type hookReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	posts    int
	statuses []int
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.posts
}

func (h *hookReceiver) answer(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.statuses = append(h.statuses, status)
}

func newAlertsFixture(tb testing.TB) *alertsFixture {
	tb.Helper()
	f := &alertsFixture{uiFixture: newUIFixture(tb), receiver: &hookReceiver{}}
	f.receiver.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f.receiver.mu.Lock()
		f.receiver.posts++
		status := http.StatusOK
		if len(f.receiver.statuses) > 0 {
			status, f.receiver.statuses = f.receiver.statuses[0], f.receiver.statuses[1:]
		}
		f.receiver.mu.Unlock()
		w.WriteHeader(status)
	}))
	tb.Cleanup(f.receiver.srv.Close)
	f.mail = notifytest.Start(tb, notifytest.Options{})
	key := make([]byte, collect.SecretKeySize)
	_, _ = rand.Read(key)
	sealer, err := collect.NewSealer(key)
	if err != nil {
		tb.Fatal(err)
	}
	server, err := notify.ParseSMTPURL(f.mail.URL("", ""))
	if err != nil {
		tb.Fatal(err)
	}
	newNotifier := func(g *alert.Guard) *collect.Notifier {
		d := alert.NewDispatcher(g, &alert.Email{Sender: server, From: mail.Address{Address: "evident@northwind.example"}})
		d.Backoff, d.Attempts = time.Millisecond, 2
		d.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
		return &collect.Notifier{Store: f.st, Sealer: sealer, Dispatcher: d, Guard: g, Owner: "web-test",
			Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	}
	f.n = newNotifier(&alert.Guard{AllowPrivate: true})
	f.strict = newNotifier(&alert.Guard{})
	cfg := f.srv.cfg
	cfg.Monitoring, cfg.Notifier = f.st, f.n
	if f.srv, err = New(cfg); err != nil {
		tb.Fatal(err)
	}

	owner := &f.users["member"].ID
	if _, err := f.st.UpdateControl(f.ctx, domain.SystemActor, f.north.ID, f.control.ID, domain.ControlChange{OwnerID: &owner}); err != nil {
		tb.Fatal(err)
	}
	f.test = monitor.Test{ID: "idp-mfa", Title: "People sign in with MFA", Type: "custom.person", Severity: monitor.SeverityCritical,
		Remediation: "Enforce MFA in the IdP.", Controls: []string{f.control.Ref}}
	f.bravoT = monitor.Test{ID: "vault-rotation", Title: bravoSecret + " vault keys rotate", Type: "custom.person",
		Severity: monitor.SeverityHigh, Remediation: "Rotate.", Controls: []string{f.bravoControl.Ref}}
	for _, org := range []*domain.Organization{f.north, f.bravo} {
		if _, err := f.st.UpsertResources(f.ctx, domain.SystemActor, org.ID, "hr", []monitor.Resource{
			{Type: "custom.person", ExternalID: "p1", Name: "alice", Attributes: map[string]any{}},
			{Type: "custom.person", ExternalID: "p2", Name: "bob", Attributes: map[string]any{}},
		}); err != nil {
			tb.Fatal(err)
		}
	}
	bravoActor := domain.Actor{UserID: f.users["bravo"].ID, Email: f.users["bravo"].Email}
	if f.bravoTarget, _, err = f.n.CreateTarget(f.ctx, bravoActor, f.bravo.ID, collect.TargetInput{Kind: domain.TargetSlack,
		Name: bravoSecret + " pager", URL: f.receiver.srv.URL + "/bravo/" + slackToken, OnFailing: true, Enabled: true}); err != nil {
		tb.Fatal(err)
	}
	alerts := f.raise(tb, f.bravo, f.bravoT, "p1")
	f.bravoAlert = alerts[0]
	return f
}

// raise records a run of a test in org failing on the given resources, and returns its
// alerts.
func (f *alertsFixture) raise(tb testing.TB, org *domain.Organization, t monitor.Test, failing ...string) []domain.Alert {
	tb.Helper()
	tr := monitor.TestResult{TestID: t.ID, Type: t.Type}
	for _, id := range []string{"p1", "p2"} {
		st := monitor.StatusPass
		for _, x := range failing {
			if x == id {
				st = monitor.StatusFail
			}
		}
		tr.Resources = append(tr.Resources, monitor.ResourceResult{ExternalID: id, Status: st})
	}
	_, alerts, err := f.st.RecordTestRun(f.ctx, org.ID, domain.TriggerSchedule, nil, []monitor.Test{t},
		monitor.Results{At: time.Now().UTC(), Tests: []monitor.TestResult{tr}})
	if err != nil {
		tb.Fatalf("RecordTestRun: %v", err)
	}
	return alerts
}

// deliver runs the notifier over every pending alert.
func (f *alertsFixture) deliver(tb testing.TB) {
	tb.Helper()
	if _, err := f.n.DeliverPending(f.ctx); err != nil {
		tb.Fatalf("DeliverPending: %v", err)
	}
}

// target creates a target in Northwind as its admin.
func (f *alertsFixture) target(tb testing.TB, in collect.TargetInput) (*domain.AlertTarget, string) {
	tb.Helper()
	t, secret, err := f.n.CreateTarget(f.ctx, domain.Actor{UserID: f.users["admin"].ID, Email: f.users["admin"].Email}, f.north.ID, in)
	if err != nil {
		tb.Fatalf("CreateTarget: %v", err)
	}
	return t, secret
}

func values(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestAlertsPage(t *testing.T) {
	f := newAlertsFixture(t)
	f.run(t, []uiCase{
		{name: "no alerts yet", method: "GET", path: "/alerts", who: "viewer", status: 200,
			want:    []string{"<h1>Alerts</h1>", `aria-current="page">`, "No alerts yet", `id="no-targets"`},
			notWant: []string{bravoSecret}},
	})
	f.target(t, collect.TargetInput{Kind: domain.TargetSlack, Name: "Slack #security",
		URL: f.receiver.srv.URL + "/services/" + slackToken, OnFailing: true, OnRecovered: true, Enabled: true})
	f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Control owners", OnFailing: true, Enabled: true})
	f.raise(t, f.north, f.test, "p1", "p2")
	f.deliver(t)
	f.receiver.answer(503)
	f.receiver.answer(503)
	f.raise(t, f.north, f.test)
	f.deliver(t)

	f.run(t, []uiCase{
		{name: "alerts with deliveries", method: "GET", path: "/alerts", who: "viewer", status: 200,
			want: []string{
				`href="/tests/idp-mfa"`, "People sign in with MFA", "Failing", "Recovered", "alice, bob",
				"Slack #security", "Control owners", "Delivered", "Retrying", "503 Service Unavailable", "Next try",
				`class="badge sev-critical"`,
			},
			notWant: []string{bravoSecret, slackToken, `id="no-targets"`}},
		{name: "alerts of one test", method: "GET", path: "/alerts?test=idp-mfa", who: "member", status: 200,
			want: []string{"Alerts of", "idp-mfa", "All alerts"}},
		{name: "alerts of another organization's test", method: "GET", path: "/alerts?test=vault-rotation", who: "owner", status: 200,
			want: []string{"No alerts for this test yet"}, notWant: []string{bravoSecret}},
		{name: "bad page", method: "GET", path: "/alerts?before=x", who: "member", status: 400},
		{name: "signed out", method: "GET", path: "/alerts", status: 303},
	})
	if got := f.receiver.count(); got != 4 {
		t.Errorf("the receiver got %d posts; want 4 (Bravo's alert, the failure, then two failed tries of the recovery)", got)
	}
	if f.mail.Messages()[0].To[0] != f.users["member"].Email {
		t.Errorf("the owners' email went to %v; want the control owner", f.mail.Messages()[0].To)
	}
}

func TestAlertTargetsPage(t *testing.T) {
	f := newAlertsFixture(t)
	f.run(t, []uiCase{
		{name: "admin sees the form", method: "GET", path: "/alerts/targets", who: "admin", status: 200,
			want:    []string{"<h1>Alert targets</h1>", `id="target-form"`, "No alert targets yet", `<label for="url">`, `<label for="recipients">`},
			notWant: []string{bravoSecret}},
		{name: "member reads only", method: "GET", path: "/alerts/targets", who: "member", status: 200,
			want: []string{"No alert targets yet"}, notWant: []string{`id="target-form"`}},
		{name: "member cannot add", method: "POST", path: "/alerts/targets", who: "member", status: 403,
			form: values("kind", "email", "name", "x", "events", "failing")},
		{name: "viewer cannot add", method: "POST", path: "/alerts/targets", who: "viewer", status: 403,
			form: values("kind", "email", "name", "x", "events", "failing")},
		{name: "no name", method: "POST", path: "/alerts/targets", who: "admin", status: 400,
			form: values("kind", "email", "events", "failing"), want: []string{`id="name-error"`, "Name is required"}},
		{name: "no events", method: "POST", path: "/alerts/targets", who: "admin", status: 400,
			form: values("kind", "email", "name", "x"), want: []string{`id="events-error"`}},
		{name: "bad recipient", method: "POST", path: "/alerts/targets", who: "admin", status: 400,
			form: values("kind", "email", "name", "x", "events", "failing", "recipients", "not-an-address"), want: []string{`id="recipients-error"`, "not-an-address"}},
		{name: "bad url is not echoed", method: "POST", path: "/alerts/targets", who: "admin", status: 400,
			form: values("kind", "slack", "name", "x", "events", "failing", "url", "ftp://hooks.example/"+slackToken),
			want: []string{`id="url-error"`, "http or https"}, notWant: []string{slackToken}},
		{name: "email target", method: "POST", path: "/alerts/targets", who: "admin", status: 303,
			form:     values("kind", "email", "name", "Security team", "events", "failing", "events", "recovered", "recipients", "sec@northwind.example, ops@northwind.example", "min_severity", "high", "enabled", "on"),
			location: "/alerts/targets"},
		{name: "slack target", method: "POST", path: "/alerts/targets", who: "owner", status: 303,
			form:     values("kind", "slack", "name", "Slack", "events", "failing", "url", f.receiver.srv.URL+"/services/"+slackToken, "min_severity", "low", "enabled", "on"),
			location: "/alerts/targets"},
		{name: "same name", method: "POST", path: "/alerts/targets", who: "admin", status: 409,
			form: values("kind", "email", "name", "Slack", "events", "failing")},
		{name: "the list", method: "GET", path: "/alerts/targets", who: "viewer", status: 200,
			want: []string{"Security team", "sec@northwind.example, ops@northwind.example", "High severity and up", "Failing and recovered",
				"Slack", f.receiver.srv.URL + "/…", "Enabled"},
			notWant: []string{slackToken, bravoSecret, "/services/"}},
	})

	// A webhook's secret is shown once, on the page that answers its creation.
	rec := f.do(t, "POST", "/alerts/targets", "admin", values("kind", "webhook", "name", "SIEM", "events", "failing",
		"url", f.receiver.srv.URL+"/hook", "min_severity", "low", "enabled", "on"))
	body := rec.Body.String()
	secret := regexp.MustCompile(`evwhsec_[A-Za-z0-9_-]+`).FindString(body)
	if rec.Code != 200 || secret == "" || !strings.Contains(body, "only time the secret is shown") {
		t.Fatalf("POST webhook target = %d; want the page with the secret once\n%s", rec.Code, excerpt(body))
	}
	if again := f.do(t, "GET", "/alerts/targets", "admin", nil).Body.String(); strings.Contains(again, secret) {
		t.Errorf("the webhook secret shows again on the targets page")
	}
	targets, err := f.st.AlertTargets(f.ctx, f.north.ID)
	if err != nil || len(targets) != 3 {
		t.Fatalf("targets = %+v, %v; want 3", targets, err)
	}
	byName := map[string]domain.AlertTarget{}
	for _, x := range targets {
		byName[x.Name] = x
	}
	hook := byName["SIEM"]
	if again := f.do(t, "GET", "/alerts/targets/"+id(hook.ID), "admin", nil).Body.String(); strings.Contains(again, secret) ||
		!strings.Contains(again, "Rotate signing secret") || !strings.Contains(again, "New URL") {
		t.Errorf("the webhook's page shows the secret or lacks rotation and the URL field\n%s", excerpt(again))
	}

	// Send a test alert: delivered, then a receiver's refusal reported in words.
	sl := byName["Slack"]
	f.run(t, []uiCase{
		{name: "test alert", method: "POST", path: "/alerts/targets/" + id(sl.ID) + "/test", who: "admin", status: 200,
			want: []string{`id="test-outcome"`, "Delivered."}, notWant: []string{slackToken}},
	})
	f.receiver.answer(404)
	f.run(t, []uiCase{
		{name: "test alert refused", method: "POST", path: "/alerts/targets/" + id(sl.ID) + "/test", who: "admin", status: 200,
			want: []string{"Not delivered", "404 Not Found"}, notWant: []string{slackToken}},
		{name: "member cannot test", method: "POST", path: "/alerts/targets/" + id(sl.ID) + "/test", who: "member", status: 403},
		{name: "edit page", method: "GET", path: "/alerts/targets/" + id(sl.ID), who: "admin", status: 200,
			want: []string{"<h1>Slack</h1>", `id="save-target"`, "leave empty to keep it", f.receiver.srv.URL + "/…"}, notWant: []string{slackToken}},
		{name: "edit", method: "POST", path: "/alerts/targets/" + id(sl.ID), who: "admin", status: 303,
			form: values("name", "Slack #sec", "events", "recovered", "min_severity", "medium"), location: "/alerts/targets"},
		{name: "edit without events", method: "POST", path: "/alerts/targets/" + id(sl.ID), who: "admin", status: 400,
			form: values("name", "Slack #sec", "min_severity", "medium"), want: []string{`id="events-error"`}},
		{name: "disable", method: "POST", path: "/alerts/targets/" + id(sl.ID) + "/disable", who: "admin", status: 303},
		{name: "rotate email", method: "POST", path: "/alerts/targets/" + id(byName["Security team"].ID) + "/rotate", who: "admin", status: 400},
		{name: "delete has a confirmation", method: "GET", path: "/alerts/targets", who: "admin", status: 200,
			want: []string{`data-confirm="Delete the alert target Security team?`, "Disabled"}},
		{name: "delete", method: "POST", path: "/alerts/targets/" + id(byName["Security team"].ID) + "/delete", who: "admin", status: 303},
	})
	got, err := f.st.AlertTarget(f.ctx, f.north.ID, sl.ID)
	if err != nil || got.Name != "Slack #sec" || got.OnFailing || !got.OnRecovered || got.MinSeverity != "medium" || got.Enabled {
		t.Errorf("edited target = %+v, %v; want renamed, recovered only, medium, disabled", got, err)
	}
	if _, err := f.st.AlertTarget(f.ctx, f.north.ID, byName["Security team"].ID); !domain.IsNotFound(err) {
		t.Errorf("deleted target still there: %v", err)
	}
	rec = f.do(t, "POST", "/alerts/targets/"+id(hook.ID)+"/rotate", "owner", nil)
	rotated := regexp.MustCompile(`evwhsec_[A-Za-z0-9_-]+`).FindString(rec.Body.String())
	if rec.Code != 200 || rotated == "" || rotated == secret {
		t.Errorf("rotate = %d with secret %q; want a new secret shown once", rec.Code, rotated)
	}

	// Nothing secret in the ledger or the logs.
	events, err := f.st.Events(f.ctx, f.north.ID, domain.EventFilter{Type: "alert_target."})
	if err != nil || len(events) < 5 {
		t.Fatalf("alert target events = %d, %v; want the changes recorded", len(events), err)
	}
	for _, e := range events {
		for _, s := range []string{slackToken, secret, rotated} {
			if strings.Contains(string(e.Data), s) {
				t.Errorf("event %s holds a secret: %s", e.Type, e.Data)
			}
		}
	}
	for _, s := range []string{slackToken, secret, rotated} {
		if strings.Contains(f.logs.String(), s) {
			t.Errorf("the logs hold a secret %q", s)
		}
	}
}

// TestAlertTargetsPrivateAddresses refuses receivers on private addresses when the
// configuration does not allow them.
func TestAlertTargetsPrivateAddresses(t *testing.T) {
	f := newAlertsFixture(t)
	cfg := f.srv.cfg
	cfg.Notifier = f.strict
	var err error
	if f.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	f.run(t, []uiCase{
		{name: "loopback", method: "POST", path: "/alerts/targets", who: "admin", status: 400,
			form: values("kind", "webhook", "name", "Internal", "events", "failing", "url", f.receiver.srv.URL+"/x"),
			want: []string{`id="url-error"`, "loopback address"}},
		{name: "metadata", method: "POST", path: "/alerts/targets", who: "admin", status: 400,
			form: values("kind", "webhook", "name", "Internal", "events", "failing", "url", "http://169.254.169.254/latest/meta-data"),
			want: []string{`id="url-error"`, "cloud metadata"}},
	})
}

// TestAlertTargetsTenancy checks that another organization's targets cannot be seen or
// changed, and that nothing changes when tried.
func TestAlertTargetsTenancy(t *testing.T) {
	f := newAlertsFixture(t)
	bt := "/alerts/targets/" + id(f.bravoTarget.ID)
	var cases []uiCase
	for _, who := range []string{"owner", "admin", "multi"} {
		cases = append(cases,
			uiCase{name: who + " page", method: "GET", path: bt, who: who, status: 404, notWant: []string{bravoSecret}},
		)
	}
	for _, action := range []string{"", "/enable", "/disable", "/rotate", "/test", "/delete"} {
		cases = append(cases, uiCase{name: "post" + action, method: "POST", path: bt + action, who: "owner", status: 404,
			form: values("name", "x", "events", "failing", "min_severity", "low"), notWant: []string{bravoSecret}})
	}
	f.run(t, cases)
	got, err := f.st.AlertTarget(f.ctx, f.bravo.ID, f.bravoTarget.ID)
	if err != nil || got.Name != f.bravoTarget.Name || !got.Enabled || !got.UpdatedAt.Equal(f.bravoTarget.UpdatedAt) {
		t.Errorf("Bravo's target after Northwind's tries = %+v, %v; want it unchanged", got, err)
	}
	if f.receiver.count() != 0 {
		t.Errorf("Bravo's receiver got %d posts from Northwind's tries; want none", f.receiver.count())
	}
}

func TestMonitoringTasks(t *testing.T) {
	f := newAlertsFixture(t)
	f.raise(t, f.north, f.test, "p2")
	tasks, err := f.st.Tasks(f.ctx, f.north.ID, domain.TaskFilter{AssigneeID: f.users["member"].ID})
	if err != nil || len(tasks) != 1 {
		t.Fatalf("member's tasks = %+v, %v; want one", tasks, err)
	}
	task := tasks[0]
	bravoTasks, err := f.st.Tasks(f.ctx, f.bravo.ID, domain.TaskFilter{})
	if err != nil || len(bravoTasks) != 1 {
		t.Fatalf("Bravo's tasks = %+v, %v; want one", bravoTasks, err)
	}
	f.run(t, []uiCase{
		{name: "owner's task", method: "GET", path: "/tasks", who: "member", status: 200,
			want:    []string{"Failing tests to fix", "Fix: People sign in with MFA", `href="/tests/idp-mfa"`, `action="/tasks/` + id(task.ID) + `/close"`},
			notWant: []string{bravoSecret}},
		{name: "someone else has none", method: "GET", path: "/tasks", who: "viewer", status: 200,
			want: []string{"No failing test supports a control you own."}, notWant: []string{"Fix: People sign in with MFA"}},
		{name: "viewer cannot close another's task", method: "POST", path: "/tasks/" + id(task.ID) + "/close", who: "viewer", status: 404},
		{name: "another organization's task", method: "POST", path: "/tasks/" + id(bravoTasks[0].ID) + "/close", who: "owner", status: 404},
		{name: "close", method: "POST", path: "/tasks/" + id(task.ID) + "/close", who: "member", status: 303, location: "/tasks"},
		{name: "closed", method: "GET", path: "/tasks", who: "member", status: 200, notWant: []string{"Fix: People sign in with MFA"}},
		{name: "close twice", method: "POST", path: "/tasks/" + id(task.ID) + "/close", who: "member", status: 303},
	})
	if bt, _ := f.st.Tasks(f.ctx, f.bravo.ID, domain.TaskFilter{}); len(bt) != 1 {
		t.Errorf("Bravo's open tasks after Northwind's try = %d; want 1", len(bt))
	}
}

func TestDashboardMonitoring(t *testing.T) {
	f := newAlertsFixture(t)
	f.run(t, []uiCase{
		{name: "nothing failing", method: "GET", path: "/", who: "viewer", status: 200,
			want: []string{`id="monitoring"`, "No test is failing.", "No alerts yet.", "<strong>0</strong> open monitoring tasks"}},
	})
	f.raise(t, f.north, f.test, "p1", "p2")
	f.run(t, []uiCase{
		{name: "a failing test", method: "GET", path: "/", who: "viewer", status: 200,
			want: []string{`href="/tests/idp-mfa"`, "People sign in with MFA", "2 resources fail", "<strong>1</strong> open monitoring task",
				`id="latest-alerts"`, "Failing"},
			notWant: []string{bravoSecret}},
	})
}
