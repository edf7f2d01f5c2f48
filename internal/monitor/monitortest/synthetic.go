// Package monitortest generates synthetic resource inventories, deterministically, for the
// tests and benchmarks of the monitor package and of the OPA comparison under bench/opa.
package monitortest

import (
	"context"
	"fmt"
	"hash/fnv"
	"iter"
	"math/rand/v2"
	"time"

	"github.com/evidenthq/evident/internal/monitor"
)

// Now is the time synthetic inventories are generated for; evaluate them at Now.
var Now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// share is how much of an inventory one type takes, in resources per million.
type share struct {
	typ     string
	perMill int
}

// mix is the make-up of a large company's inventory: mostly pull requests, volumes, scanner
// findings and people, with a thousand AWS accounts scanned in 16 regions. Pull requests take
// whatever the other types leave.
var mix = []share{
	{"aws.account", 1000},
	{"aws.iam.root", 1000},
	{"aws.iam.password_policy", 1000},
	{"aws.s3.account_public_access_block", 1000},
	{"aws.ec2.ebs_encryption_default", 16000},
	{"aws.guardduty.detector", 16000},
	{"aws.config.recorder", 16000},
	{"aws.cloudtrail.trail", 2000},
	{"aws.iam.user", 30000},
	{"aws.s3.bucket", 40000},
	{"aws.ec2.volume", 120000},
	{"aws.ec2.security_group", 80000},
	{"aws.rds.instance", 10000},
	{"aws.kms.key", 15000},
	{"github.org", 10},
	{"github.member", 30000},
	{"github.outside_collaborator", 5000},
	{"github.repository", 20000},
	{"okta.user", 50000},
	{"okta.policy", 100},
	{"google.user", 50000},
	{"hr.person", 60000},
	{"device", 50000},
	{"finding", 120000},
}

// Counts returns how many resources of each type an inventory of n resources holds.
func Counts(n int) map[string]int {
	out := map[string]int{}
	used := 0
	for _, s := range mix {
		c := max(1, n*s.perMill/1_000_000)
		out[s.typ] = c
		used += c
	}
	out["github.pull_request"] = max(0, n-used)
	return out
}

// Types lists the types of a synthetic inventory, in generation order.
func Types() []string {
	out := make([]string, 0, len(mix)+1)
	for _, s := range mix {
		out = append(out, s.typ)
	}
	return append(out, "github.pull_request")
}

// Synthetic returns an inventory of n resources of every registered type, the same for the
// same n. About one resource in ten fails each check, and about one person in twelve has
// left, some of them with accounts still active elsewhere.
func Synthetic(n int) []*monitor.Resource {
	counts := Counts(n)
	out := make([]*monitor.Resource, 0, n)
	for _, typ := range Types() {
		for r := range generate(counts, typ) {
			out = append(out, r)
		}
	}
	return out
}

// generate yields the resources of one type. Each type has its own random sequence, so a
// type's resources do not depend on which types were generated before.
func generate(counts map[string]int, typ string) iter.Seq[*monitor.Resource] {
	return func(yield func(*monitor.Resource) bool) {
		h := fnv.New64a()
		h.Write([]byte(typ))
		g := &gen{rng: rand.New(rand.NewPCG(h.Sum64(), 2)), counts: counts}
		build := builders[typ]
		for i := range counts[typ] {
			if !yield(build(g, i)) {
				return
			}
		}
	}
}

// Streaming is an inventory of the same resources as Synthetic(n) that holds none of them:
// it generates a type's resources each time they are read, as a store streams rows.
type Streaming struct {
	counts map[string]int
}

// NewStreaming returns a streaming inventory of n resources.
func NewStreaming(n int) *Streaming { return &Streaming{counts: Counts(n)} }

// Resources implements monitor.Inventory.
func (s *Streaming) Resources(ctx context.Context, typ string) iter.Seq2[*monitor.Resource, error] {
	return func(yield func(*monitor.Resource, error) bool) {
		if _, ok := builders[typ]; !ok {
			return
		}
		i := 0
		for r := range generate(s.counts, typ) {
			if i%4096 == 0 && ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
			i++
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Count implements monitor.Counter.
func (s *Streaming) Count(_ context.Context, typ string) (int, error) { return s.counts[typ], nil }

type gen struct {
	rng    *rand.Rand
	counts map[string]int
}

// bad reports true for about one draw in ten: the resource fails the check at hand.
func (g *gen) bad() bool { return g.rng.IntN(10) == 0 }

// rare reports true for about one draw in a hundred.
func (g *gen) rare() bool { return g.rng.IntN(100) == 0 }

func (g *gen) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

// ago is a time up to maxDays days before Now.
func (g *gen) ago(maxDays int) time.Time {
	return Now.Add(-time.Duration(g.rng.Int64N(int64(maxDays)*24*3600)) * time.Second)
}

var regions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "sa-east-1",
}

func (g *gen) account(i int) string {
	return fmt.Sprintf("%012d", 100000000000+i%max(1, g.counts["aws.account"]))
}

func (g *gen) region() string { return regions[g.rng.IntN(len(regions))] }

// person returns the email of the i-th person on the roster.
func person(i int) string { return fmt.Sprintf("p%06d@acme.example", i) }

// personIndex picks a person, so accounts in other sources belong to people on the roster.
func (g *gen) personIndex() int { return g.rng.IntN(max(1, g.counts["hr.person"])) }

func res(typ, id, name string, attrs map[string]any) *monitor.Resource {
	return &monitor.Resource{Type: typ, ExternalID: id, Name: name, Connection: "synthetic", Attributes: attrs}
}

func block(on bool) map[string]any {
	return map[string]any{"block_public_acls": on, "ignore_public_acls": on, "block_public_policy": on, "restrict_public_buckets": on}
}

func (g *gen) rules(n int, open bool) []any {
	rules := make([]any, 0, n+1)
	for k := range n {
		port := []int64{443, 80, 8080, 5432, 22}[k%5]
		rules = append(rules, map[string]any{"protocol": "tcp", "from_port": port, "to_port": port, "cidr": "10.0.0.0/8"})
	}
	if open {
		port := []int64{22, 3389, 5432, 0}[g.rng.IntN(4)]
		to := port
		if port == 0 {
			to = 65535
		}
		rules = append(rules, map[string]any{"protocol": "tcp", "from_port": port, "to_port": to, "cidr": g.pick("0.0.0.0/0", "::/0")})
	}
	return rules
}

var builders = map[string]func(g *gen, i int) *monitor.Resource{
	"aws.account": func(g *gen, i int) *monitor.Resource {
		acct := g.account(i)
		return res("aws.account", acct, "account-"+acct, map[string]any{
			"account_id": acct, "alias": "acme-" + acct[8:], "organization_id": "o-acme",
			"regions": regions, "security_contact": !g.bad(),
		})
	},
	"aws.iam.root": func(g *gen, i int) *monitor.Resource {
		acct := g.account(i)
		a := map[string]any{"account_id": acct, "mfa_enabled": !g.bad(), "hardware_mfa_enabled": !g.bad(), "access_keys_present": g.bad()}
		if g.bad() {
			a["password_last_used"] = g.ago(20)
		}
		return res("aws.iam.root", "arn:aws:iam::"+acct+":root", "root", a)
	},
	"aws.iam.password_policy": func(g *gen, i int) *monitor.Resource {
		acct := g.account(i)
		length, reuse := int64(14), int64(24)
		if g.bad() {
			length = 8
		}
		if g.bad() {
			reuse = 0
		}
		return res("aws.iam.password_policy", acct, "password policy", map[string]any{
			"account_id": acct, "present": true, "minimum_length": length, "require_uppercase": true, "require_lowercase": true,
			"require_numbers": true, "require_symbols": true, "max_age_days": int64(0), "reuse_prevention": reuse,
			"allow_users_to_change": true, "hard_expiry": false,
		})
	},
	"aws.s3.account_public_access_block": func(g *gen, i int) *monitor.Resource {
		acct := g.account(i)
		a := block(!g.bad())
		a["account_id"] = acct
		return res("aws.s3.account_public_access_block", acct, "account public access block", a)
	},
	"aws.ec2.ebs_encryption_default": func(g *gen, i int) *monitor.Resource {
		acct, region := g.account(i/len(regions)), regions[i%len(regions)]
		return res("aws.ec2.ebs_encryption_default", acct+"/"+region, region, map[string]any{"account_id": acct, "region": region, "enabled": !g.bad()})
	},
	"aws.guardduty.detector": func(g *gen, i int) *monitor.Resource {
		acct, region := g.account(i/len(regions)), regions[i%len(regions)]
		return res("aws.guardduty.detector", acct+"/"+region, region, map[string]any{"account_id": acct, "region": region, "enabled": !g.bad()})
	},
	"aws.config.recorder": func(g *gen, i int) *monitor.Resource {
		acct, region := g.account(i/len(regions)), regions[i%len(regions)]
		return res("aws.config.recorder", acct+"/"+region, "default", map[string]any{
			"account_id": acct, "region": region, "recording": !g.bad(), "all_supported": !g.bad(), "include_global_resources": true,
		})
	},
	"aws.cloudtrail.trail": func(g *gen, i int) *monitor.Resource {
		acct := g.account(i)
		arn := fmt.Sprintf("arn:aws:cloudtrail:us-east-1:%s:trail/audit-%d", acct, i)
		a := map[string]any{
			"account_id": acct, "arn": arn, "region": "us-east-1", "multi_region": !g.bad(), "organization_trail": false,
			"logging": !g.bad(), "log_file_validation": !g.bad(), "management_events": true, "s3_bucket": "acme-audit-" + acct,
		}
		if !g.bad() {
			a["kms_key_id"] = "arn:aws:kms:us-east-1:" + acct + ":key/audit"
		}
		return res("aws.cloudtrail.trail", arn, fmt.Sprintf("audit-%d", i), a)
	},
	"aws.iam.user": func(g *gen, i int) *monitor.Resource {
		acct := g.account(i)
		name := fmt.Sprintf("user%06d", i)
		arn := "arn:aws:iam::" + acct + ":user/" + name
		keys := []any{}
		for range g.rng.IntN(3) {
			created := g.ago(200)
			k := map[string]any{"id": fmt.Sprintf("AKIA%016d", g.rng.Int64N(1e16)), "status": "Active", "created_at": created}
			if !g.bad() {
				k["last_used_at"] = created.Add(time.Duration(g.rng.Int64N(int64(Now.Sub(created)))))
			}
			keys = append(keys, k)
		}
		console := g.rng.IntN(3) > 0
		a := map[string]any{
			"account_id": acct, "arn": arn, "email": person(g.personIndex()), "created_at": g.ago(900),
			"console_access": console, "mfa_enabled": !g.bad(), "mfa_devices": []any{}, "access_keys": keys,
			"attached_policies": []string{}, "inline_policies": []string{}, "groups": []string{"developers"},
			"is_admin": false, "tags": map[string]string{"team": "platform"},
		}
		if console {
			a["password_last_used"] = g.ago(120)
		}
		if g.bad() {
			a["attached_policies"] = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
			a["is_admin"] = true
		}
		return res("aws.iam.user", arn, name, a)
	},
	"aws.s3.bucket": func(g *gen, i int) *monitor.Resource {
		name := fmt.Sprintf("acme-bucket-%06d", i)
		return res("aws.s3.bucket", "arn:aws:s3:::"+name, name, map[string]any{
			"account_id": g.account(i), "arn": "arn:aws:s3:::" + name, "region": g.region(), "created_at": g.ago(1500),
			"encryption_enabled": !g.bad(), "encryption_algorithm": "AES256",
			"public_access_block": block(!g.bad()), "account_public_access_block": block(!g.bad()),
			"public_policy": g.rare(), "public_acl": g.rare(), "tls_only_policy": !g.bad(),
			"versioning_enabled": !g.bad(), "logging_enabled": !g.bad(), "tags": map[string]string{"env": "prod"},
		})
	},
	"aws.ec2.volume": func(g *gen, i int) *monitor.Resource {
		id := fmt.Sprintf("vol-%017x", i)
		return res("aws.ec2.volume", id, id, map[string]any{
			"account_id": g.account(i), "region": g.region(), "encrypted": !g.bad(), "state": g.pick("in-use", "in-use", "available"),
			"size_gib": int64(8 + g.rng.IntN(500)), "volume_type": "gp3", "attached_instances": []string{fmt.Sprintf("i-%017x", i)},
			"created_at": g.ago(1000), "tags": map[string]string{},
		})
	},
	"aws.ec2.security_group": func(g *gen, i int) *monitor.Resource {
		id := fmt.Sprintf("sg-%017x", i)
		isDefault := i%20 == 0
		ingress := []any{}
		egress := []any{map[string]any{"protocol": "-1", "from_port": int64(0), "to_port": int64(65535), "cidr": "0.0.0.0/0"}}
		if isDefault && !g.bad() {
			egress = []any{}
		} else {
			ingress = g.rules(1+g.rng.IntN(4), g.bad())
		}
		return res("aws.ec2.security_group", id, fmt.Sprintf("sg-%d", i), map[string]any{
			"account_id": g.account(i), "region": g.region(), "vpc_id": fmt.Sprintf("vpc-%08x", i%5000), "description": "application",
			"is_default": isDefault, "in_use": true, "ingress": ingress, "egress": egress, "tags": map[string]string{},
		})
	},
	"aws.rds.instance": func(g *gen, i int) *monitor.Resource {
		name := fmt.Sprintf("db%05d", i)
		arn := "arn:aws:rds:eu-west-1:" + g.account(i) + ":db:" + name
		backup := int64(14)
		if g.bad() {
			backup = int64(g.rng.IntN(7))
		}
		return res("aws.rds.instance", arn, name, map[string]any{
			"account_id": g.account(i), "region": g.region(), "arn": arn, "engine": g.pick("postgres", "mysql", "aurora-postgresql"),
			"engine_version": "16.4", "instance_class": "db.r6g.large", "storage_encrypted": !g.bad(), "publicly_accessible": g.bad(),
			"backup_retention_days": backup, "multi_az": !g.bad(), "deletion_protection": !g.bad(),
			"auto_minor_version_upgrade": true, "iam_database_authentication": false, "tags": map[string]string{},
		})
	},
	"aws.kms.key": func(g *gen, i int) *monitor.Resource {
		arn := fmt.Sprintf("arn:aws:kms:eu-west-1:%s:key/%08x", g.account(i), i)
		return res("aws.kms.key", arn, fmt.Sprintf("key-%d", i), map[string]any{
			"account_id": g.account(i), "region": g.region(), "arn": arn, "customer_managed": g.rng.IntN(4) > 0,
			"rotation_enabled": !g.bad(), "key_state": "Enabled", "key_spec": g.pick("SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT", "RSA_2048"),
			"key_usage": "ENCRYPT_DECRYPT", "created_at": g.ago(1500),
		})
	},
	"github.org": func(g *gen, i int) *monitor.Resource {
		login := fmt.Sprintf("acme-%d", i)
		return res("github.org", login, login, map[string]any{
			"login": login, "two_factor_requirement_enabled": !g.bad(), "default_repository_permission": g.pick("read", "read", "write"),
			"members_can_create_public_repositories": false,
		})
	},
	"github.member": func(g *gen, i int) *monitor.Resource {
		login := fmt.Sprintf("dev%06d", i)
		return res("github.member", "acme-0/"+login, login, map[string]any{
			"org": "acme-0", "login": login, "email": person(g.personIndex()), "two_factor_enabled": !g.bad(), "role": g.pick("member", "member", "admin"),
		})
	},
	"github.outside_collaborator": func(g *gen, i int) *monitor.Resource {
		login := fmt.Sprintf("ext%05d", i)
		perm := "write"
		if g.bad() {
			perm = "admin"
		}
		return res("github.outside_collaborator", "acme-0/"+login, login, map[string]any{
			"org": "acme-0", "login": login,
			"repositories": []any{map[string]any{"repository": fmt.Sprintf("acme-0/repo%05d", i), "permission": perm}},
		})
	},
	"github.repository": func(g *gen, i int) *monitor.Resource {
		full := fmt.Sprintf("acme-0/repo%05d", i)
		return res("github.repository", full, fmt.Sprintf("repo%05d", i), map[string]any{
			"org": "acme-0", "private": true, "visibility": "private", "archived": i%15 == 0, "fork": false, "default_branch": "main",
			"protection": map[string]any{
				"enabled": !g.bad(), "required_approving_reviews": int64(g.rng.IntN(3)), "dismiss_stale_reviews": !g.bad(),
				"require_code_owner_reviews": false, "enforce_admins": !g.bad(), "allow_force_pushes": g.bad(), "allow_deletions": false,
				"required_status_checks": []string{"ci/test"}, "required_signatures": false,
			},
			"rulesets": []any{}, "secret_scanning_enabled": !g.bad(), "dependabot_alerts_enabled": !g.bad(), "topics": []string{},
		})
	},
	"github.pull_request": func(g *gen, i int) *monitor.Resource {
		repo := fmt.Sprintf("acme-0/repo%05d", i%max(1, g.counts["github.repository"]))
		author := fmt.Sprintf("dev%06d", g.rng.IntN(max(1, g.counts["github.member"])))
		created := g.ago(365)
		merged := created.Add(time.Duration(1+g.rng.IntN(72)) * time.Hour)
		reviewer := fmt.Sprintf("dev%06d", g.rng.IntN(max(1, g.counts["github.member"])))
		if g.bad() {
			reviewer = author
		}
		return res("github.pull_request", fmt.Sprintf("%s#%d", repo, i), "Change "+fmt.Sprint(i), map[string]any{
			"repository": repo, "number": int64(i), "title": "Change", "author": author, "base_branch": "main", "default_branch": "main",
			"created_at": created, "merged_at": merged, "merged_by": author,
			"reviews": []any{map[string]any{"reviewer": reviewer, "state": "APPROVED", "submitted_at": merged.Add(-time.Hour)}},
			"labels":  []string{},
		})
	},
	"okta.user": func(g *gen, i int) *monitor.Resource {
		email := person(i % max(1, g.counts["hr.person"]))
		factors := []any{map[string]any{"type": "push", "provider": "OKTA", "status": "ACTIVE"}}
		if g.bad() {
			factors = []any{}
		}
		roles := []string{}
		if i%50 == 0 {
			roles = []string{"ORG_ADMIN"}
			if !g.bad() {
				factors = append(factors, map[string]any{"type": "signed_nonce", "provider": "OKTA", "status": "ACTIVE"})
			}
		}
		return res("okta.user", fmt.Sprintf("00u%08d", i), email, map[string]any{
			"login": email, "email": email, "status": g.pick("ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED", "DEPROVISIONED"),
			"created_at": g.ago(900), "last_login": g.ago(120), "factors": factors, "admin_roles": roles,
		})
	},
	"okta.policy": func(g *gen, i int) *monitor.Resource {
		a := map[string]any{"status": "ACTIVE", "priority": int64(i + 1), "system": false}
		if i%2 == 0 {
			a["kind"], a["mfa_required"], a["session_lifetime_minutes"], a["session_idle_minutes"] = "OKTA_SIGN_ON", !g.bad(), int64(720), int64(60)
		} else {
			a["kind"], a["password_min_length"], a["lockout_attempts"] = "PASSWORD", int64(12), int64(10)
		}
		return res("okta.policy", fmt.Sprintf("00p%05d", i), fmt.Sprintf("policy %d", i), a)
	},
	"google.user": func(g *gen, i int) *monitor.Resource {
		email := person(i % max(1, g.counts["hr.person"]))
		return res("google.user", fmt.Sprintf("1%020d", i), email, map[string]any{
			"email": email, "is_admin": false, "is_delegated_admin": false, "suspended": g.rng.IntN(8) == 0, "archived": false,
			"is_enrolled_in_2sv": !g.bad(), "is_enforced_in_2sv": !g.bad(), "created_at": g.ago(900), "last_login": g.ago(120),
			"org_unit_path": "/Engineering",
		})
	},
	"hr.person": func(g *gen, i int) *monitor.Resource {
		a := map[string]any{
			"email": person(i), "start_date": g.ago(2000), "manager": person(i / 8), "department": g.pick("Engineering", "Sales", "Support"),
			"employment_type": g.pick("employee", "employee", "contractor"),
		}
		if g.rng.IntN(12) == 0 {
			a["end_date"] = g.ago(300)
		}
		return res("hr.person", fmt.Sprintf("E%06d", i), fmt.Sprintf("Person %d", i), a)
	},
	"device": func(g *gen, i int) *monitor.Resource {
		serial := fmt.Sprintf("C02%08d", i)
		return res("device", serial, fmt.Sprintf("laptop-%d", i), map[string]any{
			"serial_number": serial, "owner_email": person(i % max(1, g.counts["hr.person"])), "platform": g.pick("macos", "macos", "windows", "linux"),
			"os_version": "15.5", "managed": !g.bad(), "disk_encrypted": !g.bad(), "screen_lock_enabled": !g.bad(),
			"screen_lock_minutes": int64(5), "firewall_enabled": true, "endpoint_protection": !g.bad(), "last_seen": g.ago(3),
		})
	},
	"finding": func(g *gen, i int) *monitor.Resource {
		check := g.pick("s3_bucket_default_encryption", "iam_user_mfa_enabled_console_access", "ec2_instance_imdsv2_enabled", "CVE-2024-3094")
		status := "pass"
		if g.rng.IntN(4) == 0 {
			status = "fail"
		}
		rid := fmt.Sprintf("arn:aws:ec2:eu-west-1:%s:instance/i-%017x", g.account(i), i)
		return res("finding", "prowler:"+check+":"+rid, check, map[string]any{
			"source": "prowler", "check_id": check, "title": "Check " + check, "status": status,
			"severity": g.pick("critical", "high", "medium", "medium", "low", "low"), "resource_id": rid, "region": "eu-west-1",
			"observed_at": g.ago(2),
		})
	},
}
