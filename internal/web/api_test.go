package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/alert"
	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// apiFixture is a server over a real SQLite store with two organizations. Acme has an
// owner, an admin, a member and a viewer, each with an API token; Globex is another tenant
// whose objects Acme must never reach.
type apiFixture struct {
	ctx    context.Context
	st     *store.Store
	auth   *auth.Service
	srv    *Server
	logs   *bytes.Buffer
	acme   *domain.Organization
	globex *domain.Organization
	users  map[string]*domain.User // acme's, by role; "globex" for Globex's owner
	tokens map[string]string       // API token secrets, by the same keys

	acmeControl  *domain.Control // a library control of acme
	acmeSystem   *domain.System
	globexCtl    *domain.Control
	globexSystem *domain.System
	globexToken  *domain.APIToken
	globexItem   *domain.Evidence // an item of evidence of Globex
}

func newAPIFixture(tb testing.TB) *apiFixture {
	tb.Helper()
	return newAPIFixtureWith(tb, nil)
}

// newAPIFixtureWith builds the fixture; wrap, when set, wraps the store the server sees.
func newAPIFixtureWith(tb testing.TB, wrap func(domain.Store) domain.Store) *apiFixture {
	tb.Helper()
	ctx := context.Background()
	st := storetest.SQLite(tb)
	cat := catalog.Default()
	f := &apiFixture{ctx: ctx, st: st, logs: &bytes.Buffer{}, users: map[string]*domain.User{}, tokens: map[string]string{}}
	f.auth = auth.New(st, auth.Options{})
	var served domain.Store = st
	if wrap != nil {
		served = wrap(st)
	}
	srv, err := New(Config{
		Store: served, Catalog: cat, Auth: f.auth,
		Logger:     slog.New(slog.NewTextHandler(f.logs, nil)),
		Collect:    &collect.Service{Store: st},
		Monitoring: st,
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	f.srv = srv

	f.acme = &domain.Organization{Slug: "acme", Name: "Acme Corp"}
	f.globex = &domain.Organization{Slug: "globex", Name: "Globex Industries"}
	for _, o := range []*domain.Organization{f.acme, f.globex} {
		if err := st.CreateOrganization(ctx, domain.SystemActor, o, nil, cat.Library); err != nil {
			tb.Fatalf("CreateOrganization(%s): %v", o.Slug, err)
		}
	}
	add := func(key string, org *domain.Organization, role domain.Role) {
		u := &domain.User{Email: key + "@" + org.Slug + ".example", Name: strings.ToUpper(key[:1]) + key[1:] + " of " + org.Name}
		if err := st.CreateUser(ctx, u); err != nil {
			tb.Fatal(err)
		}
		if err := st.AddMember(ctx, domain.SystemActor, org.ID, u.ID, role); err != nil {
			tb.Fatal(err)
		}
		secret, tok, err := f.auth.CreateAPIToken(ctx, domain.SystemActor, org.ID, u.ID, key+" token")
		if err != nil {
			tb.Fatal(err)
		}
		f.users[key], f.tokens[key] = u, secret
		if org == f.globex {
			f.globexToken = tok
		}
	}
	add("owner", f.acme, domain.RoleOwner)
	add("admin", f.acme, domain.RoleAdmin)
	add("member", f.acme, domain.RoleMember)
	add("viewer", f.acme, domain.RoleViewer)
	add("globex", f.globex, domain.RoleOwner)

	f.acmeControl = f.control(tb, f.acme, 0)
	// Both organizations adopted the same library: give Globex's control a title of its own,
	// so that a leak of it would show.
	title := "Globex vault combination rotation"
	f.globexCtl, err = st.UpdateControl(ctx, domain.SystemActor, f.globex.ID, f.control(tb, f.globex, 0).ID, domain.ControlChange{Title: &title})
	if err != nil {
		tb.Fatalf("UpdateControl: %v", err)
	}
	f.acmeSystem = f.system(tb, f.acme, "Acme production cluster")
	f.globexSystem = f.system(tb, f.globex, "Globex billing database")
	items, err := st.AddEvidence(ctx, domain.SystemActor, f.globex.ID, []domain.NewEvidence{{
		Evidence: domain.Evidence{
			Kind: domain.EvidenceNote, Title: "Globex vault audit", ControlIDs: []int64{f.globexCtl.ID},
			PeriodStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		},
		Content: []byte("Globex vault audit notes"),
	}})
	if err != nil {
		tb.Fatalf("AddEvidence(globex): %v", err)
	}
	f.globexItem = &items[0]
	return f
}

func (f *apiFixture) control(tb testing.TB, org *domain.Organization, i int) *domain.Control {
	tb.Helper()
	cs, err := f.st.Controls(f.ctx, org.ID, domain.ControlFilter{})
	if err != nil || len(cs) <= i {
		tb.Fatalf("Controls(%s) = %d controls, %v", org.Slug, len(cs), err)
	}
	return &cs[i]
}

func (f *apiFixture) system(tb testing.TB, org *domain.Organization, name string) *domain.System {
	tb.Helper()
	sys := &domain.System{OrgID: org.ID, Name: name, Kind: "database", Classification: domain.DataConfidential}
	if err := f.st.CreateSystem(f.ctx, domain.SystemActor, sys); err != nil {
		tb.Fatalf("CreateSystem(%s): %v", name, err)
	}
	return sys
}

// do sends a request as the holder of the API token for `who` ("" for no credentials).
func (f *apiFixture) do(tb testing.TB, method, path, who, body string) *httptest.ResponseRecorder {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[who])
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// apiCase is one row of an endpoint table.
type apiCase struct {
	name   string
	method string
	path   string
	who    string // whose API token; "" for none
	body   string
	status int
	want   []string // substrings of the response body
	field  string   // for 400: the field the error must name
}

func (f *apiFixture) run(t *testing.T, tests []apiCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, tt.method, tt.path, tt.who, tt.body)
			got := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("%s %s as %q = %d %s; want %d", tt.method, tt.path, tt.who, rec.Code, got, tt.status)
			}
			if rec.Code != http.StatusNoContent {
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q; want application/json", ct)
				}
				if !json.Valid(rec.Body.Bytes()) {
					t.Errorf("body is not JSON: %s", got)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s %s body = %s; want it to contain %s", tt.method, tt.path, got, w)
				}
			}
			if tt.field != "" || rec.Code >= 400 {
				var e apiErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Fatalf("error body = %s; want {\"error\":{\"code\",\"message\"}}", got)
				}
				if e.Error.Field != tt.field {
					t.Errorf("error field = %q; want %q (%s)", e.Error.Field, tt.field, got)
				}
			}
		})
	}
}

func TestAPIAuthentication(t *testing.T) {
	f := newAPIFixture(t)
	revokedSecret, revoked, err := f.auth.CreateAPIToken(f.ctx, domain.SystemActor, f.acme.ID, f.users["member"].ID, "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.auth.RevokeAPIToken(f.ctx, domain.SystemActor, f.acme.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	leftSecret, _, err := f.auth.CreateAPIToken(f.ctx, domain.SystemActor, f.acme.ID, f.users["viewer"].ID, "leaver")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.RemoveMember(f.ctx, domain.SystemActor, f.acme.ID, f.users["viewer"].ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"no credentials", "", 401},
		{"unknown token", "Bearer evd_" + strings.Repeat("x", 43), 401},
		{"not a token", "Bearer hunter2", 401},
		{"basic auth", "Basic YWxpY2U6aHVudGVyMg==", 401},
		{"revoked token", "Bearer " + revokedSecret, 401},
		{"token of someone who left", "Bearer " + leftSecret, 401},
		{"valid token", "Bearer " + f.tokens["member"], 200},
		{"scheme in lower case", "bearer " + f.tokens["member"], 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/me", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("GET /api/v1/me = %d %s; want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.status == 401 {
				if !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) || rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("401 = %s with WWW-Authenticate %q; want an unauthorized error and the header", rec.Body, rec.Header().Get("WWW-Authenticate"))
				}
			}
		})
	}
}

func TestAPISessionCookie(t *testing.T) {
	f := newAPIFixture(t)
	if err := f.auth.SetPassword(f.ctx, f.users["member"].ID, "member password"); err != nil {
		t.Fatal(err)
	}
	token, _, err := f.auth.SignIn(f.ctx, f.users["member"].Email, "member password", "192.0.2.1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path, body string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		return rec
	}
	rec := send("GET", "/api/v1/me", "", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"authenticated":"session"`) {
		t.Fatalf("GET /me with a session = %d %s; want 200 authenticated by session", rec.Code, rec.Body)
	}
	path := fmt.Sprintf("/api/v1/controls/%d", f.acmeControl.ID)
	rec = send("PATCH", path, `{"status":"in_progress"}`, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if rec.Code != 200 {
		t.Fatalf("same-origin PATCH with a session = %d %s; want 200", rec.Code, rec.Body)
	}
	rec = send("PATCH", path, `{"status":"implemented"}`, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if rec.Code != 403 {
		t.Fatalf("cross-site PATCH with a session = %d %s; want 403", rec.Code, rec.Body)
	}
	c, err := f.st.Control(f.ctx, f.acme.ID, f.acmeControl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != domain.StatusInProgress {
		t.Errorf("after a refused cross-site PATCH status = %s; want in_progress", c.Status)
	}
	if err := f.auth.SignOut(f.ctx, token); err != nil {
		t.Fatal(err)
	}
	if rec := send("GET", "/api/v1/me", "", nil); rec.Code != 401 {
		t.Errorf("GET /me after sign-out = %d; want 401", rec.Code)
	}
}

func TestAPIEndpoints(t *testing.T) {
	f := newAPIFixture(t)
	ctl := fmt.Sprintf("/api/v1/controls/%d", f.acmeControl.ID)
	sys := fmt.Sprintf("/api/v1/systems/%d", f.acmeSystem.ID)
	member := fmt.Sprintf("/api/v1/users/%d", f.users["member"].ID)
	owner := fmt.Sprintf("/api/v1/users/%d", f.users["owner"].ID)
	admin := fmt.Sprintf("/api/v1/users/%d", f.users["admin"].ID)
	viewer := fmt.Sprintf("/api/v1/users/%d", f.users["viewer"].ID)
	mapping := ctl + "/criteria/A1.2"
	newControl := `{"ref":"CUS-01","title":"Customer data deletion","frequency":"per_event","criteria":["C1.2","CC6.5"]}`
	tests := []apiCase{
		{"openapi needs no auth", "GET", "/api/v1/openapi.json", "", "", 200, []string{`"openapi": "3.1.0"`}, ""},
		{"me without auth", "GET", "/api/v1/me", "", "", 401, nil, ""},
		{"me as viewer", "GET", "/api/v1/me", "viewer", "", 200, []string{`"role":"viewer"`, `"slug":"acme"`, `"authenticated":"token"`}, ""},
		{"method not allowed", "DELETE", "/api/v1/me", "owner", "", 405, []string{"GET"}, ""},
		{"unknown endpoint", "GET", "/api/v1/nothing-here", "owner", "", 404, nil, ""},

		{"criteria", "GET", "/api/v1/criteria", "viewer", "", 200, []string{`"id":"CC6.1"`, `"id":"P8.1"`, `"in_scope":true`, `"in_scope":false`}, ""},
		{"criteria of a category", "GET", "/api/v1/criteria?category=availability", "viewer", "", 200, []string{`"id":"A1.1"`}, ""},
		{"criteria of an unknown category", "GET", "/api/v1/criteria?category=safety", "viewer", "", 400, nil, "category"},
		{"criteria without auth", "GET", "/api/v1/criteria", "", "", 401, nil, ""},
		{"criterion with mapped controls", "GET", "/api/v1/criteria/CC6.1", "viewer", "", 200, []string{`"id":"CC6.1"`, `"points_of_focus"`, `"controls":[{`}, ""},
		{"unknown criterion", "GET", "/api/v1/criteria/CC9.9", "viewer", "", 404, nil, ""},

		{"controls", "GET", "/api/v1/controls", "viewer", "", 200, []string{`"ref":"` + f.acmeControl.Ref + `"`}, ""},
		{"controls by query and status", "GET", "/api/v1/controls?q=access&status=not_started&owner=none&include_retired=true", "viewer", "", 200, []string{`"controls":[{`}, ""},
		{"controls by criterion and domain", "GET", "/api/v1/controls?criterion=CC6.1&domain=Access+Control", "viewer", "", 200, []string{`"CC6.1"`}, ""},
		{"controls with a bad status", "GET", "/api/v1/controls?status=done", "viewer", "", 400, nil, "status"},
		{"controls with a bad owner", "GET", "/api/v1/controls?owner=me", "viewer", "", 400, nil, "owner"},
		{"controls with an unknown criterion", "GET", "/api/v1/controls?criterion=XX1.1", "viewer", "", 400, nil, "criterion"},
		{"controls with a bad flag", "GET", "/api/v1/controls?include_retired=maybe", "viewer", "", 400, nil, "include_retired"},
		{"control", "GET", ctl, "viewer", "", 200, []string{`"from_library":true`, `"status":"not_started"`}, ""},
		{"control that does not exist", "GET", "/api/v1/controls/999999", "viewer", "", 404, nil, ""},
		{"control with a non-numeric ID", "GET", "/api/v1/controls/AC-01", "viewer", "", 404, nil, ""},

		{"create control as viewer", "POST", "/api/v1/controls", "viewer", newControl, 403, nil, ""},
		{"create control without auth", "POST", "/api/v1/controls", "", newControl, 401, nil, ""},
		{"create control", "POST", "/api/v1/controls", "member", newControl, 201, []string{`"ref":"CUS-01"`, `"criteria":["C1.2","CC6.5"]`, `"from_library":false`}, ""},
		{"create control with a used ref", "POST", "/api/v1/controls", "member", newControl, 409, nil, ""},
		{"create control with a bad frequency", "POST", "/api/v1/controls", "member", `{"ref":"CUS-02","title":"T","frequency":"hourly"}`, 400, nil, "frequency"},
		{"create control without title", "POST", "/api/v1/controls", "member", `{"ref":"CUS-02","frequency":"daily"}`, 400, nil, "title"},
		{"create control with an unknown criterion", "POST", "/api/v1/controls", "member", `{"ref":"CUS-02","title":"T","frequency":"daily","criteria":["CC0.1"]}`, 400, nil, "criteria"},
		{"create control not applicable without reason", "POST", "/api/v1/controls", "member", `{"ref":"CUS-02","title":"T","frequency":"daily","status":"not_applicable"}`, 400, nil, "justification"},
		{"create control owned by an outsider", "POST", "/api/v1/controls", "member", fmt.Sprintf(`{"ref":"CUS-02","title":"T","frequency":"daily","owner_id":%d}`, f.users["globex"].ID), 400, nil, "owner_id"},
		{"create control with an unknown field", "POST", "/api/v1/controls", "member", `{"ref":"CUS-02","title":"T","frequency":"daily","colour":"red"}`, 400, nil, "colour"},
		{"create control with a wrong type", "POST", "/api/v1/controls", "member", `{"ref":"CUS-02","title":7,"frequency":"daily"}`, 400, nil, "title"},
		{"create control with bad JSON", "POST", "/api/v1/controls", "member", `{"ref":`, 400, nil, "body"},
		{"create control with two objects", "POST", "/api/v1/controls", "member", `{} {}`, 400, nil, "body"},
		{"create control with an array", "POST", "/api/v1/controls", "member", `[]`, 400, nil, "body"},

		{"change control as viewer", "PATCH", ctl, "viewer", `{"status":"implemented"}`, 403, nil, ""},
		{"change control", "PATCH", ctl, "member", fmt.Sprintf(`{"status":"implemented","owner_id":%d}`, f.users["member"].ID), 200, []string{`"status":"implemented"`, fmt.Sprintf(`"owner_id":%d`, f.users["member"].ID), `"owner_name":"Member of Acme Corp"`}, ""},
		{"remove control owner", "PATCH", ctl, "member", `{"owner_id":null}`, 200, []string{`"owner_id":null`, `"status":"implemented"`}, ""},
		{"change control status to nonsense", "PATCH", ctl, "member", `{"status":"finished"}`, 400, nil, "status"},
		{"change control owner to a string", "PATCH", ctl, "member", `{"owner_id":"me"}`, 400, nil, "owner_id"},
		{"change control to not applicable without reason", "PATCH", ctl, "member", `{"status":"not_applicable"}`, 400, nil, "justification"},
		{"change control to not applicable", "PATCH", ctl, "member", `{"status":"not_applicable","justification":"No such systems."}`, 200, []string{`"justification":"No such systems."`}, ""},
		{"retire control", "PATCH", ctl, "admin", `{"retired":true}`, 200, []string{`"retired":true`}, ""},
		{"restore control", "PATCH", ctl, "admin", `{"retired":false}`, 200, []string{`"retired":false`, `"retired_at":null`}, ""},
		{"change control with an unknown field", "PATCH", ctl, "member", `{"ref":"X-1"}`, 400, nil, "ref"},
		{"change a control that does not exist", "PATCH", "/api/v1/controls/999999", "member", `{"title":"x"}`, 404, nil, ""},

		{"map control as viewer", "PUT", mapping, "viewer", "", 403, nil, ""},
		{"map control", "PUT", mapping, "member", "", 200, []string{`"A1.2"`}, ""},
		{"map control again", "PUT", mapping, "member", "", 200, []string{`"A1.2"`}, ""},
		{"map control to an unknown criterion", "PUT", ctl + "/criteria/ZZ1.1", "member", "", 400, nil, "criterion"},
		{"unmap control", "DELETE", mapping, "member", "", 200, nil, ""},
		{"unmap control again", "DELETE", mapping, "member", "", 404, nil, ""},
		{"map a control that does not exist", "PUT", "/api/v1/controls/999999/criteria/CC1.1", "member", "", 404, nil, ""},

		{"scope", "GET", "/api/v1/scope", "viewer", "", 200, []string{`"categories":["security"]`, `"report_type":"type2"`}, ""},
		{"change scope as member", "PUT", "/api/v1/scope", "member", `{"categories":["security"],"report_type":"type1"}`, 403, nil, ""},
		{"change scope", "PUT", "/api/v1/scope", "admin", `{"categories":["availability","privacy"],"report_type":"type2","period_start":"2026-01-01","period_end":"2026-06-30","out_of_scope":"The marketing site."}`, 200, []string{`"categories":["security","availability","privacy"]`, `"period_end":"2026-06-30"`, `"target_date":null`}, ""},
		{"change scope with an unknown category", "PUT", "/api/v1/scope", "admin", `{"categories":["safety"],"report_type":"type1"}`, 400, nil, "categories"},
		{"change scope with a bad report type", "PUT", "/api/v1/scope", "admin", `{"report_type":"type3"}`, 400, nil, "report_type"},
		{"change scope with a bad date", "PUT", "/api/v1/scope", "admin", `{"report_type":"type1","target_date":"next spring"}`, 400, nil, "target_date"},
		{"change scope with a short period", "PUT", "/api/v1/scope", "admin", `{"report_type":"type2","period_start":"2026-01-01","period_end":"2026-01-31"}`, 400, nil, "period_end"},
		{"change scope without content type", "PUT", "/api/v1/scope", "admin", "", 400, nil, "body"},

		{"systems", "GET", "/api/v1/systems", "viewer", "", 200, []string{`"name":"Acme production cluster"`}, ""},
		{"system", "GET", sys, "viewer", "", 200, []string{`"classification":"confidential"`}, ""},
		{"add system as member", "POST", "/api/v1/systems", "member", `{"name":"CRM","kind":"saas","classification":"internal"}`, 403, nil, ""},
		{"add system", "POST", "/api/v1/systems", "admin", fmt.Sprintf(`{"name":"CRM","kind":"saas","classification":"internal","owner_id":%d}`, f.users["member"].ID), 201, []string{`"name":"CRM"`, `"owner_name":"Member of Acme Corp"`}, ""},
		{"add system with a used name", "POST", "/api/v1/systems", "admin", `{"name":"CRM","kind":"saas","classification":"internal"}`, 409, nil, ""},
		{"add system with a bad kind", "POST", "/api/v1/systems", "admin", `{"name":"Laptop","kind":"gadget","classification":"internal"}`, 400, nil, "kind"},
		{"add system with a bad classification", "POST", "/api/v1/systems", "admin", `{"name":"Laptop","kind":"endpoint","classification":"secret"}`, 400, nil, "classification"},
		{"add system without name", "POST", "/api/v1/systems", "admin", `{"kind":"endpoint","classification":"internal"}`, 400, nil, "name"},
		{"change system", "PUT", sys, "admin", `{"name":"Acme production cluster","description":"EKS","kind":"infrastructure","classification":"restricted"}`, 200, []string{`"classification":"restricted"`, `"description":"EKS"`}, ""},
		{"change system as viewer", "PUT", sys, "viewer", `{"name":"x","kind":"other","classification":"public"}`, 403, nil, ""},
		{"change system with a bad kind", "PUT", sys, "admin", `{"name":"x","kind":"rocket","classification":"public"}`, 400, nil, "kind"},
		{"remove system", "DELETE", sys, "owner", "", 204, nil, ""},
		{"remove system again", "DELETE", sys, "owner", "", 404, nil, ""},
		{"system that was removed", "GET", sys, "viewer", "", 404, nil, ""},

		{"readiness", "GET", "/api/v1/readiness", "viewer", "", 200, []string{`"score":`, `"gaps":[{`, `"controls_by_status"`, `"categories":["security","availability","privacy"]`}, ""},
		{"readiness without auth", "GET", "/api/v1/readiness", "", "", 401, nil, ""},

		{"users", "GET", "/api/v1/users", "viewer", "", 200, []string{`"email":"viewer@acme.example"`, `"role":"owner"`}, ""},
		{"add user as member", "POST", "/api/v1/users", "member", `{"email":"new@acme.example","name":"New","role":"member"}`, 403, nil, ""},
		{"add new user", "POST", "/api/v1/users", "admin", `{"email":"New@Acme.example","name":"New Person","role":"member"}`, 201, []string{`"email":"new@acme.example"`, `"created":true`, `"password":"`}, ""},
		{"add user already a member", "POST", "/api/v1/users", "admin", `{"email":"new@acme.example","role":"viewer"}`, 409, nil, ""},
		{"add existing user of another organization", "POST", "/api/v1/users", "admin", `{"email":"globex@globex.example","role":"viewer"}`, 201, []string{`"created":false`}, ""},
		{"add user as owner by an admin", "POST", "/api/v1/users", "admin", `{"email":"boss@acme.example","name":"Boss","role":"owner"}`, 403, nil, ""},
		{"add user as owner by an owner", "POST", "/api/v1/users", "owner", `{"email":"boss@acme.example","name":"Boss","role":"owner"}`, 201, []string{`"role":"owner"`}, ""},
		{"add user with a bad email", "POST", "/api/v1/users", "admin", `{"email":"nobody","name":"N","role":"member"}`, 400, nil, "email"},
		{"add user with a bad role", "POST", "/api/v1/users", "admin", `{"email":"x@acme.example","name":"X","role":"god"}`, 400, nil, "role"},
		{"add new user without name", "POST", "/api/v1/users", "admin", `{"email":"x@acme.example","role":"member"}`, 400, nil, "name"},
		{"add user with a password", "POST", "/api/v1/users", "admin", `{"email":"x@acme.example","name":"X","role":"member","password":"chosen"}`, 400, nil, "password"},
		{"change role", "PATCH", member, "admin", `{"role":"viewer"}`, 200, []string{`"role":"viewer"`}, ""},
		{"change role back", "PATCH", member, "admin", `{"role":"member"}`, 200, []string{`"role":"member"`}, ""},
		{"change role as member", "PATCH", viewer, "member", `{"role":"admin"}`, 403, nil, ""},
		{"change an owner as admin", "PATCH", owner, "admin", `{"role":"viewer"}`, 403, nil, ""},
		{"make an owner as admin", "PATCH", viewer, "admin", `{"role":"owner"}`, 403, nil, ""},
		{"change own role", "PATCH", admin, "admin", `{"role":"owner"}`, 403, nil, ""},
		{"change role to nonsense", "PATCH", member, "admin", `{"role":"king"}`, 400, nil, "role"},
		{"change role without role", "PATCH", member, "admin", `{}`, 400, nil, "role"},
		{"change role of a stranger", "PATCH", "/api/v1/users/999999", "admin", `{"role":"viewer"}`, 404, nil, ""},
		{"remove own membership", "DELETE", owner, "owner", "", 403, nil, ""},
		{"remove an owner as admin", "DELETE", owner, "admin", "", 403, nil, ""},
		{"remove user", "DELETE", viewer, "admin", "", 204, nil, ""},
		{"remove user again", "DELETE", viewer, "admin", "", 404, nil, ""},
		{"removed user's token", "GET", "/api/v1/me", "viewer", "", 401, nil, ""},

		{"events", "GET", "/api/v1/events", "member", "", 200, []string{`"type":"organization.created"`, `"type":"control.updated"`, `"type":"member.removed"`}, ""},
		{"events of a type", "GET", "/api/v1/events?type=system.&limit=2", "member", "", 200, []string{`"type":"system.`, `"next_before":`}, ""},
		{"events by actor since", "GET", fmt.Sprintf("/api/v1/events?actor=%d&since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&before=1000", f.users["admin"].ID), "member", "", 200, []string{`"actor":"admin@acme.example"`}, ""},
		{"events with a bad limit", "GET", "/api/v1/events?limit=0", "member", "", 400, nil, "limit"},
		{"events with a huge limit", "GET", "/api/v1/events?limit=100000", "member", "", 400, nil, "limit"},
		{"events with a bad time", "GET", "/api/v1/events?since=yesterday", "member", "", 400, nil, "since"},
		{"events with a bad actor", "GET", "/api/v1/events?actor=bob", "member", "", 400, nil, "actor"},

		{"tokens as member", "GET", "/api/v1/tokens", "member", "", 403, nil, ""},
		{"tokens", "GET", "/api/v1/tokens", "admin", "", 200, []string{`"name":"member token"`, `"prefix":"evd_`}, ""},
		{"create token as member", "POST", "/api/v1/tokens", "member", `{"name":"ci"}`, 403, nil, ""},
		{"create token", "POST", "/api/v1/tokens", "admin", `{"name":"CI"}`, 201, []string{`"secret":"evd_`, `"name":"CI"`, fmt.Sprintf(`"user_id":%d`, f.users["admin"].ID)}, ""},
		{"create token without name", "POST", "/api/v1/tokens", "admin", `{"name":" "}`, 400, nil, "name"},
		{"create token for someone else", "POST", "/api/v1/tokens", "admin", fmt.Sprintf(`{"name":"x","user_id":%d}`, f.users["owner"].ID), 400, nil, "user_id"},
		{"revoke token that does not exist", "DELETE", "/api/v1/tokens/999999", "admin", "", 404, nil, ""},
		{"revoke token as member", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", f.tokenID(t, "member")), "member", "", 403, nil, ""},
		{"revoke token", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", f.tokenID(t, "member")), "admin", "", 204, nil, ""},
		{"revoked token", "GET", "/api/v1/me", "member", "", 401, nil, ""},
	}
	f.run(t, tests)
}

// tokenID returns the ID of the API token of `who`.
func (f *apiFixture) tokenID(tb testing.TB, who string) int64 {
	tb.Helper()
	ts, err := f.st.APITokens(f.ctx, f.acme.ID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, t := range ts {
		if t.Name == who+" token" {
			return t.ID
		}
	}
	tb.Fatalf("no token for %s", who)
	return 0
}

func TestAPIBodyLimit(t *testing.T) {
	f := newAPIFixture(t)
	big := `{"ref":"BIG-01","title":"T","frequency":"daily","description":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	f.run(t, []apiCase{{"body over 1 MiB", "POST", "/api/v1/controls", "member", big, 400, []string{"at most 1048576 bytes"}, "body"}})
}

// TestAPITenancy has Acme's owner, who may call every route, ask for each of Globex's
// objects by ID. Every answer is 404 and names nothing of Globex, and nothing changes.
func TestAPITenancy(t *testing.T) {
	cf := newConnAPIFixture(t)
	f := cf.apiFixture
	mapped := f.globexCtl.Criteria[0]
	withNotifier(t, f)
	g := f.globexMonitoring(t, cf.env)
	n := func(id int64) string { return strconv.FormatInt(id, 10) }
	routes := []struct {
		method, pattern string
		id              string
		criterion, body string
	}{
		{"GET", "/controls/{id}", n(f.globexCtl.ID), "", ""},
		{"PATCH", "/controls/{id}", n(f.globexCtl.ID), "", `{"status":"implemented"}`},
		{"PUT", "/controls/{id}/criteria/{criterion}", n(f.globexCtl.ID), "A1.1", ""},
		{"DELETE", "/controls/{id}/criteria/{criterion}", n(f.globexCtl.ID), mapped, ""},
		{"GET", "/systems/{id}", n(f.globexSystem.ID), "", ""},
		{"PUT", "/systems/{id}", n(f.globexSystem.ID), "", `{"name":"Mine now","kind":"other","classification":"public"}`},
		{"DELETE", "/systems/{id}", n(f.globexSystem.ID), "", ""},
		{"PATCH", "/users/{id}", n(f.users["globex"].ID), "", `{"role":"viewer"}`},
		{"DELETE", "/users/{id}", n(f.users["globex"].ID), "", ""},
		{"DELETE", "/tokens/{id}", n(f.globexToken.ID), "", ""},
		{"GET", "/evidence/{id}", n(f.globexItem.ID), "", ""},
		{"GET", "/evidence/{id}/content", n(f.globexItem.ID), "", ""},
		{"GET", "/evidence/{id}/proof", n(f.globexItem.ID), "", ""},
		{"POST", "/evidence/{id}/supersede", n(f.globexItem.ID), "", `{"kind":"note","title":"Mine now","period_start":"2026-01-01","period_end":"2026-03-31","note":"x"}`},
		{"POST", "/evidence/{id}/retract", n(f.globexItem.ID), "", `{"reason":"not ours"}`},
		{"GET", "/connections/{id}", n(g.conn.ID), "", ""},
		{"PATCH", "/connections/{id}", n(g.conn.ID), "", `{"name":"Mine now"}`},
		{"DELETE", "/connections/{id}", n(g.conn.ID), "", ""},
		{"POST", "/connections/{id}/run", n(g.conn.ID), "", ""},
		{"GET", "/connections/{id}/runs", n(g.conn.ID), "", ""},
		{"GET", "/connection-runs/{id}", n(g.run.ID), "", ""},
		{"GET", "/resources/{id}", n(g.resource), "", ""},
		{"GET", "/resources/{id}/versions", n(g.resource), "", ""},
		{"GET", "/tests/{id}", g.test, "", ""},
		{"PUT", "/tests/{id}", g.test, "", g.testDef},
		{"PATCH", "/tests/{id}", g.test, "", `{"enabled":false}`},
		{"DELETE", "/tests/{id}", g.test, "", ""},
		{"POST", "/tests/{id}/enable", g.test, "", ""},
		{"POST", "/tests/{id}/disable", g.test, "", ""},
		{"GET", "/tests/{id}/failures", g.test, "", ""},
		{"GET", "/tests/{id}/history", g.test, "", ""},
		{"GET", "/test-runs/{id}", n(g.testRun), "", ""},
		{"GET", "/exceptions/{id}", n(g.exception), "", ""},
		{"POST", "/exceptions/{id}/revoke", n(g.exception), "", `{"reason":"not ours"}`},
		{"GET", "/alert-targets/{id}", n(g.target), "", ""},
		{"PATCH", "/alert-targets/{id}", n(g.target), "", `{"enabled":false}`},
		{"DELETE", "/alert-targets/{id}", n(g.target), "", ""},
		{"POST", "/alert-targets/{id}/test", n(g.target), "", ""},
	}
	ledgerBefore, err := f.st.LedgerSize(f.ctx, f.globex.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Every object route of the API is in the list above.
	objectRoutes, covered := map[string]bool{}, map[string]bool{}
	for _, rt := range f.srv.apiRoutes() {
		if strings.Contains(rt.Path, "{id}") && rt.Path != "/criteria/{id}" {
			objectRoutes[rt.Method+" "+rt.Path] = true
		}
	}
	for _, r := range routes {
		covered[r.method+" "+r.pattern] = true
	}
	if diff := cmp.Diff(objectRoutes, covered); diff != "" {
		t.Fatalf("tenancy routes do not cover the API's object routes (-api +tested):\n%s", diff)
	}

	leaks := []string{"globex", "Globex", f.globexCtl.Title, f.globexSystem.Name, f.users["globex"].Email, f.users["globex"].Name, "globex token"}
	for _, r := range routes {
		path := apiPrefix + strings.NewReplacer("{id}", r.id, "{criterion}", r.criterion).Replace(r.pattern)
		t.Run(r.method+" "+path, func(t *testing.T) {
			rec := f.do(t, r.method, path, "owner", r.body)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s %s = %d %s; want 404", r.method, path, rec.Code, rec.Body)
			}
			for _, l := range leaks {
				if strings.Contains(rec.Body.String(), l) {
					t.Errorf("%s %s body %s names %q", r.method, path, rec.Body, l)
				}
			}
		})
	}

	c, err := f.st.Control(f.ctx, f.globex.ID, f.globexCtl.ID)
	if err != nil || c.Status != domain.StatusNotStarted || !cmp.Equal(c.Criteria, f.globexCtl.Criteria) {
		t.Errorf("Globex's control after the attempts = %+v, %v; want it untouched", c, err)
	}
	if s, err := f.st.System(f.ctx, f.globex.ID, f.globexSystem.ID); err != nil || s.Name != f.globexSystem.Name {
		t.Errorf("Globex's system after the attempts = %+v, %v; want it untouched", s, err)
	}
	if m, err := f.st.Member(f.ctx, f.globex.ID, f.users["globex"].ID); err != nil || m.Role != domain.RoleOwner {
		t.Errorf("Globex's owner after the attempts = %+v, %v; want it untouched", m, err)
	}
	if _, err := f.auth.AuthenticateToken(f.ctx, f.tokens["globex"]); err != nil {
		t.Errorf("Globex's token after the attempts: %v; want it still valid", err)
	}
	if e, err := f.st.Evidence(f.ctx, f.globex.ID, f.globexItem.ID); err != nil || !e.Current() {
		t.Errorf("Globex's evidence after the attempts = %+v, %v; want it current", e, err)
	}
	g.unchanged(t, f)
	if after, err := f.st.LedgerSize(f.ctx, f.globex.ID); err != nil || after != ledgerBefore {
		t.Errorf("Globex's ledger after the attempts = %d, %v; want %d", after, err, ledgerBefore)
	}
	// Lists show only Acme's objects.
	for _, path := range []string{"/api/v1/controls", "/api/v1/systems", "/api/v1/users", "/api/v1/tokens", "/api/v1/events", "/api/v1/criteria/" + mapped, "/api/v1/evidence?include_superseded=true&include_retracted=true", "/api/v1/ledger/entries",
		"/api/v1/connections", "/api/v1/connection-runs", "/api/v1/resources", "/api/v1/tests", "/api/v1/test-runs", "/api/v1/exceptions",
		"/api/v1/alert-targets", "/api/v1/alerts"} {
		rec := f.do(t, "GET", path, "owner", "")
		for _, l := range leaks {
			if strings.Contains(rec.Body.String(), l) {
				t.Errorf("GET %s names %q", path, l)
			}
		}
	}
}

// globexObjects are Globex's monitoring objects, for the tenancy test.
type globexObjects struct {
	conn              *domain.Connection
	run               *domain.ConnectionRun
	resource          int64
	test, testDef     string
	testRun           int64
	exception, target int64
}

// globexMonitoring gives Globex a connection with a run and its resources, a test of its
// own with a run, an exception and an alert target, all through Globex's own requests.
func (f *apiFixture) globexMonitoring(tb testing.TB, env *connEnv) *globexObjects {
	tb.Helper()
	g := &globexObjects{test: "globex-only", testDef: strings.Replace(apiCustomTest, "laptops-managed", "globex-only", 1)}
	g.conn = env.addConnection(tb, f.st, f.globex.ID, "Globex directory")
	g.run = env.run(tb, f.globex.ID, g.conn.ID)
	f.pushGlobexDevice(tb)
	res := decodeAs[struct{ Resources []apiResource }](tb, f.do(tb, "GET", "/api/v1/resources?type=okta.user", "globex", ""), http.StatusOK)
	if len(res.Resources) == 0 {
		tb.Fatal("Globex's connection reported no okta.user resources")
	}
	g.resource = res.Resources[0].ID
	decodeAs[apiTestDetail](tb, f.do(tb, "POST", "/api/v1/tests", "globex", g.testDef), http.StatusCreated)
	g.testRun = decodeAs[apiTestRun](tb, f.do(tb, "POST", "/api/v1/test-runs", "globex", ""), http.StatusCreated).ID
	ex := &domain.Exception{OrgID: f.globex.ID, TestID: "device-disk-encrypted", ExternalID: "g-1", Justification: "Globex only",
		ApproverID: f.users["globex"].ID, ExpiresAt: time.Now().Add(30 * 24 * time.Hour)}
	if err := f.st.CreateException(f.ctx, domain.SystemActor, ex); err != nil {
		tb.Fatalf("CreateException(globex): %v", err)
	}
	g.exception = ex.ID
	target := &domain.AlertTarget{OrgID: f.globex.ID, Kind: domain.TargetEmail, Name: "Globex owners", OnFailing: true, MinSeverity: "low", Enabled: true}
	if err := f.st.CreateAlertTarget(f.ctx, domain.SystemActor, target, nil); err != nil {
		tb.Fatalf("CreateAlertTarget(globex): %v", err)
	}
	g.target = target.ID
	return g
}

// withNotifier rebuilds the fixture's server with an alert notifier that has no mail server
// and may reach no private address.
func withNotifier(tb testing.TB, f *apiFixture) {
	tb.Helper()
	g := &alert.Guard{}
	cfg := f.srv.cfg
	cfg.Notifier = &collect.Notifier{Store: f.st, Sealer: newSealer(tb), Dispatcher: alert.NewDispatcher(g, nil), Guard: g, Owner: "tenancy-test"}
	var err error
	if f.srv, err = New(cfg); err != nil {
		tb.Fatal(err)
	}
}

// unchanged checks that Globex's monitoring objects are all there as they were.
func (g *globexObjects) unchanged(tb testing.TB, f *apiFixture) {
	tb.Helper()
	if c, err := f.st.Connection(f.ctx, f.globex.ID, g.conn.ID); err != nil || c.Name != g.conn.Name || !c.Enabled {
		tb.Errorf("Globex's connection after the attempts = %+v, %v; want it untouched", c, err)
	}
	if runs, err := f.st.ConnectionRuns(f.ctx, f.globex.ID, domain.RunFilter{}); err != nil || len(runs) != 1 {
		tb.Errorf("Globex's connection runs after the attempts = %d, %v; want 1", len(runs), err)
	}
	if ct, err := f.st.CustomTest(f.ctx, f.globex.ID, g.test); err != nil || !ct.Enabled {
		tb.Errorf("Globex's test after the attempts = %+v, %v; want it there and enabled", ct, err)
	}
	if e, err := f.st.Exception(f.ctx, f.globex.ID, g.exception); err != nil || e.RevokedAt != nil {
		tb.Errorf("Globex's exception after the attempts = %+v, %v; want it in force", e, err)
	}
	if at, err := f.st.AlertTarget(f.ctx, f.globex.ID, g.target); err != nil || !at.Enabled {
		tb.Errorf("Globex's alert target after the attempts = %+v, %v; want it there and enabled", at, err)
	}
}

// TestAPITokenSecretShownOnce creates a token through the API and reads every list and
// object afterwards: the secret never comes back.
func TestAPITokenSecretShownOnce(t *testing.T) {
	f := newAPIFixture(t)
	rec := f.do(t, "POST", "/api/v1/tokens", "owner", `{"name":"deploy"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /tokens = %d %s", rec.Code, rec.Body)
	}
	var created struct {
		Token  apiToken `json:"token"`
		Secret string   `json:"secret"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Secret, auth.TokenPrefix) || created.Token.Prefix != created.Secret[:12] {
		t.Fatalf("created = %+v; want a secret starting with its prefix", created)
	}
	f.tokens["deploy"] = created.Secret
	if rec := f.do(t, "GET", "/api/v1/me", "deploy", ""); rec.Code != 200 {
		t.Fatalf("GET /me with the new token = %d", rec.Code)
	}
	for _, rt := range f.srv.apiRoutes() {
		if rt.Method != "GET" {
			continue
		}
		path := strings.NewReplacer("{id}", fmt.Sprint(created.Token.ID)).Replace(apiPrefix + rt.Path)
		if rt.Path == "/criteria/{id}" {
			path = apiPrefix + "/criteria/CC6.1"
		}
		for _, who := range []string{"owner", "deploy"} {
			rec := f.do(t, "GET", path, who, "")
			if strings.Contains(rec.Body.String(), created.Secret) || strings.Contains(rec.Body.String(), created.Secret[12:]) {
				t.Errorf("GET %s as %s shows the token secret", path, who)
			}
		}
	}
}

// failingStore fails to list controls with an error whose text must never reach a client.
type failingStore struct{ domain.Store }

func (failingStore) Controls(ctx context.Context, orgID int64, f domain.ControlFilter) ([]domain.Control, error) {
	return nil, errors.New("disk full at /var/lib/evident/secret.db")
}

func TestAPIInternalErrorsAreLoggedNotShown(t *testing.T) {
	f := newAPIFixtureWith(t, func(s domain.Store) domain.Store { return failingStore{s} })
	for _, path := range []string{"/api/v1/controls", "/api/v1/readiness"} {
		rec := f.do(t, "GET", path, "viewer", "")
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("GET %s = %d; want 500", path, rec.Code)
		}
		want := `{"error":{"code":"internal","message":"internal error"}}` + "\n"
		if diff := cmp.Diff(want, rec.Body.String()); diff != "" {
			t.Errorf("GET %s body mismatch (-want +got):\n%s", path, diff)
		}
	}
	if !strings.Contains(f.logs.String(), "disk full at /var/lib/evident/secret.db") {
		t.Errorf("log = %q; want the internal error logged", f.logs.String())
	}
}

// TestAPIOpenAPI checks the served OpenAPI document: it is the embedded one, it describes
// exactly the registered routes, and its references resolve.
func TestAPIOpenAPI(t *testing.T) {
	f := newAPIFixture(t)
	rec := f.do(t, "GET", "/api/v1/openapi.json", "", "")
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), openAPIDoc) {
		t.Fatalf("GET /api/v1/openapi.json = %d; want 200 and the embedded document", rec.Code)
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v; want 3.1.0", doc["openapi"])
	}
	var documented []string
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
			o := op.(map[string]any)
			if o["operationId"] == nil || o["summary"] == nil || o["responses"] == nil {
				t.Errorf("%s %s lacks an operationId, summary or responses", method, path)
			}
		}
	}
	var registered []string
	for _, rt := range f.srv.apiRoutes() {
		registered = append(registered, rt.Method+" "+rt.Path)
	}
	sort.Strings(documented)
	sort.Strings(registered)
	if diff := cmp.Diff(registered, documented); diff != "" {
		t.Errorf("OpenAPI paths differ from the registered routes (-registered +documented):\n%s", diff)
	}

	// Every $ref points at something that exists.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if !resolves(doc, ref) {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

// resolves reports whether a local JSON pointer reference names a node of doc.
func resolves(doc map[string]any, ref string) bool {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var node any = doc
	for _, part := range strings.Split(path, "/") {
		m, ok := node.(map[string]any)
		if !ok {
			return false
		}
		if node, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
