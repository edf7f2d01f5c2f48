package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// push stores resources under a source as a member of the organization would, with the
// tests run after.
func (f *connUIFixture) push(tb testing.TB, orgID int64, source string, rs ...monitor.Resource) {
	tb.Helper()
	if _, _, err := f.env.svc.PushResources(context.Background(), domain.SystemActor, orgID, source, rs, false); err != nil {
		tb.Fatalf("PushResources(%s): %v", source, err)
	}
}

func person(email, name, start string, extra ...any) monitor.Resource {
	attrs := map[string]any{"email": email, "start_date": start + "T00:00:00Z", "employment_type": "full_time"}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i].(string)] = extra[i+1]
	}
	return monitor.Resource{Type: "hr.person", ExternalID: email, Name: name, Attributes: attrs}
}

func TestInventoryPages(t *testing.T) {
	f := newConnUIFixture(t)
	ctx := f.ctx
	conn := f.env.addConnection(t, f.st, f.north.ID, "Directory")
	run := f.env.run(t, f.north.ID, conn.ID)

	// An HR roster whose person changes department, and 60 laptops to page through.
	f.push(t, f.north.ID, "hris", person("ana@northwind.example", "Ana Lopez", "2021-03-01", "department", "Sales", "end_date", "2024-01-31T00:00:00Z"))
	f.push(t, f.north.ID, "hris", person("ana@northwind.example", "Ana Lopez", "2021-03-01", "department", "Marketing", "end_date", "2024-01-31T00:00:00Z"))
	pushed, _ := f.st.Events(ctx, f.north.ID, domain.EventFilter{Type: domain.EventResourcesPushed, Limit: 1})
	var laptops []monitor.Resource
	for i := range 60 {
		laptops = append(laptops, monitor.Resource{Type: "custom.laptop", ExternalID: fmt.Sprintf("lt-%03d", i), Name: fmt.Sprintf("Laptop %03d", i),
			Attributes: map[string]any{"encrypted": i%2 == 0}})
	}
	f.push(t, f.north.ID, "cmdb", laptops...)
	f.push(t, f.bravo.ID, "hris", person("spy@bravo.example", bravoSecret+" spy", "2020-01-01"))

	ana, err := f.st.BrowseResources(ctx, f.north.ID, domain.ResourceFilter{Type: "hr.person"}, "")
	if err != nil || len(ana) != 1 {
		t.Fatalf("hr.person resources = %v, %v", ana, err)
	}
	user, err := f.st.BrowseResources(ctx, f.north.ID, domain.ResourceFilter{Type: "okta.user"}, "")
	if err != nil || len(user) != 2 {
		t.Fatalf("okta.user resources = %v, %v", user, err)
	}
	laptopsFirst, _ := f.st.BrowseResources(ctx, f.north.ID, domain.ResourceFilter{Type: "custom.laptop", Limit: 50}, "")
	last := laptopsFirst[49]

	f.check(t, []uiCase{
		{name: "inventory", method: "GET", path: "/inventory", who: "viewer", status: 200,
			want: []string{`<span id="resource-count">63</span>`, `id="type-counts"`, `<code title="custom.laptop">custom.laptop</code><span class="legend-count">60</span>`,
				`<code title="okta.user">okta.user</code><span class="legend-count">2</span>`, `href="/inventory/schema#type-okta.user"`, `href="/inventory/schema#type-custom.NAME"`,
				`<option value="Directory">Directory (2)</option>`, `<option value="cmdb">cmdb (60)</option>`, `id="next-page"`, "Laptop 000"},
			notWant: []string{bravoSecret, "Laptop 059"}},
		{name: "next page", method: "GET", path: fmt.Sprintf("/inventory?after_type=custom.laptop&after=%d", last.ID), who: "viewer", status: 200,
			want: []string{"Laptop 050", "Laptop 059", "Ana Lopez", "carol@acme.example", "First page"}, notWant: []string{"Laptop 049", `id="next-page"`}},
		{name: "by type", method: "GET", path: "/inventory?type=okta.user", who: "viewer", status: 200,
			want: []string{`<span id="resource-count">2</span>`, "carol@acme.example", "dave@acme.example"}, notWant: []string{"Laptop"}},
		{name: "by source", method: "GET", path: "/inventory?source=hris", who: "viewer", status: 200,
			want: []string{`<span id="resource-count">1</span>`, "Ana Lopez", `<option value="hris" selected>`}},
		{name: "search", method: "GET", path: "/inventory?q=laptop+05", who: "viewer", status: 200,
			want: []string{`<span id="resource-count">10</span>`, "Laptop 050"}, notWant: []string{"Laptop 049", "Ana"}},
		{name: "nothing found", method: "GET", path: "/inventory?q=zzz", who: "viewer", status: 200, want: []string{"No resource matches."}},
		{name: "bad cursor", method: "GET", path: "/inventory?after=abc&after_type=x", who: "viewer", status: 400, want: []string{"After must be a resource ID"}},
		{name: "cursor without its type", method: "GET", path: "/inventory?after=5", who: "viewer", status: 400, want: []string{"After must come with after_type"}},

		{name: "resource from a push", method: "GET", path: "/inventory/" + id(ana[0].ID), who: "viewer", status: 200,
			want: []string{"Ana Lopez", `id="resource-attributes"`, "&#34;department&#34;: &#34;Marketing&#34;", `href="/inventory/schema#type-hr.person"`,
				`id="resource-versions"`, "<code class=\"change-field\">department</code> &#34;Sales&#34; → &#34;Marketing&#34;", "First seen",
				fmt.Sprintf(`href="/ledger?index=%d"`, pushed[0].Index), `id="resource-verdicts"`, `href="/tests/`, "hris"}},
		{name: "resource from a connection", method: "GET", path: "/inventory/" + id(user[0].ID), who: "viewer", status: 200,
			want: []string{`href="/connections/` + id(conn.ID) + `"`, `href="/connections/` + id(conn.ID) + `/runs/` + id(run.ID) + `"`, "Run #" + id(run.ID),
				`href="/inventory/schema#type-okta.user"`, "&#34;status&#34;:"}},
		{name: "unknown resource", method: "GET", path: "/inventory/999999", who: "viewer", status: 404},
		{name: "not an ID", method: "GET", path: "/inventory/abc", who: "viewer", status: 404},

		{name: "schema reference", method: "GET", path: "/inventory/schema", who: "viewer", status: 200,
			want: []string{`id="type-okta.user"`, `id="type-hr.person"`, `id="type-aws.iam.user"`, `id="type-custom.NAME"`, "access_keys[].id",
				`href="/inventory/schema.md"`, `href="/api/v1/resource-types"`, `aria-current="page"`}},
	})

	hist, err := f.srv.resourceHistory(ctx, f.north.ID, ana[0].ID, 1)
	if err != nil || len(hist) != 1 || hist[0].Version != 2 || hist[0].First || len(hist[0].Changes) != 1 ||
		hist[0].LedgerIndex == nil || *hist[0].LedgerIndex != pushed[0].Index || hist[0].RunID != nil {
		t.Errorf("resourceHistory(limit 1) = %+v, %v; want the latest version only, diffed against the one before, from push %d", hist, err, pushed[0].Index)
	}

	rec := f.page(t, "GET", "/inventory/schema.md", "viewer", nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/markdown") ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "attachment") || !strings.Contains(rec.Body.String(), "## okta.user") {
		t.Errorf("GET /inventory/schema.md = %d %q %q; want the reference as a Markdown download", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"))
	}
	if rec := f.do(t, "GET", "/inventory/schema", "", nil); rec.Code != 303 {
		t.Errorf("the reference without signing in = %d; want the sign-in page", rec.Code)
	}
}

// upload posts a multipart form to path as who.
func (f *connUIFixture) upload(tb testing.TB, path, who string, parts []part) *httptest.ResponseRecorder {
	tb.Helper()
	body, ct := multipartBody(tb, parts)
	req := httptest.NewRequest("POST", path, body)
	req.Header.Set("Content-Type", ct)
	if who != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.sessions[who]})
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

const rosterCSV = "name,email,start date,end date,department,employment type,badge colour\n" +
	"Ana Lopez,ana@northwind.example,2021-03-01,,Sales,full_time,blue\n" +
	"Bo Chen,bo@northwind.example,2022-06-15,,Engineering,contractor,red\n"

func TestImportPage(t *testing.T) {
	f := newConnUIFixture(t)
	ctx := f.ctx
	count := func() int {
		t.Helper()
		rs, err := f.st.BrowseResources(ctx, f.north.ID, domain.ResourceFilter{IncludeGone: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rs {
			if r.GoneAt == nil {
				n++
			}
		}
		return n
	}
	f.check(t, []uiCase{
		{name: "viewer may not import", method: "GET", path: "/inventory/import", who: "viewer", status: 403},
		{name: "form", method: "GET", path: "/inventory/import?kind=hr", who: "member", status: 200,
			want: []string{`id="import-form"`, `enctype="multipart/form-data"`, `<option value="hr" selected>HR roster (CSV)</option>`, "Prowler", "up to 100 MiB",
				"evident import KIND FILE --org SLUG"}},
	})
	if rec := f.upload(t, "/inventory/import", "viewer", []part{{name: "kind", value: "hr"}, {name: "file", fileName: "roster.csv", value: rosterCSV}}); rec.Code != 403 {
		t.Errorf("import as a viewer = %d; want 403", rec.Code)
	}

	rec := f.upload(t, "/inventory/import", "member", []part{{name: "kind", value: "hr"}, {name: "source", value: "workday"}, {name: "file", fileName: "roster.csv", value: rosterCSV}})
	body := rec.Body.String()
	for _, w := range []string{`id="import-result"`, "Imported 2 resources as “workday”", "<code>hr.person</code><span class=\"legend-count\">2</span>",
		"Added <strong>2</strong>", "Ignored columns: badge colour", "tests ran"} {
		if !strings.Contains(body, w) {
			t.Errorf("import result does not show %q\n%s", w, excerpt(body))
		}
	}
	if rec.Code != 200 || count() != 2 {
		t.Fatalf("import = %d, %d resources; want 200 and 2", rec.Code, count())
	}

	// A file that fails on its third line imports nothing, not even its first rows, and
	// leaves the previous import of the source as it was.
	bad := "name,email,start date\nCy Dune,cy@northwind.example,2023-01-02\nDee Fox,dee@northwind.example,2023-13-45\n"
	before, _ := f.st.Events(ctx, f.north.ID, domain.EventFilter{Limit: 1})
	for _, tc := range []struct {
		name  string
		parts []part
		want  string
	}{
		{"malformed", []part{{name: "kind", value: "hr"}, {name: "source", value: "workday"}, {name: "file", fileName: "bad.csv", value: bad}},
			"Line 3, column start date: must be a date"},
		{"unknown kind", []part{{name: "kind", value: "excel"}, {name: "file", fileName: "a.csv", value: rosterCSV}}, "Kind must be one of"},
		{"no file", []part{{name: "kind", value: "hr"}}, "File is required"},
		{"bad source", []part{{name: "kind", value: "hr"}, {name: "source", value: "connection:1"}, {name: "file", fileName: "a.csv", value: rosterCSV}}, "Source must not start with"},
		{"file not last", []part{{name: "kind", value: "hr"}, {name: "file", fileName: "a.csv", value: rosterCSV}, {name: "source", value: "x"}}, "must be the last field"},
		{"wrong kind of file", []part{{name: "kind", value: "prowler"}, {name: "file", fileName: "a.json", value: "[]"}}, "holds no resources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.upload(t, "/inventory/import", "member", tc.parts)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("import %s = %d; want 400 saying %q\n%s", tc.name, rec.Code, tc.want, excerpt(rec.Body.String()))
			}
		})
	}
	after, _ := f.st.Events(ctx, f.north.ID, domain.EventFilter{Limit: 1})
	if count() != 2 || after[0].Index != before[0].Index {
		t.Errorf("after refused imports: %d resources, ledger at %d (was %d); want nothing changed", count(), after[0].Index, before[0].Index)
	}

	// The upload limit holds while the file streams.
	f.srv.cfg.MaxUpload = 1024
	big := rosterCSV
	for i := range 100 {
		big += fmt.Sprintf("Zed Ray,zed%d@northwind.example,2020-01-01,,Ops,full_time,x\n", i)
	}
	rec = f.upload(t, "/inventory/import", "member", []part{{name: "kind", value: "hr"}, {name: "source", value: "big"}, {name: "file", fileName: "big.csv", value: big}})
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "larger than the upload limit of 1 KiB") || count() != 2 {
		t.Errorf("import over the limit = %d, %d resources; want 400 and nothing stored\n%s", rec.Code, count(), excerpt(rec.Body.String()))
	}
}
