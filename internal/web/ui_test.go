package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// uiFixture is the web server over a real SQLite store and real auth, with two
// organizations: Northwind, with an owner, an admin, a member and a viewer, and Bravo,
// another tenant that Northwind's people must never reach. "multi" belongs to both.
type uiFixture struct {
	ctx   context.Context
	st    *store.Store
	auth  *auth.Service
	srv   *Server
	logs  *bytes.Buffer
	north *domain.Organization
	bravo *domain.Organization
	users map[string]*domain.User // by key: owner, admin, member, viewer, bravo, multi
	// sessions are session tokens by user key, in Northwind (Bravo for "bravo").
	sessions map[string]string

	control      *domain.Control // a Northwind library control
	bravoControl *domain.Control // Bravo's control with a name of its own
	bravoSystem  *domain.System
	bravoToken   *domain.APIToken
}

// bravoSecret appears in the names of Bravo's objects, so that any leak of them shows.
const bravoSecret = "Bravo-Confidential"

func newUIFixture(tb testing.TB) *uiFixture {
	return newUIFixtureWith(tb, Config{})
}

// newUIFixtureWith builds the fixture with the given server options (Store, Catalog and
// Auth are filled in).
func newUIFixtureWith(tb testing.TB, cfg Config) *uiFixture {
	tb.Helper()
	ctx := context.Background()
	st := storetest.SQLite(tb)
	cat := catalog.Default()
	f := &uiFixture{
		ctx: ctx, st: st, logs: &bytes.Buffer{},
		users: map[string]*domain.User{}, sessions: map[string]string{},
	}
	f.auth = auth.New(st, auth.Options{})
	cfg.Store, cfg.Catalog, cfg.Auth = st, cat, f.auth
	cfg.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	srv, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	f.srv = srv

	f.north = &domain.Organization{Slug: "northwind", Name: "Northwind Traders"}
	f.bravo = &domain.Organization{Slug: "bravo", Name: "Bravo " + bravoSecret + " Org"}
	for _, o := range []*domain.Organization{f.north, f.bravo} {
		if err := st.CreateOrganization(ctx, domain.SystemActor, o, nil, cat.Library); err != nil {
			tb.Fatalf("CreateOrganization(%s): %v", o.Slug, err)
		}
	}
	f.addUser(tb, "owner", f.north, domain.RoleOwner)
	f.addUser(tb, "admin", f.north, domain.RoleAdmin)
	f.addUser(tb, "member", f.north, domain.RoleMember)
	f.addUser(tb, "viewer", f.north, domain.RoleViewer)
	f.addUser(tb, "bravo", f.bravo, domain.RoleOwner)
	f.addUser(tb, "multi", f.north, domain.RoleMember)
	if err := st.AddMember(ctx, domain.SystemActor, f.bravo.ID, f.users["multi"].ID, domain.RoleViewer); err != nil {
		tb.Fatal(err)
	}

	f.control = f.controlByRef(tb, f.north, cat.Library[0].Ref)
	title := bravoSecret + " vault rotation"
	bc := f.controlByRef(tb, f.bravo, cat.Library[0].Ref)
	if f.bravoControl, err = st.UpdateControl(ctx, domain.SystemActor, f.bravo.ID, bc.ID, domain.ControlChange{Title: &title}); err != nil {
		tb.Fatal(err)
	}
	f.bravoSystem = &domain.System{OrgID: f.bravo.ID, Name: bravoSecret + " ledger", Kind: "database", Classification: domain.DataRestricted}
	if err := st.CreateSystem(ctx, domain.SystemActor, f.bravoSystem); err != nil {
		tb.Fatal(err)
	}
	if _, f.bravoToken, err = f.auth.CreateAPIToken(ctx, domain.SystemActor, f.bravo.ID, f.users["bravo"].ID, bravoSecret+" token"); err != nil {
		tb.Fatal(err)
	}
	return f
}

// addUser creates a user without a password and a live session for them in org. Sessions
// are written straight to the store (the store keeps the SHA-256 of the token), which keeps
// the tests clear of a password hash per user; sign-in itself has its own tests.
func (f *uiFixture) addUser(tb testing.TB, key string, org *domain.Organization, role domain.Role) {
	tb.Helper()
	u := &domain.User{Email: key + "@" + org.Slug + ".example", Name: strings.ToUpper(key[:1]) + key[1:] + " Person"}
	if key == "bravo" {
		u.Name = bravoSecret + " Owner"
	}
	if err := f.st.CreateUser(f.ctx, u); err != nil {
		tb.Fatal(err)
	}
	if err := f.st.AddMember(f.ctx, domain.SystemActor, org.ID, u.ID, role); err != nil {
		tb.Fatal(err)
	}
	f.users[key] = u
	f.sessions[key] = f.newSession(tb, u.ID, org.ID)
}

func (f *uiFixture) newSession(tb testing.TB, userID, orgID int64) string {
	tb.Helper()
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	sess := &domain.Session{TokenHash: h[:], UserID: userID, OrgID: orgID, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	if err := f.st.CreateSession(f.ctx, sess); err != nil {
		tb.Fatalf("CreateSession: %v", err)
	}
	return token
}

// setPassword gives a user a password, for the sign-in tests.
func (f *uiFixture) setPassword(tb testing.TB, key, password string) {
	tb.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.st.SetPasswordHash(f.ctx, f.users[key].ID, hash); err != nil {
		tb.Fatal(err)
	}
}

func (f *uiFixture) controlByRef(tb testing.TB, org *domain.Organization, ref string) *domain.Control {
	tb.Helper()
	c, err := f.st.ControlByRef(f.ctx, org.ID, ref)
	if err != nil {
		tb.Fatalf("ControlByRef(%s, %s): %v", org.Slug, ref, err)
	}
	return c
}

func (f *uiFixture) newControl(tb testing.TB, ref, title string) *domain.Control {
	tb.Helper()
	c := &domain.Control{OrgID: f.north.ID, Ref: ref, Title: title, Frequency: domain.FrequencyAnnual, Status: domain.StatusNotStarted, Criteria: []string{"CC1.1"}}
	if err := f.st.CreateControl(f.ctx, domain.SystemActor, c); err != nil {
		tb.Fatalf("CreateControl(%s): %v", ref, err)
	}
	return c
}

func (f *uiFixture) newSystem(tb testing.TB, name string) *domain.System {
	tb.Helper()
	s := &domain.System{OrgID: f.north.ID, Name: name, Kind: "saas", Classification: domain.DataInternal}
	if err := f.st.CreateSystem(f.ctx, domain.SystemActor, s); err != nil {
		tb.Fatalf("CreateSystem(%s): %v", name, err)
	}
	return s
}

// request builds a request as `who` (a user key, or "" for nobody) with an optional form.
func (f *uiFixture) request(method, path, who string, form url.Values) *http.Request {
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if who != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.sessions[who]})
	}
	return req
}

func (f *uiFixture) do(tb testing.TB, method, path, who string, form url.Values) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, f.request(method, path, who, form))
	return rec
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// uiCase is one row of a page table.
type uiCase struct {
	name     string
	method   string
	path     string
	who      string
	form     url.Values
	status   int
	want     []string // substrings of the body
	notWant  []string // strings the body must not contain
	location string   // for redirects: the Location header
}

func (f *uiFixture) run(t *testing.T, tests []uiCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, tt.method, tt.path, tt.who, tt.form)
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("%s %s as %q = %d; want %d\n%s", tt.method, tt.path, tt.who, rec.Code, tt.status, excerpt(body))
			}
			if tt.location != "" {
				if got := rec.Header().Get("Location"); got != tt.location {
					t.Errorf("Location = %q; want %q", got, tt.location)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s %s body does not contain %q\n%s", tt.method, tt.path, w, excerpt(body))
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("%s %s body contains %q; want it absent", tt.method, tt.path, w)
				}
			}
			if rec.Code >= 500 {
				t.Errorf("logs: %s", f.logs.String())
			}
		})
	}
}

// excerpt shortens a body for a failure message, keeping what is inside <main>.
func excerpt(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 3000 {
		body = body[:3000] + "…"
	}
	return body
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// controlForm is a complete edit form for c with some fields changed.
func editForm(c *domain.Control, kv ...string) url.Values {
	v := vals("title", c.Title, "description", c.Description, "domain", c.Domain,
		"frequency", string(c.Frequency), "evidence_expected", c.EvidenceExpected,
		"status", string(c.Status), "justification", c.Justification)
	if c.OwnerID != nil {
		v.Set("owner_id", id(*c.OwnerID))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestPages(t *testing.T) {
	f := newUIFixture(t)
	c := f.control
	cid := id(c.ID)
	mapped := f.newControl(t, "T-MAP", "Control to map and unmap")
	retire := f.newControl(t, "T-RET", "Control to retire")
	sys := f.newSystem(t, "Northwind CRM")
	doomed := f.newSystem(t, "Legacy FTP server")
	leaver := &domain.User{Email: "leaver@northwind.example", Name: "Leaving Person"}
	if err := f.st.CreateUser(f.ctx, leaver); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AddMember(f.ctx, domain.SystemActor, f.north.ID, leaver.ID, domain.RoleMember); err != nil {
		t.Fatal(err)
	}
	_, tok, err := f.auth.CreateAPIToken(f.ctx, domain.SystemActor, f.north.ID, f.users["admin"].ID, "Deploy pipeline")
	if err != nil {
		t.Fatal(err)
	}
	member, viewer := id(f.users["member"].ID), id(f.users["viewer"].ID)

	f.run(t, []uiCase{
		// Signing in.
		{name: "sign-in page", method: "GET", path: "/signin", status: 200, want: []string{`id="email"`, `id="password"`, `name="organization"`}},
		{name: "dashboard needs sign-in", method: "GET", path: "/", status: 303, location: "/signin"},
		{name: "page needs sign-in and comes back", method: "GET", path: "/controls?status=implemented", status: 303, location: "/signin?next=%2Fcontrols%3Fstatus%3Dimplemented"},
		{name: "post needs sign-in", method: "POST", path: "/controls/" + cid, form: editForm(c), status: 303, location: "/signin"},
		{name: "signed-in sign-in page goes home", method: "GET", path: "/signin", who: "viewer", status: 303, location: "/"},

		// Dashboard and readiness.
		{name: "dashboard", method: "GET", path: "/", who: "viewer", status: 200, want: []string{`id="readiness-score"`, "Gaps by severity", "Controls by status", "Controls by owner", `class="gap"`, "Northwind Traders", "/readiness/report.html"}},
		{name: "readiness", method: "GET", path: "/readiness", who: "viewer", status: 200, want: []string{`class="gap"`, "Export CSV"}},
		{name: "readiness by severity", method: "GET", path: "/readiness?severity=critical&kind=criterion_not_covered", who: "viewer", status: 200},
		{name: "readiness bad severity", method: "GET", path: "/readiness?severity=urgent", who: "viewer", status: 400, want: []string{"Severity must be one of"}},
		{name: "readiness bad kind", method: "GET", path: "/readiness?kind=bogus", who: "viewer", status: 400, want: []string{"Kind is not a kind of gap"}},
		{name: "readiness report", method: "GET", path: "/readiness/report.html", who: "viewer", status: 200, want: []string{"SOC 2 readiness", "Northwind Traders", "Readiness by criterion"}},

		// Controls list.
		{name: "controls", method: "GET", path: "/controls", who: "viewer", status: 200, want: []string{c.Ref, c.Title, `id="controls-table"`, "/controls.csv"}, notWant: []string{"New control"}},
		{name: "controls as member offer new", method: "GET", path: "/controls", who: "member", status: 200, want: []string{"New control"}},
		{name: "controls filtered", method: "GET", path: "/controls?q=" + url.QueryEscape("Control to retire"), who: "viewer", status: 200, want: []string{"T-RET", `<span id="control-count">1</span>`}},
		{name: "controls without owner", method: "GET", path: "/controls?owner=none&status=not_started&criterion=CC1.1", who: "viewer", status: 200, want: []string{"T-MAP"}},
		{name: "controls by owner", method: "GET", path: "/controls?owner=" + member, who: "viewer", status: 200, want: []string{`<span id="control-count">0</span>`}},
		{name: "controls by domain", method: "GET", path: "/controls?domain=" + url.QueryEscape(c.Domain) + "&retired=1", who: "viewer", status: 200, want: []string{c.Ref}},
		{name: "controls bad status", method: "GET", path: "/controls?status=done", who: "viewer", status: 400, want: []string{"Status must be one of"}},
		{name: "controls bad owner", method: "GET", path: "/controls?owner=someone", who: "viewer", status: 400, want: []string{"Owner must be"}},
		{name: "controls bad criterion", method: "GET", path: "/controls?criterion=ZZ9.9", who: "viewer", status: 400, want: []string{"Criterion"}},

		// New control.
		{name: "new control form", method: "GET", path: "/controls/new?criterion=CC6.1", who: "member", status: 200, want: []string{`name="ref"`, `<option value="CC6.1" selected>`}},
		{name: "new control form refused to viewer", method: "GET", path: "/controls/new", who: "viewer", status: 403},
		{name: "create control", method: "POST", path: "/controls", who: "member", form: vals("ref", "T-NEW", "title", "Visitor log review", "frequency", "monthly", "status", "in_progress", "owner_id", member, "criterion", "CC6.4"), status: 303},
		{name: "create control keeps input on error", method: "POST", path: "/controls", who: "member", form: vals("ref", "T-BAD", "title", "", "frequency", "monthly", "status", "not_started", "description", "kept text"), status: 400, want: []string{`id="title-error"`, "Title is required", "kept text", `value="T-BAD"`}},
		{name: "create control duplicate ref", method: "POST", path: "/controls", who: "member", form: vals("ref", c.Ref, "title", "Again", "frequency", "monthly", "status", "not_started"), status: 409, want: []string{`id="ref-error"`, "already uses this reference"}},
		{name: "create control bad frequency", method: "POST", path: "/controls", who: "member", form: vals("ref", "T-FREQ", "title", "x", "frequency", "hourly", "status", "not_started"), status: 400, want: []string{`id="frequency-error"`}},
		{name: "create control unknown criterion", method: "POST", path: "/controls", who: "member", form: vals("ref", "T-CRIT", "title", "x", "frequency", "monthly", "status", "not_started", "criterion", "XX1.1"), status: 400, want: []string{`id="criterion-error"`}},
		{name: "create control refused to viewer", method: "POST", path: "/controls", who: "viewer", form: vals("ref", "T-V", "title", "x", "frequency", "monthly", "status", "not_started"), status: 403},

		// Control page and its forms.
		{name: "control page as viewer", method: "GET", path: "/controls/" + cid, who: "viewer", status: 200, want: []string{c.Ref, c.Title, "Recent activity", "Criteria"}, notWant: []string{`id="save-control"`, `action="/controls/` + cid + `/map"`}},
		{name: "control page as member", method: "GET", path: "/controls/" + cid, who: "member", status: 200, want: []string{`id="save-control"`, `name="title"`, `name="status"`, `name="owner_id"`, `name="justification"`, `name="evidence_expected"`, `name="frequency"`, `name="domain"`, `name="description"`}},
		{name: "control edit", method: "POST", path: "/controls/" + cid, who: "member", form: editForm(c, "status", "implemented", "owner_id", member), status: 303, location: "/controls/" + cid},
		{name: "control shows the change", method: "GET", path: "/controls/" + cid, who: "viewer", status: 200, want: []string{"Implemented", "Member Person", "updated a control"}},
		{name: "control edit needs justification", method: "POST", path: "/controls/" + cid, who: "member", form: editForm(c, "status", "not_applicable", "justification", "", "description", "draft kept"), status: 400, want: []string{`id="justification-error"`, "Justification is required when the status is not applicable", "draft kept"}},
		{name: "control edit empty title", method: "POST", path: "/controls/" + cid, who: "member", form: editForm(c, "title", "  "), status: 400, want: []string{`id="title-error"`, "Title is required"}},
		{name: "control edit bad status", method: "POST", path: "/controls/" + cid, who: "member", form: editForm(c, "status", "finished"), status: 400, want: []string{`id="status-error"`}},
		{name: "control edit owner not a member", method: "POST", path: "/controls/" + cid, who: "member", form: editForm(c, "owner_id", id(f.users["bravo"].ID)), status: 400, want: []string{`id="owner_id-error"`, "must be a member of this organization"}},
		{name: "control edit refused to viewer", method: "POST", path: "/controls/" + cid, who: "viewer", form: editForm(c, "title", "Viewer title"), status: 403},
		{name: "map", method: "POST", path: "/controls/" + id(mapped.ID) + "/map", who: "member", form: vals("criterion", "CC7.2"), status: 303},
		{name: "map shows", method: "GET", path: "/controls/" + id(mapped.ID), who: "viewer", status: 200, want: []string{`href="/criteria/CC7.2"`}},
		{name: "map unknown criterion", method: "POST", path: "/controls/" + id(mapped.ID) + "/map", who: "member", form: vals("criterion", "ZZ1.1"), status: 400, want: []string{`id="criterion-error"`}},
		{name: "unmap", method: "POST", path: "/controls/" + id(mapped.ID) + "/unmap", who: "member", form: vals("criterion", "CC7.2"), status: 303},
		{name: "map refused to viewer", method: "POST", path: "/controls/" + id(mapped.ID) + "/map", who: "viewer", form: vals("criterion", "CC7.3"), status: 403},
		{name: "retire", method: "POST", path: "/controls/" + id(retire.ID) + "/retire", who: "member", status: 303},
		{name: "retired control is hidden", method: "GET", path: "/controls?q=T-RET", who: "viewer", status: 200, want: []string{`<span id="control-count">0</span>`}},
		{name: "retired control with retired", method: "GET", path: "/controls?q=T-RET&retired=1", who: "viewer", status: 200, want: []string{"Retired"}},
		{name: "restore", method: "POST", path: "/controls/" + id(retire.ID) + "/restore", who: "member", status: 303},
		{name: "retire refused to viewer", method: "POST", path: "/controls/" + id(retire.ID) + "/retire", who: "viewer", status: 403},
		{name: "unknown control", method: "GET", path: "/controls/999999", who: "viewer", status: 404, want: []string{"Page not found"}},
		{name: "malformed control id", method: "GET", path: "/controls/abc", who: "viewer", status: 404},

		// Criteria.
		{name: "criteria", method: "GET", path: "/criteria", who: "viewer", status: 200, want: []string{"CC6.1", "Security", "Privacy", "Out of scope", "Logical and physical access controls"}},
		{name: "criterion", method: "GET", path: "/criteria/CC6.1", who: "viewer", status: 200, want: []string{"Points of focus", "Controls covering CC6.1"}},
		{name: "criterion canonical URL", method: "GET", path: "/criteria/cc6.1", who: "viewer", status: 301, location: "/criteria/CC6.1"},
		{name: "unknown criterion", method: "GET", path: "/criteria/CC99.1", who: "viewer", status: 404},
		{name: "map from criterion", method: "POST", path: "/criteria/CC9.2/map", who: "member", form: vals("control_id", id(mapped.ID)), status: 303, location: "/criteria/CC9.2"},
		{name: "map from criterion without control", method: "POST", path: "/criteria/CC9.2/map", who: "member", form: vals("control_id", ""), status: 400, want: []string{`id="control_id-error"`}},

		// Scope.
		{name: "scope as viewer", method: "GET", path: "/scope", who: "viewer", status: 200, want: []string{"Systems in scope", "Northwind CRM"}, notWant: []string{`id="scope-form"`, `id="system-form"`}},
		{name: "scope as admin", method: "GET", path: "/scope", who: "admin", status: 200, want: []string{`id="scope-form"`, `id="system-form"`, `id="cat-security" checked disabled`}},
		{name: "update scope", method: "POST", path: "/scope", who: "admin", form: vals("categories", "availability", "report_type", "type2", "target_date", "2027-06-30", "period_start", "2026-10-01", "period_end", "2027-03-31", "out_of_scope", "Mobile apps."), status: 303, location: "/scope"},
		{name: "scope saved", method: "GET", path: "/scope", who: "viewer", status: 200, want: []string{"Availability", "Mobile apps.", "30 Jun 2027"}},
		{name: "scope bad date", method: "POST", path: "/scope", who: "admin", form: vals("report_type", "type2", "target_date", "next spring"), status: 400, want: []string{`id="target_date-error"`, "next spring"}},
		{name: "scope short period", method: "POST", path: "/scope", who: "admin", form: vals("report_type", "type2", "period_start", "2026-01-01", "period_end", "2026-02-01"), status: 400, want: []string{`id="period_end-error"`, "3 to 12 months"}},
		{name: "scope bad report type", method: "POST", path: "/scope", who: "admin", form: vals("report_type", "type3"), status: 400, want: []string{`id="report_type-error"`}},
		{name: "scope unknown category", method: "POST", path: "/scope", who: "admin", form: vals("report_type", "type1", "categories", "secrecy"), status: 400, want: []string{`id="categories-error"`}},
		{name: "scope refused to member", method: "POST", path: "/scope", who: "member", form: vals("report_type", "type1"), status: 403},
		{name: "add system", method: "POST", path: "/scope/systems", who: "admin", form: vals("name", "Payroll", "kind", "saas", "classification", "restricted", "owner_id", viewer), status: 303},
		{name: "add system without name", method: "POST", path: "/scope/systems", who: "admin", form: vals("name", "", "kind", "saas", "classification", "internal", "description", "kept"), status: 400, want: []string{`id="name-error"`, "Name is required", "kept"}},
		{name: "add system bad kind", method: "POST", path: "/scope/systems", who: "admin", form: vals("name", "X", "kind", "mainframe", "classification", "internal"), status: 400, want: []string{`id="kind-error"`}},
		{name: "add system refused to member", method: "POST", path: "/scope/systems", who: "member", form: vals("name", "X", "kind", "saas", "classification", "internal"), status: 403},
		{name: "system page", method: "GET", path: "/scope/systems/" + id(sys.ID), who: "admin", status: 200, want: []string{"Northwind CRM", `id="save-system"`}},
		{name: "edit system", method: "POST", path: "/scope/systems/" + id(sys.ID), who: "admin", form: vals("name", "Northwind CRM (EU)", "kind", "saas", "classification", "confidential"), status: 303},
		{name: "edit system bad classification", method: "POST", path: "/scope/systems/" + id(sys.ID), who: "admin", form: vals("name", "CRM", "kind", "saas", "classification", "secret"), status: 400, want: []string{`id="classification-error"`}},
		{name: "edit system refused to viewer", method: "POST", path: "/scope/systems/" + id(sys.ID), who: "viewer", form: vals("name", "CRM", "kind", "saas", "classification", "internal"), status: 403},
		{name: "delete system", method: "POST", path: "/scope/systems/" + id(doomed.ID) + "/delete", who: "admin", status: 303},
		{name: "deleted system is gone", method: "GET", path: "/scope/systems/" + id(doomed.ID), who: "admin", status: 404},

		// People.
		{name: "people as viewer", method: "GET", path: "/people", who: "viewer", status: 200, want: []string{"Member Person", "member@northwind.example"}, notWant: []string{`id="add-person-form"`, `/remove"`}},
		{name: "people as admin", method: "GET", path: "/people", who: "admin", status: 200, want: []string{`id="add-person-form"`, `action="/people/` + member + `/role"`}},
		{name: "add new person shows password once", method: "POST", path: "/people", who: "admin", form: vals("email", "new.hire@northwind.example", "name", "New Hire", "role", "member"), status: 200, want: []string{"New Hire can now sign in", `id="new-password"`, "only time the password is shown"}},
		{name: "add existing person", method: "POST", path: "/people", who: "admin", form: vals("email", f.users["bravo"].Email, "role", "viewer"), status: 303, location: "/people"},
		{name: "add person twice", method: "POST", path: "/people", who: "admin", form: vals("email", "member@northwind.example", "role", "viewer"), status: 409, want: []string{`id="email-error"`, "already a member"}},
		{name: "add person bad email", method: "POST", path: "/people", who: "admin", form: vals("email", "not-an-email", "name", "X", "role", "member"), status: 400, want: []string{`id="email-error"`, "not a valid email address", "not-an-email"}},
		{name: "add person without name", method: "POST", path: "/people", who: "admin", form: vals("email", "nameless@northwind.example", "role", "member"), status: 400, want: []string{`id="name-error"`}},
		{name: "admin cannot add an owner", method: "POST", path: "/people", who: "admin", form: vals("email", "boss@northwind.example", "name", "Boss", "role", "owner"), status: 400, want: []string{`id="role-error"`, "only an owner can make someone an owner"}},
		{name: "add person refused to member", method: "POST", path: "/people", who: "member", form: vals("email", "x@northwind.example", "name", "X", "role", "viewer"), status: 403},
		{name: "change role", method: "POST", path: "/people/" + viewer + "/role", who: "admin", form: vals("role", "member"), status: 303},
		{name: "change role back", method: "POST", path: "/people/" + viewer + "/role", who: "admin", form: vals("role", "viewer"), status: 303},
		{name: "change role bad", method: "POST", path: "/people/" + viewer + "/role", who: "admin", form: vals("role", "emperor"), status: 400, want: []string{"Viewer Person: Role must be one of"}},
		{name: "admin cannot change an owner", method: "POST", path: "/people/" + id(f.users["owner"].ID) + "/role", who: "admin", form: vals("role", "viewer"), status: 403},
		{name: "nobody changes their own role", method: "POST", path: "/people/" + id(f.users["owner"].ID) + "/role", who: "owner", form: vals("role", "viewer"), status: 403},
		{name: "change role refused to member", method: "POST", path: "/people/" + viewer + "/role", who: "member", form: vals("role", "admin"), status: 403},
		{name: "remove person", method: "POST", path: "/people/" + id(leaver.ID) + "/remove", who: "admin", status: 303},
		{name: "removed person is gone", method: "GET", path: "/people", who: "admin", status: 200, notWant: []string{"Leaving Person"}},
		{name: "remove refused to viewer", method: "POST", path: "/people/" + member + "/remove", who: "viewer", status: 403},

		// Account.
		{name: "account", method: "GET", path: "/account", who: "viewer", status: 200, want: []string{`id="current_password"`, `id="new_password"`, "Northwind Traders"}},
		{name: "password change needs the current one", method: "POST", path: "/account/password", who: "viewer", form: vals("current_password", "wrong-password", "new_password", "a-new-password-1"), status: 400, want: []string{`id="current_password-error"`}, notWant: []string{"wrong-password", "a-new-password-1"}},

		// API tokens.
		{name: "tokens as viewer", method: "GET", path: "/tokens", who: "viewer", status: 200, want: []string{"Deploy pipeline", tok.Prefix}, notWant: []string{`id="token-form"`}},
		{name: "create token", method: "POST", path: "/tokens", who: "admin", form: vals("name", "Nightly export"), status: 200, want: []string{`id="token-secret"`, auth.TokenPrefix, "only time the token is shown"}},
		{name: "create token without name", method: "POST", path: "/tokens", who: "admin", form: vals("name", " "), status: 400, want: []string{`id="name-error"`, "Name is required"}},
		{name: "create token refused to member", method: "POST", path: "/tokens", who: "member", form: vals("name", "x"), status: 403},
		{name: "revoke token", method: "POST", path: "/tokens/" + id(tok.ID) + "/revoke", who: "admin", status: 303, location: "/tokens"},
		{name: "revoked token shows", method: "GET", path: "/tokens", who: "viewer", status: 200, want: []string{"Revoked"}},
		{name: "revoke unknown token", method: "POST", path: "/tokens/999999/revoke", who: "admin", status: 404},

		// Organization, activity, assets, errors.
		{name: "organization", method: "GET", path: "/organization", who: "viewer", status: 200, want: []string{"northwind", "Readiness report"}},
		{name: "activity", method: "GET", path: "/activity", who: "viewer", status: 200, want: []string{"Updated a control", "Member Person"}},
		{name: "activity of people", method: "GET", path: "/activity?type=member.", who: "viewer", status: 200, want: []string{"Removed a person"}, notWant: []string{"Updated a control"}},
		{name: "activity bad type", method: "GET", path: "/activity?type=secrets.", who: "viewer", status: 400},
		{name: "stylesheet", method: "GET", path: "/static/style.css", status: 200, want: []string{"prefers-color-scheme: dark"}},
		{name: "logo", method: "GET", path: "/static/logo.svg", status: 200, want: []string{"<svg"}},
		{name: "unknown asset", method: "GET", path: "/static/nope.css", status: 404},
		{name: "unknown page", method: "GET", path: "/no/such/page", who: "viewer", status: 404, want: []string{"Page not found", "Northwind Traders"}},
		{name: "unknown page signed out", method: "GET", path: "/no/such/page", status: 404, want: []string{"Page not found"}},
	})
}

// TestViewersCannotPost sends every state-changing page route as a viewer: each is 403 and
// nothing changes.
func TestViewersCannotPost(t *testing.T) {
	f := newUIFixture(t)
	c := f.control
	sys := f.newSystem(t, "Viewer target")
	_, tok, err := f.auth.CreateAPIToken(f.ctx, domain.SystemActor, f.north.ID, f.users["admin"].ID, "Viewer target token")
	if err != nil {
		t.Fatal(err)
	}
	before := f.northState(t)
	routes := []struct {
		path string
		form url.Values
	}{
		{"/controls", vals("ref", "V-1", "title", "x", "frequency", "monthly", "status", "not_started")},
		{"/controls/" + id(c.ID), editForm(c, "title", "changed")},
		{"/controls/" + id(c.ID) + "/map", vals("criterion", "CC8.1")},
		{"/controls/" + id(c.ID) + "/unmap", vals("criterion", c.Criteria[0])},
		{"/controls/" + id(c.ID) + "/retire", nil},
		{"/controls/" + id(c.ID) + "/restore", nil},
		{"/criteria/CC8.1/map", vals("control_id", id(c.ID))},
		{"/scope", vals("report_type", "type1")},
		{"/scope/systems", vals("name", "x", "kind", "saas", "classification", "internal")},
		{"/scope/systems/" + id(sys.ID), vals("name", "x", "kind", "saas", "classification", "internal")},
		{"/scope/systems/" + id(sys.ID) + "/delete", nil},
		{"/people", vals("email", "x@northwind.example", "name", "X", "role", "viewer")},
		{"/people/" + id(f.users["member"].ID) + "/role", vals("role", "admin")},
		{"/people/" + id(f.users["member"].ID) + "/remove", nil},
		{"/tokens", vals("name", "x")},
		{"/tokens/" + id(tok.ID) + "/revoke", nil},
	}
	for _, rt := range routes {
		t.Run(rt.path, func(t *testing.T) {
			rec := f.do(t, "POST", rt.path, "viewer", rt.form)
			if rec.Code != http.StatusForbidden {
				t.Fatalf("POST %s as viewer = %d; want 403", rt.path, rec.Code)
			}
			if !strings.Contains(rec.Body.String(), "Not allowed") {
				t.Errorf("POST %s as viewer: the 403 page does not say so", rt.path)
			}
		})
	}
	if diff := cmp.Diff(before, f.northState(t)); diff != "" {
		t.Errorf("Northwind changed after refused requests (-before +after):\n%s", diff)
	}
}

// orgState is what a tenancy or permission test checks for changes.
type orgState struct {
	Controls []domain.Control
	Systems  []domain.System
	Members  []domain.Member
	Tokens   []domain.APIToken
	Scope    *domain.Scope
}

func (f *uiFixture) state(tb testing.TB, org *domain.Organization) orgState {
	tb.Helper()
	var s orgState
	var err error
	if s.Controls, err = f.st.Controls(f.ctx, org.ID, domain.ControlFilter{IncludeRetired: true}); err != nil {
		tb.Fatal(err)
	}
	if s.Systems, err = f.st.Systems(f.ctx, org.ID); err != nil {
		tb.Fatal(err)
	}
	if s.Members, err = f.st.Members(f.ctx, org.ID); err != nil {
		tb.Fatal(err)
	}
	if s.Tokens, err = f.st.APITokens(f.ctx, org.ID); err != nil {
		tb.Fatal(err)
	}
	if s.Scope, err = f.st.Scope(f.ctx, org.ID); err != nil {
		tb.Fatal(err)
	}
	for i := range s.Tokens {
		s.Tokens[i].LastUsedAt = nil // reading a token's list is not a change
	}
	return s
}

func (f *uiFixture) northState(tb testing.TB) orgState { return f.state(tb, f.north) }

// TestTenancy has Northwind's owner ask for every object route of Bravo by ID: every answer
// is 404, nothing of Bravo is in it, and nothing of Bravo changes.
func TestTenancy(t *testing.T) {
	f := newUIFixture(t)
	bc, bs := id(f.bravoControl.ID), id(f.bravoSystem.ID)
	bu, bt := id(f.users["bravo"].ID), id(f.bravoToken.ID)
	before := f.state(t, f.bravo)
	routes := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/controls/" + bc, nil},
		{"POST", "/controls/" + bc, editForm(f.bravoControl, "title", "Taken over")},
		{"POST", "/controls/" + bc + "/map", vals("criterion", "CC8.1")},
		{"POST", "/controls/" + bc + "/unmap", vals("criterion", f.bravoControl.Criteria[0])},
		{"POST", "/controls/" + bc + "/retire", nil},
		{"POST", "/controls/" + bc + "/restore", nil},
		{"POST", "/criteria/CC8.1/map", vals("control_id", bc)},
		{"GET", "/scope/systems/" + bs, nil},
		{"POST", "/scope/systems/" + bs, vals("name", "Taken over", "kind", "saas", "classification", "public")},
		{"POST", "/scope/systems/" + bs + "/delete", nil},
		{"POST", "/people/" + bu + "/role", vals("role", "viewer")},
		{"POST", "/people/" + bu + "/remove", nil},
		{"POST", "/tokens/" + bt + "/revoke", nil},
		{"POST", "/switch-organization", vals("org_id", id(f.bravo.ID))},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			rec := f.do(t, rt.method, rt.path, "owner", rt.form)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s %s as Northwind's owner = %d; want 404\n%s", rt.method, rt.path, rec.Code, excerpt(rec.Body.String()))
			}
			for _, leak := range []string{bravoSecret, f.bravo.Slug + ".example"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("%s %s: body contains %q", rt.method, rt.path, leak)
				}
			}
		})
	}
	if diff := cmp.Diff(before, f.state(t, f.bravo)); diff != "" {
		t.Errorf("Bravo changed (-before +after):\n%s", diff)
	}
	// And no Northwind page lists anything of Bravo.
	for _, path := range []string{"/", "/controls", "/controls.csv", "/readiness", "/readiness/gaps.csv", "/scope", "/people", "/tokens", "/activity", "/account", "/organization", "/criteria/CC1.1"} {
		rec := f.do(t, "GET", path, "owner", nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d; want 200", path, rec.Code)
		}
		if strings.Contains(rec.Body.String(), bravoSecret) {
			t.Errorf("GET %s as Northwind's owner shows Bravo's data", path)
		}
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	f := newUIFixture(t)
	c := f.control
	path := "/controls/" + id(c.ID)
	tests := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"other origin", map[string]string{"Origin": "https://attacker.example"}, http.StatusForbidden},
		{"same-site subdomain", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request("POST", path, "owner", editForm(c, "title", "Changed by "+tt.name))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("POST %s with %v = %d; want %d", path, tt.header, rec.Code, tt.status)
			}
			got := f.controlByRef(t, f.north, c.Ref).Title
			changed := got == "Changed by "+tt.name
			if changed != (tt.status == http.StatusSeeOther) {
				t.Errorf("title after the request = %q; changed = %v, want %v", got, changed, tt.status == http.StatusSeeOther)
			}
		})
	}
	// Sign-in is protected too, so nobody can sign a browser in to their own account.
	req := httptest.NewRequest("POST", "/signin", strings.NewReader("email=a%40b.example&password=whatever1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site POST /signin = %d; want 403", rec.Code)
	}
}

func TestSignIn(t *testing.T) {
	f := newUIFixture(t)
	const pw = "correct horse battery"
	f.setPassword(t, "member", pw)
	f.setPassword(t, "multi", pw)
	email := f.users["member"].Email

	tests := []struct {
		name     string
		form     url.Values
		status   int
		location string
		want     string
	}{
		{"goes home", vals("email", email, "password", pw), 303, "/", ""},
		{"goes to next", vals("email", "  "+strings.ToUpper(email), "password", pw, "next", "/controls?status=implemented"), 303, "/controls?status=implemented", ""},
		{"refuses another site as next", vals("email", email, "password", pw, "next", "//attacker.example/x"), 303, "/", ""},
		{"refuses an absolute next", vals("email", email, "password", pw, "next", "https://attacker.example/"), 303, "/", ""},
		{"refuses a backslash next", vals("email", email, "password", pw, "next", "/\\attacker.example"), 303, "/", ""},
		{"wrong password", vals("email", email, "password", "not the password"), 401, "", "The email, password or organization is not right"},
		{"unknown email", vals("email", "nobody@northwind.example", "password", pw), 401, "", "The email, password or organization is not right"},
		{"missing email", vals("email", "", "password", pw), 400, "", `id="email-error"`},
		{"missing password", vals("email", email), 400, "", `id="password-error"`},
		{"malformed email", vals("email", "member", "password", pw), 400, "", "not a valid email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, "POST", "/signin", "", tt.form)
			if rec.Code != tt.status {
				t.Fatalf("POST /signin = %d; want %d\n%s", rec.Code, tt.status, excerpt(rec.Body.String()))
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("Location = %q; want %q", got, tt.location)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tt.want) {
				t.Errorf("body does not contain %q\n%s", tt.want, excerpt(body))
			}
			if strings.Contains(body, pw) || strings.Contains(body, "not the password") {
				t.Errorf("the page repeats the password")
			}
			if tt.status == http.StatusSeeOther {
				if c := sessionCookieOf(rec); c == nil || c.Value == "" {
					t.Errorf("no session cookie after sign-in")
				}
			} else if c := sessionCookieOf(rec); c != nil && c.Value != "" {
				t.Errorf("session cookie set after a failed sign-in")
			}
		})
	}

	t.Run("the email is kept after a failure", func(t *testing.T) {
		rec := f.do(t, "POST", "/signin", "", vals("email", email, "password", "not the password"))
		if !strings.Contains(rec.Body.String(), `value="`+email+`"`) {
			t.Errorf("the email is not kept in the form")
		}
	})

	t.Run("organization picks the session's organization", func(t *testing.T) {
		rec := f.do(t, "POST", "/signin", "", vals("email", f.users["multi"].Email, "password", pw, "organization", "bravo"))
		c := sessionCookieOf(rec)
		if rec.Code != http.StatusSeeOther || c == nil {
			t.Fatalf("POST /signin = %d; want 303 with a session", rec.Code)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(c)
		page := httptest.NewRecorder()
		f.srv.ServeHTTP(page, req)
		if !strings.Contains(page.Body.String(), f.bravo.Name) {
			t.Errorf("dashboard after signing in to bravo does not show Bravo")
		}
	})
}

func sessionCookieOf(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie || c.Name == secureSessionCookie {
			return c
		}
	}
	return nil
}

func TestSessionCookieFlags(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		header     map[string]string
		tls        bool
		wantName   string
		wantSecure bool
	}{
		{"plain HTTP", Config{}, nil, false, "evident_session", false},
		{"SecureCookies", Config{SecureCookies: true}, nil, false, "__Host-evident_session", true},
		{"direct TLS", Config{}, nil, true, "__Host-evident_session", true},
		{"trusted TLS proxy", Config{TrustProxy: true}, map[string]string{"X-Forwarded-Proto": "https"}, false, "__Host-evident_session", true},
		{"untrusted proxy header", Config{}, map[string]string{"X-Forwarded-Proto": "https"}, false, "evident_session", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newUIFixtureWith(t, tt.cfg)
			const pw = "correct horse battery"
			f.setPassword(t, "viewer", pw)
			req := f.request("POST", "/signin", "", vals("email", f.users["viewer"].Email, "password", pw))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.tls {
				req = httptest.NewRequest("POST", "https://example.com/signin", strings.NewReader(vals("email", f.users["viewer"].Email, "password", pw).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("POST /signin = %d; want 303\n%s", rec.Code, excerpt(rec.Body.String()))
			}
			c := sessionCookieOf(rec)
			if c == nil {
				t.Fatal("no session cookie")
			}
			got := struct {
				Name     string
				Path     string
				HttpOnly bool
				Secure   bool
				SameSite http.SameSite
				Domain   string
			}{c.Name, c.Path, c.HttpOnly, c.Secure, c.SameSite, c.Domain}
			want := got
			want.Name, want.Path, want.HttpOnly, want.Secure, want.SameSite, want.Domain = tt.wantName, "/", true, tt.wantSecure, http.SameSiteLaxMode, ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("session cookie (-want +got):\n%s", diff)
			}
			if c.Expires.IsZero() {
				t.Errorf("session cookie has no expiry; want the session's absolute limit")
			}

			// The cookie opens pages under the same conditions, and only the secure name
			// counts over TLS.
			page := f.request("GET", "/", "", nil)
			if tt.tls {
				page = httptest.NewRequest("GET", "https://example.com/", nil)
			}
			for k, v := range tt.header {
				page.Header.Set(k, v)
			}
			page.AddCookie(c)
			prec := httptest.NewRecorder()
			f.srv.ServeHTTP(prec, page)
			if prec.Code != http.StatusOK {
				t.Errorf("GET / with the new cookie = %d; want 200", prec.Code)
			}
		})
	}
}

func TestSignOut(t *testing.T) {
	f := newUIFixture(t)
	rec := f.do(t, "POST", "/signout", "member", nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin" {
		t.Fatalf("POST /signout = %d to %q; want 303 to /signin", rec.Code, rec.Header().Get("Location"))
	}
	if c := sessionCookieOf(rec); c == nil || c.MaxAge >= 0 {
		t.Errorf("sign-out does not clear the session cookie: %v", c)
	}
	again := f.do(t, "GET", "/", "member", nil)
	if again.Code != http.StatusSeeOther {
		t.Errorf("GET / with the signed-out session = %d; want 303 to sign in", again.Code)
	}
	// Signing out without a session is harmless.
	if rec := f.do(t, "POST", "/signout", "", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("POST /signout without a session = %d; want 303", rec.Code)
	}
}

func TestFlashMessageShowsOnce(t *testing.T) {
	f := newUIFixture(t)
	rec := f.do(t, "POST", "/controls/"+id(f.control.ID)+"/retire", "member", nil)
	var flash *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "evident_flash" {
			flash = c
		}
	}
	if flash == nil {
		t.Fatal("no flash cookie after a successful form")
	}
	req := f.request("GET", "/controls/"+id(f.control.ID), "member", nil)
	req.AddCookie(flash)
	page := httptest.NewRecorder()
	f.srv.ServeHTTP(page, req)
	if !strings.Contains(page.Body.String(), "Retired "+f.control.Ref) {
		t.Errorf("the next page does not show the flash message")
	}
	cleared := false
	for _, c := range page.Result().Cookies() {
		cleared = cleared || (c.Name == "evident_flash" && c.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("the flash cookie is not cleared once shown")
	}
}

func TestSwitchOrganization(t *testing.T) {
	f := newUIFixture(t)
	home := f.do(t, "GET", "/", "multi", nil)
	if !strings.Contains(home.Body.String(), `action="/switch-organization"`) {
		t.Fatalf("a member of two organizations sees no switcher")
	}
	if one := f.do(t, "GET", "/", "member", nil); strings.Contains(one.Body.String(), `action="/switch-organization"`) {
		t.Errorf("a member of one organization sees a switcher")
	}
	rec := f.do(t, "POST", "/switch-organization", "multi", vals("org_id", id(f.bravo.ID)))
	c := sessionCookieOf(rec)
	if rec.Code != http.StatusSeeOther || c == nil || c.Value == f.sessions["multi"] {
		t.Fatalf("POST /switch-organization = %d, cookie %v; want 303 with a new session token", rec.Code, c)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(c)
	page := httptest.NewRecorder()
	f.srv.ServeHTTP(page, req)
	if !strings.Contains(page.Body.String(), f.bravo.Name) {
		t.Errorf("after switching, the dashboard does not show Bravo")
	}
	// In Bravo, multi is a viewer: no editing.
	req = f.request("POST", "/controls/"+id(f.bravoControl.ID)+"/retire", "", nil)
	req.AddCookie(c)
	rec = httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("a viewer in Bravo retiring a control = %d; want 403", rec.Code)
	}
	if bad := f.do(t, "POST", "/switch-organization", "member", vals("org_id", "x")); bad.Code != http.StatusBadRequest {
		t.Errorf("switching to a malformed organization = %d; want 400", bad.Code)
	}
}

func TestChangePassword(t *testing.T) {
	f := newUIFixture(t)
	const old, next = "old password 1", "new password 2"
	f.setPassword(t, "member", old)
	other := f.newSession(t, f.users["member"].ID, f.north.ID)

	short := f.do(t, "POST", "/account/password", "member", vals("current_password", old, "new_password", "short"))
	if short.Code != http.StatusBadRequest || !strings.Contains(short.Body.String(), `id="new_password-error"`) {
		t.Fatalf("a short new password = %d; want 400 naming new_password", short.Code)
	}
	rec := f.do(t, "POST", "/account/password", "member", vals("current_password", old, "new_password", next))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/account" {
		t.Fatalf("POST /account/password = %d to %q; want 303 to /account", rec.Code, rec.Header().Get("Location"))
	}
	c := sessionCookieOf(rec)
	if c == nil || c.Value == "" {
		t.Fatal("no fresh session after changing the password")
	}
	req := httptest.NewRequest("GET", "/account", nil)
	req.AddCookie(c)
	page := httptest.NewRecorder()
	f.srv.ServeHTTP(page, req)
	if page.Code != http.StatusOK {
		t.Errorf("the fresh session = %d; want 200", page.Code)
	}
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: other})
	stale := httptest.NewRecorder()
	f.srv.ServeHTTP(stale, req)
	if stale.Code != http.StatusSeeOther {
		t.Errorf("another session after a password change = %d; want 303 to sign in", stale.Code)
	}
	u, err := f.st.User(f.ctx, f.users["member"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := auth.VerifyPassword(u.PasswordHash, next); err != nil || !ok {
		t.Errorf("VerifyPassword(new) = %v, %v; want true", ok, err)
	}
}

func TestControlsCSV(t *testing.T) {
	f := newUIFixture(t)
	f.newControl(t, "T-CSV", "=HYPERLINK(\"https://attacker.example\",\"click\")")
	f.newControl(t, "T-CSV2", "@SUM(1+1)")
	f.newControl(t, "T-CSV3", "Plain title, with a comma")

	rec := f.do(t, "GET", "/controls.csv?q=T-CSV", "viewer", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /controls.csv = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type = %q; want text/csv", ct)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="evident-controls-northwind-`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v", err)
	}
	var got [][]string
	for _, r := range rows {
		got = append(got, r[:4])
	}
	want := [][]string{
		{"ref", "title", "status", "owner"},
		{"T-CSV", `'=HYPERLINK("https://attacker.example","click")`, "not_started", ""},
		{"T-CSV2", "'@SUM(1+1)", "not_started", ""},
		{"T-CSV3", "Plain title, with a comma", "not_started", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("controls.csv (-want +got):\n%s", diff)
	}

	all := f.do(t, "GET", "/controls.csv", "viewer", nil)
	n, err := csv.NewReader(all.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := len(catalog.Default().Library) + 3 + 1; len(n) != want {
		t.Errorf("unfiltered export has %d rows; want %d", len(n), want)
	}
	if bad := f.do(t, "GET", "/controls.csv?status=bogus", "viewer", nil); bad.Code != http.StatusBadRequest {
		t.Errorf("export with a bad filter = %d; want 400", bad.Code)
	}
}

func TestCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@x", "'@x"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"a=b", "a=b"},
	}
	for _, tt := range tests {
		if got := csvCell(tt.in); got != tt.want {
			t.Errorf("csvCell(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestGapsCSV(t *testing.T) {
	f := newUIFixture(t)
	rec := f.do(t, "GET", "/readiness/gaps.csv?severity=high", "viewer", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /readiness/gaps.csv = %d", rec.Code)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("the export has %d rows; want a header and gaps", len(rows))
	}
	if diff := cmp.Diff([]string{"rank", "severity", "kind", "title", "criteria", "control", "detail", "next_step"}, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	for i, r := range rows[1:] {
		if r[0] != strconv.Itoa(i+1) || r[1] != "high" {
			t.Errorf("row %d = %v; want rank %d, severity high", i+1, r[:2], i+1)
		}
	}
}

// externalRef matches a src or href that leaves the document: a URL with a scheme or a
// protocol-relative one.
var externalRef = regexp.MustCompile(`(?i)\b(src|href|action)\s*=\s*["']?\s*([a-z][a-z0-9+.-]*:|//)`)

func TestReadinessReportIsSelfContained(t *testing.T) {
	f := newUIFixture(t)
	rec := f.do(t, "GET", "/readiness/report.html", "viewer", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /readiness/report.html = %d", rec.Code)
	}
	body := rec.Body.String()
	if m := externalRef.FindString(body); m != "" {
		t.Errorf("the report refers outside itself: %s", m)
	}
	for _, banned := range []string{"<script", "<link", "<iframe", "<img", "@import", "url("} {
		if strings.Contains(body, banned) {
			t.Errorf("the report contains %s", banned)
		}
	}
	if !strings.Contains(body, "<style>") {
		t.Errorf("the report has no inline styles")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'unsafe-inline'") {
		t.Errorf("Content-Security-Policy = %q; want inline styles and nothing else", csp)
	}
	download := f.do(t, "GET", "/readiness/report.html?download=1", "viewer", nil)
	if cd := download.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="evident-readiness-northwind-`) {
		t.Errorf("download Content-Disposition = %q", cd)
	}
}

func TestWriteReadinessReport(t *testing.T) {
	f := newUIFixture(t)
	rep, err := readiness.Compute(f.ctx, f.st, catalog.Default(), f.north.ID, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	org := *f.north
	org.Name = `<script>alert("x")</script> & Co`
	var buf bytes.Buffer
	if err := WriteReadinessReport(&buf, org, rep); err != nil {
		t.Fatalf("WriteReadinessReport: %v", err)
	}
	out := buf.String()
	for _, want := range []string{
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co",
		"2 March 2026",
		`id="readiness-score"`,
		"Gaps in priority order",
		"Readiness by criterion",
		rep.Criteria[0].Criterion.ID,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report does not contain %q", want)
		}
	}
	if strings.Contains(out, "<script>alert") {
		t.Errorf("the organization name is not escaped")
	}
	if m := externalRef.FindString(out); m != "" {
		t.Errorf("the report refers outside itself: %s", m)
	}
	// Gaps appear in the report's priority order.
	last := -1
	for _, g := range rep.Gaps {
		if g.Kind == readiness.GapNoEvidence {
			continue
		}
		i := strings.Index(out, htmlEscape(g.Title))
		if i < 0 {
			t.Errorf("gap %q is missing", g.Title)
			continue
		}
		if i < last {
			t.Errorf("gap %q is out of order", g.Title)
		}
		last = i
	}
	if err := WriteReadinessReport(&buf, org, nil); err == nil {
		t.Errorf("WriteReadinessReport(nil report) = nil; want an error")
	}
}

// htmlEscape escapes text as html/template does in element content.
func htmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;")
	return r.Replace(s)
}

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	f := newUIFixture(t)
	st := failingControls{Store: f.st}
	srv, err := New(Config{Store: st, Catalog: catalog.Default(), Auth: f.auth, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, f.request("GET", "/controls", "viewer", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("GET /controls with a failing store = %d; want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "disk on fire") {
		t.Errorf("the 500 page shows the error's details")
	}
	if !strings.Contains(rec.Body.String(), "Something went wrong") {
		t.Errorf("the 500 page does not say what happened")
	}
	if !strings.Contains(f.logs.String(), "disk on fire") {
		t.Errorf("the internal error is not logged: %s", f.logs.String())
	}
}

// failingControls is a store whose control listing fails.
type failingControls struct{ domain.Store }

func (failingControls) Controls(context.Context, int64, domain.ControlFilter) ([]domain.Control, error) {
	return nil, errFire
}

var errFire = domain.Errorf(domain.KindInternal, "disk on fire")

func TestLocalPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/controls?q=a%20b", "/controls?q=a%20b"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"controls", "/"},
		{"/a\r\nSet-Cookie: x", "/"},
	}
	for _, tt := range tests {
		if got := localPath(tt.in); got != tt.want {
			t.Errorf("localPath(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestEveryPageHasLandmarksAndLabels checks what keyboard and screen-reader users rely on:
// a skip link, landmarks, one h1, unique ids, and a label for every form control.
func TestEveryPageHasLandmarksAndLabels(t *testing.T) {
	f := newUIFixture(t)
	labelled := regexp.MustCompile(`<label[^>]*for="([^"]+)"`)
	control := regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idAttr := regexp.MustCompile(`\bid="([^"]+)"`)
	for _, path := range []string{"/", "/readiness", "/controls", "/controls/new", "/controls/" + id(f.control.ID), "/criteria", "/criteria/CC6.1", "/scope", "/people", "/account", "/tokens", "/organization", "/activity"} {
		t.Run(path, func(t *testing.T) {
			rec := f.do(t, "GET", path, "owner", nil)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, rec.Code)
			}
			for _, want := range []string{`<html lang="en">`, `class="skip-link" href="#main"`, `<main id="main"`, `<nav class="nav" aria-label="Main">`, `<header class="topbar">`, "<h1"} {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s has no %s", path, want)
				}
			}
			seen := map[string]bool{}
			for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(body, -1) {
				if seen[m[1]] {
					t.Errorf("GET %s: id %q appears twice", path, m[1])
				}
				seen[m[1]] = true
			}
			labels := map[string]bool{}
			for _, m := range labelled.FindAllStringSubmatch(body, -1) {
				labels[m[1]] = true
			}
			for _, tag := range control.FindAllString(body, -1) {
				if strings.Contains(tag, `type="hidden"`) || strings.Contains(tag, " hidden") {
					continue
				}
				m := idAttr.FindStringSubmatch(tag)
				if m == nil || !labels[m[1]] {
					t.Errorf("GET %s: %s has no label", path, tag)
				}
			}
		})
	}
}
