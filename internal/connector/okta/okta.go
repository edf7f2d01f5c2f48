// Package okta collects the state of an Okta organization through the official Okta SDK for
// Go (v5): users with their status, last sign-in, enrolled factors and administrator roles,
// and the sign-on, access and password policies with the key settings of their rules.
package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// Kind is the connector kind of Okta connections.
const Kind = "okta"

// The resource types the connector produces.
const (
	TypeUser   = "okta.user"
	TypePolicy = "okta.policy"
)

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxAttempts = 5
	DefaultMaxBackoff  = 30 * time.Second
	// DefaultMaxWait is the longest rate-limit wait honoured. Okta's windows reset every
	// minute, so a longer wait means something else is wrong.
	DefaultMaxWait = 5 * time.Minute
	pageSize       = 200
)

// Config is what an Okta connection stores (encrypted) to reach one organization. It is
// JSON-serializable; the token never leaves the store except through Redacted.
type Config struct {
	// OrgURL is the organization's address, such as https://acme.okta.com.
	OrgURL string `json:"org_url"`
	// APIToken is an API token (sent as "SSWS token") of a read-only administrator.
	APIToken string `json:"api_token"`
}

// Validate checks the configuration, naming the first field in error.
func (c Config) Validate() error {
	if strings.TrimSpace(c.OrgURL) == "" {
		return domain.Invalid("org_url", "is required")
	}
	u, err := url.Parse(c.OrgURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return domain.Invalid("org_url", "must be an https URL such as https://acme.okta.com")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return domain.Invalid("org_url", "must be the organization's address only, such as https://acme.okta.com")
	}
	if strings.TrimSpace(c.APIToken) == "" {
		return domain.Invalid("api_token", "is required")
	}
	if strings.ContainsAny(c.APIToken, " \t\r\n") {
		return domain.Invalid("api_token", "must not contain spaces")
	}
	return nil
}

// Redacted returns a copy of the configuration safe to show: the token is replaced.
func (c Config) Redacted() Config {
	if c.APIToken != "" {
		c.APIToken = "REDACTED"
	}
	return c
}

// Options tune how the connector talks to its source; see connector.HTTPOptions.
type Options = connector.HTTPOptions

// Connector collects one Okta organization. It is safe for concurrent use; each Collect
// builds its own client and records its own exchanges.
type Connector struct {
	cfg  Config
	opts Options
}

var _ connector.Connector = (*Connector)(nil)

// New returns a connector for the configuration, which it validates.
func New(cfg Config, opts Options) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults(connector.HTTPOptions{Timeout: DefaultTimeout, MaxAttempts: DefaultMaxAttempts, MaxBackoff: DefaultMaxBackoff, MaxWait: DefaultMaxWait})
	return &Connector{cfg: cfg, opts: opts}, nil
}

// Kind implements connector.Connector.
func (c *Connector) Kind() string { return Kind }

// Collect implements connector.Connector. It fails as a whole only when users cannot be
// listed (bad token, unknown organization) or ctx ends; every other failure is reported
// per resource type in the collection's Errors.
func (c *Connector) Collect(ctx context.Context) (*connector.Collection, error) {
	rec := &connector.Recorder{Next: c.opts.Transport(), Now: c.opts.Now, Operation: routes.Operation}
	client, err := c.client(ctx, rec)
	if err != nil {
		return nil, err
	}
	r := &run{api: client, out: &connector.Collection{}}
	err = r.collect(ctx)
	r.out.Raw = rec.Exchanges()
	if err != nil {
		return nil, err
	}
	return r.out, nil
}

// routes are the Management API operations the connector calls, by the operation IDs of
// Okta's API reference (the SDK's method names), for the recorded exchanges. Later pages
// follow the Link header to the same path.
var routes = connector.Routes{
	{Method: http.MethodGet, Path: "/api/v1/users", Name: "ListUsers"},
	{Method: http.MethodGet, Path: "/api/v1/users/{userId}/factors", Name: "ListFactors"},
	{Method: http.MethodGet, Path: "/api/v1/users/{userId}/roles", Name: "ListAssignedRolesForUser"},
	{Method: http.MethodGet, Path: "/api/v1/iam/assignees/users", Name: "ListUsersWithRoleAssignments"},
	{Method: http.MethodGet, Path: "/api/v1/policies", Name: "ListPolicies"},
	{Method: http.MethodGet, Path: "/api/v1/policies/{policyId}/rules", Name: "ListPolicyRules"},
}

// client builds the SDK client over retries, the recorder and the network.
func (c *Connector) client(ctx context.Context, rec *connector.Recorder) (*sdk.APIClient, error) {
	hc := c.opts.Client(c.opts.Retry(rec, throttled))
	u, err := url.Parse(c.cfg.OrgURL)
	if err != nil {
		return nil, domain.Invalid("org_url", "%v", err)
	}
	cfg, err := sdk.NewConfiguration(
		sdk.WithOrgUrl(u.Scheme+"://"+u.Host),
		sdk.WithToken(c.cfg.APIToken),
		sdk.WithAuthorizationMode("SSWS"),
		sdk.WithCache(false),
		sdk.WithHttpClientPtr(hc),
		// The transport below waits out 429s with the time Okta names and an injectable
		// clock; the SDK's own retry sleeps on a timer and gives up without a Date header.
		sdk.WithRateLimitMaxRetries(0),
		sdk.WithRequestTimeout(0),
		sdk.WithUserAgentExtra("evident"),
	)
	if err != nil {
		return nil, domain.Invalid("org_url", "%v", err)
	}
	// NewConfiguration also reads ~/.okta/okta.yaml and OKTA_* environment variables, and
	// keeps the host name without its port. Pin everything the connection decides.
	cfg.Host = u.Host
	cfg.Scheme = u.Scheme
	cfg.Debug = false
	cfg.DefaultHeader = map[string]string{}
	cfg.Okta.Client.Proxy.Host = ""
	cfg.Okta.Client.Proxy.Port = 0
	cfg.Okta.Client.Proxy.Username = ""
	cfg.Okta.Client.Proxy.Password = ""
	cfg.CacheManager = nil
	cfg.PrivateKeySigner = nil
	// Following a page link uses this context, so cancelling the run stops paging too.
	cfg.Context = ctx
	return sdk.NewAPIClient(cfg), nil
}

// throttled reads Okta's rate-limit answer: 429 with X-Rate-Limit-Reset, the epoch second
// the window resets, measured against the response's Date so clock skew does not matter.
func throttled(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	reset, err := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil {
		return connector.ThrottledStatus(resp, now)
	}
	served := now
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		served = d
	}
	// One second more, as both times are rounded down to the second.
	return max(time.Unix(reset, 0).Sub(served), 0) + time.Second, true
}

// run is the state of one collection.
type run struct {
	api *sdk.APIClient
	out *connector.Collection
}

func (r *run) collect(ctx context.Context) error {
	if err := r.collectUsers(ctx); err != nil {
		return err
	}
	return r.collectPolicies(ctx)
}

// add appends a resource.
func (r *run) add(typ, id, name string, attrs map[string]any) {
	if name == "" {
		name = id
	}
	r.out.Resources = append(r.out.Resources, monitor.Resource{Type: typ, ExternalID: id, Name: name, Attributes: attrs})
}

// fail records a partial failure of a resource type. It returns a non-nil error only when
// ctx has ended, which stops the run.
func (r *run) fail(ctx context.Context, typ, scope string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("okta: %w", ctxErr)
	}
	if scope != "" {
		err = fmt.Errorf("%s: %w", scope, err)
	}
	r.out.Fail(typ, err)
	return nil
}

// apiError is an Okta error response, which the SDK reports as little more than the status
// line. It keeps Okta's code and summary, which say what went wrong.
type apiError struct {
	status  string
	code    int
	summary string
}

func (e *apiError) Error() string {
	if e.summary == "" {
		return e.status
	}
	return e.status + ": " + e.summary
}

// explain turns an SDK error into one that carries Okta's explanation and status code.
func explain(err error, resp *sdk.APIResponse) error {
	if err == nil {
		return nil
	}
	var ge *sdk.GenericOpenAPIError
	if !errors.As(err, &ge) {
		return err
	}
	e := &apiError{status: ge.Error()}
	if resp != nil && resp.Response != nil {
		e.code = resp.StatusCode
		e.status = resp.Status
	}
	var body struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
	}
	if json.Unmarshal(ge.Body(), &body) == nil && body.ErrorSummary != "" {
		e.summary = strings.TrimSpace(body.ErrorCode + " " + body.ErrorSummary)
	}
	return e
}

// statusOf returns the HTTP status of an explained error, or 0.
func statusOf(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.code
	}
	return 0
}
