// Package demo seeds Acme Cloud, Inc., the demonstration organization: a SaaS company part
// way through its first SOC 2 Type II, with people, systems and the control library in
// every state, and the gaps a readiness assessor would report.
package demo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
)

// The demonstration organization.
const (
	Slug = "acme"
	Name = "Acme Cloud, Inc."
)

// Person is one person of the demonstration.
type Person struct {
	Email string
	Name  string
	Role  domain.Role
	// Title is the person's job, which explains the controls they own.
	Title string
}

// People are the demonstration's people. The first is the compliance lead, the one who
// signs in.
var People = []Person{
	{"maya.chen@acme.example", "Maya Chen", domain.RoleOwner, "Head of Security and Compliance"},
	{"daniel.okafor@acme.example", "Daniel Okafor", domain.RoleAdmin, "Chief Technology Officer"},
	{"priya.raman@acme.example", "Priya Raman", domain.RoleAdmin, "IT and Identity Lead"},
	{"sam.rivera@acme.example", "Sam Rivera", domain.RoleMember, "Staff Platform Engineer"},
	{"tom.becker@acme.example", "Tom Becker", domain.RoleMember, "Engineering Manager, Application"},
	{"lena.fischer@acme.example", "Lena Fischer", domain.RoleMember, "People Operations Manager"},
	{"olivia.grant@acme.example", "Olivia Grant", domain.RoleViewer, "Chief Executive Officer"},
}

// Lead is the compliance lead, who owns the organization.
func Lead() Person { return People[0] }

// The people by the part they play in the plan below.
var (
	maya   = People[0].Email
	daniel = People[1].Email
	priya  = People[2].Email
	sam    = People[3].Email
	tom    = People[4].Email
	lena   = People[5].Email
)

// Categories are the demonstration's categories in scope.
var Categories = []domain.Category{domain.CategorySecurity, domain.CategoryAvailability, domain.CategoryConfidentiality}

// scope is the demonstration's scope: a six-month Type II observation period that began at
// the start of the month two months before now, and the report due two months after it.
func scope(now time.Time) *domain.Scope {
	y, mo, _ := now.UTC().Date()
	start := time.Date(y, mo-2, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 6, -1)
	target := end.AddDate(0, 2, 0)
	return &domain.Scope{
		Categories:  append([]domain.Category(nil), Categories...),
		ReportType:  domain.ReportTypeII,
		PeriodStart: &start,
		PeriodEnd:   &end,
		TargetDate:  &target,
		OutOfScope: "Processing Integrity and Privacy are not in scope for the first report: Acme Cloud " +
			"does not process transactions on customers' behalf, and the personal information it holds " +
			"is limited to the business contact details of customer users.\n\n" +
			"Out of scope systems: the marketing website (acme.example, hosted by Webflow, no customer " +
			"data) and the analytics sandbox, which receives only aggregated, anonymised usage metrics.",
	}
}

// system is a system in scope and who owns it.
type system struct {
	name, description, kind string
	class                   domain.DataClassification
	owner                   string
}

var systems = []system{
	{"AWS production account", "The acme-prod account in us-east-1 with a standby region in us-west-2: the EKS cluster, load balancers, S3 buckets and KMS keys that run Acme Cloud.",
		"infrastructure", domain.DataRestricted, sam},
	{"Customer database", "Amazon RDS for PostgreSQL 16, multi-AZ, holding customer accounts, workspaces and document metadata.",
		"database", domain.DataRestricted, sam},
	{"Acme Cloud web application", "The customer-facing application and public API at app.acme.example: Go services deployed to EKS from GitHub Actions.",
		"application", domain.DataRestricted, tom},
	{"Okta", "Identity provider: single sign-on and multi-factor authentication for every employee application, including the AWS console.",
		"saas", domain.DataConfidential, priya},
	{"GitHub", "Source code, pull request reviews, and the GitHub Actions pipelines that test and deploy to production.",
		"saas", domain.DataConfidential, tom},
	{"Google Workspace", "Email, calendars and documents for every employee; the policies and procedures live in Google Drive.",
		"saas", domain.DataConfidential, priya},
	{"Employee laptops", "About 60 macOS laptops enrolled in Jamf, which enforces disk encryption, screen lock, updates and the CrowdStrike Falcon sensor.",
		"endpoint", domain.DataConfidential, priya},
	{"Cloudflare", "DNS, TLS termination, web application firewall and DDoS protection in front of app.acme.example.",
		"network", domain.DataInternal, sam},
}

// plan is the state the demonstration gives one control.
type plan struct {
	status        domain.ControlStatus
	owner         string // email; "" for no owner
	justification string
	retired       bool
}

// domainOwners says who owns a library domain's controls unless ownerOverrides says otherwise.
var domainOwners = map[string]string{
	"Governance":               maya,
	"Risk Assessment":          maya,
	"Policies":                 maya,
	"Human Resources":          lena,
	"Access Control":           priya,
	"Change Management":        tom,
	"Cryptography":             sam,
	"Logging and Monitoring":   sam,
	"Endpoint Security":        priya,
	"Vulnerability Management": tom,
	"Incident Response":        daniel,
	"Business Continuity":      sam,
	"Vendor Management":        maya,
	"Asset Management":         priya,
	"Data Management":          tom,
	"Network Security":         sam,
	"Availability":             sam,
	"Confidentiality":          maya,
	"Processing Integrity":     tom,
	"Privacy":                  maya,
}

var ownerOverrides = map[string]string{
	"AC-07":  sam, // privileged access to production
	"AC-10":  sam,
	"AC-11":  sam,
	"GOV-06": daniel,
	"HR-09":  tom,
	"NET-07": priya,
	"VUL-01": sam,
	"VUL-02": sam,
	"VUL-03": daniel,
}

// findings are the controls a readiness assessor found missing: the access review, the
// encryption of every storage volume, the test of the incident response plan and the
// security addendum in vendor contracts. They stay gaps.
var findings = map[string]domain.ControlStatus{
	"AC-01":  domain.StatusNotStarted,
	"CRY-01": domain.StatusInProgress,
	"IR-02":  domain.StatusNotStarted,
	"VEN-03": domain.StatusInProgress,
}

// notApplicable are the controls that do not apply to a fully remote company hosted on AWS.
var notApplicable = map[string]string{
	"AC-13":  "Acme Cloud is fully remote and has no offices; there are no premises to control access to.",
	"AC-14":  "With no offices there are no physical access rights to review. Data centre access is AWS's responsibility, covered by VEN-04.",
	"AVL-06": "Production runs entirely on AWS, which operates the data centres; its SOC 2 report, reviewed under VEN-04, covers their environmental protections.",
}

// unowned are controls nobody has taken on yet: one in place, one under way.
var unowned = map[string]domain.ControlStatus{
	"GOV-14": domain.StatusImplemented,
	"RSK-05": domain.StatusInProgress,
}

// inPlace are controls the systems above show to operate: Okta single sign-on with MFA,
// Jamf and CrowdStrike on the laptops, Cloudflare in front of the application, reviewed
// pull requests deploying through GitHub Actions.
var inPlace = map[string]bool{
	"AC-02": true, "AC-03": true, "AC-09": true, "END-01": true, "END-02": true, "END-03": true,
	"END-05": true, "NET-05": true, "CHG-02": true, "CHG-05": true, "GOV-05": true,
}

// retiredRef is the library control Acme replaced with its own, Custom.
const retiredRef = "DAT-04"

// Custom is the control Acme wrote itself. It maps to the retired library control's
// criteria.
var Custom = domain.Control{
	Ref:   "ACME-01",
	Title: "Customer data purge within 30 days of contract end",
	Description: "When a customer's contract ends, the offboarding job deletes the customer's workspaces, " +
		"documents and search indexes from production within 30 days, as the master services agreement " +
		"commits, and backups holding them expire within the 35-day backup window. Customer Success " +
		"confirms the deletion to the customer in writing.",
	Domain:           "Data Management",
	Frequency:        domain.FrequencyPerEvent,
	EvidenceExpected: "For a sample of terminated contracts: the purge job's run log with the customer's identifier and date, and the written confirmation sent to the customer.",
	Status:           domain.StatusImplemented,
}

// customOwner owns Custom.
var customOwner = tom

// rollSeed fixes the demonstration's pseudo-random choices: the same catalog always gives
// the same statuses.
const rollSeed = "evident-demo-1"

// roll returns a number in [0, 100) that depends only on the seed and the control's ref, so
// that adding a control to the library does not reshuffle the others.
func roll(ref string) int {
	h := fnv.New32a()
	h.Write([]byte(rollSeed))
	h.Write([]byte(ref))
	return int(h.Sum32() % 100)
}

// planFor returns the state of a library control in the demonstration, and false for
// controls that map to no category in scope, which stay as adopted.
func planFor(lc domain.LibraryControl, cat *catalog.Catalog) (plan, bool) {
	if !inScope(lc.Criteria, cat) {
		return plan{}, false
	}
	owner := domainOwners[lc.Domain]
	if o, ok := ownerOverrides[lc.Ref]; ok {
		owner = o
	}
	if owner == "" {
		owner = maya
	}
	switch {
	case lc.Ref == retiredRef:
		return plan{status: domain.StatusImplemented, owner: owner, retired: true}, true
	case findings[lc.Ref] != "":
		return plan{status: findings[lc.Ref], owner: owner}, true
	case notApplicable[lc.Ref] != "":
		return plan{status: domain.StatusNotApplicable, owner: owner, justification: notApplicable[lc.Ref]}, true
	case unowned[lc.Ref] != "":
		return plan{status: unowned[lc.Ref]}, true
	case inPlace[lc.Ref]:
		return plan{status: domain.StatusImplemented, owner: owner}, true
	}
	switch r := roll(lc.Ref); {
	case r < 74:
		return plan{status: domain.StatusImplemented, owner: owner}, true
	case r < 89:
		return plan{status: domain.StatusInProgress, owner: owner}, true
	default:
		return plan{status: domain.StatusNotStarted, owner: owner}, true
	}
}

// inScope reports whether any of the criteria belongs to a category in scope.
func inScope(criteria []string, cat *catalog.Catalog) bool {
	for _, id := range criteria {
		cr, ok := cat.Criterion(id)
		if !ok {
			continue
		}
		for _, c := range Categories {
			if cr.Category == c {
				return true
			}
		}
	}
	return false
}

// Options are what Seed needs besides the store and the catalog.
type Options struct {
	// Now places the observation period and the target date.
	Now time.Time
	// PasswordHash is given to the people Seed creates.
	PasswordHash string
	// Evidence, when set, adds the demonstration's evidence through the evidence service,
	// as people would: some current, some stale, one item corrected and one withdrawn.
	Evidence *evidence.Service
	// Monitoring, when set, adds the demonstration's continuous monitoring through it: paused
	// connections to AWS, GitHub, Okta and Google Workspace with the resources they report,
	// the HR roster, two test runs with their alerts, and an exception (see monitoring.go).
	// Its Store must be the store Seed is given, and it needs a Sealer and the connectors.
	Monitoring *collect.Service
}

// Result is what Seed did.
type Result struct {
	Org *domain.Organization
	// Created reports that the organization did not exist before.
	Created bool
}

// Seed creates the demonstration organization, and whatever of it is missing: its people,
// systems, custom control, the state of its controls, its evidence and its monitoring. Each step looks
// before it creates, so Seed is safe to run at every start and finishes a seed that was
// cut short.
// A control someone has already changed keeps what they gave it. An organization with
// the demonstration's slug but another name is someone's real organization: Seed refuses
// to touch it.
func Seed(ctx context.Context, st domain.Store, cat *catalog.Catalog, opts Options) (*Result, error) {
	if opts.PasswordHash == "" {
		return nil, errors.New("demo: a password hash is required")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	res := &Result{}
	org, err := st.OrganizationBySlug(ctx, Slug)
	if domain.IsNotFound(err) {
		org = &domain.Organization{Slug: Slug, Name: Name}
		err = st.CreateOrganization(ctx, domain.SystemActor, org, scope(opts.Now), cat.Library)
		if err == nil {
			res.Created = true
		} else if domain.KindOf(err) == domain.KindConflict {
			// Another process created it first.
			org, err = st.OrganizationBySlug(ctx, Slug)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("demo organization: %w", err)
	}
	if org.Name != Name {
		return nil, fmt.Errorf("the organization %q (%s) is not the demonstration; run the demonstration on a database of its own", org.Slug, org.Name)
	}
	res.Org = org
	ids, err := seedPeople(ctx, st, org.ID, opts.PasswordHash)
	if err != nil {
		return nil, err
	}
	actor := domain.Actor{UserID: ids[maya], Email: maya}
	if err := seedSystems(ctx, st, actor, org.ID, ids); err != nil {
		return nil, err
	}
	if err := seedControls(ctx, st, cat, actor, org.ID, ids); err != nil {
		return nil, err
	}
	if opts.Evidence != nil {
		if err := seedEvidence(ctx, st, opts.Evidence, org.ID, ids, opts.Now); err != nil {
			return nil, err
		}
	}
	if opts.Monitoring != nil {
		if err := seedMonitoring(ctx, st, opts.Monitoring, org.ID, ids, opts.Now); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// seedPeople creates the missing users and memberships and returns every person's user ID
// by email. The lead joins first, as the system's doing; the lead adds the others.
func seedPeople(ctx context.Context, st domain.Store, orgID int64, hash string) (map[string]int64, error) {
	ids := map[string]int64{}
	actor := domain.SystemActor
	for _, p := range People {
		u, err := st.UserByEmail(ctx, p.Email)
		if domain.IsNotFound(err) {
			u = &domain.User{Email: p.Email, Name: p.Name, PasswordHash: hash}
			err = st.CreateUser(ctx, u)
		}
		if err != nil {
			return nil, fmt.Errorf("demo user %s: %w", p.Email, err)
		}
		ids[p.Email] = u.ID
		_, err = st.Member(ctx, orgID, u.ID)
		if domain.IsNotFound(err) {
			err = st.AddMember(ctx, actor, orgID, u.ID, p.Role)
		}
		if err != nil {
			return nil, fmt.Errorf("demo member %s: %w", p.Email, err)
		}
		if p.Email == maya {
			actor = domain.Actor{UserID: u.ID, Email: p.Email}
		}
	}
	return ids, nil
}

// seedSystems creates the systems the organization does not have by name.
func seedSystems(ctx context.Context, st domain.Store, actor domain.Actor, orgID int64, ids map[string]int64) error {
	have, err := st.Systems(ctx, orgID)
	if err != nil {
		return fmt.Errorf("demo systems: %w", err)
	}
	names := map[string]bool{}
	for _, s := range have {
		names[s.Name] = true
	}
	for _, s := range systems {
		if names[s.name] {
			continue
		}
		owner := ids[s.owner]
		sys := &domain.System{
			OrgID: orgID, Name: s.name, Description: s.description, Kind: s.kind,
			Classification: s.class, OwnerID: &owner,
		}
		if err := st.CreateSystem(ctx, actor, sys); err != nil {
			return fmt.Errorf("demo system %s: %w", s.name, err)
		}
	}
	return nil
}

// seedControls creates the custom control and gives each library control as adopted
// (not started, no owner, active) its planned state.
func seedControls(ctx context.Context, st domain.Store, cat *catalog.Catalog, actor domain.Actor, orgID int64, ids map[string]int64) error {
	controls, err := st.Controls(ctx, orgID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		return fmt.Errorf("demo controls: %w", err)
	}
	byRef := make(map[string]*domain.Control, len(controls))
	for i := range controls {
		byRef[controls[i].Ref] = &controls[i]
	}
	if _, ok := byRef[Custom.Ref]; !ok {
		c := Custom
		c.OrgID = orgID
		if lc, ok := cat.LibraryControl(retiredRef); ok {
			c.Criteria = append([]string(nil), lc.Criteria...)
		}
		owner := ids[customOwner]
		c.OwnerID = &owner
		if err := st.CreateControl(ctx, actor, &c); err != nil {
			return fmt.Errorf("demo control %s: %w", c.Ref, err)
		}
	}
	for _, lc := range cat.Library {
		c, ok := byRef[lc.Ref]
		if !ok || !asAdopted(c) {
			continue
		}
		p, ok := planFor(lc, cat)
		if !ok {
			continue
		}
		ch := domain.ControlChange{Status: &p.status}
		if p.justification != "" {
			ch.Justification = &p.justification
		}
		if p.owner != "" {
			owner := ids[p.owner]
			ownerID := &owner
			ch.OwnerID = &ownerID
		}
		if p.retired {
			retired := true
			ch.Retired = &retired
		}
		if _, err := st.UpdateControl(ctx, actor, orgID, c.ID, ch); err != nil {
			return fmt.Errorf("demo control %s: %w", lc.Ref, err)
		}
	}
	return nil
}

// asAdopted reports whether a control is as the library adoption left it: nobody has
// touched it yet.
func asAdopted(c *domain.Control) bool {
	return c.Status == domain.StatusNotStarted && c.OwnerID == nil && c.Justification == "" && !c.Retired()
}

// SetPasswords gives every demonstration person the password hash, for when the
// demonstration's password has been lost and a new one generated.
func SetPasswords(ctx context.Context, st domain.Store, hash string) error {
	for _, p := range People {
		u, err := st.UserByEmail(ctx, p.Email)
		if domain.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("demo user %s: %w", p.Email, err)
		}
		if err := st.SetPasswordHash(ctx, u.ID, hash); err != nil {
			return fmt.Errorf("demo user %s: %w", p.Email, err)
		}
	}
	return nil
}
