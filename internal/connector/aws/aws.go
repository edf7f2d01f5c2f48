// Package aws collects the security posture of an AWS account through the official AWS
// SDK for Go v2: IAM, S3, EC2, RDS, CloudTrail, KMS, GuardDuty and Config, in every
// region the connection covers.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithymiddleware "github.com/aws/smithy-go/middleware"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// Kind is the connector kind of AWS connections.
const Kind = "aws"

// DefaultRegion is the region global services (IAM, STS, S3 listing, Organizations) are
// called in when the connection names no region, and the one enabled regions are
// discovered from.
const DefaultRegion = "us-east-1"

// Defaults of Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxAttempts  = 5
	DefaultMaxBackoff   = 20 * time.Second
	DefaultPollInterval = 2 * time.Second
	// credentialReportPolls bounds how long a run waits for IAM to generate the
	// credential report: DefaultPollInterval × 30 is one minute.
	credentialReportPolls = 30
)

// Config is what an AWS connection stores (encrypted) to reach one account. It is
// JSON-serializable; its secrets never leave the store except through Redacted.
type Config struct {
	// AccessKeyID and SecretAccessKey are the static credentials of an IAM user (or the
	// long-term credentials used to assume RoleARN). The SecurityAudit managed policy
	// grants everything the connector reads.
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// SessionToken accompanies temporary credentials.
	SessionToken string `json:"session_token,omitempty"`
	// Regions are the regions to scan. Empty means every region enabled in the account,
	// discovered at each run. The first region is also where global services are called.
	Regions []string `json:"regions,omitempty"`
	// Endpoint, when set, is one base URL used for every service instead of AWS's own
	// endpoints: a local test server, LocalStack or another AWS-compatible service. S3 is
	// then addressed path-style.
	Endpoint string `json:"endpoint,omitempty"`
	// RoleARN, when set, is assumed with the static credentials before collecting, the
	// usual way to grant cross-account read access.
	RoleARN string `json:"role_arn,omitempty"`
	// ExternalID is passed when assuming RoleARN, as the role's trust policy requires.
	ExternalID string `json:"external_id,omitempty"`
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
)

// Validate checks the configuration, naming the first field in error.
func (c Config) Validate() error {
	if strings.TrimSpace(c.AccessKeyID) == "" {
		return domain.Invalid("access_key_id", "is required")
	}
	if strings.ContainsAny(c.AccessKeyID, " \t\r\n") {
		return domain.Invalid("access_key_id", "must not contain spaces")
	}
	if strings.TrimSpace(c.SecretAccessKey) == "" {
		return domain.Invalid("secret_access_key", "is required")
	}
	seen := map[string]bool{}
	for i, r := range c.Regions {
		if !regionPattern.MatchString(r) {
			return domain.Invalid(fmt.Sprintf("regions[%d]", i), "%q is not an AWS region name such as eu-west-1", r)
		}
		if seen[r] {
			return domain.Invalid(fmt.Sprintf("regions[%d]", i), "%q is listed twice", r)
		}
		seen[r] = true
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return domain.Invalid("endpoint", "must be an http or https URL")
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return domain.Invalid("endpoint", "must not carry credentials, a query or a fragment")
		}
	}
	if c.RoleARN != "" && !roleARNPattern.MatchString(c.RoleARN) {
		return domain.Invalid("role_arn", "must be an IAM role ARN such as arn:aws:iam::123456789012:role/EvidentAudit")
	}
	if c.ExternalID != "" && c.RoleARN == "" {
		return domain.Invalid("external_id", "is only used with role_arn")
	}
	return nil
}

// Redacted returns a copy of the configuration safe to show: the secret access key and
// session token are replaced, and only the last four characters of the access key ID kept.
func (c Config) Redacted() Config {
	if n := len(c.AccessKeyID); n > 4 {
		c.AccessKeyID = strings.Repeat("*", n-4) + c.AccessKeyID[n-4:]
	}
	if c.SecretAccessKey != "" {
		c.SecretAccessKey = "REDACTED"
	}
	if c.SessionToken != "" {
		c.SessionToken = "REDACTED"
	}
	c.Regions = append([]string(nil), c.Regions...)
	return c
}

// Options tune how the connector talks to AWS. The zero value is ready for production.
type Options struct {
	// HTTPClient sends the requests; its transport is wrapped to record every response.
	// Nil means a client with DefaultTimeout and dial and TLS handshake timeouts.
	HTTPClient *http.Client
	// Now stamps recorded exchanges; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each HTTP attempt, body included, when HTTPClient has no timeout of
	// its own (default DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts is how many times one API call is tried in all, retrying throttling,
	// 5xx and connection errors with exponential backoff and jitter (default
	// DefaultMaxAttempts).
	MaxAttempts int
	// MaxBackoff caps the delay between two attempts (default DefaultMaxBackoff).
	MaxBackoff time.Duration
	// PollInterval is the wait between checks while IAM generates the credential report
	// (default DefaultPollInterval).
	PollInterval time.Duration
}

// Connector collects one AWS account. It is safe for concurrent use; each Collect builds
// its own clients and records its own exchanges.
type Connector struct {
	cfg  Config
	opts Options
	// rt sends requests; each run wraps it in its own recorder. It is built once so that
	// runs share its connection pool.
	rt http.RoundTripper
}

// New returns a connector for the configuration, which it validates.
func New(cfg Config, opts Options) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg.Regions = append([]string(nil), cfg.Regions...)
	return &Connector{cfg: cfg, opts: opts, rt: transport(opts)}, nil
}

// Kind implements connector.Connector.
func (c *Connector) Kind() string { return Kind }

var _ connector.Connector = (*Connector)(nil)

// Collect implements connector.Connector. It fails as a whole only when the credentials do
// not work (STS GetCallerIdentity), the enabled regions cannot be listed, or ctx ends;
// every other failure is reported per resource type in the collection's Errors.
func (c *Connector) Collect(ctx context.Context) (*connector.Collection, error) {
	rec := &connector.Recorder{Next: c.rt, Now: c.opts.Now, Operation: operation}
	client := c.httpClientWith(rec)
	home := DefaultRegion
	if len(c.cfg.Regions) > 0 {
		home = c.cfg.Regions[0]
	}
	base := c.sdkConfig(client, home)
	if c.cfg.RoleARN != "" {
		// AssumeRole answers with temporary credentials: its exchange goes through an
		// unrecorded client so that they never become evidence.
		assumer := sts.NewFromConfig(c.sdkConfig(c.httpClientWith(c.rt), home))
		base.Credentials = sdkaws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(assumer, c.cfg.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "evident-collect"
			if c.cfg.ExternalID != "" {
				o.ExternalID = sdkaws.String(c.cfg.ExternalID)
			}
		}))
	}
	r := &run{
		cfg:  c.cfg,
		opts: c.opts,
		base: base,
		home: home,
		out:  &connector.Collection{},
		seen: map[string]bool{},
	}
	err := r.collect(ctx)
	r.out.Raw = rec.Exchanges()
	if err != nil {
		return nil, err
	}
	return r.out, nil
}

// operation names the SDK operation a request belongs to, such as "iam:ListUsers": the
// service's IAM prefix and the API's operation name, both of which the SDK's middleware
// keeps in the request's context. Retries of an operation carry the same name.
func operation(req *http.Request) string {
	ctx := req.Context()
	name := smithymiddleware.GetOperationName(ctx)
	service := awsmiddleware.GetServiceID(ctx)
	if name == "" || service == "" {
		return ""
	}
	prefix, ok := servicePrefixes[service]
	if !ok {
		prefix = strings.ToLower(strings.ReplaceAll(service, " ", ""))
	}
	return prefix + ":" + name
}

// servicePrefixes are the IAM prefixes of the services whose prefix is not their SDK
// service ID in lower case without spaces.
var servicePrefixes = map[string]string{"Config Service": "config"}

// transport returns the round tripper requests go through: the configured client's, or
// one with dial, TLS handshake and response header timeouts.
func transport(opts Options) http.RoundTripper {
	if opts.HTTPClient != nil {
		if opts.HTTPClient.Transport != nil {
			return opts.HTTPClient.Transport
		}
		return http.DefaultTransport
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = opts.Timeout
	return t
}

// httpClientWith returns the configured client (or a new one) sending through rt, with a
// timeout.
func (c *Connector) httpClientWith(rt http.RoundTripper) *http.Client {
	hc := &http.Client{}
	if c.opts.HTTPClient != nil {
		*hc = *c.opts.HTTPClient
	}
	hc.Transport = rt
	if hc.Timeout <= 0 {
		hc.Timeout = c.opts.Timeout
	}
	return hc
}

// sdkConfig is the configuration every service client starts from.
func (c *Connector) sdkConfig(client *http.Client, region string) sdkaws.Config {
	cfg := sdkaws.Config{
		// AppID appears in the User-Agent, so the account's CloudTrail shows which calls
		// Evident made.
		AppID:       "evident",
		Region:      region,
		Credentials: sdkaws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(c.cfg.AccessKeyID, c.cfg.SecretAccessKey, c.cfg.SessionToken)),
		HTTPClient:  client,
		Retryer: func() sdkaws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = c.opts.MaxAttempts
				o.MaxBackoff = c.opts.MaxBackoff
			})
		},
	}
	if c.cfg.Endpoint != "" {
		cfg.BaseEndpoint = sdkaws.String(strings.TrimRight(c.cfg.Endpoint, "/"))
	}
	return cfg
}

// run is the state of one collection.
type run struct {
	cfg  Config
	opts Options
	base sdkaws.Config
	home string

	account   string // the 12-digit account ID
	partition string // "aws", "aws-cn", "aws-us-gov"
	regions   []string

	out  *connector.Collection
	seen map[string]bool // type + "\x00" + external ID, to drop duplicates
}

// regional returns a copy of the base configuration for a region.
func (r *run) regional(region string) sdkaws.Config {
	cfg := r.base.Copy()
	cfg.Region = region
	return cfg
}

func (r *run) iamClient() *iam.Client { return iam.NewFromConfig(r.base) }

func (r *run) s3Client(region string) *s3.Client {
	return s3.NewFromConfig(r.regional(region), func(o *s3.Options) { o.UsePathStyle = r.cfg.Endpoint != "" })
}

func (r *run) s3controlClient() *s3control.Client { return s3control.NewFromConfig(r.base) }

func (r *run) organizationsClient() *organizations.Client {
	return organizations.NewFromConfig(r.base)
}

func (r *run) accountClient() *account.Client { return account.NewFromConfig(r.base) }

func (r *run) ec2Client(region string) *ec2.Client { return ec2.NewFromConfig(r.regional(region)) }

func (r *run) rdsClient(region string) *rds.Client { return rds.NewFromConfig(r.regional(region)) }

func (r *run) cloudtrailClient(region string) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(r.regional(region))
}

func (r *run) kmsClient(region string) *kms.Client { return kms.NewFromConfig(r.regional(region)) }

func (r *run) guarddutyClient(region string) *guardduty.Client {
	return guardduty.NewFromConfig(r.regional(region))
}

func (r *run) configClient(region string) *configservice.Client {
	return configservice.NewFromConfig(r.regional(region))
}

func (r *run) collect(ctx context.Context) error {
	id, err := sts.NewFromConfig(r.base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("aws: check credentials: %w", err)
	}
	r.account = sdkaws.ToString(id.Account)
	r.partition = "aws"
	if parts := strings.SplitN(sdkaws.ToString(id.Arn), ":", 3); len(parts) == 3 && parts[1] != "" {
		r.partition = parts[1]
	}
	if r.regions, err = r.discoverRegions(ctx); err != nil {
		return err
	}

	steps := []func(context.Context) error{
		r.collectAccount,
		r.collectIAM,
		r.collectS3,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	for _, region := range r.regions {
		if err := r.collectRegion(ctx, region); err != nil {
			return err
		}
	}
	return nil
}

// discoverRegions returns the configured regions, or the regions enabled in the account.
func (r *run) discoverRegions(ctx context.Context) ([]string, error) {
	if len(r.cfg.Regions) > 0 {
		return r.cfg.Regions, nil
	}
	out, err := r.ec2Client(r.home).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, fmt.Errorf("aws: list enabled regions: %w", err)
	}
	var regions []string
	for _, reg := range out.Regions {
		if name := sdkaws.ToString(reg.RegionName); name != "" {
			regions = append(regions, name)
		}
	}
	if len(regions) == 0 {
		return nil, errors.New("aws: list enabled regions: the account reports none")
	}
	return regions, nil
}

// add appends a resource, dropping a repeat of the same type and external ID.
func (r *run) add(typ, id, name string, attrs map[string]any) {
	key := typ + "\x00" + id
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	if name == "" {
		name = id
	}
	r.out.Resources = append(r.out.Resources, monitor.Resource{Type: typ, ExternalID: id, Name: name, Attributes: attrs})
}

// fail records a partial failure of a resource type. It returns a non-nil error only
// when ctx has ended, which stops the run.
func (r *run) fail(ctx context.Context, typ, scope string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("aws: %w", ctxErr)
	}
	if scope != "" {
		err = fmt.Errorf("%s: %w", scope, err)
	}
	r.out.Fail(typ, err)
	return nil
}

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// isCode reports whether err is an AWS error with one of the codes.
func isCode(err error, codes ...string) bool {
	code := errorCode(err)
	for _, c := range codes {
		if code == c {
			return true
		}
	}
	return false
}

// arn builds an ARN in the run's partition.
func (r *run) arn(service, region, account, resource string) string {
	return "arn:" + r.partition + ":" + service + ":" + region + ":" + account + ":" + resource
}
