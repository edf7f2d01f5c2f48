package alert

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// changedAt is when the sample alerts' test changed state.
var changedAt = time.Date(2026, 3, 2, 14, 5, 0, 0, time.UTC)

// failingAlert returns an alert of a test failing for three of twelve resources.
func failingAlert() Alert {
	return Alert{
		ID:    "41",
		Org:   Org{Slug: "acme", Name: "Acme Corp"},
		Test:  Test{ID: "aws-iam-user-mfa", Title: "IAM users have MFA", Severity: "high", Remediation: "Enable a virtual MFA device for each user:\naws iam enable-mfa-device --user-name NAME"},
		State: Failing,
		Resources: []Resource{
			{Type: "aws.iam.user", ID: "AIDA1", Name: "alice"},
			{Type: "aws.iam.user", ID: "AIDA2", Name: "bob"},
			{Type: "aws.iam.user", ID: "AIDA3", Name: "AIDA3"},
		},
		TotalResources: 12,
		Controls:       []Control{{Ref: "AC-02", Title: "User access provisioning"}, {Ref: "AC-07", Title: "Multi-factor authentication"}},
		Owners:         []Owner{{Name: "Alice Smith", Email: "alice@acme.test"}, {Name: "Bob Jones", Email: "bob@acme.test"}},
		At:             changedAt,
		BaseURL:        "https://evident.acme.test/",
		Path:           TestPath("aws-iam-user-mfa"),
	}
}

// recoveredAlert returns the same test's recovery.
func recoveredAlert() Alert {
	a := failingAlert()
	a.ID = "42"
	a.State = Recovered
	a.Resources, a.TotalResources = nil, 0
	a.At = changedAt.Add(3 * time.Hour)
	return a
}

// request is what a test receiver got.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// receiver is an HTTP server on loopback that keeps the requests it gets and answers with
// the statuses it is given in turn, then 200.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	answers  []answer
}

type answer struct {
	status int
	body   string
	header http.Header
}

func newReceiver(tb testing.TB, answers ...answer) *receiver {
	tb.Helper()
	rc := &receiver{answers: answers}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		a := answer{status: http.StatusOK, body: "ok"}
		if len(rc.answers) > 0 {
			a, rc.answers = rc.answers[0], rc.answers[1:]
		}
		rc.mu.Unlock()
		for k, v := range a.header {
			w.Header()[k] = v
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) Requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.requests...)
}

// sleeper records the waits asked of it without waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeper) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// testDispatcher returns a Dispatcher that may reach loopback receivers, whose clock
// stands at now and whose waits are recorded, logging into log.
func testDispatcher(tb testing.TB, email *Email, log *bytes.Buffer) (*Dispatcher, *sleeper) {
	tb.Helper()
	s := &sleeper{}
	d := NewDispatcher(&Guard{AllowPrivate: true}, email)
	d.Now = func() time.Time { return changedAt.Add(time.Minute) }
	d.Sleep = s.Sleep
	if log == nil {
		log = &bytes.Buffer{}
	}
	d.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return d, s
}
