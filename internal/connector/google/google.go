// Package google collects the users of a Google Workspace account through the official
// Admin SDK Directory API client (google.golang.org/api/admin/directory/v1): 2-step
// verification enrolment and enforcement, suspension, administrator status and last sign-in.
package google

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"
	googleoauth "golang.org/x/oauth2/google"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// Kind is the connector kind of Google Workspace connections.
const Kind = "google"

// TypeUser is the resource type the connector produces.
const TypeUser = "google.user"

// Scope is the only OAuth scope the connector asks for. Grant it to the service account's
// client ID in the Admin console (Security, API controls, Domain-wide delegation).
const Scope = admin.AdminDirectoryUserReadonlyScope

// DefaultCustomer names the account the delegated administrator belongs to.
const DefaultCustomer = "my_customer"

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxAttempts = 5
	DefaultMaxBackoff  = 30 * time.Second
	DefaultMaxWait     = 5 * time.Minute
	pageSize           = 500
)

// userFields are the user fields requested: what the schema keeps, and nothing more of
// people's personal data.
const userFields = "nextPageToken,users(id,primaryEmail,name/fullName,isAdmin,isDelegatedAdmin,suspended,archived," +
	"isEnrolledIn2Sv,isEnforcedIn2Sv,creationTime,lastLoginTime,orgUnitPath)"

// neverSignedIn is the last sign-in Google reports for a user who never signed in.
var neverSignedIn = time.Unix(0, 0).UTC()

// Config is what a Google Workspace connection stores (encrypted). It is JSON-serializable;
// the key never leaves the store except through Redacted.
type Config struct {
	// Credentials is the JSON key of a service account with domain-wide delegation of Scope.
	Credentials string `json:"credentials"`
	// Subject is the email address of a Workspace administrator the service account acts
	// as; the Directory API answers only administrators.
	Subject string `json:"subject"`
	// Customer is the account's customer ID, such as C03az79cb (default DefaultCustomer).
	Customer string `json:"customer,omitempty"`
	// Endpoint, when set, is the base URL of the Admin SDK instead of Google's: a test
	// server or a proxy.
	Endpoint string `json:"endpoint,omitempty"`
}

var customerPattern = regexp.MustCompile(`^C[0-9A-Za-z]{5,20}$`)

// serviceAccountKey is the part of a service account key the connector checks.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// Validate checks the configuration, naming the first field in error. Its messages never
// repeat any part of the key.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Credentials) == "" {
		return domain.Invalid("credentials", "is required")
	}
	var key serviceAccountKey
	if err := json.Unmarshal([]byte(c.Credentials), &key); err != nil {
		return domain.Invalid("credentials", "must be the JSON key of a service account")
	}
	if key.Type != "service_account" {
		return domain.Invalid("credentials", `must be a service account key ("type": "service_account")`)
	}
	if key.ClientEmail == "" {
		return domain.Invalid("credentials", "has no client_email")
	}
	if !validPrivateKey(key.PrivateKey) {
		return domain.Invalid("credentials", "has no readable private_key")
	}
	if key.TokenURI != "" && !httpsURL(key.TokenURI) {
		return domain.Invalid("credentials", "token_uri must be an https URL")
	}
	if strings.TrimSpace(c.Subject) == "" {
		return domain.Invalid("subject", "is required")
	}
	if a, err := mail.ParseAddress(c.Subject); err != nil || a.Address != c.Subject {
		return domain.Invalid("subject", "must be the email address of a Workspace administrator")
	}
	if c.Customer != "" && c.Customer != DefaultCustomer && !customerPattern.MatchString(c.Customer) {
		return domain.Invalid("customer", "must be a customer ID such as C03az79cb, or %s", DefaultCustomer)
	}
	if c.Endpoint != "" && !httpsURL(c.Endpoint) {
		return domain.Invalid("endpoint", "must be an https URL without credentials, a query or a fragment")
	}
	return nil
}

// validPrivateKey reports whether a PEM block holds an RSA private key, as Google issues.
func validPrivateKey(s string) bool {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return true
	}
	_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	return err == nil
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// Redacted returns a copy of the configuration safe to show: the key is replaced.
func (c Config) Redacted() Config {
	if c.Credentials != "" {
		c.Credentials = "REDACTED"
	}
	return c
}

// Options tune how the connector talks to its source; see connector.HTTPOptions.
type Options = connector.HTTPOptions

// Connector collects one Google Workspace account. It is safe for concurrent use; each
// Collect builds its own clients and records its own exchanges.
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
	if cfg.Customer == "" {
		cfg.Customer = DefaultCustomer
	}
	opts = opts.WithDefaults(connector.HTTPOptions{Timeout: DefaultTimeout, MaxAttempts: DefaultMaxAttempts, MaxBackoff: DefaultMaxBackoff, MaxWait: DefaultMaxWait})
	return &Connector{cfg: cfg, opts: opts}, nil
}

// Kind implements connector.Connector.
func (c *Connector) Kind() string { return Kind }

// Collect implements connector.Connector. It fails as a whole when the first page of users
// cannot be read (bad key, missing delegation, a subject who is not an administrator) or
// ctx ends; a failure on a later page is reported in the collection's Errors.
func (c *Connector) Collect(ctx context.Context) (*connector.Collection, error) {
	rec := &connector.Recorder{Next: c.opts.Transport(), Now: c.opts.Now, Operation: routes.Operation}
	svc, err := c.service(ctx, rec)
	if err != nil {
		return nil, err
	}
	out := &connector.Collection{}
	err = c.collectUsers(ctx, svc, out)
	out.Raw = rec.Exchanges()
	if err != nil {
		return nil, err
	}
	return out, nil
}

// routes are the Directory API methods the connector calls, by their method IDs in the
// API's discovery document, for the recorded exchanges.
var routes = connector.Routes{
	{Method: http.MethodGet, Path: "/admin/directory/v1/users", Name: "directory.users.list"},
}

// service builds the Directory API client. API calls go through the token, retries, the
// recorder and the network; token requests skip the recorder, as their answers are
// credentials.
func (c *Connector) service(ctx context.Context, rec *connector.Recorder) (*admin.Service, error) {
	jwt, err := googleoauth.JWTConfigFromJSON([]byte(c.cfg.Credentials), Scope)
	if err != nil {
		return nil, domain.Invalid("credentials", "must be the JSON key of a service account")
	}
	jwt.Subject = c.cfg.Subject
	tokenClient := c.opts.Client(c.opts.Retry(c.opts.Transport(), throttled))
	apiClient := c.opts.Client(&oauth2.Transport{
		Source: jwt.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, tokenClient)),
		Base:   c.opts.Retry(rec, throttled),
	})
	opts := []option.ClientOption{
		option.WithHTTPClient(apiClient),
		option.WithUserAgent("evident"),
		// The client would log users' data at GOOGLE_SDK_GO_LOGGING_LEVEL=debug; the
		// recorder is where answers are kept.
		option.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if c.cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimRight(c.cfg.Endpoint, "/")+"/"))
	}
	svc, err := admin.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google: directory client: %w", err)
	}
	return svc, nil
}

// throttled recognizes Google's rate limits: 429, and 403 with a rate-limit reason, which
// the Directory API sends when a per-user or per-project quota runs out.
func throttled(resp *http.Response, now time.Time) (time.Duration, bool) {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return connector.ThrottledStatus(resp, now)
	case http.StatusForbidden:
		if wait, ok := connector.RetryAfter(resp.Header, now); ok {
			return wait, true
		}
		return 0, rateLimitReason(resp)
	}
	return 0, false
}

// rateLimitReason peeks at a 403 body for a rate-limit reason and leaves the body for the
// client to read.
func rateLimitReason(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	var body struct {
		Error struct {
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(head, &body) != nil {
		return false
	}
	for _, e := range body.Error.Errors {
		switch e.Reason {
		case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded":
			return true
		}
	}
	return false
}

// collectUsers reads every page of users and reports them.
func (c *Connector) collectUsers(ctx context.Context, svc *admin.Service, out *connector.Collection) error {
	call := svc.Users.List().Customer(c.cfg.Customer).MaxResults(pageSize).OrderBy("email").
		Projection("basic").Fields(googleapi.Field(userFields))
	var users []*admin.User
	pages := 0
	err := call.Pages(ctx, func(page *admin.Users) error {
		pages++
		users = append(users, page.Users...)
		return nil
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("google: %w", ctxErr)
		}
		err = explain(err)
		if pages == 0 {
			return fmt.Errorf("google: list users: %w", err)
		}
		// A partial list would read as accounts gone; report none of them.
		out.Fail(TypeUser, fmt.Errorf("list users (page %d): %w", pages+1, err))
		return nil
	}
	for _, u := range users {
		attrs, err := userAttributes(u)
		if err != nil {
			out.Fail(TypeUser, fmt.Errorf("user %s: %w", u.Id, err))
			continue
		}
		name := u.PrimaryEmail
		if u.Name != nil && u.Name.FullName != "" {
			name = u.Name.FullName
		}
		out.Resources = append(out.Resources, monitor.Resource{Type: TypeUser, ExternalID: u.Id, Name: name, Attributes: attrs})
	}
	return nil
}

// userAttributes flattens a user into the google.user schema.
func userAttributes(u *admin.User) (map[string]any, error) {
	if u.Id == "" || u.PrimaryEmail == "" {
		return nil, errors.New("the user has no ID or primary email")
	}
	created, err := time.Parse(time.RFC3339, u.CreationTime)
	if err != nil {
		return nil, fmt.Errorf("creationTime %q is not an RFC 3339 time", u.CreationTime)
	}
	attrs := map[string]any{
		"email":              u.PrimaryEmail,
		"is_admin":           u.IsAdmin,
		"is_delegated_admin": u.IsDelegatedAdmin,
		"suspended":          u.Suspended,
		"archived":           u.Archived,
		"is_enrolled_in_2sv": u.IsEnrolledIn2Sv,
		"is_enforced_in_2sv": u.IsEnforcedIn2Sv,
		"created_at":         created.UTC(),
		"org_unit_path":      u.OrgUnitPath,
	}
	if u.LastLoginTime != "" {
		last, err := time.Parse(time.RFC3339, u.LastLoginTime)
		if err != nil {
			return nil, fmt.Errorf("lastLoginTime %q is not an RFC 3339 time", u.LastLoginTime)
		}
		if !last.Equal(neverSignedIn) {
			attrs["last_login"] = last.UTC()
		}
	}
	return attrs, nil
}

// explain shortens the client's errors to what Google said: the status and message of an
// API error, or the token endpoint's refusal.
func explain(err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		msg := ge.Message
		if msg == "" {
			msg = http.StatusText(ge.Code)
		}
		return fmt.Errorf("%d %s", ge.Code, msg)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("the token endpoint refused the key: %s", refusal(re))
	}
	return err
}

// refusal says why the token endpoint refused: its status and its OAuth error.
func refusal(re *oauth2.RetrieveError) string {
	code, desc := re.ErrorCode, re.ErrorDescription
	if code == "" {
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			code, desc = body.Error, body.Description
		}
	}
	status := ""
	if re.Response != nil {
		status = re.Response.Status
	}
	parts := []string{}
	for _, p := range []string{status, code, desc} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return re.Error()
	}
	return strings.Join(parts, ": ")
}
