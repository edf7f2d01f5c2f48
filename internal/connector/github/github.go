// Package github collects the security posture of a GitHub organization through the
// official go-github SDK: its two-factor requirement, members and outside collaborators,
// repositories with the effective protection of their default branches, and the merged pull
// requests with their reviews that make up the change-management population.
package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// Kind is the connector kind of GitHub connections.
const Kind = "github"

// The resource types the connector produces.
const (
	TypeOrg                 = "github.org"
	TypeMember              = "github.member"
	TypeOutsideCollaborator = "github.outside_collaborator"
	TypeRepository          = "github.repository"
	TypePullRequest         = "github.pull_request"
)

// Defaults of Config and Options.
const (
	DefaultPullRequestDays = 90
	MaxPullRequestDays     = 3650
	DefaultTimeout         = 30 * time.Second
	DefaultMaxAttempts     = 5
	DefaultMaxBackoff      = 30 * time.Second
	// DefaultMaxWait is the longest rate-limit wait honoured. GitHub's primary limit
	// resets hourly; a run that would wait longer reports the throttling instead.
	DefaultMaxWait = 15 * time.Minute
	// secondaryLimitWait is how long GitHub asks clients to wait after a secondary rate
	// limit that names no time.
	secondaryLimitWait = time.Minute
	perPage            = 100
)

// Config is what a GitHub connection stores (encrypted) to reach one organization. It is
// JSON-serializable; the token never leaves the store except through Redacted.
type Config struct {
	// Token is a personal access token or an installation token of an organization owner
	// (read:org and repo scopes, or the equivalent fine-grained read permissions: members,
	// administration, pull requests, contents and Dependabot alerts).
	Token string `json:"token"`
	// Organization is the organization's login, such as "acme".
	Organization string `json:"organization"`
	// BaseURL is the https address of GitHub Enterprise Server (https://github.example.com;
	// the /api/v3/ path is added) or of a test server. Empty means github.com.
	BaseURL string `json:"base_url,omitempty"`
	// PullRequestDays is how far back merged pull requests are read (default
	// DefaultPullRequestDays).
	PullRequestDays int `json:"pull_request_days,omitempty"`
	// Repositories, when set, limits repositories, their protection, collaborators and pull
	// requests to these names (without the owner). Empty means every repository.
	Repositories []string `json:"repositories,omitempty"`
}

var (
	loginPattern    = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	repoNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// Validate checks the configuration, naming the first field in error.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Token) == "" {
		return domain.Invalid("token", "is required")
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return domain.Invalid("token", "must not contain spaces")
	}
	if c.Organization == "" {
		return domain.Invalid("organization", "is required")
	}
	if !loginPattern.MatchString(c.Organization) {
		return domain.Invalid("organization", "%q is not a GitHub organization login", c.Organization)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			// The token travels with every request; it never goes over plain HTTP.
			return domain.Invalid("base_url", "must be an https URL such as https://github.example.com")
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return domain.Invalid("base_url", "must not carry credentials, a query or a fragment")
		}
	}
	if c.PullRequestDays < 0 || c.PullRequestDays > MaxPullRequestDays {
		return domain.Invalid("pull_request_days", "must be between 1 and %d (0 means %d)", MaxPullRequestDays, DefaultPullRequestDays)
	}
	seen := map[string]bool{}
	for i, name := range c.Repositories {
		field := fmt.Sprintf("repositories[%d]", i)
		if !repoNamePattern.MatchString(name) || name == "." || name == ".." {
			return domain.Invalid(field, "%q is not a repository name; give the name without the owner, such as api", name)
		}
		if seen[strings.ToLower(name)] {
			return domain.Invalid(field, "%q is listed twice", name)
		}
		seen[strings.ToLower(name)] = true
	}
	return nil
}

// Redacted returns a copy of the configuration safe to show: the token is replaced.
func (c Config) Redacted() Config {
	if c.Token != "" {
		c.Token = "REDACTED"
	}
	c.Repositories = append([]string(nil), c.Repositories...)
	return c
}

// Options tune how the connector talks to its source; see connector.HTTPOptions.
type Options = connector.HTTPOptions

// Connector collects one GitHub organization. It is safe for concurrent use; each Collect
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
	if cfg.PullRequestDays == 0 {
		cfg.PullRequestDays = DefaultPullRequestDays
	}
	cfg.Repositories = append([]string(nil), cfg.Repositories...)
	opts = opts.WithDefaults(connector.HTTPOptions{Timeout: DefaultTimeout, MaxAttempts: DefaultMaxAttempts, MaxBackoff: DefaultMaxBackoff, MaxWait: DefaultMaxWait})
	return &Connector{cfg: cfg, opts: opts}, nil
}

// Kind implements connector.Connector.
func (c *Connector) Kind() string { return Kind }

// Collect implements connector.Connector. It fails as a whole only when the organization
// cannot be read (bad token, unknown organization) or ctx ends; every other failure is
// reported per resource type in the collection's Errors.
func (c *Connector) Collect(ctx context.Context) (*connector.Collection, error) {
	rec := &connector.Recorder{Next: c.opts.Transport(), Now: c.opts.Now, Operation: routes.Operation}
	client, err := c.client(rec)
	if err != nil {
		return nil, err
	}
	r := &run{
		cfg:      c.cfg,
		now:      c.opts.Now(),
		gh:       client,
		out:      &connector.Collection{},
		outside:  map[string][]map[string]any{},
		rulesets: map[int64]*gh.RepositoryRuleset{},
	}
	err = r.collect(ctx)
	r.out.Raw = rec.Exchanges()
	if err != nil {
		return nil, err
	}
	return r.out, nil
}

// routes are the REST endpoints the connector calls, named as GitHub's documentation
// names them, for the recorded exchanges.
var routes = connector.Routes{
	{Method: http.MethodGet, Path: "/orgs/{org}"},
	{Method: http.MethodGet, Path: "/orgs/{org}/members"},
	{Method: http.MethodGet, Path: "/orgs/{org}/outside_collaborators"},
	{Method: http.MethodGet, Path: "/orgs/{org}/repos"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/branches/{branch}/protection"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/vulnerability-alerts"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/rulesets"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/rulesets/{ruleset_id}"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/collaborators"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/pulls"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/pulls/{pull_number}"},
	{Method: http.MethodGet, Path: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"},
}

// client builds the SDK client: token, then retries, then the recorder, then the network.
func (c *Connector) client(rec *connector.Recorder) (*gh.Client, error) {
	hc := c.opts.Client(c.opts.Retry(rec, throttled))
	client := gh.NewClient(hc).WithAuthToken(c.cfg.Token)
	if c.cfg.BaseURL != "" {
		base := strings.TrimRight(c.cfg.BaseURL, "/") + "/"
		var err error
		if client, err = client.WithEnterpriseURLs(base, base); err != nil {
			return nil, domain.Invalid("base_url", "%v", err)
		}
	}
	// Rate limits are waited out in the transport; the SDK's own bookkeeping would refuse
	// requests before the transport could wait.
	client.DisableRateLimitCheck = true
	client.UserAgent = "evident"
	return client, nil
}

// throttled recognizes GitHub's primary and secondary rate limits, which arrive as 403 or
// 429, and says how long GitHub asks to wait.
func throttled(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if wait, ok := connector.RetryAfter(resp.Header, now); ok {
		return wait, true
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			// One second more, as the reset is rounded down to the second.
			return max(time.Unix(reset, 0).Sub(now), 0) + time.Second, true
		}
		return secondaryLimitWait, true
	}
	if resp.StatusCode == http.StatusTooManyRequests || mentionsSecondaryLimit(resp) {
		return secondaryLimitWait, true
	}
	return 0, false
}

// mentionsSecondaryLimit peeks at a 403 body, which is how GitHub signals a secondary rate
// limit that comes without headers, and leaves the body for the SDK to read.
func mentionsSecondaryLimit(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	return bytes.Contains(bytes.ToLower(head), []byte("secondary rate limit"))
}

// run is the state of one collection.
type run struct {
	cfg Config
	now time.Time
	gh  *gh.Client
	out *connector.Collection

	// outside maps an outside collaborator's login (lower case) to the repositories they
	// can access, filled while repositories are read.
	outside map[string][]map[string]any
	// rulesets caches organization and enterprise rulesets by ID: they read the same from
	// every repository.
	rulesets map[int64]*gh.RepositoryRuleset
}

func (r *run) collect(ctx context.Context) error {
	org, _, err := r.gh.Organizations.Get(ctx, r.cfg.Organization)
	if err != nil {
		return fmt.Errorf("github: read organization %s: %w", r.cfg.Organization, err)
	}
	r.addOrg(org)
	steps := []func(context.Context) error{
		r.collectMembers,
		r.collectRepositories,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
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
		return fmt.Errorf("github: %w", ctxErr)
	}
	if scope != "" {
		err = fmt.Errorf("%s: %w", scope, err)
	}
	r.out.Fail(typ, err)
	return nil
}

// list reads every page of a list endpoint, following the Link header's next page.
func list[T any](opts *gh.ListOptions, call func() ([]T, *gh.Response, error)) ([]T, error) {
	opts.PerPage = perPage
	opts.Page = 0
	var all []T
	for {
		items, resp, err := call()
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if resp == nil || resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// statusOf returns the HTTP status of an SDK error and GitHub's message, or 0.
func statusOf(err error) (int, string) {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode, er.Message
	}
	return 0, ""
}

// login returns a user's login; deleted accounts read as GitHub's "ghost".
func login(u *gh.User) string {
	if l := u.GetLogin(); l != "" {
		return l
	}
	return "ghost"
}
