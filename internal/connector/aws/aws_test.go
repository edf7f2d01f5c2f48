package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

var update = flag.Bool("update", false, "rewrite testdata/collect.golden.json from the current output")

var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// newWorld starts a fake AWS holding the test account: two regions, four users over two
// pages, three buckets, and a credential report that is still being generated at the
// first check.
func newWorld(tb testing.TB) *fakeAWS {
	tb.Helper()
	f := newFakeAWS(tb)
	f.transient["iam/GenerateCredentialReport"] = []string{"iam/GenerateCredentialReport-started.xml"}
	return f
}

func testConfig(f *fakeAWS) Config {
	return Config{
		AccessKeyID:     testAccessKey,
		SecretAccessKey: testSecretKey,
		SessionToken:    testSessionToken,
		Regions:         []string{"us-east-1", "eu-west-1"},
		Endpoint:        f.srv.URL,
	}
}

func testOptions(f *fakeAWS) Options {
	return Options{
		HTTPClient:   f.client(),
		Now:          func() time.Time { return testNow },
		Timeout:      10 * time.Second,
		MaxBackoff:   time.Millisecond,
		PollInterval: time.Millisecond,
	}
}

func collect(tb testing.TB, f *fakeAWS, cfg Config) *connector.Collection {
	tb.Helper()
	c, err := New(cfg, testOptions(f))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	coll, err := c.Collect(context.Background())
	if err != nil {
		tb.Fatalf("Collect: %v", err)
	}
	return coll
}

// wantCounts is what the fixtures hold.
var wantCounts = map[string]int{
	"aws.account":                        1,
	"aws.iam.user":                       4,
	"aws.iam.root":                       1,
	"aws.iam.password_policy":            1,
	"aws.s3.account_public_access_block": 1,
	"aws.s3.bucket":                      3,
	"aws.ec2.ebs_encryption_default":     2,
	"aws.ec2.volume":                     3,
	"aws.ec2.security_group":             4,
	"aws.rds.instance":                   2,
	"aws.cloudtrail.trail":               2,
	"aws.kms.key":                        4,
	"aws.guardduty.detector":             2,
	"aws.config.recorder":                2,
}

func sortedResources(rs []monitor.Resource) []monitor.Resource {
	out := append([]monitor.Resource(nil), rs...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].ExternalID < out[j].ExternalID
	})
	return out
}

func TestCollect(t *testing.T) {
	f := newWorld(t)
	coll := collect(t, f, testConfig(f))

	if len(coll.Errors) != 0 {
		t.Errorf("Collect errors = %v; want none", coll.Errors)
	}
	if diff := cmp.Diff(wantCounts, coll.Counts()); diff != "" {
		t.Errorf("Counts() mismatch (-want +got):\n%s", diff)
	}
	for _, typ := range ResourceTypes() {
		if _, ok := wantCounts[typ]; !ok {
			t.Errorf("ResourceTypes() has %s, which the fixtures do not produce", typ)
		}
	}
	for i := range coll.Resources {
		r := &coll.Resources[i]
		if err := monitor.ValidateResource(r); err != nil {
			t.Errorf("ValidateResource(%s %s): %v", r.Type, r.ExternalID, err)
		}
	}

	got, err := json.MarshalIndent(sortedResources(coll.Resources), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "collect.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("resources differ from %s (-want +got):\n%s", golden, diff)
	}
}

// TestCollectPagination checks that every paginated list was read to its last page and
// that the credential report was polled until complete.
func TestCollectPagination(t *testing.T) {
	f := newWorld(t)
	collect(t, f, testConfig(f))
	tests := []struct {
		name, service, region, op string
		want                      int
	}{
		{"IAM users (Marker)", "iam", "", "ListUsers", 2},
		{"IAM authorization details (Marker)", "iam", "", "GetAccountAuthorizationDetails", 2},
		{"S3 buckets (ContinuationToken)", "s3", "", "ListBuckets", 2},
		{"EC2 volumes (NextToken)", "ec2", "us-east-1", "DescribeVolumes", 2},
		{"RDS instances (Marker)", "rds", "us-east-1", "DescribeDBInstances", 2},
		{"KMS keys (NextMarker)", "kms", "us-east-1", "ListKeys", 2},
		{"credential report polled", "iam", "", "GenerateCredentialReport", 2},
		{"one report download", "iam", "", "GetCredentialReport", 1},
		{"a trail seen from two regions is read once", "cloudtrail", "", "GetTrailStatus", 2},
		{"login profile only for a user missing from the report", "iam", "", "GetLoginProfile", 1},
		{"clusters listed once for Aurora members", "rds", "us-east-1", "DescribeDBClusters", 1},
		{"no clusters asked where no instance is in one", "rds", "eu-west-1", "DescribeDBClusters", 0},
		{"no rotation status for an asymmetric key", "kms", "us-east-1", "GetKeyRotationStatus", 2},
		{"no default EBS key where encryption by default is off", "ec2", "eu-west-1", "GetEbsDefaultKmsKeyId", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.count(tt.service, tt.region, tt.op); got != tt.want {
				t.Errorf("%s %s %s requests = %d; want %d", tt.service, tt.region, tt.op, got, tt.want)
			}
		})
	}
}

func find(tb testing.TB, coll *connector.Collection, typ, id string) monitor.Resource {
	tb.Helper()
	for _, r := range coll.Resources {
		if r.Type == typ && r.ExternalID == id {
			return r
		}
	}
	tb.Fatalf("no %s %q among %d resources", typ, id, len(coll.Resources))
	return monitor.Resource{}
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCollectAttributes spells out what the fixtures must turn into, attribute by
// attribute, for the cases each check depends on.
func TestCollectAttributes(t *testing.T) {
	f := newWorld(t)
	coll := collect(t, f, testConfig(f))
	const (
		alice = "arn:aws:iam::123456789012:user/alice"
		bob   = "arn:aws:iam::123456789012:user/bob"
		carol = "arn:aws:iam::123456789012:user/people/carol@example.com"
		bot   = "arn:aws:iam::123456789012:user/ci/deploy-bot"
	)
	tests := []struct {
		name     string
		typ, id  string
		attr     string
		want     any
		wantName string
	}{
		{"account alias names the account", "aws.account", testAccount, "alias", "acme-prod", "acme-prod"},
		{"account organization", "aws.account", testAccount, "organization_id", "o-a1b2c3d4e5", ""},
		{"account security contact", "aws.account", testAccount, "security_contact", true, ""},
		{"account regions", "aws.account", testAccount, "regions", []string{"us-east-1", "eu-west-1"}, ""},

		{"admin through a group", "aws.iam.user", alice, "is_admin", true, "alice"},
		{"email from an EMAIL tag", "aws.iam.user", alice, "email", "alice@example.com", ""},
		{"virtual MFA", "aws.iam.user", alice, "mfa_devices", []map[string]any{{"serial_number": "arn:aws:iam::123456789012:mfa/alice-phone", "kind": "virtual", "enabled_at": ts("2022-03-01T09:30:00Z")}}, ""},
		{"password last used from ListUsers", "aws.iam.user", alice, "password_last_used", ts("2024-05-30T08:15:00Z"), ""},
		{"password last changed from the report", "aws.iam.user", alice, "password_last_changed", ts("2024-01-05T10:00:00Z"), ""},
		{"group membership", "aws.iam.user", alice, "groups", []string{"Admins"}, ""},
		{"key last use", "aws.iam.user", alice, "access_keys", []map[string]any{{"id": "AKIAALICEKEY00000001", "status": "Active", "created_at": ts("2024-01-10T11:00:00Z"), "last_used_at": ts("2024-05-31T22:10:00Z"), "last_used_service": "s3"}}, ""},

		{"read-only user is not admin", "aws.iam.user", bob, "is_admin", false, "bob"},
		{"no console password", "aws.iam.user", bob, "console_access", false, ""},
		{"no MFA", "aws.iam.user", bob, "mfa_enabled", false, ""},
		{"a never-used key has no last use", "aws.iam.user", bob, "access_keys", []map[string]any{
			{"id": "AKIABOBKEY0000000001", "status": "Active", "created_at": ts("2021-06-01T08:00:00Z")},
			{"id": "AKIABOBKEY0000000002", "status": "Inactive", "created_at": ts("2020-02-01T08:00:00Z"), "last_used_at": ts("2020-03-01T12:00:00Z"), "last_used_service": "iam"},
		}, ""},
		{"managed policies attached directly", "aws.iam.user", bob, "attached_policies", []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}, ""},
		{"no email when neither tag nor name has one", "aws.iam.user", bob, "email", nil, ""},

		{"admin through a conditional inline policy", "aws.iam.user", carol, "is_admin", true, "carol@example.com"},
		{"inline policy names", "aws.iam.user", carol, "inline_policies", []string{"break-glass"}, ""},
		{"console access from the login profile when the report predates the user", "aws.iam.user", carol, "console_access", true, ""},
		{"password set date from the login profile", "aws.iam.user", carol, "password_last_changed", ts("2024-05-20T09:05:00Z"), ""},
		{"email from a user name that is one", "aws.iam.user", carol, "email", "carol@example.com", ""},
		{"FIDO security key", "aws.iam.user", carol, "mfa_devices", []map[string]any{{"serial_number": "arn:aws:iam::123456789012:u2f/user/carol@example.com/yubikey-EXAMPLEKEYID1234567890", "kind": "u2f", "enabled_at": ts("2024-05-20T09:20:00Z")}}, ""},

		{"only the default policy version counts", "aws.iam.user", bot, "is_admin", false, "deploy-bot"},
		{"email from an Email tag", "aws.iam.user", bot, "email", "ops@example.com", ""},
		{"hardware MFA", "aws.iam.user", bot, "mfa_devices", []map[string]any{{"serial_number": "GAHT12345678", "kind": "hardware", "enabled_at": ts("2023-11-21T08:00:00Z")}}, ""},
		{"tags", "aws.iam.user", bot, "tags", map[string]string{"Email": "ops@example.com"}, ""},

		{"root MFA", "aws.iam.root", "arn:aws:iam::123456789012:root", "mfa_enabled", true, "root (123456789012)"},
		{"root MFA without a virtual device is hardware", "aws.iam.root", "arn:aws:iam::123456789012:root", "hardware_mfa_enabled", true, ""},
		{"root keys", "aws.iam.root", "arn:aws:iam::123456789012:root", "access_keys_present", true, ""},
		{"root key last use", "aws.iam.root", "arn:aws:iam::123456789012:root", "access_key_last_used", ts("2023-08-01T06:30:00Z"), ""},
		{"root sign-in", "aws.iam.root", "arn:aws:iam::123456789012:root", "password_last_used", ts("2024-02-11T17:45:00Z"), ""},

		{"password policy present", "aws.iam.password_policy", testAccount, "present", true, ""},
		{"password length", "aws.iam.password_policy", testAccount, "minimum_length", int64(14), ""},
		{"password age", "aws.iam.password_policy", testAccount, "max_age_days", int64(90), ""},
		{"password reuse", "aws.iam.password_policy", testAccount, "reuse_prevention", int64(24), ""},

		{"account public access block", "aws.s3.account_public_access_block", testAccount, "restrict_public_buckets", false, ""},
		{"TLS-only bucket policy", "aws.s3.bucket", "arn:aws:s3:::acme-logs", "tls_only_policy", true, "acme-logs"},
		{"bucket block public access", "aws.s3.bucket", "arn:aws:s3:::acme-logs", "public_access_block", map[string]any{"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true}, ""},
		{"account setting repeated on the bucket", "aws.s3.bucket", "arn:aws:s3:::acme-logs", "account_public_access_block", map[string]any{"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": false}, ""},
		{"log delivery group is not public", "aws.s3.bucket", "arn:aws:s3:::acme-logs", "public_acl", false, ""},
		{"versioning on", "aws.s3.bucket", "arn:aws:s3:::acme-logs", "versioning_enabled", true, ""},
		{"bucket tags", "aws.s3.bucket", "arn:aws:s3:::acme-logs", "tags", map[string]string{"env": "prod", "data": "logs"}, ""},
		{"bucket region from ListBuckets", "aws.s3.bucket", "arn:aws:s3:::acme-data.eu", "region", "eu-west-1", "acme-data.eu"},
		{"SSE-KMS key", "aws.s3.bucket", "arn:aws:s3:::acme-data.eu", "kms_key_id", "arn:aws:kms:eu-west-1:123456789012:key/4d5e6f70-8192-43a4-b5c6-d7e8f90a1b2c", ""},
		{"no bucket public access block", "aws.s3.bucket", "arn:aws:s3:::acme-data.eu", "public_access_block", map[string]any{"block_public_acls": false, "ignore_public_acls": false, "block_public_policy": false, "restrict_public_buckets": false}, ""},
		{"no policy is not TLS-only", "aws.s3.bucket", "arn:aws:s3:::acme-data.eu", "tls_only_policy", false, ""},
		{"suspended versioning is off", "aws.s3.bucket", "arn:aws:s3:::acme-data.eu", "versioning_enabled", false, ""},
		{"access logging", "aws.s3.bucket", "arn:aws:s3:::acme-data.eu", "logging_enabled", true, ""},
		{"no tag set", "aws.s3.bucket", "arn:aws:s3:::acme-data.eu", "tags", map[string]string{}, ""},
		{"EU location constraint is eu-west-1", "aws.s3.bucket", "arn:aws:s3:::acme-public-site", "region", "eu-west-1", ""},
		{"AllUsers grant is public", "aws.s3.bucket", "arn:aws:s3:::acme-public-site", "public_acl", true, ""},
		{"public policy", "aws.s3.bucket", "arn:aws:s3:::acme-public-site", "public_policy", true, ""},
		{"a TLS deny on uploads only is not TLS-only", "aws.s3.bucket", "arn:aws:s3:::acme-public-site", "tls_only_policy", false, ""},

		{"EBS encryption by default", "aws.ec2.ebs_encryption_default", "123456789012/us-east-1", "kms_key_id", "arn:aws:kms:us-east-1:123456789012:key/1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", ""},
		{"EBS encryption off in one region", "aws.ec2.ebs_encryption_default", "123456789012/eu-west-1", "enabled", false, ""},
		{"unencrypted unattached volume", "aws.ec2.volume", "vol-0a1b2c3d4e5f60002", "attached_instances", []string{}, "vol-0a1b2c3d4e5f60002"},
		{"volume named by its Name tag", "aws.ec2.volume", "vol-0a1b2c3d4e5f60003", "size_gib", int64(500), "db-data"},
		{"one rule per range", "aws.ec2.security_group", "sg-0d1e2f3a4b5c60002", "ingress", []map[string]any{
			{"protocol": "tcp", "from_port": int64(443), "to_port": int64(443), "cidr": "0.0.0.0/0", "description": "HTTPS from anywhere"},
			{"protocol": "tcp", "from_port": int64(443), "to_port": int64(443), "cidr": "::/0", "description": "HTTPS from anywhere (IPv6)"},
			{"protocol": "tcp", "from_port": int64(22), "to_port": int64(22), "source": "sg-0d1e2f3a4b5c60009", "description": "SSH from bastion"},
		}, "web"},
		{"all traffic covers every port", "aws.ec2.security_group", "sg-0d1e2f3a4b5c60002", "egress", []map[string]any{{"protocol": "-1", "from_port": int64(0), "to_port": int64(65535), "cidr": "0.0.0.0/0"}}, ""},
		{"ICMP has no ports", "aws.ec2.security_group", "sg-0d1e2f3a4b5c60003", "ingress", []map[string]any{
			{"protocol": "tcp", "from_port": int64(3389), "to_port": int64(3389), "cidr": "0.0.0.0/0"},
			{"protocol": "icmp", "from_port": int64(0), "to_port": int64(65535), "cidr": "10.0.0.0/8", "description": "ping from the VPN"},
		}, ""},
		{"group without interfaces is unused", "aws.ec2.security_group", "sg-0d1e2f3a4b5c60003", "in_use", false, ""},
		{"default group in use", "aws.ec2.security_group", "sg-0d1e2f3a4b5c60001", "in_use", true, "default"},
		{"default group", "aws.ec2.security_group", "sg-0d1e2f3a4b5c60001", "is_default", true, ""},

		{"standalone instance backups", "aws.rds.instance", "arn:aws:rds:us-east-1:123456789012:db:orders-db", "backup_retention_days", int64(7), "orders-db"},
		{"Aurora backups from the cluster", "aws.rds.instance", "arn:aws:rds:us-east-1:123456789012:db:analytics-1", "backup_retention_days", int64(14), "analytics-1"},
		{"Aurora multi-AZ from the cluster", "aws.rds.instance", "arn:aws:rds:us-east-1:123456789012:db:analytics-1", "multi_az", true, ""},
		{"Aurora encryption from the cluster", "aws.rds.instance", "arn:aws:rds:us-east-1:123456789012:db:analytics-1", "storage_encrypted", true, ""},
		{"public instance", "aws.rds.instance", "arn:aws:rds:us-east-1:123456789012:db:analytics-1", "publicly_accessible", true, ""},
		{"cluster ID", "aws.rds.instance", "arn:aws:rds:us-east-1:123456789012:db:analytics-1", "cluster_id", "analytics", ""},

		{"trail logging", "aws.cloudtrail.trail", "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail", "logging", true, "org-trail"},
		{"management events from basic selectors", "aws.cloudtrail.trail", "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail", "management_events", true, ""},
		{"log group name from its ARN", "aws.cloudtrail.trail", "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail", "cloudwatch_log_group", "aws-cloudtrail-logs-org", ""},
		{"last delivery", "aws.cloudtrail.trail", "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail", "latest_delivery_at", time.Unix(1717199700, 123000000).UTC(), ""},
		{"read-only advanced selectors miss writes", "aws.cloudtrail.trail", "arn:aws:cloudtrail:eu-west-1:123456789012:trail/eu-audit", "management_events", false, "eu-audit"},
		{"stopped trail", "aws.cloudtrail.trail", "arn:aws:cloudtrail:eu-west-1:123456789012:trail/eu-audit", "logging", false, ""},
		{"trail home region", "aws.cloudtrail.trail", "arn:aws:cloudtrail:eu-west-1:123456789012:trail/eu-audit", "region", "eu-west-1", ""},

		{"key named by its alias", "aws.kms.key", "arn:aws:kms:us-east-1:123456789012:key/1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "rotation_period_days", int64(365), "alias/app-data"},
		{"AWS managed key", "aws.kms.key", "arn:aws:kms:us-east-1:123456789012:key/2a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809", "customer_managed", false, "alias/aws/ebs"},
		{"asymmetric key has no rotation", "aws.kms.key", "arn:aws:kms:us-east-1:123456789012:key/3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b", "rotation_enabled", false, "3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b"},
		{"rotation off", "aws.kms.key", "arn:aws:kms:eu-west-1:123456789012:key/4d5e6f70-8192-43a4-b5c6-d7e8f90a1b2c", "rotation_enabled", false, ""},
		{"no rotation period when rotation is off", "aws.kms.key", "arn:aws:kms:eu-west-1:123456789012:key/4d5e6f70-8192-43a4-b5c6-d7e8f90a1b2c", "rotation_period_days", nil, ""},

		{"GuardDuty enabled", "aws.guardduty.detector", "123456789012/us-east-1", "finding_publishing_frequency", "SIX_HOURS", "GuardDuty (us-east-1)"},
		{"no detector", "aws.guardduty.detector", "123456789012/eu-west-1", "enabled", false, ""},
		{"the account's recorder, not a service-linked one", "aws.config.recorder", "123456789012/us-east-1", "all_supported", true, "AWS Config (us-east-1)"},
		{"recording", "aws.config.recorder", "123456789012/us-east-1", "last_status", "SUCCESS", ""},
		{"no recorder", "aws.config.recorder", "123456789012/eu-west-1", "recording", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := find(t, coll, tt.typ, tt.id)
			got, present := r.Attributes[tt.attr]
			if tt.want == nil {
				if present {
					t.Errorf("%s %s: %s = %v; want absent", tt.typ, tt.id, tt.attr, got)
				}
			} else if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s: %s mismatch (-want +got):\n%s", tt.typ, tt.id, tt.attr, diff)
			}
			if tt.wantName != "" && r.Name != tt.wantName {
				t.Errorf("%s %s: name = %q; want %q", tt.typ, tt.id, r.Name, tt.wantName)
			}
		})
	}
}

// TestCollectRetries injects throttling and server errors before the normal answer: the
// SDK's retryer must go through them and the inventory must not change.
func TestCollectRetries(t *testing.T) {
	clean := newWorld(t)
	want := sortedResources(collect(t, clean, testConfig(clean)).Resources)

	tests := []struct {
		name, key string // key is SERVICE[/REGION]/OPERATION
		faults    []string
	}{
		{"IAM Throttling", "iam/ListUsers", []string{"errors/iam-throttling.400.xml"}},
		{"IAM throttled twice", "iam/GetAccountAuthorizationDetails", []string{"errors/iam-throttling.400.xml", "errors/iam-throttling.400.xml"}},
		{"IAM 500 ServiceFailure", "iam/GetAccountSummary", []string{"errors/iam-service-failure.500.xml"}},
		{"EC2 500 InternalError", "ec2/eu-west-1/DescribeSecurityGroups", []string{"errors/ec2-internal-error.500.xml"}},
		{"EC2 503 RequestLimitExceeded", "ec2/us-east-1/DescribeVolumes", []string{"errors/ec2-request-limit-exceeded.503.xml"}},
		{"RDS Throttling", "rds/us-east-1/DescribeDBInstances", []string{"errors/rds-throttling.400.xml"}},
		{"KMS ThrottlingException", "kms/us-east-1/ListKeys", []string{"errors/kms-throttling.400.json"}},
		{"S3 503 SlowDown", "s3/GetBucketPolicy", []string{"errors/s3-slow-down.503.xml"}},
		{"GuardDuty 500", "guardduty/us-east-1/ListDetectors", []string{"errors/guardduty-internal.500.json"}},
		{"Config ThrottlingException", "config/eu-west-1/DescribeConfigurationRecorders", []string{"errors/config-throttling.400.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorld(t)
			f.transient[tt.key] = tt.faults
			coll := collect(t, f, testConfig(f))
			if len(coll.Errors) != 0 {
				t.Errorf("Collect errors = %v; want none", coll.Errors)
			}
			if diff := cmp.Diff(want, sortedResources(coll.Resources)); diff != "" {
				t.Errorf("resources differ from a run without faults (-want +got):\n%s", diff)
			}
			parts := strings.Split(tt.key, "/")
			service, region, op := parts[0], "", parts[len(parts)-1]
			if len(parts) == 3 {
				region = parts[1]
			}
			if got, base := f.count(service, region, op), clean.count(service, region, op); got != base+len(tt.faults) {
				t.Errorf("%s requests = %d; want %d (%d + %d retried)", tt.key, got, base+len(tt.faults), base, len(tt.faults))
			}
			if len(f.transient[tt.key]) != 0 {
				t.Errorf("%s: %d faults never served", tt.key, len(f.transient[tt.key]))
			}
		})
	}
}

// TestCollectPartialFailures checks that a resource type that cannot be collected is
// reported and everything else is kept.
func TestCollectPartialFailures(t *testing.T) {
	tests := []struct {
		name      string
		override  map[string]string
		transient map[string][]string
		// wantErrors maps each failed type to a text its message must contain.
		wantErrors map[string][]string
		// wantCounts changes wantCounts for the types listed.
		wantCounts map[string]int
	}{
		{
			name:       "GuardDuty access denied in one region",
			override:   map[string]string{"guardduty/eu-west-1/ListDetectors": "errors/guardduty-access-denied.403.json"},
			wantErrors: map[string][]string{"aws.guardduty.detector": {"eu-west-1", "AccessDeniedException", "ListDetectors"}},
			wantCounts: map[string]int{"aws.guardduty.detector": 1},
		},
		{
			name:       "EC2 volumes denied in one region",
			override:   map[string]string{"ec2/us-east-1/DescribeVolumes": "errors/ec2-unauthorized.403.xml"},
			wantErrors: map[string][]string{"aws.ec2.volume": {"us-east-1", "UnauthorizedOperation"}},
			wantCounts: map[string]int{"aws.ec2.volume": 0},
		},
		{
			name:       "IAM authorization details denied",
			override:   map[string]string{"iam/GetAccountAuthorizationDetails": "errors/iam-access-denied.403.xml"},
			wantErrors: map[string][]string{"aws.iam.user": {"AccessDenied", "GetAccountAuthorizationDetails"}},
			wantCounts: map[string]int{"aws.iam.user": 0},
		},
		{
			name:     "credential report denied",
			override: map[string]string{"iam/GenerateCredentialReport": "errors/iam-access-denied.403.xml"},
			wantErrors: map[string][]string{
				"aws.iam.user": {"generate credential report", "AccessDenied"},
				"aws.iam.root": {"generate credential report", "AccessDenied"},
			},
		},
		{
			name:     "S3 Control denied",
			override: map[string]string{"s3control/GetPublicAccessBlock": "errors/s3control-access-denied.403.xml"},
			wantErrors: map[string][]string{
				"aws.s3.account_public_access_block": {"AccessDenied"},
				"aws.s3.bucket":                      {"account public access block", "AccessDenied"},
			},
			wantCounts: map[string]int{"aws.s3.account_public_access_block": 0, "aws.s3.bucket": 0},
		},
		{
			name: "retries run out",
			transient: map[string][]string{"kms/us-east-1/ListKeys": {
				"errors/kms-throttling.400.json", "errors/kms-throttling.400.json", "errors/kms-throttling.400.json",
				"errors/kms-throttling.400.json", "errors/kms-throttling.400.json",
			}},
			wantErrors: map[string][]string{"aws.kms.key": {"us-east-1", "ThrottlingException", "exceeded maximum number of attempts, 5"}},
			wantCounts: map[string]int{"aws.kms.key": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorld(t)
			for k, v := range tt.override {
				f.override[k] = v
			}
			for k, v := range tt.transient {
				f.transient[k] = v
			}
			coll := collect(t, f, testConfig(f))

			failed := map[string]string{}
			for _, e := range coll.Errors {
				if _, dup := failed[e.Type]; dup {
					t.Errorf("type %s failed twice: %q", e.Type, e.Message)
				}
				failed[e.Type] = e.Message
			}
			for typ, texts := range tt.wantErrors {
				msg, ok := failed[typ]
				if !ok {
					t.Errorf("no error for %s; errors = %v", typ, coll.Errors)
					continue
				}
				for _, text := range texts {
					if !strings.Contains(msg, text) {
						t.Errorf("error for %s = %q; want it to contain %q", typ, msg, text)
					}
				}
				delete(failed, typ)
			}
			if len(failed) > 0 {
				t.Errorf("unexpected errors: %v", failed)
			}

			want := map[string]int{}
			for k, v := range wantCounts {
				want[k] = v
			}
			for k, v := range tt.wantCounts {
				if v == 0 {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			if diff := cmp.Diff(want, coll.Counts()); diff != "" {
				t.Errorf("Counts() mismatch (-want +got):\n%s", diff)
			}
			for i := range coll.Resources {
				if err := monitor.ValidateResource(&coll.Resources[i]); err != nil {
					t.Errorf("ValidateResource(%s %s): %v", coll.Resources[i].Type, coll.Resources[i].ExternalID, err)
				}
			}
		})
	}
}

// TestCollectTimeout checks that a service that never answers costs its own resource
// type after the configured attempts, and nothing else.
func TestCollectTimeout(t *testing.T) {
	f := newWorld(t)
	f.hang["guardduty/eu-west-1/ListDetectors"] = true
	opts := testOptions(f)
	opts.Timeout = time.Second
	opts.MaxAttempts = 2
	c, err := New(testConfig(f), opts)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := c.Collect(context.Background())
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(coll.Errors) != 1 || coll.Errors[0].Type != "aws.guardduty.detector" || !strings.Contains(coll.Errors[0].Message, "eu-west-1") {
		t.Errorf("Collect errors = %v; want one for aws.guardduty.detector in eu-west-1", coll.Errors)
	}
	if got := f.count("guardduty", "eu-west-1", "ListDetectors"); got != 2 {
		t.Errorf("ListDetectors requests = %d; want 2 attempts", got)
	}
	if got, want := coll.Counts()["aws.iam.user"], wantCounts["aws.iam.user"]; got != want {
		t.Errorf("%d users; want %d", got, want)
	}
}

// TestCollectUnsetSettings checks settings an account may simply not have: they are
// reported as such, not as failures.
func TestCollectUnsetSettings(t *testing.T) {
	f := newWorld(t)
	f.override["iam/GetAccountPasswordPolicy"] = "errors/iam-no-password-policy.404.xml"
	f.override["organizations/DescribeOrganization"] = "errors/organizations-not-in-use.400.json"
	f.override["account/GetAlternateContact"] = "errors/account-no-security-contact.404.json"
	coll := collect(t, f, testConfig(f))
	if len(coll.Errors) != 0 {
		t.Errorf("Collect errors = %v; want none", coll.Errors)
	}
	policy := find(t, coll, "aws.iam.password_policy", testAccount)
	wantPolicy := map[string]any{
		"account_id": testAccount, "present": false, "minimum_length": int64(8),
		"require_uppercase": false, "require_lowercase": false, "require_numbers": false, "require_symbols": false,
		"max_age_days": int64(0), "reuse_prevention": int64(0), "allow_users_to_change": false, "hard_expiry": false,
	}
	if diff := cmp.Diff(wantPolicy, policy.Attributes); diff != "" {
		t.Errorf("password policy without a custom policy (-want +got):\n%s", diff)
	}
	acct := find(t, coll, "aws.account", testAccount)
	if _, ok := acct.Attributes["organization_id"]; ok {
		t.Errorf("account organization_id = %v; want absent outside an organization", acct.Attributes["organization_id"])
	}
	if got := acct.Attributes["security_contact"]; got != false {
		t.Errorf("account security_contact = %v; want false", got)
	}
	for _, r := range []monitor.Resource{policy, acct} {
		if err := monitor.ValidateResource(&r); err != nil {
			t.Errorf("ValidateResource(%s): %v", r.Type, err)
		}
	}
}

func TestCollectDiscoversRegions(t *testing.T) {
	f := newWorld(t)
	cfg := testConfig(f)
	cfg.Regions = nil
	coll := collect(t, f, cfg)
	if len(coll.Errors) != 0 {
		t.Errorf("Collect errors = %v; want none", coll.Errors)
	}
	if got := f.count("ec2", "us-east-1", "DescribeRegions"); got != 1 {
		t.Errorf("DescribeRegions requests = %d; want 1", got)
	}
	acct := find(t, coll, "aws.account", testAccount)
	if diff := cmp.Diff([]string{"us-east-1", "eu-west-1"}, acct.Attributes["regions"]); diff != "" {
		t.Errorf("discovered regions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCounts, coll.Counts()); diff != "" {
		t.Errorf("Counts() mismatch (-want +got):\n%s", diff)
	}
}

func TestCollectAssumesRole(t *testing.T) {
	f := newWorld(t)
	f.key = assumedAccessKey
	cfg := testConfig(f)
	cfg.RoleARN = "arn:aws:iam::123456789012:role/EvidentAudit"
	cfg.ExternalID = "evident-test-external-id"
	coll := collect(t, f, cfg)
	if len(coll.Errors) != 0 {
		t.Errorf("Collect errors = %v; want none", coll.Errors)
	}
	if diff := cmp.Diff(wantCounts, coll.Counts()); diff != "" {
		t.Errorf("Counts() mismatch (-want +got):\n%s", diff)
	}
	if got := f.count("sts", "", "AssumeRole"); got != 1 {
		t.Errorf("AssumeRole requests = %d; want 1", got)
	}
	for _, r := range f.seen() {
		want := assumedAccessKey
		if r.Operation == "AssumeRole" {
			want = testAccessKey
		}
		if r.AccessKey != want {
			t.Errorf("%s %s signed with %s; want %s", r.Service, r.Operation, r.AccessKey, want)
		}
	}
	// The temporary credentials STS returns must not become evidence.
	for _, x := range coll.Raw {
		for _, secret := range []string{assumedSecretKey, assumedTokenValue} {
			if bytes.Contains(x.Response, []byte(secret)) {
				t.Errorf("exchange %s %s records the assumed role's credentials", x.Method, x.URL)
			}
		}
	}
}

func TestCollectFatal(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*fakeAWS, *Config)
		ctx     func() context.Context
		wantErr string
		wantIs  error
	}{
		{
			name:    "credentials rejected",
			setup:   func(f *fakeAWS, _ *Config) { f.key = "AKIASOMEONEELSE00001" },
			wantErr: "InvalidClientTokenId",
		},
		{
			name: "enabled regions cannot be listed",
			setup: func(f *fakeAWS, cfg *Config) {
				cfg.Regions = nil
				f.override["ec2/us-east-1/DescribeRegions"] = "errors/ec2-unauthorized.403.xml"
			},
			wantErr: "list enabled regions",
		},
		{
			name: "context cancelled",
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			wantIs: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorld(t)
			cfg := testConfig(f)
			if tt.setup != nil {
				tt.setup(f, &cfg)
			}
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			c, err := New(cfg, testOptions(f))
			if err != nil {
				t.Fatal(err)
			}
			coll, err := c.Collect(ctx)
			if err == nil {
				t.Fatalf("Collect = %d resources, %v; want an error", len(coll.Resources), coll.Errors)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Collect error = %q; want it to contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Collect error = %v; want errors.Is %v", err, tt.wantIs)
			}
		})
	}
}

// TestCollectRecordsExchanges checks the raw evidence: one exchange per HTTP response,
// throttled attempts included, with nothing secret in it.
func TestCollectRecordsExchanges(t *testing.T) {
	f := newWorld(t)
	f.transient["iam/ListUsers"] = []string{"errors/iam-throttling.400.xml"}
	coll := collect(t, f, testConfig(f))

	if got, want := len(coll.Raw), len(f.seen()); got != want {
		t.Errorf("recorded %d exchanges; the server answered %d requests", got, want)
	}
	t.Logf("%d exchanges recorded", len(coll.Raw))
	secrets := []string{testSecretKey, testSessionToken, "X-Amz-Signature", "X-Amz-Credential", "Signature=", testAccessKey}
	var throttled, users bool
	for _, x := range coll.Raw {
		if !x.At.Equal(testNow) {
			t.Errorf("exchange %s at %v; want %v", x.URL, x.At, testNow)
		}
		if x.Method == "" || x.URL == "" || x.Status == 0 {
			t.Errorf("incomplete exchange %+v", x)
		}
		for _, s := range secrets {
			if strings.Contains(x.URL, s) || bytes.Contains(x.Response, []byte(s)) {
				t.Errorf("exchange %s %s contains %q", x.Method, x.URL, s)
			}
		}
		if x.Status == 400 && bytes.Contains(x.Response, []byte("<Code>Throttling</Code>")) {
			throttled = true
		}
		if x.Status == 200 && bytes.Contains(x.Response, []byte("<ListUsersResponse")) {
			users = true
		}
	}
	if !throttled {
		t.Error("the throttled attempt was not recorded")
	}
	// Each exchange names the operation the server saw, as SERVICE:Operation with the
	// service's IAM prefix; requests run concurrently, so the order may differ.
	var want, got []string
	for _, r := range f.seen() {
		want = append(want, r.Service+":"+r.Operation)
	}
	for _, x := range coll.Raw {
		got = append(got, x.Operation)
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exchanges' operations (-as the server saw them +as recorded):\n%s", diff)
	}
	for _, op := range []string{"iam:ListUsers", "sts:GetCallerIdentity", "s3:GetBucketEncryption", "s3control:GetPublicAccessBlock", "config:DescribeConfigurationRecorders"} {
		if !slices.Contains(got, op) {
			t.Errorf("no exchange of %s in %v", op, got)
		}
	}
	if !users {
		t.Error("no ListUsers response recorded")
	}
}

func TestConfigValidate(t *testing.T) {
	valid := Config{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret", Regions: []string{"eu-west-1", "us-gov-west-1", "ap-southeast-5"}}
	tests := []struct {
		name      string
		change    func(*Config)
		wantField string // "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"all regions", func(c *Config) { c.Regions = nil }, ""},
		{"endpoint", func(c *Config) { c.Endpoint = "http://localhost:4566" }, ""},
		{"role", func(c *Config) {
			c.RoleARN, c.ExternalID = "arn:aws:iam::123456789012:role/path/EvidentAudit", "x-1"
		}, ""},
		{"missing access key", func(c *Config) { c.AccessKeyID = " " }, "access_key_id"},
		{"access key with a space", func(c *Config) { c.AccessKeyID = "AKIA EXAMPLE" }, "access_key_id"},
		{"missing secret", func(c *Config) { c.SecretAccessKey = "" }, "secret_access_key"},
		{"bad region", func(c *Config) { c.Regions = []string{"eu-west-1", "Europe"} }, "regions[1]"},
		{"duplicate region", func(c *Config) { c.Regions = []string{"eu-west-1", "eu-west-1"} }, "regions[1]"},
		{"endpoint without scheme", func(c *Config) { c.Endpoint = "localhost:4566" }, "endpoint"},
		{"endpoint with credentials", func(c *Config) { c.Endpoint = "https://user:pw@example.com" }, "endpoint"},
		{"not a role ARN", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:user/alice" }, "role_arn"},
		{"external ID without a role", func(c *Config) { c.ExternalID = "x" }, "external_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			c.Regions = append([]string(nil), valid.Regions...)
			tt.change(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				if _, err := New(c, Options{}); err != nil {
					t.Errorf("New() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil; want an error naming %s", tt.wantField)
			}
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != tt.wantField {
				t.Errorf("Validate() = %v (kind %v, field %q); want an invalid-field error naming %s", err, domain.KindOf(err), domain.FieldOf(err), tt.wantField)
			}
			if _, err := New(c, Options{}); err == nil {
				t.Errorf("New() accepted a configuration Validate rejects")
			}
		})
	}
}

func TestConfigJSONAndRedacted(t *testing.T) {
	c := Config{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG", SessionToken: "tok", Regions: []string{"eu-west-1"}, RoleARN: "arn:aws:iam::123456789012:role/R"}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	r := c.Redacted()
	want := Config{AccessKeyID: "****************MPLE", SecretAccessKey: "REDACTED", SessionToken: "REDACTED", Regions: []string{"eu-west-1"}, RoleARN: "arn:aws:iam::123456789012:role/R"}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("Redacted() (-want +got):\n%s", diff)
	}
	if c.SecretAccessKey != "wJalrXUtnFEMI/K7MDENG" {
		t.Error("Redacted() changed the original")
	}
}

func TestKind(t *testing.T) {
	c, err := New(Config{AccessKeyID: "a", SecretAccessKey: "b"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Kind(); got != "aws" {
		t.Errorf("Kind() = %q; want %q", got, "aws")
	}
}
