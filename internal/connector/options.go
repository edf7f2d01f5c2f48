package connector

import (
	"context"
	"net"
	"net/http"
	"time"
)

// HTTPOptions tune how a connector talks to its source over HTTP. The zero value, with
// Defaults applied, is ready for production. Every HTTP connector takes them, so retries,
// recording and timeouts behave the same whatever the source.
type HTTPOptions struct {
	// HTTPClient sends the requests; its transport is wrapped to retry and to record every
	// response. Nil means a client with dial and TLS handshake timeouts. Its own Timeout,
	// if set, bounds a request with all its retries and waits; prefer Timeout below.
	HTTPClient *http.Client
	// Now is the connector's clock: it stamps recorded exchanges and is what rate-limit
	// reset times are compared with (and, for some sources, what bounds a time window).
	// Nil means time.Now.
	Now func() time.Time
	// Timeout bounds each HTTP attempt, body included.
	Timeout time.Duration
	// MaxAttempts is how many times one request is sent in all, retrying throttling, 5xx
	// and dropped connections.
	MaxAttempts int
	// MaxBackoff caps the exponential backoff between attempts.
	MaxBackoff time.Duration
	// MaxWait is the longest rate-limit wait honoured.
	MaxWait time.Duration
	// Sleep waits between attempts; nil means a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// WithDefaults returns the options with every unset limit taken from def, and the clock
// set to time.Now when it is nil.
func (o HTTPOptions) WithDefaults(def HTTPOptions) HTTPOptions {
	if o.Timeout <= 0 {
		o.Timeout = def.Timeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = def.MaxAttempts
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = def.MaxBackoff
	}
	if o.MaxWait <= 0 {
		o.MaxWait = def.MaxWait
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Transport returns the round tripper that reaches the network: the given client's, or
// a clone of the default transport with dial and TLS handshake timeouts.
func (o HTTPOptions) Transport() http.RoundTripper {
	if o.HTTPClient != nil {
		if o.HTTPClient.Transport != nil {
			return o.HTTPClient.Transport
		}
		return http.DefaultTransport
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	return t
}

// Retry returns a Retry over next with these options' limits, clock and sleep.
func (o HTTPOptions) Retry(next http.RoundTripper, throttled func(*http.Response, time.Time) (time.Duration, bool)) *Retry {
	return &Retry{
		Next:        next,
		Throttled:   throttled,
		Timeout:     o.Timeout,
		MaxAttempts: o.MaxAttempts,
		MaxBackoff:  o.MaxBackoff,
		MaxWait:     o.MaxWait,
		Now:         o.Now,
		Sleep:       o.Sleep,
	}
}

// Client returns a copy of the options' HTTP client (or a new one) sending through rt.
func (o HTTPOptions) Client(rt http.RoundTripper) *http.Client {
	hc := &http.Client{}
	if o.HTTPClient != nil {
		*hc = *o.HTTPClient
	}
	hc.Transport = rt
	return hc
}
