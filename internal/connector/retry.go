package connector

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Defaults of Retry.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultMaxWait     = 15 * time.Minute
)

// Retry is an http.RoundTripper that tries a request again when the source throttles it,
// answers with a server error, or drops the connection. A throttled request waits as long
// as the source asks; the others back off exponentially. Put it above a Recorder so every
// attempt is kept as evidence, and below the SDK, which then sees only the final answer.
//
// Requests with a body are retried only when the body can be replayed (GetBody is set);
// transport errors are retried only for GET and HEAD, which cannot have taken effect twice.
type Retry struct {
	Next http.RoundTripper
	// Throttled reports whether a response asks the client to slow down and, when the
	// source says how long, the wait. A zero wait means back off exponentially. Nil means
	// ThrottledStatus: 429 Too Many Requests, honouring Retry-After.
	Throttled func(resp *http.Response, now time.Time) (wait time.Duration, throttled bool)
	// Timeout bounds each attempt, reading the response body included; zero means no bound
	// beyond the request's context. Waits between attempts do not count, which is why the
	// bound lives here and not in http.Client.Timeout.
	Timeout time.Duration
	// MaxAttempts is how many times a request is sent in all (default DefaultMaxAttempts).
	MaxAttempts int
	// BaseDelay is the first backoff; each retry doubles it (default DefaultBaseDelay).
	BaseDelay time.Duration
	// MaxBackoff caps one backoff (default DefaultMaxBackoff).
	MaxBackoff time.Duration
	// MaxWait is the longest wait a source may ask for. A throttled response asking for
	// more is returned as it is, so the run reports the throttling instead of hanging
	// (default DefaultMaxWait).
	MaxWait time.Duration
	// Now tells the time rate-limit reset headers are compared with; nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; nil means a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// RoundTrip implements http.RoundTripper.
func (r *Retry) RoundTrip(req *http.Request) (*http.Response, error) {
	next := r.Next
	if next == nil {
		next = http.DefaultTransport
	}
	attempts := r.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		attempts = 1
	}
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		send := req
		if attempt > 1 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			send = req.Clone(ctx)
			send.Body = body
		}
		resp, err := r.attempt(next, send)
		if attempt >= attempts {
			return resp, err
		}
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !transient(err) || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
				return nil, err
			}
			wait = r.backoff(attempt)
		default:
			w, retry := r.classify(resp)
			if !retry {
				return resp, nil
			}
			if w > r.maxWait() {
				return resp, nil
			}
			if w <= 0 {
				w = r.backoff(attempt)
			}
			wait = w
			discard(resp)
		}
		if err := r.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// attempt sends the request once, within Timeout.
func (r *Retry) attempt(next http.RoundTripper, req *http.Request) (*http.Response, error) {
	if r.Timeout <= 0 {
		return next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), r.Timeout)
	resp, err := next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// classify decides whether a response is worth another attempt, and after how long.
func (r *Retry) classify(resp *http.Response) (time.Duration, bool) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	throttled := r.Throttled
	if throttled == nil {
		throttled = ThrottledStatus
	}
	if wait, ok := throttled(resp, now()); ok {
		return wait, true
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		wait, _ := RetryAfter(resp.Header, now())
		return min(wait, r.maxBackoff()), true
	}
	return 0, false
}

func (r *Retry) backoff(attempt int) time.Duration {
	d := r.BaseDelay
	if d <= 0 {
		d = DefaultBaseDelay
	}
	for i := 1; i < attempt && d < r.maxBackoff(); i++ {
		d *= 2
	}
	return min(d, r.maxBackoff())
}

func (r *Retry) maxBackoff() time.Duration {
	if r.MaxBackoff > 0 {
		return r.MaxBackoff
	}
	return DefaultMaxBackoff
}

func (r *Retry) maxWait() time.Duration {
	if r.MaxWait > 0 {
		return r.MaxWait
	}
	return DefaultMaxWait
}

func (r *Retry) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d, or returns ctx's error when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ThrottledStatus treats 429 Too Many Requests as throttling, waiting as Retry-After says.
func ThrottledStatus(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	wait, _ := RetryAfter(resp.Header, now)
	return wait, true
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date, as a wait from now.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// transient reports whether a transport error may go away on its own.
func transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// discard drains and closes a response that will not be returned, so its connection can
// be reused.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
