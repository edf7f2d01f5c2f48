package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evidenthq/evident/internal/domain"
)

// connAPIFixture is the API fixture with connections switched on.
type connAPIFixture struct {
	*apiFixture
	env *connEnv
}

func newConnAPIFixture(tb testing.TB) *connAPIFixture {
	tb.Helper()
	f := newAPIFixture(tb)
	return &connAPIFixture{apiFixture: f, env: withConnections(tb, f.srv, f.st)}
}

// call sends a request and checks that the answer never shows a credential.
func (f *connAPIFixture) call(tb testing.TB, method, path, who, body string) *httptest.ResponseRecorder {
	tb.Helper()
	rec := f.do(tb, method, path, who, body)
	noSecrets(tb, method+" "+path, rec.Body.String())
	return rec
}

// decode reads a JSON answer with the wanted status.
func decode[T any](tb testing.TB, rec *httptest.ResponseRecorder, status int) T {
	tb.Helper()
	var v T
	if rec.Code != status {
		tb.Fatalf("status = %d; want %d\n%s", rec.Code, status, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		tb.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

// apiErrorOf reads an API error.
func apiErrorOf(tb testing.TB, rec *httptest.ResponseRecorder) apiErrorDetail {
	tb.Helper()
	var body apiErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		tb.Fatalf("decode error %s: %v", rec.Body, err)
	}
	return body.Error
}

func TestAPIConnections(t *testing.T) {
	f := newConnAPIFixture(t)
	ctx := f.ctx
	url := f.env.okta.srv.URL
	create := func(name string) string {
		return fmt.Sprintf(`{"kind":"okta","name":%q,"interval_seconds":7200,"settings":{"org_url":%q},"credentials":{"api_token":%q}}`, name, url, connToken)
	}

	// Refused requests name the field at fault and store nothing.
	for _, tt := range []struct {
		name, who, body string
		status          int
		field           string
	}{
		{"viewer", "viewer", create("Directory"), 403, ""},
		{"no kind", "member", `{"name":"x"}`, 400, "kind"},
		{"unknown kind", "member", `{"kind":"aws","name":"x","credentials":{}}`, 400, "kind"},
		{"no name", "member", fmt.Sprintf(`{"kind":"okta","settings":{"org_url":%q},"credentials":{"api_token":"t"}}`, url), 400, "name"},
		{"credential as a setting", "member", fmt.Sprintf(`{"kind":"okta","name":"x","settings":{"org_url":%q,"api_token":"t"}}`, url), 400, "settings.api_token"},
		{"setting as a credential", "member", `{"kind":"okta","name":"x","credentials":{"org_url":"https://a.okta.com","api_token":"t"}}`, 400, "credentials.org_url"},
		{"unknown key", "member", `{"kind":"okta","name":"x","settings":{"region":"eu"}}`, 400, "settings.region"},
		{"no token", "member", fmt.Sprintf(`{"kind":"okta","name":"x","settings":{"org_url":%q}}`, url), 400, "credentials.api_token"},
		{"bad address", "member", `{"kind":"okta","name":"x","settings":{"org_url":"http://a.okta.com"},"credentials":{"api_token":"t"}}`, 400, "settings.org_url"},
		{"bad schedule", "member", fmt.Sprintf(`{"kind":"okta","name":"x","interval_seconds":10,"settings":{"org_url":%q},"credentials":{"api_token":"t"}}`, url), 400, "interval_seconds"},
		{"unknown field", "member", `{"kind":"okta","name":"x","token":"t"}`, 400, "token"},
		{"wrong type", "member", `{"kind":"okta","name":7}`, 400, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.call(t, "POST", "/api/v1/connections", tt.who, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("POST /connections = %d %s; want %d", rec.Code, rec.Body, tt.status)
			}
			if e := apiErrorOf(t, rec); e.Field != tt.field {
				t.Errorf("error field = %q (%s); want %q", e.Field, e.Message, tt.field)
			}
		})
	}
	if list, _ := f.st.Connections(ctx, f.acme.ID); len(list) != 0 {
		t.Fatalf("after refused requests Acme has %d connections", len(list))
	}

	rec := f.call(t, "POST", "/api/v1/connections", "member", create("Directory"))
	c := decode[apiConnection](t, rec, 201)
	if c.Kind != "okta" || c.Name != "Directory" || c.IntervalSeconds != 7200 || !c.Enabled || c.Settings["org_url"] != url ||
		!c.Credentials.Set || strings.Join(c.Credentials.Fields, ",") != "api_token" || c.Credentials.UpdatedAt.IsZero() || c.LastRun != nil {
		t.Errorf("created connection = %+v", c)
	}
	if loc := rec.Header().Get("Location"); loc != fmt.Sprintf("/api/v1/connections/%d", c.ID) {
		t.Errorf("Location = %q", loc)
	}
	if rec := f.call(t, "POST", "/api/v1/connections", "member", create("Directory")); rec.Code != 409 {
		t.Errorf("a second connection of the same name = %d; want 409", rec.Code)
	}
	cp := fmt.Sprintf("/api/v1/connections/%d", c.ID)

	// Listing, reading, changing.
	list := decode[struct {
		Connections []apiConnection
		Kinds       []apiKind
	}](t, f.call(t, "GET", "/api/v1/connections", "viewer", ""), 200)
	if len(list.Connections) != 1 || list.Connections[0].ID != c.ID || len(list.Kinds) != 1 || list.Kinds[0].Kind != "okta" ||
		len(list.Kinds[0].Credentials) != 1 || list.Kinds[0].Credentials[0].Key != "api_token" {
		t.Errorf("GET /connections = %+v", list)
	}
	if rec := f.call(t, "PATCH", cp, "viewer", `{"enabled":false}`); rec.Code != 403 {
		t.Errorf("PATCH as a viewer = %d; want 403", rec.Code)
	}
	for _, tt := range []struct{ name, body, field string }{
		{"kind", `{"kind":"github"}`, "kind"},
		{"schedule", `{"interval_seconds":0}`, "interval_seconds"},
		{"credential as a setting", `{"settings":{"api_token":"x"}}`, "settings.api_token"},
		{"bad address", `{"settings":{"org_url":"nope"}}`, "settings.org_url"},
		{"empty name", `{"name":" "}`, "name"},
	} {
		t.Run("patch "+tt.name, func(t *testing.T) {
			rec := f.call(t, "PATCH", cp, "member", tt.body)
			if e := apiErrorOf(t, rec); rec.Code != 400 || e.Field != tt.field {
				t.Errorf("PATCH %s = %d %+v; want 400 for %s", tt.body, rec.Code, e, tt.field)
			}
		})
	}
	before := c.Credentials.UpdatedAt
	c = decode[apiConnection](t, f.call(t, "PATCH", cp, "member", `{"name":"Okta","enabled":false}`), 200)
	if c.Name != "Okta" || c.Enabled || !c.Credentials.UpdatedAt.Equal(before) {
		t.Errorf("after renaming and pausing = %+v; want renamed, paused, credentials as they were", c)
	}
	c = decode[apiConnection](t, f.call(t, "PATCH", cp, "admin", fmt.Sprintf(`{"credentials":{"api_token":%q}}`, connToken2)), 200)
	if c.Settings["org_url"] != url || !c.Credentials.Set {
		t.Errorf("after replacing the token = %+v; want the settings kept", c)
	}
	if evs, err := f.st.Events(ctx, f.acme.ID, domain.EventFilter{Subject: fmt.Sprintf("connection:%d", c.ID), Limit: 1}); err != nil || len(evs) != 1 ||
		!c.Credentials.UpdatedAt.Equal(evs[0].At) || !c.Credentials.UpdatedAt.After(before) {
		t.Errorf("after replacing the token, credentials.updated_at = %v; want the time of the change, %v, after %v", c.Credentials.UpdatedAt, evs, before)
	}
	if got := decode[apiConnection](t, f.call(t, "GET", cp, "viewer", ""), 200); got.Name != "Okta" {
		t.Errorf("GET %s = %+v", cp, got)
	}

	// Running: the answer is the run, which ends with its counts, errors and snapshot.
	if rec := f.call(t, "POST", cp+"/run", "viewer", ""); rec.Code != 403 {
		t.Errorf("run as a viewer = %d; want 403", rec.Code)
	}
	rec = f.call(t, "POST", cp+"/run", "member", "")
	if rec.Code != 200 && rec.Code != 202 {
		t.Fatalf("POST %s/run = %d %s", cp, rec.Code, rec.Body)
	}
	started := decode[apiConnectionRun](t, rec, rec.Code)
	if rec.Header().Get("Location") != fmt.Sprintf("/api/v1/connection-runs/%d", started.ID) || started.Trigger != "manual" {
		t.Errorf("run started = %+v, Location %q", started, rec.Header().Get("Location"))
	}
	waitRun(t, f.st, f.acme.ID, started.ID)
	run := decode[apiConnectionRun](t, f.call(t, "GET", fmt.Sprintf("/api/v1/connection-runs/%d", started.ID), "viewer", ""), 200)
	if run.Status != "partial" || run.Counts["okta.user"] != 2 || len(run.Errors) == 0 || run.Errors[0].Type != "okta.policy" ||
		run.EvidenceID == nil || run.FinishedAt == nil || run.Added != 2 {
		t.Errorf("finished run = %+v", run)
	}
	if f.env.okta.sawToken(connToken2) == 0 || f.env.okta.sawToken(connToken) != 0 {
		t.Errorf("the run sent the old token %d times and the new one %d times; want only the new one", f.env.okta.sawToken(connToken), f.env.okta.sawToken(connToken2))
	}
	runs := decode[struct {
		Runs       []apiConnectionRun
		NextBefore *int64 `json:"next_before"`
	}](t, f.call(t, "GET", cp+"/runs?limit=10", "viewer", ""), 200)
	if len(runs.Runs) != 1 || runs.Runs[0].ID != run.ID || runs.NextBefore != nil {
		t.Errorf("GET %s/runs = %+v", cp, runs)
	}
	if rec := f.call(t, "GET", cp+"/runs?before=x", "viewer", ""); apiErrorOf(t, rec).Field != "before" {
		t.Errorf("GET runs?before=x = %d %s; want an error for before", rec.Code, rec.Body)
	}
	page := decode[struct {
		Runs       []apiConnectionRun
		NextBefore *int64 `json:"next_before"`
	}](t, f.call(t, "GET", cp+"/runs?limit=1", "viewer", ""), 200)
	if len(page.Runs) != 1 || page.NextBefore == nil || *page.NextBefore != run.ID {
		t.Errorf("GET %s/runs?limit=1 = %+v; want a full page, with the cursor of run %d", cp, page, run.ID)
	}
	if rec := f.call(t, "GET", cp+"/runs?limit=5000", "viewer", ""); rec.Code != 400 || apiErrorOf(t, rec).Field != "limit" {
		t.Errorf("GET runs?limit=5000 = %d %s; want an error for limit", rec.Code, rec.Body)
	}
	got := decode[apiConnection](t, f.call(t, "GET", cp, "viewer", ""), 200)
	if got.LastRun == nil || got.LastRun.ID != run.ID || got.Resources != 2 {
		t.Errorf("the connection after its run = %+v; want its last run and 2 resources", got)
	}

	// Globex reaches none of it, and changes nothing.
	gRun := fmt.Sprintf("/api/v1/connection-runs/%d", run.ID)
	for _, tt := range []struct{ method, path, body string }{
		{"GET", cp, ""}, {"PATCH", cp, `{"name":"Stolen"}`}, {"DELETE", cp, ""}, {"POST", cp + "/run", ""},
		{"GET", cp + "/runs", ""}, {"GET", gRun, ""},
	} {
		if rec := f.call(t, tt.method, tt.path, "globex", tt.body); rec.Code != 404 {
			t.Errorf("%s %s as Globex = %d; want 404", tt.method, tt.path, rec.Code)
		}
	}
	if after, err := f.st.Connection(ctx, f.acme.ID, c.ID); err != nil || after.Name != "Okta" {
		t.Errorf("Acme's connection after Globex's attempts = %+v, %v", after, err)
	}
	if runs, _ := f.st.ConnectionRuns(ctx, f.acme.ID, domain.RunFilter{}); len(runs) != 1 {
		t.Errorf("Acme's connection has %d runs after Globex's attempts; want 1", len(runs))
	}

	if rec := f.call(t, "DELETE", cp, "viewer", ""); rec.Code != 403 {
		t.Errorf("DELETE as a viewer = %d; want 403", rec.Code)
	}
	if rec := f.call(t, "DELETE", cp, "member", ""); rec.Code != 204 {
		t.Errorf("DELETE = %d; want 204", rec.Code)
	}
	if rec := f.call(t, "GET", cp, "member", ""); rec.Code != 404 {
		t.Errorf("GET after delete = %d; want 404", rec.Code)
	}
	noSecrets(t, "the logs", f.env.logs.String())
	noSecrets(t, "the fixture's logs", f.logs.String())
}

func TestAPIResourcesAndTypes(t *testing.T) {
	f := newConnAPIFixture(t)
	conn := f.env.addConnection(t, f.st, f.acme.ID, "Directory")
	run := f.env.run(t, f.acme.ID, conn.ID)
	for _, dept := range []string{"Sales", "Marketing"} {
		body := fmt.Sprintf(`{"source":"hris","resources":[{"type":"hr.person","id":"ana@acme.example","name":"Ana","attributes":
			{"email":"ana@acme.example","start_date":"2020-01-06T00:00:00Z","end_date":"2024-01-31T00:00:00Z","employment_type":"full_time","department":%q}}]}`, dept)
		if rec := f.call(t, "POST", "/api/v1/resources", "member", body); rec.Code != 200 {
			t.Fatalf("push = %d %s", rec.Code, rec.Body)
		}
	}
	list := decode[struct{ Resources []apiResource }](t, f.call(t, "GET", "/api/v1/resources?type=hr.person", "viewer", ""), 200)
	if len(list.Resources) != 1 || list.Resources[0].ConnectionID != nil {
		t.Fatalf("hr.person resources = %+v", list.Resources)
	}
	ana := list.Resources[0]
	detail := decode[apiResourceDetail](t, f.call(t, "GET", fmt.Sprintf("/api/v1/resources/%d", ana.ID), "viewer", ""), 200)
	if detail.ExternalID != "ana@acme.example" || detail.Version != 2 || len(detail.Verdicts) == 0 || detail.Verdicts[0].TestID == "" {
		t.Errorf("GET /resources/%d = %+v; want version 2 with the tests' verdicts", ana.ID, detail)
	}
	versions := decode[struct{ Versions []apiResourceVersion }](t, f.call(t, "GET", fmt.Sprintf("/api/v1/resources/%d/versions", ana.ID), "viewer", ""), 200)
	if len(versions.Versions) != 2 || versions.Versions[0].LedgerIndex == nil || versions.Versions[0].ConnectionRunID != nil ||
		len(versions.Versions[0].Changes) != 1 || versions.Versions[0].Changes[0] != (attrChange{Path: "department", From: `"Sales"`, To: `"Marketing"`}) ||
		len(versions.Versions[1].Changes) != 0 {
		t.Errorf("versions = %+v", versions.Versions)
	}
	users := decode[struct{ Resources []apiResource }](t, f.call(t, "GET", "/api/v1/resources?type=okta.user", "viewer", ""), 200)
	if len(users.Resources) != 2 || users.Resources[0].ConnectionID == nil || *users.Resources[0].ConnectionID != conn.ID {
		t.Fatalf("okta.user resources = %+v", users.Resources)
	}
	uv := decode[struct{ Versions []apiResourceVersion }](t, f.call(t, "GET", fmt.Sprintf("/api/v1/resources/%d/versions", users.Resources[0].ID), "viewer", ""), 200)
	if len(uv.Versions) != 1 || uv.Versions[0].ConnectionRunID == nil || *uv.Versions[0].ConnectionRunID != run.ID {
		t.Errorf("a connection's resource's versions = %+v; want the run %d", uv.Versions, run.ID)
	}
	for _, path := range []string{fmt.Sprintf("/api/v1/resources/%d", ana.ID), fmt.Sprintf("/api/v1/resources/%d/versions", ana.ID), "/api/v1/resources/0"} {
		if rec := f.call(t, "GET", path, "globex", ""); rec.Code != 404 {
			t.Errorf("GET %s as Globex = %d; want 404", path, rec.Code)
		}
	}

	types := decode[struct {
		Types []struct {
			Type   string
			Source string
			Open   bool
			Fields []struct{ Name, Kind string }
		}
	}](t, f.call(t, "GET", "/api/v1/resource-types", "viewer", ""), 200)
	found := map[string]int{}
	for _, ty := range types.Types {
		found[ty.Type] = len(ty.Fields)
	}
	if found["okta.user"] == 0 || found["aws.iam.user"] == 0 || found["hr.person"] == 0 {
		t.Errorf("GET /resource-types = %v; want every registered type with its fields", found)
	}
	if _, ok := found["custom.NAME"]; !ok {
		t.Errorf("GET /resource-types lacks the open custom type")
	}
}

// TestAPIConnectionUnreadableConfig: a configuration sealed with another credential key
// is described as set but unreadable, and the whole configuration replaces it.
func TestAPIConnectionUnreadableConfig(t *testing.T) {
	f := newConnAPIFixture(t)
	conn := f.env.addConnection(t, f.st, f.acme.ID, "Directory")
	f.env.svc.Sealer = newSealer(t)
	cp, url := fmt.Sprintf("/api/v1/connections/%d", conn.ID), f.env.okta.srv.URL

	got := decode[apiConnection](t, f.call(t, "GET", cp, "viewer", ""), 200)
	if !got.Credentials.Set || !strings.Contains(got.Credentials.Error, "send the credentials again") || len(got.Credentials.Fields) != 0 ||
		len(got.Settings) != 0 || got.Credentials.UpdatedAt.IsZero() {
		t.Errorf("GET %s = %+v; want credentials set but unreadable, no settings", cp, got)
	}
	list := decode[struct{ Connections []apiConnection }](t, f.call(t, "GET", "/api/v1/connections", "viewer", ""), 200)
	if len(list.Connections) != 1 || list.Connections[0].Credentials.Error == "" {
		t.Errorf("GET /connections = %+v; want the connection, unreadable", list)
	}
	rec := f.call(t, "PATCH", cp, "member", fmt.Sprintf(`{"settings":{"org_url":%q}}`, url))
	if e := apiErrorOf(t, rec); rec.Code != 400 || e.Field != "credentials.api_token" {
		t.Errorf("PATCH of the settings alone = %d %+v; want 400 for credentials.api_token", rec.Code, e)
	}
	got = decode[apiConnection](t, f.call(t, "PATCH", cp, "member", fmt.Sprintf(`{"settings":{"org_url":%q},"credentials":{"api_token":%q}}`, url, connToken2)), 200)
	if got.Credentials.Error != "" || !got.Credentials.Set || got.Settings["org_url"] != url {
		t.Errorf("PATCH of the whole configuration = %+v; want it readable again", got)
	}
	if !strings.Contains(f.env.logs.String(), "open connection configuration") {
		t.Errorf("logs = %q; want the configuration that cannot be opened logged", f.env.logs.String())
	}
	noSecrets(t, "the logs", f.env.logs.String())
}

// rawImport posts a file as the raw body of /imports.
func (f *connAPIFixture) rawImport(tb testing.TB, query, who, body string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest("POST", "/api/v1/imports"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+f.tokens[who])
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func TestAPIImports(t *testing.T) {
	f := newConnAPIFixture(t)
	ctx := f.ctx
	count := func() int {
		rs, err := f.st.BrowseResources(ctx, f.acme.ID, domain.ResourceFilter{}, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	if rec := f.rawImport(t, "?kind=hr", "viewer", rosterCSV); rec.Code != 403 {
		t.Errorf("import as a viewer = %d; want 403", rec.Code)
	}
	res := decode[apiImportResult](t, f.rawImport(t, "?kind=hr&source=workday", "member", rosterCSV), 200)
	if res.Kind != "hr" || res.Source != "workday" || res.Resources != 2 || res.Types["hr.person"] != 2 || res.Added != 2 ||
		res.TestRun == nil || strings.Join(res.IgnoredColumns, ",") != "badge colour" {
		t.Errorf("raw import = %+v", res)
	}

	body, ct := multipartBody(t, []part{{name: "kind", value: "csv"}, {name: "file", fileName: "laptops.csv",
		value: "type,id,name,encrypted\ncustom.laptop,lt-1,Ana's laptop,yes\ncustom.laptop,lt-2,Bo's laptop,no\n"}})
	req := httptest.NewRequest("POST", "/api/v1/imports", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+f.tokens["member"])
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	res = decode[apiImportResult](t, rec, 200)
	if res.Source != "import:csv" || res.Types["custom.laptop"] != 2 {
		t.Errorf("multipart import = %+v", res)
	}
	if count() != 4 {
		t.Fatalf("after two imports the inventory holds %d resources; want 4", count())
	}

	// A malformed file fails as a whole, naming its line; the previous import stays.
	bad := "name,email,start date\nCy Dune,cy@acme.example,2023-01-02\nDee Fox,dee@acme.example,someday\n"
	for _, tt := range []struct {
		name, query, body string
		field, msg        string
	}{
		{"malformed", "?kind=hr&source=workday", bad, "file", "line 3, column start date"},
		{"no kind", "?source=workday", rosterCSV, "kind", "must be one of"},
		{"bad source", "?kind=hr&source=connection:9", rosterCSV, "source", "must not start with"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.rawImport(t, tt.query, "member", tt.body)
			e := apiErrorOf(t, rec)
			if rec.Code != 400 || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("import %s = %d %+v; want 400 for %s saying %q", tt.name, rec.Code, e, tt.field, tt.msg)
			}
		})
	}
	if count() != 4 {
		t.Errorf("after refused imports the inventory holds %d resources; want 4", count())
	}
	f.srv.cfg.MaxUpload = 512
	big := rosterCSV
	for i := range 20 {
		big += fmt.Sprintf("Zed Ray,zed%d@acme.example,2020-01-01,,Ops,full_time,x\n", i)
	}
	rec = f.rawImport(t, "?kind=hr&source=workday", "member", big)
	if e := apiErrorOf(t, rec); rec.Code != 400 || e.Field != "file" || !strings.Contains(e.Message, "upload limit") || count() != 4 {
		t.Errorf("import over the limit = %d %+v, %d resources; want 400 for file and nothing stored", rec.Code, e, count())
	}
}

// TestAPIPushLarge pushes more than a megabyte of resources, read as a stream under the
// upload limit, and refuses a push over the limit.
func TestAPIPushLarge(t *testing.T) {
	f := newConnAPIFixture(t)
	var b bytes.Buffer
	b.WriteString(`{"source":"cmdb","replace":true,"resources":[`)
	pad := strings.Repeat("x", 1000)
	const n = 3000
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"custom.laptop","id":"lt-%d","name":"Laptop %d","attributes":{"note":%q}}`, i, i, pad)
	}
	b.WriteString(`]}`)
	if b.Len() < 3<<20 {
		t.Fatalf("the push is %d bytes; want more than 3 MiB", b.Len())
	}
	rec := f.do(t, "POST", "/api/v1/resources", "member", b.String())
	var res struct{ Added int }
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &res) != nil || res.Added != n {
		t.Fatalf("POST /resources with %d bytes = %d %s; want %d added", b.Len(), rec.Code, excerptJSON(rec.Body), n)
	}
	page := decode[struct {
		Resources []apiResource
		NextAfter *int64 `json:"next_after"`
	}](t, f.call(t, "GET", "/api/v1/resources?type=custom.laptop&limit=1000", "viewer", ""), 200)
	if len(page.Resources) != 1000 || page.NextAfter == nil || *page.NextAfter != page.Resources[999].ID {
		t.Errorf("GET /resources?limit=1000 = %d resources, next_after %v; want 1000 and the cursor of the last", len(page.Resources), page.NextAfter)
	}
	if rec := f.call(t, "GET", "/api/v1/resources?type=custom.laptop&limit=5000", "viewer", ""); rec.Code != 400 || apiErrorOf(t, rec).Field != "limit" {
		t.Errorf("GET /resources?limit=5000 = %d %s; want an error for limit, not a page cut short without a cursor", rec.Code, excerptJSON(rec.Body))
	}

	f.srv.cfg.MaxUpload = 1 << 20
	rec = f.do(t, "POST", "/api/v1/resources", "member", b.String())
	if e := apiErrorOf(t, rec); rec.Code != 400 || e.Field != "body" || !strings.Contains(e.Message, "at most 1048576 bytes") {
		t.Errorf("a push over the limit = %d %+v; want 400 naming the limit", rec.Code, e)
	}
	for _, tt := range []struct{ name, body, field string }{
		{"bad element", `{"source":"s","resources":[{"type":"custom.a","id":"1"},{"type":"custom.a","id":2}]}`, "resources[1].id"},
		{"unknown element field", `{"source":"s","resources":[{"type":"custom.a","id":"1","colour":"red"}]}`, "resources[0].colour"},
		{"not an array", `{"source":"s","resources":{}}`, "resources"},
		{"source twice", `{"source":"s","source":"t","resources":[]}`, "source"},
		{"trailing data", `{"source":"s","resources":[]} {}`, "body"},
		{"truncated", `{"source":"s","resources":[{"type":"custom.a"`, "resources[0]"},
		{"null resources", `{"source":"s","resources":null}`, "resources"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, "POST", "/api/v1/resources", "member", tt.body)
			if e := apiErrorOf(t, rec); rec.Code != 400 || e.Field != tt.field {
				t.Errorf("POST /resources %s = %d %+v; want 400 for %s", tt.body, rec.Code, e, tt.field)
			}
		})
	}
}

// excerptJSON shortens a body for a failure message.
func excerptJSON(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 500))
	return string(b)
}

// BenchmarkAPIPushResources pushes 1,000 resources of about 1 KiB each (1.1 MiB of JSON),
// replacing the source's previous push, through the streaming decoder into the store.
func BenchmarkAPIPushResources(b *testing.B) {
	f := newAPIFixture(b)
	var body bytes.Buffer
	body.WriteString(`{"source":"cmdb","replace":true,"resources":[`)
	pad := strings.Repeat("x", 1000)
	for i := range 1000 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"type":"custom.laptop","id":"lt-%d","name":"Laptop %d","attributes":{"note":%q}}`, i, i, pad)
	}
	body.WriteString(`]}`)
	push := body.String()
	b.SetBytes(int64(len(push)))
	b.ReportAllocs()
	for b.Loop() {
		if rec := f.do(b, "POST", "/api/v1/resources", "member", push); rec.Code != 200 {
			b.Fatalf("push = %d %s", rec.Code, rec.Body)
		}
	}
}
