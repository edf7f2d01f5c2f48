// Package connector pulls the state of a company's systems through the vendors' official
// SDKs and turns it into monitor resources, keeping the raw responses as evidence.
package connector

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/monitor"
)

// Connector collects resources from one configured source.
type Connector interface {
	// Kind is the connector's kind, such as "aws" or "github".
	Kind() string
	// Collect pulls everything the connector knows. A failure of one resource type is
	// reported in the collection's Errors and does not lose what other types returned;
	// the returned error is for failures that stop the whole run (bad credentials, a
	// cancelled context).
	Collect(ctx context.Context) (*Collection, error)
}

// Collection is the outcome of one run of a connector.
type Collection struct {
	Resources []monitor.Resource
	// Raw holds every API response as received, in order, so an auditor can see exactly
	// what the source said. It becomes an automated-snapshot evidence item.
	Raw []Exchange
	// Errors lists the resource types that failed, each with what went wrong.
	Errors []TypeError
}

// Counts returns the number of resources per type.
func (c *Collection) Counts() map[string]int {
	m := map[string]int{}
	for _, r := range c.Resources {
		m[r.Type]++
	}
	return m
}

// Fail records that a resource type could not be collected, keeping what else was collected.
func (c *Collection) Fail(typ string, err error) {
	c.Errors = append(c.Errors, TypeError{Type: typ, Message: err.Error()})
}

// TypeError is a partial failure: one resource type that could not be collected.
type TypeError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Exchange is one HTTP request and its response as the source sent it.
type Exchange struct {
	At time.Time `json:"at"`
	// Operation names the API operation asked, in the vendor's terms: "iam:ListUsers",
	// "GET /orgs/{org}/members", "ListUsers". It is the method and path when the
	// connector does not know the request.
	Operation string `json:"operation"`
	Method    string `json:"method"`
	URL       string `json:"url"` // with credentials and signature parameters removed
	Status    int    `json:"status"`
	Response  []byte `json:"response"`
}

// Recorder is an http.RoundTripper that keeps every response body it passes through. Give
// the SDK an *http.Client using it, then take the exchanges when the run ends.
type Recorder struct {
	Next http.RoundTripper
	// MaxBody caps how much of one response is kept (default 8 MiB); the rest is still
	// passed to the SDK.
	MaxBody int64
	Now     func() time.Time
	// Operation names the API operation of a request (see Exchange.Operation); nil, or an
	// empty name, records the method and the path instead.
	Operation func(*http.Request) string

	mu        sync.Mutex
	exchanges []Exchange
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	next := r.Next
	if next == nil {
		next = http.DefaultTransport
	}
	op := ""
	if r.Operation != nil {
		op = r.Operation(req)
	}
	if op == "" {
		op = req.Method + " " + req.URL.EscapedPath()
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	limit := r.MaxBody
	if limit <= 0 {
		limit = 8 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	r.mu.Lock()
	r.exchanges = append(r.exchanges, Exchange{At: now().UTC(), Operation: op, Method: req.Method, URL: RedactURL(req.URL),
		Status: resp.StatusCode, Response: body})
	r.mu.Unlock()
	return resp, nil
}

// Exchanges returns and forgets the exchanges recorded so far.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.exchanges
	r.exchanges = nil
	return out
}

// secretParams are query parameters that carry credentials or signatures.
var secretParams = []string{"x-amz-signature", "x-amz-credential", "x-amz-security-token", "access_token", "key", "token", "client_secret", "signature", "sig"}

// RedactURL returns the URL without user info and with credential-bearing query
// parameters replaced, so recorded exchanges never hold a secret.
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, s := range secretParams {
			if strings.EqualFold(k, s) {
				q.Set(k, "REDACTED")
			}
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}
