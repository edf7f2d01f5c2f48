package web

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// connUIFixture is the page fixture with connections switched on.
type connUIFixture struct {
	*uiFixture
	env *connEnv
}

func newConnUIFixture(tb testing.TB) *connUIFixture {
	tb.Helper()
	f := newUIFixture(tb)
	return &connUIFixture{uiFixture: f, env: withConnections(tb, f.srv, f.st)}
}

// page requests a page and checks that it never shows a credential.
func (f *connUIFixture) page(tb testing.TB, method, path, who string, form url.Values) *httptest.ResponseRecorder {
	tb.Helper()
	rec := f.do(tb, method, path, who, form)
	noSecrets(tb, method+" "+path, rec.Body.String())
	noSecrets(tb, method+" "+path+" headers", strings.Join(rec.Header().Values("Location"), " ")+strings.Join(rec.Header().Values("Set-Cookie"), " "))
	return rec
}

// check runs page cases, each checked for credentials too.
func (f *connUIFixture) check(t *testing.T, cases []uiCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.page(t, tt.method, tt.path, tt.who, tt.form)
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
		})
	}
}

// oktaForm is a complete add form for an Okta connection.
func (f *connUIFixture) oktaForm(name string, kv ...string) url.Values {
	v := vals("kind", "okta", "name", name, "interval", "3600", "enabled", "1",
		"cfg_org_url", f.env.okta.srv.URL, "cfg_api_token", connToken)
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

var runPath = regexp.MustCompile(`^/connections/(\d+)/runs/(\d+)$`)

func TestConnectionPages(t *testing.T) {
	f := newConnUIFixture(t)
	ctx := f.ctx
	bravoConn := f.env.addConnection(t, f.st, f.bravo.ID, bravoSecret+" okta")
	bravoRun := f.env.run(t, f.bravo.ID, bravoConn.ID)
	bravoRes, err := f.st.BrowseResources(ctx, f.bravo.ID, domain.ResourceFilter{}, "")
	if err != nil || len(bravoRes) == 0 {
		t.Fatalf("Bravo's inventory = %d resources, %v; want some", len(bravoRes), err)
	}

	// Adding a connection through the form.
	f.check(t, []uiCase{
		{name: "list, empty", method: "GET", path: "/connections", who: "viewer", status: 200,
			want: []string{"No connections yet", `aria-current="page"`}, notWant: []string{`id="add-connection"`, bravoSecret}},
		{name: "list offers adding to members", method: "GET", path: "/connections", who: "member", status: 200,
			want: []string{`id="add-connection"`, `href="/connections/new?kind=okta"`}},
		{name: "viewer may not open the form", method: "GET", path: "/connections/new?kind=okta", who: "viewer", status: 403},
		{name: "kinds", method: "GET", path: "/connections/new", who: "member", status: 200, want: []string{"Okta", `id="kind-okta"`}},
		{name: "okta form", method: "GET", path: "/connections/new?kind=okta", who: "member", status: 200,
			want: []string{`id="connection-form"`, `for="cfg_org_url"`, "Okta address", `for="cfg_api_token"`, `type="password"`,
				"Security, API, Tokens", "never shown again", `<option value="3600" selected>Every hour</option>`, `/inventory/schema#type-okta.user`}},
		{name: "unknown kind", method: "GET", path: "/connections/new?kind=aws", who: "member", status: 400, want: []string{"Kind must be one of okta"}},
		{name: "viewer may not add", method: "POST", path: "/connections", who: "viewer", form: f.oktaForm("Directory"), status: 403},
		{name: "no name", method: "POST", path: "/connections", who: "member", form: f.oktaForm(""), status: 400,
			want: []string{`id="name-error"`, "Name is required."}},
		{name: "no token", method: "POST", path: "/connections", who: "member", form: f.oktaForm("Directory", "cfg_api_token", ""), status: 400,
			want: []string{`id="cfg_api_token-error"`, "API token is required."}},
		{name: "bad address", method: "POST", path: "/connections", who: "member", form: f.oktaForm("Directory", "cfg_org_url", "http://acme.okta.com"), status: 400,
			want: []string{`id="cfg_org_url-error"`, "Okta address must be an https URL", `value="http://acme.okta.com"`}},
		{name: "bad schedule", method: "POST", path: "/connections", who: "member", form: f.oktaForm("Directory", "interval", "60"), status: 400,
			want: []string{`id="interval-error"`, "Interval must be between"}},
		{name: "unknown kind posted", method: "POST", path: "/connections", who: "member", form: f.oktaForm("Directory", "kind", "aws"), status: 400},
	})
	if list, _ := f.st.Connections(ctx, f.north.ID); len(list) != 0 {
		t.Fatalf("after refused forms Northwind has %d connections; want none", len(list))
	}

	rec := f.page(t, "POST", "/connections", "member", f.oktaForm("Directory", "interval", "21600"))
	if rec.Code != 303 {
		t.Fatalf("add connection = %d\n%s", rec.Code, excerpt(rec.Body.String()))
	}
	conn, err := f.st.ConnectionByName(ctx, f.north.ID, "Directory")
	if err != nil {
		t.Fatal(err)
	}
	if loc := rec.Header().Get("Location"); loc != connectionURL(conn.ID) {
		t.Errorf("after adding, Location = %q; want %q", loc, connectionURL(conn.ID))
	}
	if conn.Kind != "okta" || conn.Interval != 6*time.Hour || !conn.Enabled {
		t.Errorf("added connection = %+v; want okta, every 6 hours, enabled", conn)
	}
	sec, err := f.st.ConnectionSecret(ctx, f.north.ID, conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "the stored credentials", string(sec.Ciphertext))
	cid := id(conn.ID)

	f.check(t, []uiCase{
		{name: "duplicate name", method: "POST", path: "/connections", who: "member", form: f.oktaForm("Directory"), status: 409,
			want: []string{"already used"}},
		{name: "list", method: "GET", path: "/connections", who: "viewer", status: 200,
			want: []string{"Directory", "Okta", "Every 6 hours", "Enabled", "Never run"}},
		{name: "page for an editor", method: "GET", path: "/connections/" + cid, who: "member", status: 200,
			want: []string{`id="connection-form"`, `value="` + f.env.okta.srv.URL + `"`, `id="credentials-state"`, "Set, encrypted, last saved",
				"<strong>Set.</strong> Leave empty to keep it.", `id="run-connection"`, `id="pause-connection"`, `href="/connections/` + cid + `/delete"`, "No runs yet"}},
		{name: "page for a viewer", method: "GET", path: "/connections/" + cid, who: "viewer", status: 200,
			want: []string{"Okta address", f.env.okta.srv.URL, "Set, encrypted"}, notWant: []string{`id="connection-form"`, `id="run-connection"`}},
	})

	// Editing: a name and schedule change keeps the credentials; a new token replaces them.
	edit := vals("name", "Okta directory", "interval", "3600", "cfg_org_url", f.env.okta.srv.URL, "cfg_api_token", "")
	f.check(t, []uiCase{
		{name: "viewer may not edit", method: "POST", path: "/connections/" + cid, who: "viewer", form: edit, status: 403},
		{name: "bad address on edit", method: "POST", path: "/connections/" + cid, who: "member",
			form: vals("name", "Okta directory", "interval", "3600", "cfg_org_url", "ftp://x"), status: 400,
			want: []string{`id="cfg_org_url-error"`, "Okta address must be an https URL"}},
		{name: "edit", method: "POST", path: "/connections/" + cid, who: "member", form: edit, status: 303, location: "/connections/" + cid},
	})
	events, err := f.st.Events(ctx, f.north.ID, domain.EventFilter{Subject: "connection:" + cid})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || strings.Contains(string(events[0].Data), "credentials") {
		t.Errorf("after renaming, the connection's events are %d, latest %s; want a change without new credentials", len(events), events[0].Data)
	}
	run := f.env.run(t, f.north.ID, conn.ID)
	if f.env.okta.sawToken(connToken) == 0 {
		t.Errorf("the run did not use the credentials kept across the edit")
	}
	f.check(t, []uiCase{
		{name: "replace the token", method: "POST", path: "/connections/" + cid, who: "admin",
			form: vals("name", "Okta directory", "interval", "3600", "cfg_org_url", f.env.okta.srv.URL, "cfg_api_token", connToken2), status: 303},
		{name: "pause", method: "POST", path: "/connections/" + cid + "/pause", who: "member", status: 303, location: "/connections/" + cid},
		{name: "paused in the list", method: "GET", path: "/connections", who: "viewer", status: 200, want: []string{"Paused", "Every hour"}},
		{name: "paused page offers resume", method: "GET", path: "/connections/" + cid, who: "member", status: 200, want: []string{`id="resume-connection"`}},
		{name: "viewer may not resume", method: "POST", path: "/connections/" + cid + "/resume", who: "viewer", status: 403},
	})
	if c, _ := f.st.Connection(ctx, f.north.ID, conn.ID); c == nil || c.Enabled || c.Name != "Okta directory" || c.Interval != time.Hour {
		t.Errorf("after editing and pausing the connection is %+v; want renamed, hourly, paused", c)
	}

	// Run now: the request comes back with the run, whose page shows how it ended.
	rec = f.page(t, "POST", "/connections/"+cid+"/run", "member", nil)
	m := runPath.FindStringSubmatch(rec.Header().Get("Location"))
	if rec.Code != 303 || m == nil || m[1] != cid {
		t.Fatalf("run now = %d, Location %q; want a redirect to the run's page", rec.Code, rec.Header().Get("Location"))
	}
	runID, _ := strconv.ParseInt(m[2], 10, 64)
	done := waitRun(t, f.st, f.north.ID, runID)
	if done.Status != domain.RunPartial || done.Trigger != domain.TriggerManual || done.EvidenceID == nil {
		t.Fatalf("the run started by Run now = %+v; want partial (the policies are refused), manual, with a snapshot", done)
	}
	if f.env.okta.sawToken(connToken2) == 0 {
		t.Errorf("the run after replacing the token did not send the new one")
	}
	rid := m[2]
	f.check(t, []uiCase{
		{name: "viewer may not run", method: "POST", path: "/connections/" + cid + "/run", who: "viewer", status: 403},
		{name: "run page", method: "GET", path: "/connections/" + cid + "/runs/" + rid, who: "viewer", status: 200,
			want: []string{"Run #" + rid + " of Okta directory", "Partial", `id="run-counts"`, "okta.user", `<td class="num">2</td>`,
				`id="run-errors"`, "okta.policy", "You do not have permission", `id="run-snapshot"`, `href="/evidence/` + id(*done.EvidenceID) + `"`,
				fmt.Sprintf("%d added, %d changed, %d gone", done.Added, done.Changed, done.Gone), "Started", "Ended"}},
		{name: "run of another connection", method: "GET", path: "/connections/" + cid + "/runs/" + id(bravoRun.ID), who: "viewer", status: 404},
		{name: "history", method: "GET", path: "/connections/" + cid, who: "viewer", status: 200,
			want: []string{`id="runs-table"`, `href="/connections/` + cid + `/runs/` + rid + `"`, `href="/connections/` + cid + `/runs/` + id(run.ID) + `"`, "Run now", "okta.user"}},
		{name: "list shows the last run", method: "GET", path: "/connections", who: "viewer", status: 200,
			want: []string{"Partial", `href="/inventory?source=Okta%20directory"`}},
		{name: "older runs", method: "GET", path: "/connections/" + cid + "?before=" + rid, who: "viewer", status: 200,
			want:    []string{`href="/connections/` + cid + `/runs/` + id(run.ID) + `" class="ref">#` + id(run.ID)},
			notWant: []string{`href="/connections/` + cid + `/runs/` + rid + `" class="ref">#` + rid}},
		{name: "bad cursor", method: "GET", path: "/connections/" + cid + "?before=x", who: "viewer", status: 400, want: []string{"Before must be"}},
	})

	// Another organization's IDs are not found, and change nothing.
	bid, brid := id(bravoConn.ID), id(bravoRun.ID)
	for _, tt := range []uiCase{
		{name: "page", method: "GET", path: "/connections/" + bid},
		{name: "edit", method: "POST", path: "/connections/" + bid, form: vals("name", "Stolen", "interval", "3600")},
		{name: "pause", method: "POST", path: "/connections/" + bid + "/pause"},
		{name: "run", method: "POST", path: "/connections/" + bid + "/run"},
		{name: "delete page", method: "GET", path: "/connections/" + bid + "/delete"},
		{name: "delete", method: "POST", path: "/connections/" + bid + "/delete"},
		{name: "run page", method: "GET", path: "/connections/" + bid + "/runs/" + brid},
		{name: "run via own connection", method: "GET", path: "/connections/" + cid + "/runs/" + brid},
		{name: "resource", method: "GET", path: "/inventory/" + id(bravoRes[0].ID)},
	} {
		t.Run("tenancy "+tt.name, func(t *testing.T) {
			rec := f.page(t, tt.method, tt.path, "owner", tt.form)
			if rec.Code != 404 {
				t.Errorf("%s %s as Northwind's owner = %d; want 404", tt.method, tt.path, rec.Code)
			}
			if strings.Contains(rec.Body.String(), bravoSecret) {
				t.Errorf("%s %s shows Bravo's data", tt.method, tt.path)
			}
		})
	}
	after, err := f.st.Connection(ctx, f.bravo.ID, bravoConn.ID)
	if err != nil || after.Name != bravoConn.Name || !after.Enabled {
		t.Errorf("Bravo's connection after Northwind's attempts = %+v, %v; want unchanged", after, err)
	}
	if runs, _ := f.st.ConnectionRuns(ctx, f.bravo.ID, domain.RunFilter{}); len(runs) != 1 {
		t.Errorf("Bravo's connection has %d runs; want only its own 1", len(runs))
	}

	// Deleting asks first, then keeps the resources, marked gone.
	f.check(t, []uiCase{
		{name: "delete page", method: "GET", path: "/connections/" + cid + "/delete", who: "member", status: 200,
			want: []string{"Delete Okta directory?", "2 resources stay", `id="confirm-delete"`}},
		{name: "viewer may not delete", method: "POST", path: "/connections/" + cid + "/delete", who: "viewer", status: 403},
		{name: "delete", method: "POST", path: "/connections/" + cid + "/delete", who: "member", status: 303, location: "/connections"},
		{name: "gone", method: "GET", path: "/connections/" + cid, who: "member", status: 404},
	})
	gone, err := f.st.BrowseResources(ctx, f.north.ID, domain.ResourceFilter{IncludeGone: true}, "")
	if err != nil || len(gone) != 2 || gone[0].GoneAt == nil {
		t.Errorf("after deleting, the connection's resources = %+v, %v; want 2, gone", gone, err)
	}

	noSecrets(t, "the server's and the runs' logs", f.env.logs.String())
	noSecrets(t, "the fixture's logs", f.logs.String())
	var all []string
	evs, _ := f.st.Events(ctx, f.north.ID, domain.EventFilter{Limit: 1000})
	for _, e := range evs {
		all = append(all, string(e.Data))
	}
	noSecrets(t, "the audit trail", strings.Join(all, "\n"))
}

// TestConnectionUnreadableConfig: a configuration sealed with another credential key
// still has its page, which says it cannot be read, and entering the credentials again
// replaces it.
func TestConnectionUnreadableConfig(t *testing.T) {
	f := newConnUIFixture(t)
	conn := f.env.addConnection(t, f.st, f.north.ID, "Directory")
	f.env.svc.Sealer = newSealer(t)
	cid, url := id(conn.ID), f.env.okta.srv.URL
	f.check(t, []uiCase{
		{name: "page for an editor", method: "GET", path: "/connections/" + cid, who: "member", status: 200,
			want:    []string{"cannot be opened with this server&#39;s credential key", "Not readable: enter them again.", `id="connection-form"`},
			notWant: []string{`value="` + url + `"`, "<strong>Set.</strong>"}},
		{name: "page for a viewer", method: "GET", path: "/connections/" + cid, who: "viewer", status: 200,
			want: []string{`<span class="warn-text">Not readable</span>`}, notWant: []string{url}},
		{name: "the credentials must be entered again", method: "POST", path: "/connections/" + cid, who: "member",
			form: vals("name", "Directory", "interval", "3600", "cfg_org_url", url), status: 400,
			want: []string{`id="cfg_api_token-error"`, "API token is required."}},
		{name: "entered again", method: "POST", path: "/connections/" + cid, who: "member",
			form: vals("name", "Directory", "interval", "3600", "cfg_org_url", url, "cfg_api_token", connToken2), status: 303},
		{name: "readable again", method: "GET", path: "/connections/" + cid, who: "member", status: 200,
			want: []string{"Set, encrypted, last saved", `value="` + url + `"`}, notWant: []string{"cannot be opened"}},
	})
	if !strings.Contains(f.env.logs.String(), "open connection configuration") {
		t.Errorf("logs = %q; want the configuration that cannot be opened logged", f.env.logs.String())
	}
	noSecrets(t, "the logs", f.env.logs.String())
}

// TestConnectionPagesWithoutMonitoring: a server without the collect service says so
// instead of failing in the middle of a page.
func TestConnectionPagesWithoutMonitoring(t *testing.T) {
	f := newUIFixture(t)
	for _, path := range []string{"/connections", "/inventory", "/connections/new"} {
		rec := f.do(t, "GET", path, "owner", nil)
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), "Something went wrong") {
			t.Errorf("GET %s without monitoring = %d; want the error page", path, rec.Code)
		}
	}
	if !strings.Contains(f.logs.String(), "no collect service") {
		t.Errorf("logs = %q; want the configuration error logged", f.logs.String())
	}
}

// TestConnectionKindsMatchConnectors holds the forms' description of each connector to
// the JSON keys of its configuration.
func TestConnectionKindsMatchConnectors(t *testing.T) {
	for _, k := range connectionKinds {
		t.Run(k.Kind, func(t *testing.T) {
			want := configKeys(t, k.Kind)
			var got []string
			for _, f := range k.Fields {
				got = append(got, f.Key)
				if f.Label == "" || f.Help == "" {
					t.Errorf("field %s has no label or help", f.Key)
				}
			}
			if strings.Join(sorted(got), ",") != strings.Join(sorted(want), ",") {
				t.Errorf("fields of %s = %v; want the keys of its Config %v", k.Kind, sorted(got), sorted(want))
			}
			if len(k.Credentials()) == 0 {
				t.Errorf("%s has no credential field", k.Kind)
			}
			if len(k.Types()) == 0 {
				t.Errorf("%s collects no registered type", k.Kind)
			}
		})
	}
}

// TestConfigFromForm builds configurations from forms: settings as typed, credentials
// kept when left empty, and the error naming the field.
func TestConfigFromForm(t *testing.T) {
	k := kindOf("github")
	current := configMap{"token": "old", "organization": "acme", "repositories": []any{"api"}, "unknown": "kept"}
	tests := []struct {
		name    string
		form    url.Values
		want    string
		changed bool
		field   string
	}{
		{"unchanged", vals("cfg_organization", "acme", "cfg_repositories", "api"), `{"organization":"acme","repositories":["api"],"token":"old","unknown":"kept"}`, false, ""},
		{"new token", vals("cfg_organization", "acme", "cfg_repositories", "api", "cfg_token", " new "), `{"organization":"acme","repositories":["api"],"token":"new","unknown":"kept"}`, true, ""},
		{"list and number", vals("cfg_organization", "acme", "cfg_repositories", "api, web\nops", "cfg_pull_request_days", "30"),
			`{"organization":"acme","pull_request_days":30,"repositories":["api","web","ops"],"token":"old","unknown":"kept"}`, true, ""},
		{"cleared setting", vals("cfg_organization", "acme"), `{"organization":"acme","token":"old","unknown":"kept"}`, true, ""},
		{"bad number", vals("cfg_organization", "acme", "cfg_pull_request_days", "ten"), "", false, "cfg_pull_request_days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, changed, err := configFromForm(k, newForm(tt.form), current)
			if tt.field != "" {
				if domain.FieldOf(err) != tt.field {
					t.Fatalf("configFromForm = %v; want an error for %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(cfg)
			if string(b) != tt.want || changed != tt.changed {
				t.Errorf("configFromForm = %s, changed %v; want %s, %v", b, changed, tt.want, tt.changed)
			}
		})
	}
	if s := settingsOf(k, current); len(s) != 2 || s["token"] != nil || s["unknown"] != nil {
		t.Errorf("settingsOf = %v; want organization and repositories only", s)
	}
	if keys := credentialKeys(k, current); strings.Join(keys, ",") != "token,unknown" {
		t.Errorf("credentialKeys = %v; want token and the key the form does not know", keys)
	}
}

// TestDiffVersions lists what changed between two versions by path.
func TestDiffVersions(t *testing.T) {
	old := domain.ResourceVersion{Name: "alice", Attributes: json.RawMessage(`{"mfa":false,"keys":[{"id":"k1","status":"Active"}],"tags":{"team":"a"},"gone":1}`)}
	cur := domain.ResourceVersion{Name: "alice2", Attributes: json.RawMessage(`{"mfa":true,"keys":[{"id":"k1","status":"Inactive"}],"tags":{"team":"a","env":"prod"}}`)}
	got, more := diffVersions(old, cur)
	want := []attrChange{
		{Path: "name", From: `"alice"`, To: `"alice2"`},
		{Path: "gone", From: "1"},
		{Path: "keys[0].status", From: `"Active"`, To: `"Inactive"`},
		{Path: "mfa", From: "false", To: "true"},
		{Path: "tags.env", To: `"prod"`},
	}
	if more || len(got) != len(want) {
		t.Fatalf("diffVersions = %+v (more %v); want %+v", got, more, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}
