package connector

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// script is a round tripper answering from a list of steps, one per attempt.
type script struct {
	mu    sync.Mutex
	steps []step
	sent  []string // the bodies of the requests received
}

type step struct {
	status int
	header http.Header
	err    error
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body := ""
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		body = string(b)
	}
	s.sent = append(s.sent, body)
	if len(s.steps) == 0 {
		return nil, errors.New("script: no step left")
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if st.err != nil {
		return nil, st.err
	}
	h := st.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: st.status, Header: h, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

func TestRetry(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		method     string
		body       string
		steps      []step
		throttled  func(*http.Response, time.Time) (time.Duration, bool)
		wantStatus int
		wantErr    bool
		wantWaits  []time.Duration
		wantSent   int
	}{
		{
			name:       "success at once",
			steps:      []step{{status: 200}},
			wantStatus: 200, wantSent: 1,
		},
		{
			name:       "429 honours Retry-After in seconds",
			steps:      []step{{status: 429, header: http.Header{"Retry-After": {"7"}}}, {status: 200}},
			wantStatus: 200, wantSent: 2,
			wantWaits: []time.Duration{7 * time.Second},
		},
		{
			name:       "429 honours Retry-After as a date",
			steps:      []step{{status: 429, header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}}, {status: 200}},
			wantStatus: 200, wantSent: 2,
			wantWaits: []time.Duration{90 * time.Second},
		},
		{
			name:       "429 without a wait backs off",
			steps:      []step{{status: 429}, {status: 429}, {status: 200}},
			wantStatus: 200, wantSent: 3,
			wantWaits: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:       "5xx backs off exponentially up to the cap",
			steps:      []step{{status: 500}, {status: 502}, {status: 503}, {status: 504}, {status: 200}},
			wantStatus: 200, wantSent: 5,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second},
		},
		{
			name:       "attempts run out and the last answer is returned",
			steps:      []step{{status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}},
			wantStatus: 503, wantSent: 5,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second},
		},
		{
			name:       "a wait beyond MaxWait is not honoured",
			steps:      []step{{status: 429, header: http.Header{"Retry-After": {"3600"}}}},
			wantStatus: 429, wantSent: 1,
		},
		{
			name:       "client errors are final",
			steps:      []step{{status: 404}},
			wantStatus: 404, wantSent: 1,
		},
		{
			name:  "a source-specific throttle",
			steps: []step{{status: 403, header: http.Header{"X-Wait": {"1"}}}, {status: 200}},
			throttled: func(r *http.Response, _ time.Time) (time.Duration, bool) {
				return 42 * time.Second, r.Header.Get("X-Wait") != ""
			},
			wantStatus: 200, wantSent: 2,
			wantWaits: []time.Duration{42 * time.Second},
		},
		{
			name:       "a dropped connection is retried for GET",
			steps:      []step{{err: syscall.ECONNRESET}, {status: 200}},
			wantStatus: 200, wantSent: 2,
			wantWaits: []time.Duration{time.Second},
		},
		{
			name:    "a dropped connection is final for POST",
			method:  http.MethodPost,
			body:    "q=1",
			steps:   []step{{err: syscall.ECONNRESET}},
			wantErr: true, wantSent: 1,
		},
		{
			name:       "a replayable body is sent again",
			method:     http.MethodPost,
			body:       "q=1",
			steps:      []step{{status: 503}, {status: 200}},
			wantStatus: 200, wantSent: 2,
			wantWaits: []time.Duration{time.Second},
		},
		{
			name:    "other transport errors are final",
			steps:   []step{{err: errors.New("x509: certificate signed by unknown authority")}},
			wantErr: true, wantSent: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &script{steps: tt.steps}
			var waits []time.Duration
			rt := &Retry{
				Next:       sc,
				Throttled:  tt.throttled,
				MaxBackoff: 5 * time.Second,
				MaxWait:    10 * time.Minute,
				Now:        func() time.Time { return now },
				Sleep: func(ctx context.Context, d time.Duration) error {
					waits = append(waits, d)
					return nil
				},
			}
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(method, "https://api.example.com/v1/things", body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RoundTrip error = %v; want error %v", err, tt.wantErr)
			}
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("RoundTrip status = %d; want %d", resp.StatusCode, tt.wantStatus)
				}
			}
			if diff := cmp.Diff(tt.wantWaits, waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if len(sc.sent) != tt.wantSent {
				t.Errorf("sent %d requests; want %d", len(sc.sent), tt.wantSent)
			}
			for i, b := range sc.sent {
				if b != tt.body {
					t.Errorf("request %d body = %q; want %q", i+1, b, tt.body)
				}
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sc := &script{steps: []step{{status: 503}, {status: 200}}}
	rt := &Retry{Next: sc, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("RoundTrip error = %v; want context.Canceled", err)
	}
	if len(sc.sent) != 1 {
		t.Errorf("sent %d requests; want 1", len(sc.sent))
	}
}

func TestRetryTimeoutBoundsEachAttempt(t *testing.T) {
	var deadlines []bool
	next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		_, ok := req.Context().Deadline()
		deadlines = append(deadlines, ok)
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok"))}, nil
	})
	rt := &Retry{Next: next, Timeout: time.Minute}
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "ok" {
		t.Errorf("body = %q, %v; want ok", b, err)
	}
	resp.Body.Close()
	if diff := cmp.Diff([]bool{true}, deadlines); diff != "" {
		t.Errorf("attempt had a deadline (-want +got):\n%s", diff)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := RetryAfter(http.Header{"Retry-After": {tt.value}}, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}
