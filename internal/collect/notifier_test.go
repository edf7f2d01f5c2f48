package collect_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
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
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// settableClock is a clock the tests move by hand, shared by the store and the notifier.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// receiver is an HTTP endpoint on 127.0.0.1 that records what Evident posts to it and
// answers with the statuses queued, then 200.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	statuses []int
}

func newReceiver(tb testing.TB) *receiver {
	tb.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.headers = append(r.headers, req.Header.Clone())
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

// answer queues statuses for the next requests.
func (r *receiver) answer(statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, statuses...)
}

func (r *receiver) requests() ([][]byte, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]http.Header(nil), r.headers...)
}

// notifyFixture is an organization whose test supports a control owned by Ann, with a
// notifier that reaches 127.0.0.1 and a mail server.
type notifyFixture struct {
	st    *store.Store
	clk   *settableClock
	org   *domain.Organization
	ann   *domain.User
	admin domain.Actor
	tests []monitor.Test
	mail  *notifytest.Server
	logs  *syncBuffer
	n     *collect.Notifier
}

// notifyLibrary is the organization's control library: one control the tests support.
var notifyLibrary = []domain.LibraryControl{{
	Ref: "AC-01", Title: "Multi-factor authentication", Description: "People sign in with a second factor.",
	Domain: "Access control", Frequency: domain.FrequencyContinuous, EvidenceExpected: "IdP MFA policy",
	Criteria: []string{"CC6.1"}, Finding: "MFA is not enforced",
}}

func newNotifyFixture(tb testing.TB, st *store.Store, tests int) *notifyFixture {
	tb.Helper()
	f := &notifyFixture{st: st, clk: &settableClock{t: start}, logs: &syncBuffer{}}
	st.Now = f.clk.now
	f.org = &domain.Organization{Slug: "acme", Name: "Acme Cloud"}
	if err := st.CreateOrganization(ctx, domain.SystemActor, f.org, nil, notifyLibrary); err != nil {
		tb.Fatal(err)
	}
	f.ann = &domain.User{Email: "ann@acme.example", Name: "Ann Owner"}
	if err := st.CreateUser(ctx, f.ann); err != nil {
		tb.Fatal(err)
	}
	if err := st.AddMember(ctx, domain.SystemActor, f.org.ID, f.ann.ID, domain.RoleAdmin); err != nil {
		tb.Fatal(err)
	}
	f.admin = domain.Actor{UserID: f.ann.ID, Email: f.ann.Email}
	c, err := st.ControlByRef(ctx, f.org.ID, "AC-01")
	if err != nil {
		tb.Fatal(err)
	}
	owner := &f.ann.ID
	if _, err := st.UpdateControl(ctx, domain.SystemActor, f.org.ID, c.ID, domain.ControlChange{OwnerID: &owner}); err != nil {
		tb.Fatal(err)
	}
	for i := range tests {
		f.tests = append(f.tests, monitor.Test{ID: fmt.Sprintf("mfa-%02d", i), Title: fmt.Sprintf("Users have MFA (%d)", i),
			Type: "custom.user", Severity: monitor.SeverityHigh, Remediation: "Turn on MFA.", Controls: []string{"AC-01"}})
	}
	if _, err := st.UpsertResources(ctx, domain.SystemActor, f.org.ID, "idp", []monitor.Resource{
		{Type: "custom.user", ExternalID: "u1", Name: "alice", Attributes: map[string]any{}},
		{Type: "custom.user", ExternalID: "u2", Name: "bob", Attributes: map[string]any{}},
	}); err != nil {
		tb.Fatal(err)
	}
	f.mail = notifytest.Start(tb, notifytest.Options{})
	f.n = f.notifier(tb, st, &alert.Guard{AllowPrivate: true}, "notifier-1")
	return f
}

// notifier returns a notifier over st with the guard, the fixture's mail server and a
// sealing key shared by every notifier of the test.
func (f *notifyFixture) notifier(tb testing.TB, st *store.Store, g *alert.Guard, owner string) *collect.Notifier {
	tb.Helper()
	server, err := notify.ParseSMTPURL(f.mail.URL("", ""))
	if err != nil {
		tb.Fatal(err)
	}
	d := alert.NewDispatcher(g, &alert.Email{Sender: server, From: mail.Address{Name: "Evident", Address: "evident@acme.example"}})
	d.Backoff = time.Millisecond
	d.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	return &collect.Notifier{
		Store: st, Sealer: fixtureSealer(tb), Dispatcher: d, Guard: g, BaseURL: "https://evident.acme.example",
		Owner: owner, Now: f.clk.now, Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
	}
}

var (
	sealerOnce sync.Once
	sealerKey  []byte
)

// fixtureSealer is a sealer with one key for the whole test binary, as replicas share one.
func fixtureSealer(tb testing.TB) *collect.Sealer {
	tb.Helper()
	sealerOnce.Do(func() {
		sealerKey = make([]byte, collect.SecretKeySize)
		_, _ = rand.Read(sealerKey)
	})
	s, err := collect.NewSealer(sealerKey)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// record records a run where every test of the fixture fails on the given resources and
// passes on the others, and returns its alerts.
func (f *notifyFixture) record(tb testing.TB, failing ...string) []domain.Alert {
	tb.Helper()
	res := monitor.Results{At: f.clk.now()}
	for _, t := range f.tests {
		tr := monitor.TestResult{TestID: t.ID, Type: t.Type}
		for _, id := range []string{"u1", "u2"} {
			st := monitor.StatusPass
			for _, x := range failing {
				if x == id {
					st = monitor.StatusFail
				}
			}
			tr.Resources = append(tr.Resources, monitor.ResourceResult{ExternalID: id, Status: st})
		}
		res.Tests = append(res.Tests, tr)
	}
	_, alerts, err := f.st.RecordTestRun(ctx, f.org.ID, domain.TriggerSchedule, nil, f.tests, res)
	if err != nil {
		tb.Fatalf("RecordTestRun: %v", err)
	}
	f.clk.advance(time.Minute)
	return alerts
}

func (f *notifyFixture) target(tb testing.TB, in collect.TargetInput) (*domain.AlertTarget, string) {
	tb.Helper()
	t, secret, err := f.n.CreateTarget(ctx, f.admin, f.org.ID, in)
	if err != nil {
		tb.Fatalf("CreateTarget(%s %q): %v", in.Kind, in.Name, err)
	}
	return t, secret
}

func (f *notifyFixture) deliver(tb testing.TB, n *collect.Notifier) int {
	tb.Helper()
	got, err := n.DeliverPending(ctx)
	if err != nil {
		tb.Fatalf("DeliverPending: %v", err)
	}
	return got
}

func (f *notifyFixture) detail(tb testing.TB, id int64) *domain.AlertDetail {
	tb.Helper()
	d, err := f.st.AlertDetail(ctx, f.org.ID, id)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// deliveryOf returns an alert's delivery to the named target.
func deliveryOf(tb testing.TB, d *domain.AlertDetail, name string) domain.AlertDelivery {
	tb.Helper()
	for _, x := range d.Deliveries {
		if x.TargetName == name {
			return x
		}
	}
	tb.Fatalf("alert %d has no delivery to %q: %+v", d.ID, name, d.Deliveries)
	return domain.AlertDelivery{}
}

// TestNotifierDelivers sends a failing and a recovered alert to Slack and a signed webhook
// on local servers and by email to the control owner through a real SMTP server.
func TestNotifierDelivers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newNotifyFixture(t, st, 1)
		slack, hook := newReceiver(t), newReceiver(t)
		slackURL := slack.srv.URL + "/services/T000/B000/XXXXSECRETXXXX"
		f.target(t, collect.TargetInput{Kind: domain.TargetSlack, Name: "Slack #security", URL: slackURL, OnFailing: true, OnRecovered: true, Enabled: true})
		_, secret := f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "SIEM", URL: hook.srv.URL + "/evident", OnFailing: true, Enabled: true})
		f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Owners", OnFailing: true, OnRecovered: true, Enabled: true})
		f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Critical only", Recipients: []string{"cto@acme.example"},
			OnFailing: true, MinSeverity: "critical", Enabled: true})
		f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Off", Recipients: []string{"off@acme.example"}, OnFailing: true})
		if !strings.HasPrefix(secret, "evwhsec_") {
			t.Fatalf("webhook secret = %q; want a generated evwhsec_ secret", secret)
		}

		failing := f.record(t, "u2")
		if len(failing) != 1 {
			t.Fatalf("alerts = %+v; want one", failing)
		}
		if n := f.deliver(t, f.n); n != 1 {
			t.Fatalf("DeliverPending = %d; want 1 alert", n)
		}
		bodies, headers := hook.requests()
		if len(bodies) != 1 {
			t.Fatalf("webhook got %d requests; want 1", len(bodies))
		}
		if err := alert.VerifySignature(secret, headers[0].Get(alert.HeaderSignature), bodies[0], time.Now(), 0); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var p alert.Payload
		if err := json.Unmarshal(bodies[0], &p); err != nil {
			t.Fatal(err)
		}
		if p.Event != "test.failing" || p.Test.ID != "mfa-00" || p.Test.Remediation != "Turn on MFA." || p.Resources.Total != 1 ||
			len(p.Resources.Items) != 1 || p.Resources.Items[0].ID != "u2" || p.Resources.Items[0].Name != "bob" ||
			len(p.Controls) != 1 || p.Controls[0].Ref != "AC-01" || p.Link != "https://evident.acme.example/tests/mfa-00" ||
			p.Organization.Slug != "acme" || headers[0].Get(alert.HeaderDelivery) != p.ID {
			t.Errorf("webhook payload = %+v; want the failing test with bob, AC-01 and the link", p)
		}
		sb, _ := slack.requests()
		if len(sb) != 1 || !strings.Contains(string(sb[0]), "Users have MFA (0)") || !strings.Contains(string(sb[0]), "bob") {
			t.Errorf("slack got %q; want one message about the test and bob", sb)
		}
		msgs := f.mail.Messages()
		if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "ann@acme.example" {
			t.Fatalf("mail = %+v; want one message to the control owner only", msgs)
		}
		if !bytes.Contains(msgs[0].Data, []byte("Users have MFA (0)")) {
			t.Errorf("mail does not name the test:\n%s", msgs[0].Data)
		}
		d := f.detail(t, failing[0].ID)
		if d.Pending() || len(d.Deliveries) != 3 {
			t.Fatalf("alert after delivery = %+v; want delivered to the three matching targets", d)
		}
		for _, x := range d.Deliveries {
			if x.Status != domain.DeliveryDelivered || x.Attempts != 1 || x.DeliveredAt == nil || x.LastError != "" {
				t.Errorf("delivery = %+v; want delivered at the first attempt", x)
			}
		}
		if n := f.deliver(t, f.n); n != 0 {
			t.Errorf("DeliverPending again = %d; want nothing left", n)
		}

		// Recovery: the webhook hears only of failures.
		recovered := f.record(t)
		if len(recovered) != 1 || recovered[0].State != domain.AlertRecovered {
			t.Fatalf("alerts = %+v; want one recovery", recovered)
		}
		f.deliver(t, f.n)
		if bodies, _ := hook.requests(); len(bodies) != 1 {
			t.Errorf("webhook got %d requests; want no more for a recovery", len(bodies))
		}
		if sb, _ := slack.requests(); len(sb) != 2 || !strings.Contains(strings.ToLower(string(sb[1])), "recovered") {
			t.Errorf("slack's second message = %q; want a recovery", sb[len(sb)-1])
		}
		if msgs := f.mail.Messages(); len(msgs) != 2 {
			t.Errorf("mail got %d messages; want 2", len(msgs))
		}
		d = f.detail(t, recovered[0].ID)
		if d.Pending() || len(d.Deliveries) != 2 {
			t.Errorf("recovery after delivery = %+v; want delivered to Slack and the owners", d)
		}

		// Nothing secret reached the logs, the deliveries or the ledger.
		events, err := st.Events(ctx, f.org.ID, domain.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		for _, e := range events {
			all.Write(e.Data)
		}
		for _, x := range append(f.detail(t, failing[0].ID).Deliveries, d.Deliveries...) {
			all.WriteString(x.LastError + x.TargetName)
		}
		all.WriteString(f.logs.String())
		for _, s := range []string{"XXXXSECRETXXXX", secret} {
			if strings.Contains(all.String(), s) {
				t.Errorf("%q leaked into the ledger, deliveries or logs", s)
			}
		}
	})
}

// TestNotifierRetries checks that failures that may pass are tried again later with
// growing waits, that refusals fail at once, and that the notifier gives up in the end.
func TestNotifierRetries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newNotifyFixture(t, st, 1)
		f.n.RetryBackoff, f.n.MaxRounds = time.Minute, 3
		flaky, refusing := newReceiver(t), newReceiver(t)
		f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "Flaky", URL: flaky.srv.URL, OnFailing: true, Enabled: true})
		f.target(t, collect.TargetInput{Kind: domain.TargetSlack, Name: "Refusing", URL: refusing.srv.URL + "/hook", OnFailing: true, Enabled: true})
		flaky.answer(slicesOf(503, 2*alert.DefaultAttempts+2)...)
		refusing.answer(404)

		alerts := f.record(t, "u1")
		f.deliver(t, f.n)
		d := f.detail(t, alerts[0].ID)
		fl, rf := deliveryOf(t, d, "Flaky"), deliveryOf(t, d, "Refusing")
		if rf.Status != domain.DeliveryFailed || rf.Attempts != 1 || !strings.Contains(rf.LastError, "404") {
			t.Errorf("refusing delivery = %+v; want failed after one attempt with the 404", rf)
		}
		if strings.Contains(rf.LastError, "/hook") {
			t.Errorf("the Slack URL's path is in the error: %q", rf.LastError)
		}
		if fl.Status != domain.DeliveryRetrying || fl.Attempts != alert.DefaultAttempts || fl.Rounds != 1 || fl.NextAttemptAt == nil ||
			!fl.NextAttemptAt.Equal(f.clk.now().Add(time.Minute)) || !strings.Contains(fl.LastError, "503") {
			t.Fatalf("flaky delivery = %+v; want retrying in a minute after %d attempts", fl, alert.DefaultAttempts)
		}
		if !d.Pending() {
			t.Fatalf("the alert is delivered while a delivery is retrying")
		}
		// Not before the retry is due.
		if n := f.deliver(t, f.n); n != 0 {
			t.Fatalf("DeliverPending before the retry = %d; want 0", n)
		}
		f.clk.advance(time.Minute)
		f.deliver(t, f.n)
		fl = deliveryOf(t, f.detail(t, alerts[0].ID), "Flaky")
		if fl.Status != domain.DeliveryRetrying || fl.Rounds != 2 || !fl.NextAttemptAt.Equal(f.clk.now().Add(2*time.Minute)) {
			t.Fatalf("flaky delivery after the second pass = %+v; want retrying in two minutes", fl)
		}
		if bodies, _ := refusing.requests(); len(bodies) != 1 {
			t.Errorf("the refusing target got %d requests; want no retry after a refusal", len(bodies))
		}
		f.clk.advance(2 * time.Minute)
		f.deliver(t, f.n) // the third pass succeeds: two more 503, then 200
		d = f.detail(t, alerts[0].ID)
		fl = deliveryOf(t, d, "Flaky")
		if fl.Status != domain.DeliveryDelivered || fl.Attempts != 2*alert.DefaultAttempts+3 || fl.Rounds != 3 || d.Pending() {
			t.Fatalf("flaky delivery after the third pass = %+v (alert pending %v); want delivered", fl, d.Pending())
		}
		bodies, headers := flaky.requests()
		ids := map[string]bool{}
		for _, h := range headers {
			ids[h.Get(alert.HeaderDelivery)] = true
		}
		if len(ids) != 1 || len(bodies) != fl.Attempts {
			t.Errorf("flaky got %d requests with delivery IDs %v; want %d with one ID", len(bodies), ids, fl.Attempts)
		}

		// A target that keeps failing is given up after MaxRounds.
		flaky.answer(slicesOf(503, 3*alert.DefaultAttempts)...)
		next := f.record(t)
		for range 3 {
			f.deliver(t, f.n)
			f.clk.advance(time.Hour)
		}
		d = f.detail(t, next[0].ID)
		if d.Pending() || len(d.Deliveries) != 0 {
			t.Errorf("a recovery nobody wants = %+v; want delivered with no deliveries", d)
		}
		again := f.record(t, "u1")
		for range 3 {
			f.deliver(t, f.n)
			f.clk.advance(time.Hour)
		}
		d = f.detail(t, again[0].ID)
		fl = deliveryOf(t, d, "Flaky")
		if fl.Status != domain.DeliveryFailed || fl.Rounds != 3 || !strings.HasPrefix(fl.LastError, "gave up after 12 attempts") || d.Pending() {
			t.Errorf("given-up delivery = %+v (pending %v); want failed after 3 passes", fl, d.Pending())
		}
	})
}

func slicesOf(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestNotifierRefusesPrivateAddresses checks that targets on private addresses are
// refused when they are saved and when they are sent to, unless the configuration allows
// them.
func TestNotifierRefusesPrivateAddresses(t *testing.T) {
	f := newNotifyFixture(t, storetest.SQLite(t), 1)
	strict := f.notifier(t, f.st, &alert.Guard{}, "strict")
	hook := newReceiver(t)
	for _, u := range []string{hook.srv.URL, "http://localhost:9/x", "http://10.1.2.3/hook", "http://169.254.169.254/latest"} {
		_, _, err := strict.CreateTarget(ctx, f.admin, f.org.ID, collect.TargetInput{Kind: domain.TargetWebhook, Name: "Internal",
			URL: u, OnFailing: true, Enabled: true})
		if domain.FieldOf(err) != "url" || !strings.Contains(err.Error(), "refused") {
			t.Errorf("CreateTarget(%s) with private addresses refused = %v; want the url refused", u, err)
		}
	}
	allowed := f.notifier(t, f.st, &alert.Guard{Allow: mustAllow(t, "127.0.0.0/8")}, "allowed")
	if _, _, err := allowed.CreateTarget(ctx, f.admin, f.org.ID, collect.TargetInput{Kind: domain.TargetWebhook, Name: "Listed",
		URL: hook.srv.URL, OnFailing: true, Enabled: true}); err != nil {
		t.Fatalf("CreateTarget with the network allowed = %v", err)
	}

	// A target saved while allowed is refused when sent to under a stricter configuration:
	// the address connected to is checked, not only the one saved.
	alerts := f.record(t, "u1")
	f.deliver(t, strict)
	if bodies, _ := hook.requests(); len(bodies) != 0 {
		t.Errorf("the private receiver got %d requests; want none", len(bodies))
	}
	got := deliveryOf(t, f.detail(t, alerts[0].ID), "Listed")
	if got.Status != domain.DeliveryFailed || !strings.Contains(got.LastError, "refused 127.0.0.1") || got.Attempts != 1 {
		t.Errorf("delivery to a private address = %+v; want failed at once as refused", got)
	}
	next := f.record(t)
	f.deliver(t, allowed) // the recovery is not wanted by the target; nothing to send
	again := f.record(t, "u2")
	f.deliver(t, allowed)
	if bodies, _ := hook.requests(); len(bodies) != 1 {
		t.Errorf("with the network allowed the receiver got %d requests; want 1", len(bodies))
	}
	_ = next
	if got := deliveryOf(t, f.detail(t, again[0].ID), "Listed"); got.Status != domain.DeliveryDelivered {
		t.Errorf("delivery with the network allowed = %+v; want delivered", got)
	}
}

func mustAllow(tb testing.TB, s string) []netip.Prefix {
	tb.Helper()
	p, err := alert.ParseAllowList("allow", s)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestNotifierExactlyOnce runs two notifiers, as two replicas would, over the same
// database at the same time: every alert reaches every target exactly once.
func TestNotifierExactlyOnce(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		f := newNotifyFixture(t, a, 12)
		b.Now = f.clk.now
		hook, slack := newReceiver(t), newReceiver(t)
		f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "SIEM", URL: hook.srv.URL, OnFailing: true, OnRecovered: true, Enabled: true})
		f.target(t, collect.TargetInput{Kind: domain.TargetSlack, Name: "Slack", URL: slack.srv.URL + "/services/x", OnFailing: true, OnRecovered: true, Enabled: true})
		var alerts []domain.Alert
		alerts = append(alerts, f.record(t, "u1")...)
		alerts = append(alerts, f.record(t)...)
		alerts = append(alerts, f.record(t, "u2")...)
		if len(alerts) != 36 {
			t.Fatalf("raised %d alerts; want 36", len(alerts))
		}
		n1 := f.n
		n2 := f.notifier(t, b, &alert.Guard{AllowPrivate: true}, "notifier-2")
		n1.Workers, n2.Workers = 3, 3
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, n := range []*collect.Notifier{n1, n2} {
			wg.Go(func() {
				got, err := n.DeliverPending(ctx)
				if err != nil {
					t.Errorf("notifier %d: %v", i+1, err)
				}
				counts[i] = got
			})
		}
		wg.Wait()
		if counts[0]+counts[1] != len(alerts) {
			t.Errorf("the notifiers worked on %d + %d alerts; want %d in all", counts[0], counts[1], len(alerts))
		}
		t.Logf("notifier 1 delivered %d alerts, notifier 2 %d", counts[0], counts[1])
		for _, r := range []*receiver{hook, slack} {
			bodies, headers := r.requests()
			if len(bodies) != len(alerts) {
				t.Errorf("a receiver got %d requests; want %d, one per alert", len(bodies), len(alerts))
			}
			seen := map[string]int{}
			for i, h := range headers {
				key := h.Get(alert.HeaderDelivery)
				if key == "" {
					key = string(bodies[i])
				}
				seen[key]++
			}
			for k, c := range seen {
				if c != 1 {
					t.Errorf("delivery %.40s… arrived %d times", k, c)
				}
			}
		}
		for _, al := range alerts {
			d := f.detail(t, al.ID)
			if d.Pending() || len(d.Deliveries) != 2 {
				t.Errorf("alert %d = %+v; want delivered to both targets", al.ID, d)
			}
		}
	})
}

// TestNotifierSendTest sends a test alert to each kind of target.
func TestNotifierSendTest(t *testing.T) {
	f := newNotifyFixture(t, storetest.SQLite(t), 1)
	slack := newReceiver(t)
	st, _ := f.target(t, collect.TargetInput{Kind: domain.TargetSlack, Name: "Slack", URL: slack.srv.URL + "/services/T/B/C", OnFailing: true})
	em, _ := f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Owners", OnFailing: true})
	res, err := f.n.SendTest(ctx, f.admin, f.org.ID, st.ID)
	if err != nil || !res.Delivered() {
		t.Fatalf("SendTest(slack) = %+v, %v; want delivered", res, err)
	}
	if sb, _ := slack.requests(); len(sb) != 1 || !strings.Contains(string(sb[0]), "Test alert from Evident") {
		t.Errorf("slack got %q; want the test alert", sb)
	}
	res, err = f.n.SendTest(ctx, f.admin, f.org.ID, em.ID)
	if err != nil || !res.Delivered() {
		t.Fatalf("SendTest(email) = %+v, %v; want delivered", res, err)
	}
	if msgs := f.mail.Messages(); len(msgs) != 1 || msgs[0].To[0] != f.admin.Email {
		t.Errorf("mail = %+v; want the test alert to the person asking", msgs)
	}
	slack.answer(500)
	res, err = f.n.SendTest(ctx, f.admin, f.org.ID, st.ID)
	if err != nil || res.Delivered() || res.Attempts != 1 || !strings.Contains(res.Err.Error(), "500") {
		t.Errorf("SendTest(failing slack) = %+v, %v; want one failed attempt", res, err)
	}
	if _, err := f.n.SendTest(ctx, f.admin, f.org.ID+1000, st.ID); !domain.IsNotFound(err) {
		t.Errorf("SendTest(other org) = %v; want not found", err)
	}
	alerts, err := f.st.Alerts(ctx, f.org.ID, domain.AlertFilter{})
	if err != nil || len(alerts) != 0 {
		t.Errorf("alerts after test sends = %+v, %v; want none recorded", alerts, err)
	}
}

// TestNotifierUpdateTarget replaces a URL and rotates a webhook's secret.
func TestNotifierUpdateTarget(t *testing.T) {
	f := newNotifyFixture(t, storetest.SQLite(t), 1)
	one, two := newReceiver(t), newReceiver(t)
	hook, first := f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "SIEM", URL: one.srv.URL + "/a", OnFailing: true, Enabled: true})
	u := two.srv.URL + "/b"
	up, secret, err := f.n.UpdateTarget(ctx, f.admin, f.org.ID, hook.ID, collect.TargetUpdate{URL: &u})
	if err != nil || secret != "" || up.Destination != alert.RedactURL(u) {
		t.Fatalf("UpdateTarget(url) = %+v, %q, %v; want the new destination and no new secret", up, secret, err)
	}
	f.record(t, "u1")
	f.deliver(t, f.n)
	bodies, headers := two.requests()
	if b1, _ := one.requests(); len(b1) != 0 || len(bodies) != 1 {
		t.Fatalf("old URL got %d, new URL %d requests; want 0 and 1", len(b1), len(bodies))
	}
	if err := alert.VerifySignature(first, headers[0].Get(alert.HeaderSignature), bodies[0], time.Now(), 0); err != nil {
		t.Errorf("after a URL change the secret must stay: %v", err)
	}
	_, rotated, err := f.n.UpdateTarget(ctx, f.admin, f.org.ID, hook.ID, collect.TargetUpdate{RotateSecret: true})
	if err != nil || rotated == "" || rotated == first {
		t.Fatalf("UpdateTarget(rotate) = %q, %v; want a new secret", rotated, err)
	}
	bad := "ftp://x.example/"
	if _, _, err := f.n.UpdateTarget(ctx, f.admin, f.org.ID, hook.ID, collect.TargetUpdate{URL: &bad}); domain.FieldOf(err) != "url" {
		t.Errorf("UpdateTarget(ftp) = %v; want the url refused", err)
	}
	em, _ := f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Owners", OnFailing: true})
	if _, _, err := f.n.UpdateTarget(ctx, f.admin, f.org.ID, em.ID, collect.TargetUpdate{RotateSecret: true}); domain.FieldOf(err) != "rotate_secret" {
		t.Errorf("UpdateTarget(rotate email) = %v; want rotate_secret refused", err)
	}
	events, _ := f.st.Events(ctx, f.org.ID, domain.EventFilter{Type: "alert_target."})
	for _, e := range events {
		if strings.Contains(string(e.Data), first) || strings.Contains(string(e.Data), rotated) || strings.Contains(string(e.Data), "/b") {
			t.Errorf("event %s holds a secret or URL path: %s", e.Type, e.Data)
		}
	}
}

// TestNotifierStopsRetries checks that retries end, saying why, when their target is
// disabled or deleted, and that the alert is then delivered.
func TestNotifierStopsRetries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newNotifyFixture(t, st, 1)
		down, gone := newReceiver(t), newReceiver(t)
		dt, _ := f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "Down", URL: down.srv.URL, OnFailing: true, Enabled: true})
		gt, _ := f.target(t, collect.TargetInput{Kind: domain.TargetSlack, Name: "Gone", URL: gone.srv.URL + "/x", OnFailing: true, Enabled: true})
		down.answer(slicesOf(503, alert.DefaultAttempts)...)
		gone.answer(slicesOf(503, alert.DefaultAttempts)...)
		alerts := f.record(t, "u1")
		f.deliver(t, f.n)
		d := f.detail(t, alerts[0].ID)
		if deliveryOf(t, d, "Down").Status != domain.DeliveryRetrying || deliveryOf(t, d, "Gone").Status != domain.DeliveryRetrying {
			t.Fatalf("deliveries = %+v; want both retrying", d.Deliveries)
		}
		off := false
		if _, _, err := f.n.UpdateTarget(ctx, f.admin, f.org.ID, dt.ID, collect.TargetUpdate{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteAlertTarget(ctx, f.admin, f.org.ID, gt.ID); err != nil {
			t.Fatal(err)
		}
		g := deliveryOf(t, f.detail(t, alerts[0].ID), "Gone")
		if g.Status != domain.DeliveryFailed || g.TargetID != nil || g.NextAttemptAt != nil ||
			!strings.HasPrefix(g.LastError, "not sent: the target was deleted; last error: ") || !strings.Contains(g.LastError, "503") {
			t.Errorf("deleted target's delivery = %+v; want failed, saying it was deleted", g)
		}
		f.clk.advance(time.Hour)
		f.deliver(t, f.n)
		d = f.detail(t, alerts[0].ID)
		dd := deliveryOf(t, d, "Down")
		if d.Pending() || dd.Status != domain.DeliveryFailed || !strings.HasPrefix(dd.LastError, "not sent: the target was disabled") {
			t.Errorf("after the disabling the alert is pending %v with %+v; want delivered, the retry failed as not sent", d.Pending(), dd)
		}
		db, _ := down.requests()
		gb, _ := gone.requests()
		if len(db) != alert.DefaultAttempts || len(gb) != alert.DefaultAttempts {
			t.Errorf("receivers got %d and %d requests; want no more after the first pass", len(db), len(gb))
		}
	})
}

// TestNotifierWaitsForEachTarget checks that a pass over an alert sends only to the
// targets whose retry is due, and that the alert waits for the earliest retry left.
func TestNotifierWaitsForEachTarget(t *testing.T) {
	f := newNotifyFixture(t, storetest.SQLite(t), 1)
	slow, late := newReceiver(t), newReceiver(t)
	f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "Slow", URL: slow.srv.URL, OnFailing: true, Enabled: true})
	slow.answer(slicesOf(503, 2*alert.DefaultAttempts)...)
	alerts := f.record(t, "u1")
	f.deliver(t, f.n) // Slow fails its first pass: again in a minute

	// A target added meanwhile hears of the alert at the next pass, and fails too.
	f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "Late", URL: late.srv.URL, OnFailing: true, Enabled: true})
	late.answer(slicesOf(503, alert.DefaultAttempts)...)
	f.clk.advance(time.Minute)
	f.deliver(t, f.n)
	d := f.detail(t, alerts[0].ID)
	sl, lt := deliveryOf(t, d, "Slow"), deliveryOf(t, d, "Late")
	if sl.Rounds != 2 || !sl.NextAttemptAt.Equal(f.clk.now().Add(2*time.Minute)) ||
		lt.Rounds != 1 || !lt.NextAttemptAt.Equal(f.clk.now().Add(time.Minute)) {
		t.Fatalf("deliveries = %+v and %+v; want Slow again in two minutes, Late in one", sl, lt)
	}

	// In a minute only Late is due: Slow is left alone.
	f.clk.advance(time.Minute)
	if n := f.deliver(t, f.n); n != 1 {
		t.Fatalf("DeliverPending when Late is due = %d; want 1", n)
	}
	d = f.detail(t, alerts[0].ID)
	if got := deliveryOf(t, d, "Slow"); got.Rounds != 2 || !got.NextAttemptAt.Equal(*sl.NextAttemptAt) {
		t.Errorf("Slow's delivery = %+v; want untouched until its retry is due", got)
	}
	if got := deliveryOf(t, d, "Late"); got.Status != domain.DeliveryDelivered || !d.Pending() {
		t.Errorf("Late's delivery = %+v (alert pending %v); want delivered, the alert still pending", got, d.Pending())
	}
	if bodies, _ := slow.requests(); len(bodies) != 2*alert.DefaultAttempts {
		t.Errorf("Slow got %d requests; want %d, none before its retry is due", len(bodies), 2*alert.DefaultAttempts)
	}
	if n := f.deliver(t, f.n); n != 0 {
		t.Errorf("DeliverPending before Slow's retry = %d; want 0", n)
	}

	f.clk.advance(time.Minute)
	f.deliver(t, f.n)
	d = f.detail(t, alerts[0].ID)
	if got := deliveryOf(t, d, "Slow"); got.Status != domain.DeliveryDelivered || got.Rounds != 3 || d.Pending() {
		t.Errorf("Slow's delivery = %+v (alert pending %v); want delivered at its third pass", got, d.Pending())
	}
}

// TestNotifierStoppedPass checks that a pass cut short by shutdown is recorded without
// counting, and that any notifier may try again at once.
func TestNotifierStoppedPass(t *testing.T) {
	f := newNotifyFixture(t, storetest.SQLite(t), 1)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var held sync.Once
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the server sees the client go
		first := false
		held.Do(func() { first = true })
		if first {
			// The first request is held until the notifier gives up on it.
			arrived <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() { close(release) })
	f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "SIEM", URL: hook.URL, OnFailing: true, Enabled: true})
	alerts := f.record(t, "u1")

	stop, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := f.n.DeliverPending(stop)
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("DeliverPending stopped: %v", err)
	}
	d := f.detail(t, alerts[0].ID)
	got := deliveryOf(t, d, "SIEM")
	if got.Status != domain.DeliveryRetrying || got.Rounds != 0 || got.Attempts != 1 || got.NextAttemptAt == nil ||
		!got.NextAttemptAt.Equal(f.clk.now()) || !strings.Contains(got.LastError, "stopped") || !d.Pending() {
		t.Fatalf("delivery of a stopped pass = %+v (alert pending %v); want retrying now, the pass not counted", got, d.Pending())
	}
	if n := f.deliver(t, f.n); n != 1 {
		t.Fatalf("DeliverPending after the stop = %d; want the alert again at once", n)
	}
	d = f.detail(t, alerts[0].ID)
	if again := deliveryOf(t, d, "SIEM"); again.Status != domain.DeliveryDelivered || again.Rounds != 1 || again.Attempts != 2 ||
		again.DeliveryID != got.DeliveryID || d.Pending() {
		t.Errorf("delivery after the stop = %+v; want delivered at the first counted pass, with the same delivery ID", again)
	}
}

// TestNotifierUnreadableSettings checks that a target whose sealed settings do not open,
// such as after the key was changed, fails at once without a request, and that its
// settings can be entered again.
func TestNotifierUnreadableSettings(t *testing.T) {
	f := newNotifyFixture(t, storetest.SQLite(t), 1)
	hook := newReceiver(t)
	target, _ := f.target(t, collect.TargetInput{Kind: domain.TargetWebhook, Name: "SIEM", URL: hook.srv.URL, OnFailing: true, Enabled: true})
	other := f.notifier(t, f.st, &alert.Guard{AllowPrivate: true}, "notifier-other-key")
	key := make([]byte, collect.SecretKeySize)
	_, _ = rand.Read(key)
	var err error
	if other.Sealer, err = collect.NewSealer(key); err != nil {
		t.Fatal(err)
	}

	alerts := f.record(t, "u1")
	f.deliver(t, other)
	d := f.detail(t, alerts[0].ID)
	got := deliveryOf(t, d, "SIEM")
	if got.Status != domain.DeliveryFailed || got.Attempts != 0 || got.Rounds != 1 ||
		!strings.Contains(got.LastError, "cannot be read") || d.Pending() {
		t.Errorf("delivery with unreadable settings = %+v (alert pending %v); want failed at once, saying why", got, d.Pending())
	}
	if bodies, _ := hook.requests(); len(bodies) != 0 {
		t.Errorf("the receiver got %d requests; want none", len(bodies))
	}

	// A webhook's new URL alone cannot be sealed with a secret that does not open; a new
	// URL with a new secret replaces the settings whole.
	u := hook.srv.URL + "/again"
	if _, _, err := other.UpdateTarget(ctx, f.admin, f.org.ID, target.ID, collect.TargetUpdate{URL: &u}); err == nil ||
		!strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("UpdateTarget(url) with unreadable settings = %v; want the settings unreadable", err)
	}
	_, secret, err := other.UpdateTarget(ctx, f.admin, f.org.ID, target.ID, collect.TargetUpdate{URL: &u, RotateSecret: true})
	if err != nil || secret == "" {
		t.Fatalf("UpdateTarget(url and secret) with unreadable settings = %q, %v; want new settings", secret, err)
	}
	f.record(t)
	again := f.record(t, "u2")
	f.deliver(t, other)
	if got := deliveryOf(t, f.detail(t, again[0].ID), "SIEM"); got.Status != domain.DeliveryDelivered {
		t.Fatalf("delivery after new settings = %+v; want delivered", got)
	}
	bodies, headers := hook.requests()
	if len(bodies) != 1 {
		t.Fatalf("the receiver got %d requests; want 1", len(bodies))
	}
	if err := alert.VerifySignature(secret, headers[0].Get(alert.HeaderSignature), bodies[0], time.Now(), 0); err != nil {
		t.Errorf("signature with the new secret: %v", err)
	}
}
