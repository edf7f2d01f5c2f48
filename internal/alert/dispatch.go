package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// Kind is the channel a target is reached by.
type Kind string

// The kinds of target.
const (
	KindEmail   Kind = "email"
	KindSlack   Kind = "slack"
	KindWebhook Kind = "webhook"
)

// Kinds lists the kinds of target.
var Kinds = []Kind{KindEmail, KindSlack, KindWebhook}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindEmail || k == KindSlack || k == KindWebhook }

// Target is a destination of an organization's alerts. Its String and LogValue forms
// never show the secret or the URL's path.
type Target struct {
	// Name identifies the target in its organization, in results and logs; delivery IDs
	// are derived from it, so renaming a target gives its deliveries new IDs.
	Name string
	Kind Kind
	// URL is the Slack incoming webhook's or the generic webhook's address.
	URL string
	// Secret signs a generic webhook's payloads.
	Secret string
	// To are an email target's recipients; empty writes to the owners of the test's
	// controls.
	To []string
}

// Limits on a target's fields.
const (
	maxTargetName  = 100
	maxRecipients  = 50
	minSecretBytes = 16
	maxSecretBytes = 256
)

// Validate checks a target before it is saved, trimming its name and recipients; the URL
// must satisfy g.ValidateURL. Errors name the field at fault: name, kind, url, secret or to.
func (t *Target) Validate(g *Guard) error {
	t.Name = strings.TrimSpace(t.Name)
	switch {
	case t.Name == "":
		return domain.Invalid("name", "is required")
	case len(t.Name) > maxTargetName:
		return domain.Invalid("name", "must be at most %d characters", maxTargetName)
	case oneLine(t.Name) != t.Name:
		return domain.Invalid("name", "must be one line of text without control characters")
	case !t.Kind.Valid():
		return domain.Invalid("kind", "must be one of email, slack, webhook")
	}
	switch t.Kind {
	case KindEmail:
		if len(t.To) > maxRecipients {
			return domain.Invalid("to", "must list at most %d addresses", maxRecipients)
		}
		for i, addr := range t.To {
			addr = strings.TrimSpace(addr)
			a, err := mail.ParseAddress(addr)
			if err != nil || a.Address != addr {
				return domain.Invalid("to", "%q is not an email address such as security@example.com", addr)
			}
			t.To[i] = addr
		}
	case KindSlack:
		return g.ValidateURL("url", t.URL)
	case KindWebhook:
		if err := g.ValidateURL("url", t.URL); err != nil {
			return err
		}
		switch {
		case len(t.Secret) < minSecretBytes:
			return domain.Invalid("secret", "must be at least %d characters; generate one", minSecretBytes)
		case len(t.Secret) > maxSecretBytes:
			return domain.Invalid("secret", "must be at most %d characters", maxSecretBytes)
		case strings.ContainsFunc(t.Secret, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return domain.Invalid("secret", "must not contain spaces or control characters")
		}
	}
	return nil
}

// Destination describes where the target sends, for people and logs: the redacted URL,
// or the recipients of an email target.
func (t Target) Destination() string {
	if t.Kind == KindEmail {
		if len(t.To) == 0 {
			return "the owners of the test's controls"
		}
		return strings.Join(t.To, ", ")
	}
	if t.URL == "" {
		return "(no URL)"
	}
	return RedactURL(t.URL)
}

// String describes the target without its secret or its URL's path.
func (t Target) String() string { return fmt.Sprintf("%s %q (%s)", t.Kind, t.Name, t.Destination()) }

// GoString is String, so that %#v shows no secret either.
func (t Target) GoString() string { return t.String() }

// LogValue implements slog.LogValuer without the secret or the URL's path.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", t.Name), slog.String("kind", string(t.Kind)), slog.String("to", t.Destination()))
}

// Delivery is one attempt to deliver an alert to a target.
type Delivery struct {
	// ID is the delivery's ID, the same for every attempt.
	ID     string
	Alert  *Alert
	Target Target
	// At is when the attempt is made; it dates a webhook's signature.
	At      time.Time
	Attempt int
	// Status is set by the HTTP channels to the status code of the answer, if any.
	Status int
}

// Channel makes one attempt at a delivery; the Dispatcher tries again when it may help.
// Email, Slack and Webhook are the channels. An error the channel marks permanent is not
// tried again.
type Channel interface {
	Send(ctx context.Context, d *Delivery) error
}

// Result is how the delivery of an alert to one target ended.
type Result struct {
	Target     string
	Kind       Kind
	DeliveryID string
	// Attempts is how many times the delivery was tried.
	Attempts int
	// Status is the HTTP status of the last answer; 0 for email or without an answer.
	Status int
	// Err is why the delivery failed; nil when it succeeded. It holds no secret.
	Err error
	// Permanent reports a failure that trying again later cannot cure: the receiver
	// refused the alert with a 4xx, the address is not permitted, or the target is
	// misconfigured. Other failures may be tried again later.
	Permanent bool
}

// Delivered reports whether the alert reached the target.
func (r Result) Delivered() bool { return r.Err == nil }

// Defaults of Dispatcher.
const (
	// DefaultAttempts is how many times a delivery is tried in all.
	DefaultAttempts = 4
	// DefaultBackoff is the wait before the first retry; each next wait doubles, up to
	// a minute.
	DefaultBackoff = 2 * time.Second
	// maxBackoff caps one computed wait.
	maxBackoff = time.Minute
	// DefaultMaxRetryAfter is the longest Retry-After a receiver may ask for and still be
	// waited for; asked for more, the delivery fails now, not permanently.
	DefaultMaxRetryAfter = 2 * time.Minute
)

// Dispatcher delivers alerts to targets through the channels, trying each delivery again
// with growing waits after failures that may pass (no answer, 429, 5xx, a mail server's
// 4xx), and reporting one Result per target.
type Dispatcher struct {
	// Email, Slack and Webhook are the channels; a target whose channel is nil fails,
	// permanently, as not configured.
	Email   *Email
	Slack   *Slack
	Webhook *Webhook
	// Attempts is how many times a delivery is tried in all; DefaultAttempts when zero.
	Attempts int
	// Backoff is the wait before the first retry; DefaultBackoff when zero.
	Backoff time.Duration
	// MaxRetryAfter is the longest wait a receiver may ask for; DefaultMaxRetryAfter when
	// zero.
	MaxRetryAfter time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits d or until ctx ends; a timer when nil. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger records each delivery's outcome, never a secret; slog.Default() when nil.
	Logger *slog.Logger
}

// NewDispatcher returns a Dispatcher whose Slack and Webhook channels share one client
// enforcing the guard, and whose Email channel is email (nil for none).
func NewDispatcher(g *Guard, email *Email) *Dispatcher {
	client := g.Client()
	return &Dispatcher{Email: email, Slack: &Slack{Client: client}, Webhook: &Webhook{Client: client}}
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Deliver sends the alert to every target, the targets side by side, and returns their
// results in the targets' order. It returns once every delivery has succeeded, failed for
// good, run out of attempts, or been stopped by ctx.
func (d *Dispatcher) Deliver(ctx context.Context, a Alert, targets []Target) []Result {
	if a.At.IsZero() {
		a.At = d.now()
	}
	invalid := checkAlert(&a)
	results := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		results[i] = Result{Target: t.Name, Kind: t.Kind, DeliveryID: deliveryID(&a, t.Name)}
		if invalid != nil {
			results[i].Err, results[i].Permanent = invalid, true
			continue
		}
		wg.Go(func() { d.deliver(ctx, &a, t, &results[i]) })
	}
	wg.Wait()
	for i := range results {
		d.log(&a, targets[i], &results[i])
	}
	return results
}

// checkAlert rejects an alert that no channel could write.
func checkAlert(a *Alert) error {
	switch {
	case !a.State.Valid():
		return errors.New("alert: state must be failing or recovered")
	case a.Test.ID == "":
		return errors.New("alert: the test has no ID")
	case a.Org.Slug == "" && a.Org.Name == "":
		return errors.New("alert: the organization has no slug or name")
	}
	return nil
}

// channel returns the channel that reaches targets of kind k.
func (d *Dispatcher) channel(k Kind) (Channel, error) {
	switch k {
	case KindEmail:
		if d.Email != nil {
			return d.Email, nil
		}
	case KindSlack:
		if d.Slack != nil {
			return d.Slack, nil
		}
	case KindWebhook:
		if d.Webhook != nil {
			return d.Webhook, nil
		}
	default:
		return nil, fmt.Errorf("unknown kind of target %q", k)
	}
	return nil, fmt.Errorf("%s alerts are not configured", k)
}

// deliver makes the attempts of one delivery and fills in its result.
func (d *Dispatcher) deliver(ctx context.Context, a *Alert, t Target, res *Result) {
	ch, err := d.channel(t.Kind)
	if err != nil {
		res.Err, res.Permanent = err, true
		return
	}
	attempts := d.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	backoff := d.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	maxAfter := d.MaxRetryAfter
	if maxAfter <= 0 {
		maxAfter = DefaultMaxRetryAfter
	}
	for attempt := 1; ; attempt++ {
		del := &Delivery{ID: res.DeliveryID, Alert: a, Target: t, At: d.now(), Attempt: attempt}
		err := ch.Send(ctx, del)
		res.Attempts, res.Status, res.Err = attempt, del.Status, err
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			res.Err = fmt.Errorf("%w (stopped: %v)", err, context.Cause(ctx))
			return
		}
		wait, retry := retryable(err)
		if !retry {
			res.Permanent = true
			return
		}
		if attempt >= attempts {
			return
		}
		if wait > maxAfter {
			res.Err = fmt.Errorf("%w (the receiver asks to wait %s)", err, wait)
			return
		}
		if wait <= 0 {
			wait = min(backoff<<(attempt-1), maxBackoff)
		}
		d.logger().Info("alert delivery will be tried again", "org", a.Org.Slug, "test", a.Test.ID,
			"target", t, "delivery", res.DeliveryID, "attempt", attempt, "wait", wait, "err", err)
		if err := d.sleep(ctx, wait); err != nil {
			return
		}
	}
}

func (d *Dispatcher) log(a *Alert, t Target, res *Result) {
	attrs := []any{"org", a.Org.Slug, "test", a.Test.ID, "event", a.State.Event(), "target", t,
		"delivery", res.DeliveryID, "attempts", res.Attempts}
	if res.Status != 0 {
		attrs = append(attrs, "status", res.Status)
	}
	if res.Err == nil {
		d.logger().Info("alert delivered", attrs...)
		return
	}
	attrs = append(attrs, "permanent", res.Permanent, "err", res.Err)
	d.logger().Warn("alert delivery failed", attrs...)
}

// permanentError is a failure that trying again cannot cure.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// StatusError is a receiver's answer other than 2xx.
type StatusError struct {
	// Where is the receiver's redacted URL.
	Where  string
	Status int
	// Detail is the start of the answer's body, on one line.
	Detail string
	// RetryAfter is the wait the receiver asked for with Retry-After; zero if none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("post to %s: %d %s", e.Where, e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Temporary reports whether the answer may change: 408, 425, 429 and 5xx.
func (e *StatusError) Temporary() bool {
	switch {
	case e.Status == http.StatusTooManyRequests, e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooEarly:
		return true
	}
	return e.Status >= 500
}

// retryable says whether a failed attempt may succeed if tried again, and how long the
// receiver asked to wait (zero: the Dispatcher's backoff).
func retryable(err error) (time.Duration, bool) {
	var pe *permanentError
	var se *StatusError
	var be *BlockedError
	switch {
	case errors.As(err, &pe), errors.As(err, &be), errors.Is(err, errRedirect):
		return 0, false
	case errors.As(err, &se):
		return se.RetryAfter, se.Temporary()
	}
	return 0, true
}

// userAgent is what Evident calls itself in requests.
const userAgent = "Evident-Alerts/1"

// maxDetail is how much of an error answer's body goes in the error.
const maxDetail = 200

// post sends body to the target's URL once and reads the answer. Errors show the URL
// redacted: the *url.Error of net/http, which repeats it whole, is taken apart.
func post(ctx context.Context, client *http.Client, d *Delivery, body []byte, header http.Header) error {
	shown := RedactURL(d.Target.URL)
	if client == nil {
		return permanent(errors.New("no HTTP client is configured"))
	}
	u, err := url.Parse(d.Target.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return permanent(fmt.Errorf("post to %s: the URL must be an absolute http or https URL without credentials", shown))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Target.URL, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("post to %s: the URL is not valid", shown))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to %s: %w", shown, err)
	}
	defer resp.Body.Close()
	d.Status = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Read the rest, within the client's limit, so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, DefaultMaxResponseBytes))
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxDetail))
	return &StatusError{
		Where:      shown,
		Status:     resp.StatusCode,
		Detail:     truncateRunes(oneLine(strings.ToValidUTF8(string(head), "�")), maxDetail),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), d.At),
	}
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date; zero if absent
// or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
