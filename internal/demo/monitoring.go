package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/importer"
	"github.com/evidenthq/evident/internal/monitor"
)

// The demonstration's continuous monitoring: a connection to each of Acme's AWS account,
// GitHub organization, Okta and Google Workspace, the resources they report, the HR roster
// imported as People Operations would, and two runs of the shipped test library over
// them. Most tests pass; a handful fail as a company part way through readiness would
// find them (SSH open to the internet on a forgotten bastion, a deploy key never rotated,
// an unencrypted volume from before encryption by default, a hotfix merged without
// review, a leaver still in GitHub and AWS); one failure was fixed between the runs, and
// one is accepted by an exception.
//
// The connections are paused: the scheduler never runs them, and they point at a closed
// port on this machine, so that even a run asked for by hand fails at once rather than
// sending placeholder credentials to AWS, GitHub, Okta or Google. Their resources arrive
// as a connector's do, through a claimed connection run.

// The names of the demonstration's connections.
const (
	AWSConnection    = "AWS acme-prod"
	GitHubConnection = "GitHub acme-cloud"
	OktaConnection   = "Okta acme"
	GoogleConnection = "Google Workspace acme.example"
)

// HRSource is the source the HR roster is imported under, as `evident import hr` does.
const HRSource = "import:hr"

// unreachable is where the demonstration's connections point: a closed port on this
// machine (port 9, discard), so that a run asked for by hand fails at once.
const unreachable = "https://127.0.0.1:9"

// seedOwner names the seed in the claims of the connection runs it records.
const seedOwner = "evident-demo-seed"

// Tests the demonstration's monitoring fails, recovers and excepts.
var (
	// FailingTests are the tests that fail after the seed, each on the resources named by
	// their external IDs.
	FailingTests = map[string][]string{
		"aws-sg-no-public-ssh":                 {awsSG("legacy-bastion")},
		"aws-iam-access-keys-rotated":          {awsUserARN("ci-deploy")},
		"aws-ebs-volume-encrypted":             {awsVolume("reporting-scratch")},
		"aws-s3-bucket-access-logging":         {"arn:aws:s3:::acme-s3-access-logs"},
		"aws-iam-root-hardware-mfa":            {"arn:aws:iam::" + awsAccount + ":root"},
		"github-pr-approved-by-other":          {"acme-cloud/infrastructure#231"},
		"github-default-branch-enforce-admins": {"acme-cloud/infrastructure"},
		"hr-terminated-github-removed":         {"E1013"},
		"hr-terminated-aws-access-removed":     {"E1013"},
	}
	// RecoveredTest failed in the first run and passes in the second: EBS encryption by
	// default was turned on in us-west-2 in between.
	RecoveredTest = "aws-ebs-default-encryption"
	// ExceptedTest fails only on a resource accepted by an exception: the Okta service
	// account of the HR system's integration, which is on no HR roster.
	ExceptedTest = "okta-user-on-roster"
	// ExceptedResource is the resource ExceptedTest accepts.
	ExceptedResource = oktaID(serviceAccount)
)

// serviceAccount is the Okta account that owns the HR system's API token.
const serviceAccount = "hris-provisioning@acme.example"

// exceptionJustification says why the service account is accepted.
const exceptionJustification = serviceAccount + " owns the Okta API token the HR system uses to create, update and " +
	"deactivate accounts when People Operations changes the roster; Okta ties every API token to a user. It belongs " +
	"to no person, so it is on no HR roster. It holds only the User Administrator role, signs in with a security key " +
	"kept in the IT safe, and its token is rotated every 90 days. Priya Raman reviews its activity monthly; revisit " +
	"when the HR system moves to OAuth service apps."

// seedMonitoring creates the connections the organization does not have by name, then
// records whichever of the two runs is missing. The number of test runs says how far an
// earlier seed got, so a second seed adds nothing and a seed cut short is finished.
func seedMonitoring(ctx context.Context, st domain.Store, svc *collect.Service, orgID int64, ids map[string]int64, now time.Time) error {
	if svc.Store == nil || svc.Sealer == nil {
		return fmt.Errorf("demo monitoring: the monitoring service needs a store and a credential key")
	}
	conns, err := seedConnections(ctx, svc, orgID, ids)
	if err != nil {
		return err
	}
	runs, err := st.TestRuns(ctx, orgID, domain.TestRunFilter{Limit: 2})
	if err != nil {
		return fmt.Errorf("demo test runs: %w", err)
	}
	inv := newInventory(now)
	if len(runs) == 0 {
		if err := recordRuns(ctx, svc, orgID, conns, inv, 1); err != nil {
			return err
		}
		// Importing the roster judges the inventory: the first test run.
		lenaActor := domain.Actor{UserID: ids[lena], Email: lena}
		first := &collect.Service{Store: svc.Store, Now: func() time.Time { return now }, Logger: svc.Logger}
		if _, _, err := first.PushResources(ctx, lenaActor, orgID, HRSource, inv.roster(), true); err != nil {
			return fmt.Errorf("demo HR roster: %w", err)
		}
	}
	if len(runs) >= 2 {
		return nil
	}
	exc, err := seedException(ctx, svc.Store, orgID, ids, now)
	if err != nil {
		return err
	}
	if err := recordRuns(ctx, svc, orgID, conns, inv, 2); err != nil {
		return err
	}
	// The second run is judged once the exception is in force.
	at := now
	if exc.CreatedAt.After(at) {
		at = exc.CreatedAt
	}
	second := &collect.Service{Store: svc.Store, Now: func() time.Time { return at }, Logger: svc.Logger}
	if _, err := second.RunTests(ctx, orgID); err != nil {
		return fmt.Errorf("demo test run: %w", err)
	}
	return nil
}

// connectionPlan is one of the demonstration's connections.
type connectionPlan struct {
	kind, name string
	by         string // who set it up
	interval   time.Duration
	config     func() (any, error)
	resources  func(inv *inventory, run int) []monitor.Resource
}

var connectionPlans = []connectionPlan{
	{kind: "aws", name: AWSConnection, by: sam, interval: time.Hour, config: func() (any, error) {
		return map[string]any{
			"access_key_id": "AKIADEMOPLACEHOLDER1", "secret_access_key": "demo-placeholder-not-a-credential",
			"regions": []string{"us-east-1", "us-west-2"}, "endpoint": unreachable,
		}, nil
	}, resources: (*inventory).aws},
	{kind: "github", name: GitHubConnection, by: tom, interval: time.Hour, config: func() (any, error) {
		return map[string]any{"token": "demo-placeholder-not-a-token", "organization": "acme-cloud", "base_url": unreachable}, nil
	}, resources: (*inventory).github},
	{kind: "okta", name: OktaConnection, by: priya, interval: time.Hour, config: func() (any, error) {
		return map[string]any{"org_url": unreachable, "api_token": "demo-placeholder-not-a-token"}, nil
	}, resources: (*inventory).okta},
	{kind: "google", name: GoogleConnection, by: priya, interval: 6 * time.Hour, config: googleConfig, resources: (*inventory).google},
}

// googleConfig is a Google connection's configuration with a service account key made for
// the demonstration, which no Google project knows.
func googleConfig() (any, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	key, err := json.Marshal(map[string]string{
		"type":         "service_account",
		"client_email": "evident-demo@acme-demo.iam.gserviceaccount.com",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":    unreachable + "/token",
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"credentials": string(key), "subject": "priya.raman@acme.example", "endpoint": unreachable}, nil
}

// seedConnections creates the connections the organization does not have by name, paused,
// and returns them all in plan order.
func seedConnections(ctx context.Context, svc *collect.Service, orgID int64, ids map[string]int64) ([]*domain.Connection, error) {
	out := make([]*domain.Connection, 0, len(connectionPlans))
	for _, p := range connectionPlans {
		c, err := svc.Store.ConnectionByName(ctx, orgID, p.name)
		if domain.IsNotFound(err) {
			var cfg any
			if cfg, err = p.config(); err != nil {
				return nil, fmt.Errorf("demo connection %s: %w", p.name, err)
			}
			var raw []byte
			if raw, err = json.Marshal(cfg); err != nil {
				return nil, fmt.Errorf("demo connection %s: %w", p.name, err)
			}
			actor := domain.Actor{UserID: ids[p.by], Email: p.by}
			c, err = svc.CreateConnection(ctx, actor, orgID, collect.ConnectionInput{
				Kind: p.kind, Name: p.name, Interval: p.interval, Disabled: true, Config: raw,
			})
			clear(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("demo connection %s: %w", p.name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// recordRuns records a run of each connection with what it reports in the given run (1
// or 2), as the runner records a connector's collection.
func recordRuns(ctx context.Context, svc *collect.Service, orgID int64, conns []*domain.Connection, inv *inventory, run int) error {
	for i, p := range connectionPlans {
		c := conns[i]
		rs := p.resources(inv, run)
		started, err := svc.Store.ClaimConnection(ctx, orgID, c.ID, seedOwner, time.Minute)
		if err != nil {
			return fmt.Errorf("demo run of %s: %w", c.Name, err)
		}
		col := connector.Collection{Resources: rs}
		out := domain.RunOutcome{RunID: started.ID, OrgID: orgID, Owner: seedOwner, Status: domain.RunSucceeded, Counts: col.Counts()}
		if _, err := svc.Store.FinishConnectionRun(ctx, out, rs); err != nil {
			return fmt.Errorf("demo run of %s: %w", c.Name, err)
		}
	}
	return nil
}

// seedException accepts the SCIM service account's failure of ExceptedTest, approved by
// the IT lead for six months, unless an exception for it exists already.
func seedException(ctx context.Context, st collect.Store, orgID int64, ids map[string]int64, now time.Time) (*domain.Exception, error) {
	have, err := st.Exceptions(ctx, orgID, domain.ExceptionFilter{TestID: ExceptedTest, ExternalID: ExceptedResource, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("demo exception: %w", err)
	}
	if len(have) > 0 {
		return &have[0], nil
	}
	e := &domain.Exception{
		OrgID: orgID, TestID: ExceptedTest, ExternalID: ExceptedResource, Justification: exceptionJustification,
		ApproverID: ids[priya], ExpiresAt: domain.DateOf(now).AddDate(0, 6, 0),
	}
	if err := st.CreateException(ctx, domain.Actor{UserID: ids[maya], Email: maya}, e); err != nil {
		return nil, fmt.Errorf("demo exception: %w", err)
	}
	return e, nil
}

// ---- The inventory -------------------------------------------------------------------

// awsAccount is Acme's production account.
const awsAccount = "481726390215"

// inventory builds the demonstration's resources, with times relative to now.
type inventory struct {
	now time.Time
	day time.Time // midnight UTC of now
}

func newInventory(now time.Time) *inventory {
	now = now.UTC().Truncate(time.Second)
	return &inventory{now: now, day: domain.DateOf(now)}
}

// daysAgo is a time of day d days before today.
func (inv *inventory) daysAgo(d, hour, minute int) time.Time {
	return inv.day.AddDate(0, 0, -d).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

// minutesAgo is a time minutes before now.
func (inv *inventory) minutesAgo(m int) time.Time {
	return inv.now.Add(-time.Duration(m) * time.Minute)
}

// hexID is a stable hexadecimal identifier of n digits derived from seed.
func hexID(seed string, n int) string {
	sum := sha256.Sum256([]byte("evident-demo/" + seed))
	return hex.EncodeToString(sum[:])[:n]
}

// digitsID is a stable decimal identifier of n digits derived from seed.
func digitsID(seed string, n int) string {
	sum := sha256.Sum256([]byte("evident-demo/" + seed))
	s := new(big.Int).SetBytes(sum[:]).String()
	return "1" + s[:n-1]
}

// keyID is a stable KMS key ID (a UUID) derived from seed.
func keyID(seed string) string {
	h := hexID(seed, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func awsUserARN(name string) string { return "arn:aws:iam::" + awsAccount + ":user/" + name }
func awsSG(name string) string      { return "sg-0" + hexID("sg/"+name, 16) }
func awsVolume(name string) string  { return "vol-0" + hexID("vol/"+name, 16) }
func awsKeyARN(region, alias string) string {
	return "arn:aws:kms:" + region + ":" + awsAccount + ":key/" + keyID(region+"/"+alias)
}
func accessKeyID(seed string) string { return "AKIA" + strings.ToUpper(hexID("key/"+seed, 16)) }
func oktaID(login string) string     { return "00u" + hexID("okta/"+login, 17) }
func googleID(email string) string   { return digitsID("google/"+email, 21) }

// person is someone on Acme's HR roster and the accounts they have.
type person struct {
	id, name, email, title, department, manager, employment string
	start                                                   int // days ago; negative: starts in the future
	left                                                    int // days ago; 0: still employed
	github                                                  string
	githubAdmin                                             bool
	oktaRoles                                               []string
	googleAdmin                                             bool
	// leftAccounts says which accounts of a leaver are still active.
	leftAccounts []string
}

// roster is Acme's HR roster. Ethan Brooks left twelve days ago: Okta and Google were
// closed, but his GitHub membership and his old IAM user were missed. Nora Walsh left long
// ago and was offboarded everywhere; Felix Novak starts next week.
var roster = []person{
	{id: "E1001", name: "Olivia Grant", email: "olivia.grant@acme.example", title: "Chief Executive Officer", department: "Executive", employment: "full_time", start: 1900},
	{id: "E1002", name: "Daniel Okafor", email: daniel, title: "Chief Technology Officer", department: "Engineering", manager: "olivia.grant@acme.example", employment: "full_time", start: 1890, github: "dokafor", githubAdmin: true},
	{id: "E1003", name: "Maya Chen", email: maya, title: "Head of Security and Compliance", department: "Security", manager: "olivia.grant@acme.example", employment: "full_time", start: 1400, oktaRoles: []string{"READ_ONLY_ADMIN"}},
	{id: "E1004", name: "Priya Raman", email: priya, title: "IT and Identity Lead", department: "IT", manager: daniel, employment: "full_time", start: 1300, github: "praman", githubAdmin: true, oktaRoles: []string{"SUPER_ADMIN"}, googleAdmin: true},
	{id: "E1005", name: "Sam Rivera", email: sam, title: "Staff Platform Engineer", department: "Engineering", manager: daniel, employment: "full_time", start: 1250, github: "srivera", githubAdmin: true},
	{id: "E1006", name: "Tom Becker", email: tom, title: "Engineering Manager, Application", department: "Engineering", manager: daniel, employment: "full_time", start: 1100, github: "tbecker"},
	{id: "E1007", name: "Lena Fischer", email: lena, title: "People Operations Manager", department: "People", manager: "olivia.grant@acme.example", employment: "full_time", start: 980},
	{id: "E1008", name: "Aisha Khan", email: "aisha.khan@acme.example", title: "Senior Software Engineer", department: "Engineering", manager: tom, employment: "full_time", start: 800, github: "akhan"},
	{id: "E1009", name: "Marco Rossi", email: "marco.rossi@acme.example", title: "Software Engineer", department: "Engineering", manager: tom, employment: "full_time", start: 520, github: "mrossi"},
	{id: "E1010", name: "Grace Liu", email: "grace.liu@acme.example", title: "Site Reliability Engineer", department: "Engineering", manager: sam, employment: "full_time", start: 430, github: "gliu"},
	{id: "E1011", name: "Hana Sato", email: "hana.sato@acme.example", title: "Product Designer", department: "Product", manager: daniel, employment: "full_time", start: 610},
	{id: "E1012", name: "Lucas Meyer", email: "lucas.meyer@acme.example", title: "Customer Success Manager", department: "Customer Success", manager: "olivia.grant@acme.example", employment: "full_time", start: 700},
	{id: "E1013", name: "Ethan Brooks", email: "ethan.brooks@acme.example", title: "Senior Software Engineer", department: "Engineering", manager: tom, employment: "full_time", start: 1020, left: 12, github: "ebrooks", leftAccounts: []string{"github", "aws"}},
	{id: "E1014", name: "Nora Walsh", email: "nora.walsh@acme.example", title: "Account Executive", department: "Sales", manager: "olivia.grant@acme.example", employment: "full_time", start: 900, left: 210},
	{id: "E1015", name: "Jordan Lee", email: "jordan.lee@acme.example", title: "Frontend Engineer (contract)", department: "Engineering", manager: tom, employment: "contractor", start: 150},
	{id: "E1016", name: "Felix Novak", email: "felix.novak@acme.example", title: "Software Engineer", department: "Engineering", manager: tom, employment: "full_time", start: -5},
}

// keeps reports whether a leaver's account in a system is still active.
func (p *person) keeps(system string) bool { return slices.Contains(p.leftAccounts, system) }

// roster returns the HR roster as the HR importer reads it from the CSV People Operations
// exports.
func (inv *inventory) roster() []monitor.Resource {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"Employee ID", "Name", "Work Email", "Start Date", "End Date", "Manager", "Department", "Employment Type", "Job Title"})
	for _, p := range roster {
		end := ""
		if p.left > 0 {
			end = inv.day.AddDate(0, 0, -p.left).Format(time.DateOnly)
		}
		w.Write([]string{p.id, p.name, p.email, inv.day.AddDate(0, 0, -p.start).Format(time.DateOnly), end, p.manager,
			p.department, p.employment, p.title})
	}
	w.Flush()
	var out []monitor.Resource
	im := importer.Importer{Connection: HRSource, Now: func() time.Time { return inv.now }}
	if _, err := im.Import(context.Background(), "hr", &b, func(r monitor.Resource) error {
		out = append(out, r)
		return nil
	}); err != nil {
		// The roster above is fixed; the package's tests import it.
		panic("demo: the HR roster does not import: " + err.Error())
	}
	return out
}

func res(typ, id, name string, attrs map[string]any) monitor.Resource {
	return monitor.Resource{Type: typ, ExternalID: id, Name: name, Attributes: attrs}
}

// ---- AWS -----------------------------------------------------------------------------

var awsRegions = []string{"us-east-1", "us-west-2"}

// aws returns what the AWS connector reports of the acme-prod account in a run.
func (inv *inventory) aws(run int) []monitor.Resource {
	out := []monitor.Resource{
		res("aws.account", awsAccount, "acme-prod", map[string]any{
			"account_id": awsAccount, "alias": "acme-prod", "organization_id": "o-7h2kq9x4mz",
			"regions": append([]string(nil), awsRegions...), "security_contact": true,
		}),
		res("aws.iam.root", "arn:aws:iam::"+awsAccount+":root", "root ("+awsAccount+")", map[string]any{
			"account_id": awsAccount, "mfa_enabled": true, "hardware_mfa_enabled": false, "access_keys_present": false,
			"password_last_used": inv.daysAgo(143, 16, 12),
		}),
		res("aws.iam.password_policy", awsAccount, "password policy ("+awsAccount+")", map[string]any{
			"account_id": awsAccount, "present": true, "minimum_length": int64(14), "require_uppercase": true,
			"require_lowercase": true, "require_numbers": true, "require_symbols": true, "max_age_days": int64(0),
			"reuse_prevention": int64(24), "allow_users_to_change": true, "hard_expiry": false,
		}),
		res("aws.s3.account_public_access_block", awsAccount, "S3 Block Public Access ("+awsAccount+")", map[string]any{
			"account_id": awsAccount, "block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true,
			"restrict_public_buckets": true,
		}),
	}
	out = append(out, inv.iamUsers()...)
	out = append(out, inv.buckets()...)
	for _, region := range awsRegions {
		ebs := map[string]any{"account_id": awsAccount, "region": region, "enabled": true, "kms_key_id": awsKeyARN(region, "aws/ebs")}
		if region == "us-west-2" && run == 1 {
			// Turned on between the two runs (acme-cloud/infrastructure#228).
			ebs = map[string]any{"account_id": awsAccount, "region": region, "enabled": false}
		}
		out = append(out, res("aws.ec2.ebs_encryption_default", awsAccount+"/"+region, "EBS encryption by default ("+region+")", ebs))
		out = append(out, res("aws.guardduty.detector", awsAccount+"/"+region, "GuardDuty ("+region+")", map[string]any{
			"account_id": awsAccount, "region": region, "enabled": true, "detector_id": hexID("guardduty/"+region, 32),
			"finding_publishing_frequency": "FIFTEEN_MINUTES",
		}))
		out = append(out, res("aws.config.recorder", awsAccount+"/"+region, "AWS Config ("+region+")", map[string]any{
			"account_id": awsAccount, "region": region, "recording": true, "all_supported": true,
			"include_global_resources": region == "us-east-1", "last_status": "SUCCESS",
		}))
	}
	out = append(out, inv.volumes()...)
	out = append(out, securityGroups()...)
	out = append(out, inv.databases()...)
	trail := "arn:aws:cloudtrail:us-east-1:" + awsAccount + ":trail/acme-org-trail"
	out = append(out, res("aws.cloudtrail.trail", trail, "acme-org-trail", map[string]any{
		"account_id": awsAccount, "arn": trail, "region": "us-east-1", "multi_region": true, "organization_trail": true,
		"logging": true, "log_file_validation": true, "management_events": true,
		"kms_key_id": awsKeyARN("us-east-1", "acme-cloudtrail"), "s3_bucket": "acme-cloudtrail-logs",
		"cloudwatch_log_group": "aws-cloudtrail-logs-acme", "latest_delivery_at": inv.minutesAgo(7),
	}))
	out = append(out, inv.keys()...)
	return out
}

// accessKey is an IAM access key created days ago and last used minutes ago (0: never).
func (inv *inventory) accessKey(seed, status string, created, lastUsedMinutes int, service string) map[string]any {
	k := map[string]any{"id": accessKeyID(seed), "status": status, "created_at": inv.daysAgo(created, 10, 4)}
	if lastUsedMinutes > 0 {
		k["last_used_at"] = inv.minutesAgo(lastUsedMinutes)
		k["last_used_service"] = service
	}
	return k
}

// iamUsers are the few IAM users left since people sign in to AWS through Okta: the
// break-glass administrator, three workload users, and the user a leaver had from before
// the move to single sign-on.
func (inv *inventory) iamUsers() []monitor.Resource {
	user := func(name string, created int, attrs map[string]any) monitor.Resource {
		base := map[string]any{
			"account_id": awsAccount, "arn": awsUserARN(name), "created_at": inv.daysAgo(created, 14, 20),
			"console_access": false, "mfa_enabled": false, "mfa_devices": []any{}, "access_keys": []any{},
			"attached_policies": []string{}, "inline_policies": []string{}, "is_admin": false, "tags": map[string]string{},
		}
		maps.Copy(base, attrs)
		return res("aws.iam.user", awsUserARN(name), name, base)
	}
	out := []monitor.Resource{
		user("breakglass-admin", 910, map[string]any{
			"console_access": true, "password_last_used": inv.daysAgo(41, 15, 2), "password_last_changed": inv.daysAgo(41, 14, 55),
			"mfa_enabled": true, "mfa_devices": []any{map[string]any{
				"serial_number": "arn:aws:iam::" + awsAccount + ":u2f/user/breakglass-admin/yubikey-" + hexID("u2f", 12),
				"kind":          "u2f", "enabled_at": inv.daysAgo(600, 11, 30),
			}},
			"groups": []string{"BreakGlassAdmins"}, "is_admin": true,
			"tags": map[string]string{"owner": maya, "purpose": "break-glass access, tested quarterly"},
		}),
		user("ci-deploy", 700, map[string]any{
			"access_keys": []any{inv.accessKey("ci-deploy", "Active", 212, 185, "ecr")},
			"groups":      []string{"Deployers"},
			"tags":        map[string]string{"owner": sam, "purpose": "GitHub Actions deployments to EKS"},
		}),
		user("backup-export", 400, map[string]any{
			"access_keys": []any{inv.accessKey("backup-export", "Active", 48, 1300, "s3")},
			"groups":      []string{"BackupOperators"},
			"tags":        map[string]string{"owner": sam, "purpose": "nightly export of backups to the recovery account"},
		}),
		user("cloudwatch-exporter", 500, map[string]any{
			"access_keys": []any{
				inv.accessKey("cloudwatch-exporter-old", "Inactive", 230, 95*24*60, "monitoring"),
				inv.accessKey("cloudwatch-exporter", "Active", 40, 3, "monitoring"),
			},
			"groups": []string{"MonitoringReadOnly"},
			"tags":   map[string]string{"owner": "grace.liu@acme.example", "purpose": "Grafana CloudWatch data source"},
		}),
	}
	// The IAM users engineers had before single sign-on; only a leaver's was left behind.
	for _, p := range roster {
		if p.left == 0 || !p.keeps("aws") {
			continue
		}
		login, _, _ := strings.Cut(p.email, "@")
		out = append(out, user(p.email, p.start-20, map[string]any{
			"email": p.email, "console_access": true,
			"password_last_used": inv.daysAgo(p.left+7, 17, 48), "password_last_changed": inv.daysAgo(200, 9, 12),
			"mfa_enabled": true, "mfa_devices": []any{map[string]any{
				"serial_number": "arn:aws:iam::" + awsAccount + ":mfa/" + login, "kind": "virtual", "enabled_at": inv.daysAgo(p.start-30, 9, 40),
			}},
			"groups": []string{"Developers"},
		}))
	}
	return out
}

// bucket is an S3 bucket encrypted with a KMS key (or, with sseS3, with S3's own keys),
// private, versioned and logged unless attrs say otherwise.
func (inv *inventory) bucket(name, region string, created int, sseS3 bool, attrs map[string]any) monitor.Resource {
	block := func() map[string]any {
		return map[string]any{"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true}
	}
	a := map[string]any{
		"account_id": awsAccount, "arn": "arn:aws:s3:::" + name, "region": region, "created_at": inv.daysAgo(created, 13, 7),
		"encryption_enabled": true, "encryption_algorithm": "aws:kms", "kms_key_id": awsKeyARN(region, "acme-documents"),
		"public_access_block": block(), "account_public_access_block": block(),
		"public_policy": false, "public_acl": false, "tls_only_policy": true, "versioning_enabled": true, "logging_enabled": true,
	}
	if sseS3 {
		a["encryption_algorithm"] = "AES256"
		delete(a, "kms_key_id")
	}
	maps.Copy(a, attrs)
	return res("aws.s3.bucket", "arn:aws:s3:::"+name, name, a)
}

func (inv *inventory) buckets() []monitor.Resource {
	tags := func(data string) map[string]string { return map[string]string{"env": "production", "data": data} }
	return []monitor.Resource{
		inv.bucket("acme-prod-documents", "us-east-1", 1180, false, map[string]any{"tags": tags("customer")}),
		inv.bucket("acme-prod-backups", "us-west-2", 1100, false, map[string]any{
			"kms_key_id": awsKeyARN("us-west-2", "acme-backups"), "tags": tags("backup"),
		}),
		inv.bucket("acme-cloudtrail-logs", "us-east-1", 1150, true, map[string]any{"tags": tags("audit-logs")}),
		// The bucket that receives the other buckets' access logs does not log access to
		// itself.
		inv.bucket("acme-s3-access-logs", "us-east-1", 1150, true, map[string]any{"logging_enabled": false, "tags": tags("access-logs")}),
		inv.bucket("acme-web-assets", "us-east-1", 640, true, map[string]any{"tags": tags("public-assets")}),
	}
}

// volumes are the EKS nodes' volumes, Prometheus's, a restore test's, and a scratch
// volume from before encryption by default that nobody deleted.
func (inv *inventory) volumes() []monitor.Resource {
	vol := func(name, region string, size int64, typ, state string, created int, encrypted bool, instance string) monitor.Resource {
		a := map[string]any{
			"account_id": awsAccount, "region": region, "encrypted": encrypted, "state": state, "size_gib": size,
			"volume_type": typ, "attached_instances": []string{}, "created_at": inv.daysAgo(created, 8, 15),
			"tags": map[string]string{"Name": name},
		}
		if encrypted {
			a["kms_key_id"] = awsKeyARN(region, "aws/ebs")
		}
		if instance != "" {
			a["attached_instances"] = []string{"i-0" + hexID("instance/"+instance, 16)}
		}
		return res("aws.ec2.volume", awsVolume(name), name, a)
	}
	var out []monitor.Resource
	for i := 1; i <= 4; i++ {
		node := fmt.Sprintf("eks-prod-node-%d", i)
		out = append(out, vol(node, "us-east-1", 100, "gp3", "in-use", 9+i*3, true, node))
	}
	out = append(out,
		vol("prometheus-data", "us-east-1", 500, "gp3", "in-use", 380, true, "monitoring-1"),
		vol("reporting-scratch", "us-east-1", 200, "gp2", "available", 1210, false, ""),
		vol("dr-restore-test", "us-west-2", 100, "gp3", "available", 33, true, ""),
	)
	return out
}

// rule is one security group rule for a range (cidr) or another group (source).
func rule(protocol string, from, to int64, cidr, source, desc string) map[string]any {
	r := map[string]any{"protocol": protocol, "from_port": from, "to_port": to}
	if cidr != "" {
		r["cidr"] = cidr
	}
	if source != "" {
		r["source"] = source
	}
	if desc != "" {
		r["description"] = desc
	}
	return r
}

// securityGroups are the production VPC's groups and the recovery region's. The bastion
// from before the move to Session Manager still accepts SSH from anywhere.
func securityGroups() []monitor.Resource {
	prod, dr := "vpc-0"+hexID("vpc/prod", 16), "vpc-0"+hexID("vpc/dr", 16)
	allOut := []any{rule("-1", 0, 65535, "0.0.0.0/0", "", "")}
	sg := func(name, region, vpc, desc string, isDefault, inUse bool, ingress, egress []any) monitor.Resource {
		id := awsSG(name + "/" + region)
		if !isDefault {
			id = awsSG(name)
		}
		tags := map[string]string{}
		if !isDefault {
			tags["Name"] = name
		}
		return res("aws.ec2.security_group", id, name, map[string]any{
			"account_id": awsAccount, "region": region, "vpc_id": vpc, "description": desc, "is_default": isDefault,
			"in_use": inUse, "ingress": ingress, "egress": egress, "tags": tags,
		})
	}
	return []monitor.Resource{
		sg("default", "us-east-1", prod, "default VPC security group", true, false, []any{}, []any{}),
		sg("alb-public", "us-east-1", prod, "Public load balancer for app.acme.example", false, true,
			[]any{
				rule("tcp", 443, 443, "0.0.0.0/0", "", "HTTPS from Cloudflare and the internet"),
				rule("tcp", 443, 443, "::/0", "", "HTTPS over IPv6"),
				rule("tcp", 80, 80, "0.0.0.0/0", "", "redirect to HTTPS"),
			},
			[]any{rule("tcp", 8080, 8080, "", awsSG("eks-nodes"), "to the application pods")}),
		sg("eks-nodes", "us-east-1", prod, "EKS worker nodes", false, true,
			[]any{
				rule("tcp", 8080, 8080, "", awsSG("alb-public"), "from the load balancer"),
				rule("-1", 0, 65535, "", awsSG("eks-nodes"), "between nodes"),
			}, allOut),
		sg("rds-customer-db", "us-east-1", prod, "Customer database", false, true,
			[]any{rule("tcp", 5432, 5432, "", awsSG("eks-nodes"), "PostgreSQL from the application")}, []any{}),
		sg("legacy-bastion", "us-east-1", prod, "Bastion host (to be replaced by Session Manager)", false, true,
			[]any{rule("tcp", 22, 22, "0.0.0.0/0", "", "SSH from anywhere (temporary)")}, allOut),
		sg("default", "us-west-2", dr, "default VPC security group", true, false, []any{}, []any{}),
		sg("dr-restore", "us-west-2", dr, "Restore tests in the recovery region", false, false,
			[]any{rule("tcp", 5432, 5432, "10.20.0.0/16", "", "PostgreSQL inside the recovery VPC")}, allOut),
	}
}

func (inv *inventory) databases() []monitor.Resource {
	db := func(name, class string, created int) monitor.Resource {
		arn := "arn:aws:rds:us-east-1:" + awsAccount + ":db:" + name
		return res("aws.rds.instance", arn, name, map[string]any{
			"account_id": awsAccount, "region": "us-east-1", "arn": arn, "engine": "postgres", "engine_version": "16.4",
			"instance_class": class, "storage_encrypted": true, "kms_key_id": awsKeyARN("us-east-1", "acme-rds"),
			"publicly_accessible": false, "backup_retention_days": int64(14), "multi_az": true, "deletion_protection": true,
			"auto_minor_version_upgrade": true, "iam_database_authentication": true,
			"tags": map[string]string{"env": "production", "created": inv.daysAgo(created, 0, 0).Format(time.DateOnly)},
		})
	}
	return []monitor.Resource{db("customer-db", "db.r6g.xlarge", 1160), db("analytics", "db.r6g.large", 420)}
}

func (inv *inventory) keys() []monitor.Resource {
	key := func(region, alias string, customer bool, created int) monitor.Resource {
		arn := awsKeyARN(region, alias)
		return res("aws.kms.key", arn, "alias/"+alias, map[string]any{
			"account_id": awsAccount, "region": region, "arn": arn, "customer_managed": customer, "rotation_enabled": true,
			"rotation_period_days": int64(365), "key_state": "Enabled", "key_spec": "SYMMETRIC_DEFAULT",
			"key_usage": "ENCRYPT_DECRYPT", "created_at": inv.daysAgo(created, 12, 0),
		})
	}
	return []monitor.Resource{
		key("us-east-1", "acme-documents", true, 1180),
		key("us-east-1", "acme-rds", true, 1160),
		key("us-east-1", "acme-cloudtrail", true, 1150),
		key("us-west-2", "acme-backups", true, 1100),
		key("us-east-1", "aws/ebs", false, 1200),
		key("us-west-2", "aws/ebs", false, 1200),
	}
}

// ---- GitHub --------------------------------------------------------------------------

// pull is a merged pull request: who wrote it, who reviewed it, when.
type pull struct {
	repo   string
	number int64
	title  string
	author string
	// reviews are reviewer:STATE pairs, in order.
	reviews []string
	merger  string
	opened  int // days ago
	merged  int // days ago
	labels  []string
}

// pulls are the pull requests merged in the last month. infrastructure#231 is a hotfix
// Daniel merged himself during an incident, with his own comment as its only review:
// enforce_admins is off on that repository, so the owner's bypass was allowed.
var pulls = []pull{
	{repo: "api", number: 476, title: "Add audit log export endpoint", author: "akhan", reviews: []string{"mrossi:APPROVED"}, merger: "akhan", opened: 27, merged: 25, labels: []string{"feature"}},
	{repo: "api", number: 478, title: "Paginate workspace search results", author: "mrossi", reviews: []string{"akhan:APPROVED"}, merger: "mrossi", opened: 24, merged: 23},
	{repo: "api", number: 479, title: "Upgrade to Go 1.26", author: "srivera", reviews: []string{"tbecker:APPROVED"}, merger: "srivera", opened: 22, merged: 21, labels: []string{"dependencies"}},
	{repo: "api", number: 480, title: "Rate limit per API token", author: "ebrooks", reviews: []string{"mrossi:COMMENTED", "mrossi:APPROVED"}, merger: "ebrooks", opened: 20, merged: 16, labels: []string{"feature"}},
	{repo: "api", number: 481, title: "Fix N+1 query in document listing", author: "akhan", reviews: []string{"tbecker:CHANGES_REQUESTED", "tbecker:APPROVED"}, merger: "akhan", opened: 11, merged: 9, labels: []string{"bug"}},
	{repo: "api", number: 483, title: "Hand over the rate limiter to Marco", author: "mrossi", reviews: []string{"akhan:APPROVED"}, merger: "mrossi", opened: 8, merged: 7},
	{repo: "web", number: 312, title: "Accessible focus states in the editor toolbar", author: "mrossi", reviews: []string{"tbecker:APPROVED"}, merger: "mrossi", opened: 19, merged: 18},
	{repo: "web", number: 315, title: "Show the audit log export in settings", author: "tbecker", reviews: []string{"akhan:APPROVED"}, merger: "tbecker", opened: 15, merged: 14, labels: []string{"feature"}},
	{repo: "web", number: 316, title: "Bump the editor to 4.2", author: "akhan", reviews: []string{"mrossi:APPROVED"}, merger: "akhan", opened: 6, merged: 5, labels: []string{"dependencies"}},
	{repo: "infrastructure", number: 226, title: "Move the Prometheus volume to gp3", author: "gliu", reviews: []string{"srivera:APPROVED", "dokafor:APPROVED"}, merger: "gliu", opened: 17, merged: 15},
	{repo: "infrastructure", number: 229, title: "Rotate RDS credentials with Secrets Manager", author: "gliu", reviews: []string{"srivera:APPROVED", "praman:APPROVED"}, merger: "gliu", opened: 10, merged: 8},
	{repo: "infrastructure", number: 231, title: "Hotfix: raise the ALB idle timeout during the incident", author: "dokafor", reviews: []string{"dokafor:COMMENTED"}, merger: "dokafor", opened: 4, merged: 4, labels: []string{"hotfix"}},
	{repo: "infrastructure", number: 228, title: "Turn on EBS encryption by default in us-west-2", author: "srivera", reviews: []string{"gliu:APPROVED", "dokafor:APPROVED"}, merger: "srivera", opened: 2, merged: 0},
}

// repository is one of the organization's repositories and its default branch's protection.
type repository struct {
	name, visibility, branch string
	archived                 bool
	reviews                  int64
	codeOwners, enforce      bool
	checks, topics           []string
	pushed                   int // days ago
}

var repositories = []repository{
	{name: "api", visibility: "private", branch: "main", reviews: 1, codeOwners: true, enforce: true, checks: []string{"ci / test", "ci / lint"}, topics: []string{"go", "api"}},
	{name: "web", visibility: "private", branch: "main", reviews: 1, enforce: true, checks: []string{"ci / test", "ci / e2e"}, topics: []string{"typescript", "frontend"}, pushed: 1},
	// Owners can merge without review: the branch protection does not apply to admins.
	{name: "infrastructure", visibility: "private", branch: "main", reviews: 2, codeOwners: true, enforce: false, checks: []string{"terraform / plan", "tflint"}, topics: []string{"terraform"}},
	{name: "docs", visibility: "public", branch: "main", reviews: 1, enforce: true, checks: []string{"build"}, topics: []string{"documentation"}, pushed: 3},
	{name: "legacy-monolith", visibility: "private", branch: "master", archived: true, pushed: 700},
}

// github returns what the GitHub connector reports of the acme-cloud organization.
func (inv *inventory) github(int) []monitor.Resource {
	const org = "acme-cloud"
	out := []monitor.Resource{res("github.org", org, "Acme Cloud", map[string]any{
		"login": org, "two_factor_requirement_enabled": true, "default_repository_permission": "read",
		"members_can_create_public_repositories": false,
	})}
	for _, p := range roster {
		if p.github == "" || (p.left > 0 && !p.keeps("github")) {
			continue
		}
		role := "member"
		if p.githubAdmin {
			role = "admin"
		}
		out = append(out, res("github.member", org+"/"+p.github, p.github, map[string]any{
			"org": org, "login": p.github, "email": p.email, "two_factor_enabled": true, "role": role,
		}))
	}
	out = append(out, res("github.outside_collaborator", org+"/jlee-contractor", "jlee-contractor", map[string]any{
		"org": org, "login": "jlee-contractor", "email": "jordan.lee@acme.example",
		"repositories": []any{map[string]any{"repository": org + "/web", "permission": "write"}},
	}))
	for _, r := range repositories {
		full := org + "/" + r.name
		protection := map[string]any{
			"enabled": !r.archived, "required_approving_reviews": r.reviews, "dismiss_stale_reviews": r.reviews > 0,
			"require_code_owner_reviews": r.codeOwners, "enforce_admins": r.enforce, "allow_force_pushes": false,
			"allow_deletions": false, "required_status_checks": append([]string{}, r.checks...), "required_signatures": false,
		}
		rulesets := []any{}
		if !r.archived {
			rulesets = append(rulesets, map[string]any{
				"name": "Release tags", "enforcement": "active", "target": "tag", "includes_default_branch": false,
			})
		}
		out = append(out, res("github.repository", full, full, map[string]any{
			"org": org, "private": r.visibility != "public", "visibility": r.visibility, "archived": r.archived, "fork": false,
			"default_branch": r.branch, "pushed_at": inv.minutesAgo(r.pushed*24*60 + 95), "protection": protection,
			"rulesets": rulesets, "secret_scanning_enabled": !r.archived, "dependabot_alerts_enabled": !r.archived,
			"topics": append([]string{}, r.topics...),
		}))
	}
	for _, p := range pulls {
		full := org + "/" + p.repo
		id := fmt.Sprintf("%s#%d", full, p.number)
		created := inv.daysAgo(p.opened, 9, 30)
		merged := inv.daysAgo(p.merged, 0, 0)
		if p.merged == 0 {
			merged = inv.minutesAgo(200)
		} else {
			merged = merged.Add(16*time.Hour + 10*time.Minute)
		}
		if !merged.After(created) {
			created = merged.Add(-3 * time.Hour)
		}
		reviews := make([]any, 0, len(p.reviews))
		for i, rv := range p.reviews {
			who, state, _ := strings.Cut(rv, ":")
			at := merged.Add(-time.Duration(len(p.reviews)-i) * 40 * time.Minute)
			reviews = append(reviews, map[string]any{"reviewer": who, "state": state, "submitted_at": at})
		}
		labels := append([]string{}, p.labels...)
		out = append(out, res("github.pull_request", id, id, map[string]any{
			"repository": full, "number": p.number, "title": p.title, "author": p.author, "base_branch": "main",
			"default_branch": "main", "created_at": created, "merged_at": merged, "merged_by": p.merger,
			"merge_commit_sha": hexID("commit/"+id, 40), "reviews": reviews, "labels": labels,
		}))
	}
	return out
}

// ---- Okta and Google Workspace -------------------------------------------------------

// okta returns what the Okta connector reports: everyone's account and the policies.
func (inv *inventory) okta(int) []monitor.Resource {
	var out []monitor.Resource
	for i, p := range roster {
		if p.left > 90 {
			continue // deactivated accounts are deleted after 90 days
		}
		a := map[string]any{
			"login": p.email, "email": p.email, "status": "ACTIVE", "created_at": inv.daysAgo(p.start+7, 10, 0),
			"factors": []any{map[string]any{"type": "push", "provider": "OKTA", "status": "ACTIVE"}}, "admin_roles": []string{},
		}
		switch {
		case p.start < 0:
			a["status"], a["factors"] = "STAGED", []any{}
		case p.left > 0 && !p.keeps("okta"):
			a["status"], a["factors"] = "DEPROVISIONED", []any{}
			a["activated_at"] = inv.daysAgo(p.start, 8, 30)
			a["last_login"] = inv.daysAgo(p.left, 17, 52)
		default:
			a["activated_at"] = inv.daysAgo(p.start, 8, 30)
			a["last_login"] = inv.minutesAgo(35 + i*97)
			a["password_changed_at"] = inv.daysAgo(30+(i*11)%120, 9, 5)
		}
		if len(p.oktaRoles) > 0 {
			a["admin_roles"] = append([]string{}, p.oktaRoles...)
			a["factors"] = append(a["factors"].([]any),
				map[string]any{"type": "signed_nonce", "provider": "OKTA", "status": "ACTIVE"},
				map[string]any{"type": "webauthn", "provider": "FIDO", "status": "ACTIVE"})
		}
		out = append(out, res("okta.user", oktaID(p.email), p.email, a))
	}
	// The HR system's service account: an administrator, so it signs in with a security key.
	out = append(out, res("okta.user", oktaID(serviceAccount), serviceAccount, map[string]any{
		"login": serviceAccount, "email": serviceAccount, "status": "ACTIVE", "created_at": inv.daysAgo(820, 11, 0),
		"activated_at": inv.daysAgo(820, 11, 5), "last_login": inv.daysAgo(3, 4, 0), "password_changed_at": inv.daysAgo(95, 10, 0),
		"factors":     []any{map[string]any{"type": "webauthn", "provider": "FIDO", "status": "ACTIVE"}},
		"admin_roles": []string{"USER_ADMIN"},
	}))

	policy := func(id, name, kind string, priority int64, system bool, attrs map[string]any) monitor.Resource {
		a := map[string]any{"kind": kind, "status": "ACTIVE", "priority": priority, "system": system}
		maps.Copy(a, attrs)
		return res("okta.policy", id, name, a)
	}
	out = append(out,
		policy("00p"+hexID("policy/employees", 17), "Employees", "OKTA_SIGN_ON", 1, false, map[string]any{
			"mfa_required": true, "session_lifetime_minutes": int64(720), "session_idle_minutes": int64(60),
		}),
		policy("00p"+hexID("policy/default-signon", 17), "Default Policy", "OKTA_SIGN_ON", 2, true, map[string]any{
			"mfa_required": true, "session_lifetime_minutes": int64(720), "session_idle_minutes": int64(120),
		}),
		policy("rst"+hexID("policy/dashboard", 17), "Okta Dashboard", "ACCESS_POLICY", 1, false, map[string]any{
			"mfa_required": true,
		}),
		policy("00p"+hexID("policy/password", 17), "Default Password Policy", "PASSWORD", 1, true, map[string]any{
			"password_min_length": int64(14), "password_require_uppercase": true, "password_require_lowercase": true,
			"password_require_number": true, "password_require_symbol": true, "password_max_age_days": int64(0),
			"password_history_count": int64(24), "lockout_attempts": int64(10),
		}),
	)
	return out
}

// google returns what the Google Workspace connector reports: everyone's account.
func (inv *inventory) google(int) []monitor.Resource {
	var out []monitor.Resource
	for i, p := range roster {
		if p.start < 0 || p.left > 90 {
			continue // accounts are made on the first day and deleted 90 days after the last
		}
		unit := "/" + p.department
		if p.employment == "contractor" {
			unit = "/Contractors"
		}
		a := map[string]any{
			"email": p.email, "is_admin": p.googleAdmin, "is_delegated_admin": p.email == lena, "suspended": false,
			"archived": false, "is_enrolled_in_2sv": true, "is_enforced_in_2sv": true,
			"created_at": inv.daysAgo(p.start, 7, 45), "last_login": inv.minutesAgo(20 + i*53), "org_unit_path": unit,
		}
		if p.left > 0 && !p.keeps("google") {
			a["suspended"] = true
			a["last_login"] = inv.daysAgo(p.left, 17, 40)
		}
		out = append(out, res("google.user", googleID(p.email), p.name, a))
	}
	return out
}
