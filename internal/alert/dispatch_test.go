package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
)

func TestRetries(t *testing.T) {
	after := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	tests := []struct {
		name      string
		answers   []answer
		delivered bool
		permanent bool
		attempts  int
		status    int
		waits     []time.Duration
		err       string
	}{
		{"500 then success", []answer{{status: 500, body: "oops"}}, true, false, 2, 200, []time.Duration{2 * time.Second}, ""},
		{"502, 503 then success", []answer{{status: 502}, {status: 503}}, true, false, 3, 200, []time.Duration{2 * time.Second, 4 * time.Second}, ""},
		{"5xx throughout", []answer{{status: 500}, {status: 500}, {status: 500}, {status: 500}}, false, false, 4, 500,
			[]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}, "500 Internal Server Error"},
		{"400 is final", []answer{{status: 400, body: "invalid_payload"}}, false, true, 1, 400, nil, "400 Bad Request: invalid_payload"},
		{"403 is final", []answer{{status: 403, body: "action_prohibited"}}, false, true, 1, 403, nil, "403 Forbidden: action_prohibited"},
		{"410 is final", []answer{{status: 410, body: "channel_is_archived"}}, false, true, 1, 410, nil, "410 Gone"},
		{"429 waits as asked", []answer{{status: 429, header: after("7")}}, true, false, 2, 200, []time.Duration{7 * time.Second}, ""},
		{"503 with a date", []answer{{status: 503, header: after(changedAt.Add(time.Minute + 30*time.Second).Format(http.TimeFormat))}}, true, false, 2, 200,
			[]time.Duration{30 * time.Second}, ""},
		{"429 asking too long a wait", []answer{{status: 429, header: after("3600")}}, false, false, 1, 429, nil, "the receiver asks to wait 1h0m0s"},
		{"unreadable retry-after backs off", []answer{{status: 429, header: after("soon")}}, true, false, 2, 200, []time.Duration{2 * time.Second}, ""},
		{"3xx without location is final", []answer{{status: 304}}, false, true, 1, 304, nil, "304 Not Modified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.answers...)
			d, s := testDispatcher(t, nil, nil)
			target := Target{Name: "siem", Kind: KindWebhook, URL: rc.URL + "/in", Secret: testSecret}
			r := d.Deliver(context.Background(), failingAlert(), []Target{target})[0]
			if r.Delivered() != tt.delivered || r.Permanent != tt.permanent || r.Attempts != tt.attempts || r.Status != tt.status {
				t.Errorf("Deliver = %+v; want delivered %v, permanent %v, %d attempts, status %d", r, tt.delivered, tt.permanent, tt.attempts, tt.status)
			}
			if diff := cmp.Diff(tt.waits, s.Waits()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if tt.err != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tt.err)) {
				t.Errorf("Err = %v; want it to say %q", r.Err, tt.err)
			}
			if n := len(rc.Requests()); n != tt.attempts {
				t.Errorf("the receiver got %d requests; want %d", n, tt.attempts)
			}
		})
	}
}

func TestRetriedWebhookKeepsIDAndBody(t *testing.T) {
	rc := newReceiver(t, answer{status: 500}, answer{status: 500})
	d, _ := testDispatcher(t, nil, nil)
	clock := changedAt
	d.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	r := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "siem", Kind: KindWebhook, URL: rc.URL, Secret: testSecret}})[0]
	if !r.Delivered() || r.Attempts != 3 {
		t.Fatalf("Deliver = %+v; want delivered at the third attempt", r)
	}
	reqs := rc.Requests()
	for i, req := range reqs {
		if got := req.Header.Get(HeaderDelivery); got != r.DeliveryID {
			t.Errorf("attempt %d has delivery ID %q; want %q", i+1, got, r.DeliveryID)
		}
		if !bytes.Equal(req.Body, reqs[0].Body) {
			t.Errorf("attempt %d sent another body", i+1)
		}
		// Each attempt is signed when it is made.
		sentAt := changedAt.Add(time.Duration(i+1) * time.Minute)
		if err := VerifySignature(testSecret, req.Header.Get(HeaderSignature), req.Body, sentAt, time.Second); err != nil {
			t.Errorf("attempt %d: signature at %s: %v", i+1, sentAt, err)
		}
	}
}

func TestBackoffIsCapped(t *testing.T) {
	answers := make([]answer, 10)
	for i := range answers {
		answers[i] = answer{status: 500}
	}
	rc := newReceiver(t, answers...)
	d, s := testDispatcher(t, nil, nil)
	d.Attempts, d.Backoff = 8, 10*time.Second
	d.Deliver(context.Background(), failingAlert(), []Target{{Name: "slack", Kind: KindSlack, URL: rc.URL}})
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute, time.Minute, time.Minute}
	if diff := cmp.Diff(want, s.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestDeliverStopsWithTheContext(t *testing.T) {
	rc := newReceiver(t, answer{status: 500}, answer{status: 500})
	d, _ := testDispatcher(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	waited := 0
	d.Sleep = func(ctx context.Context, _ time.Duration) error {
		waited++
		cancel()
		return ctx.Err()
	}
	r := d.Deliver(ctx, failingAlert(), []Target{{Name: "slack", Kind: KindSlack, URL: rc.URL}})[0]
	if r.Delivered() || r.Attempts != 1 || waited != 1 || r.Permanent {
		t.Errorf("Deliver cancelled while waiting = %+v after %d waits; want one attempt, not delivered, not permanent", r, waited)
	}
}

func TestDeliverToSeveralTargets(t *testing.T) {
	slack := newReceiver(t)
	hook := newReceiver(t, answer{status: 400, body: "bad"})
	fs := &fakeSender{}
	var log bytes.Buffer
	d, _ := testDispatcher(t, &Email{Sender: fs, From: evidentSender}, &log)
	targets := []Target{
		{Name: "chat", Kind: KindSlack, URL: slack.URL + "/services/T/B/SECRETPATH"},
		{Name: "siem", Kind: KindWebhook, URL: hook.URL + "/in?token=SECRETQUERY", Secret: testSecret},
		{Name: "owners", Kind: KindEmail},
		{Name: "pager", Kind: "pagerduty"},
	}
	res := d.Deliver(context.Background(), failingAlert(), targets)
	got := make([]string, len(res))
	for i, r := range res {
		got[i] = fmt.Sprintf("%s %s delivered=%v permanent=%v", r.Target, r.Kind, r.Delivered(), r.Permanent)
	}
	want := []string{
		"chat slack delivered=true permanent=false",
		"siem webhook delivered=false permanent=true",
		"owners email delivered=true permanent=false",
		"pager pagerduty delivered=false permanent=true",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if !strings.Contains(res[3].Err.Error(), `unknown kind of target "pagerduty"`) {
		t.Errorf("unknown kind: %v", res[3].Err)
	}
	ids := map[string]bool{}
	for _, r := range res {
		ids[r.DeliveryID] = true
	}
	if len(ids) != len(res) {
		t.Errorf("delivery IDs %v are not one per target", ids)
	}
	out := log.String()
	for _, secret := range []string{"SECRETPATH", "SECRETQUERY", testSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`msg="alert delivered"`, `msg="alert delivery failed"`, "target.name=siem", "target.to=" + hook.URL + "/…"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not hold %q:\n%s", want, out)
		}
	}
}

func TestDeliverRefusesAnInvalidAlert(t *testing.T) {
	rc := newReceiver(t)
	tests := []struct {
		name   string
		change func(a *Alert)
		want   string
	}{
		{"no state", func(a *Alert) { a.State = "" }, "state must be failing or recovered"},
		{"no test", func(a *Alert) { a.Test.ID = "" }, "the test has no ID"},
		{"no organization", func(a *Alert) { a.Org = Org{} }, "the organization has no slug or name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := testDispatcher(t, nil, nil)
			a := failingAlert()
			tt.change(&a)
			r := d.Deliver(context.Background(), a, []Target{{Name: "chat", Kind: KindSlack, URL: rc.URL}})[0]
			if r.Delivered() || !r.Permanent || !strings.Contains(r.Err.Error(), tt.want) {
				t.Errorf("Deliver = %+v; want a permanent failure saying %q", r, tt.want)
			}
		})
	}
	if n := len(rc.Requests()); n != 0 {
		t.Errorf("the receiver got %d requests for invalid alerts", n)
	}
}

func TestDeliverDatesAnUndatedAlert(t *testing.T) {
	rc := newReceiver(t)
	d, _ := testDispatcher(t, nil, nil)
	a := failingAlert()
	a.At = time.Time{}
	d.Deliver(context.Background(), a, []Target{{Name: "siem", Kind: KindWebhook, URL: rc.URL, Secret: testSecret}})
	body := string(rc.Requests()[0].Body)
	if !strings.Contains(body, `"occurred_at":"2026-03-02T14:06:00Z"`) {
		t.Errorf("payload %s; want occurred_at from the dispatcher's clock", body)
	}
}

func TestTargetValidate(t *testing.T) {
	tests := []struct {
		name   string
		target Target
		field  string
	}{
		{"slack", Target{Name: "chat", Kind: KindSlack, URL: "https://hooks.slack.com/services/T/B/X"}, ""},
		{"webhook", Target{Name: " siem ", Kind: KindWebhook, URL: "https://siem.example.com/in", Secret: testSecret}, ""},
		{"email to owners", Target{Name: "owners", Kind: KindEmail}, ""},
		{"email to a list", Target{Name: "team", Kind: KindEmail, To: []string{" sec@acme.test", "it@acme.test"}}, ""},
		{"no name", Target{Kind: KindEmail}, "name"},
		{"long name", Target{Name: strings.Repeat("n", 101), Kind: KindEmail}, "name"},
		{"name with a line break", Target{Name: "a\nb", Kind: KindEmail}, "name"},
		{"unknown kind", Target{Name: "x", Kind: "sms"}, "kind"},
		{"slack without url", Target{Name: "chat", Kind: KindSlack}, "url"},
		{"slack to loopback", Target{Name: "chat", Kind: KindSlack, URL: "http://127.0.0.1:8065/hooks/x"}, "url"},
		{"webhook to metadata", Target{Name: "siem", Kind: KindWebhook, URL: "http://169.254.169.254/", Secret: testSecret}, "url"},
		{"webhook without secret", Target{Name: "siem", Kind: KindWebhook, URL: "https://siem.example.com/in"}, "secret"},
		{"webhook with short secret", Target{Name: "siem", Kind: KindWebhook, URL: "https://siem.example.com/in", Secret: "short"}, "secret"},
		{"webhook with spaced secret", Target{Name: "siem", Kind: KindWebhook, URL: "https://siem.example.com/in", Secret: "a secret with spaces in it"}, "secret"},
		{"bad recipient", Target{Name: "team", Kind: KindEmail, To: []string{"security team"}}, "to"},
		{"named recipient", Target{Name: "team", Kind: KindEmail, To: []string{"Sec <sec@acme.test>"}}, "to"},
		{"too many recipients", Target{Name: "team", Kind: KindEmail, To: strings.Split(strings.Repeat("a@acme.test,", 51), ",")[:51]}, "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.target.Validate(&Guard{})
			if got := domain.FieldOf(err); got != tt.field || (tt.field == "") != (err == nil) {
				t.Errorf("Validate() = %v (field %q); want field %q", err, got, tt.field)
			}
		})
	}
	tg := Target{Name: " siem ", Kind: KindEmail, To: []string{" sec@acme.test "}}
	if err := tg.Validate(&Guard{}); err != nil || tg.Name != "siem" || tg.To[0] != "sec@acme.test" {
		t.Errorf("Validate() = %v, left %+v; want the name and recipients trimmed", err, tg)
	}
}

func TestTargetHidesSecrets(t *testing.T) {
	tg := Target{Name: "siem", Kind: KindWebhook, URL: "https://siem.example.com/in/SECRETPATH?k=SECRETQUERY", Secret: "SECRETKEY-0123456789"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("target", "t", tg)
	for _, s := range []string{tg.String(), fmt.Sprintf("%v %+v %#v %s", tg, tg, tg, tg), buf.String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("%q shows a secret", s)
		}
	}
	if want := `webhook "siem" (https://siem.example.com/…)`; tg.String() != want {
		t.Errorf("String() = %q; want %q", tg.String(), want)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"12", 12 * time.Second},
		{" 5 ", 5 * time.Second},
		{"-3", 0},
		{"999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"tomorrow", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestStatusErrorTemporary(t *testing.T) {
	for status, want := range map[int]bool{400: false, 401: false, 404: false, 408: true, 410: false, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true} {
		if got := (&StatusError{Status: status}).Temporary(); got != want {
			t.Errorf("StatusError{%d}.Temporary() = %v; want %v", status, got, want)
		}
	}
	var se *StatusError
	if !errors.As(fmt.Errorf("wrapped: %w", &StatusError{Status: 500}), &se) {
		t.Error("StatusError does not survive wrapping")
	}
}

func TestLoopbackNeedsAllowPrivate(t *testing.T) {
	rc := newReceiver(t)
	target := Target{Name: "siem", Kind: KindWebhook, URL: rc.URL + "/in", Secret: testSecret}

	allowed, _ := testDispatcher(t, nil, nil)
	if r := allowed.Deliver(context.Background(), failingAlert(), []Target{target})[0]; !r.Delivered() {
		t.Fatalf("Deliver with AllowPrivate = %+v; want delivered", r)
	}

	refused, s := testDispatcher(t, nil, nil)
	guarded := NewDispatcher(&Guard{}, nil)
	refused.Slack, refused.Webhook = guarded.Slack, guarded.Webhook
	r := refused.Deliver(context.Background(), failingAlert(), []Target{target})[0]
	if r.Delivered() || !r.Permanent || r.Attempts != 1 || len(s.Waits()) != 0 {
		t.Fatalf("Deliver without AllowPrivate = %+v; want a permanent failure at the first attempt", r)
	}
	want := "post to " + rc.URL + "/…: dial tcp " + strings.TrimPrefix(rc.URL, "http://") +
		": refused 127.0.0.1: a loopback address; outbound alerts reach private networks only when the configuration allows private addresses or lists the network"
	if r.Err.Error() != want {
		t.Errorf("Err = %q; want %q", r.Err, want)
	}
	if n := len(rc.Requests()); n != 1 {
		t.Errorf("the receiver got %d requests; want only the allowed one", n)
	}
	if err := (&Guard{}).ValidateURL("url", target.URL); err == nil || !strings.Contains(err.Error(), "url: refused 127.0.0.1: a loopback address") {
		t.Errorf("ValidateURL(%s) = %v; want the loopback address refused on save too", RedactURL(target.URL), err)
	}
}
