package web

import (
	"encoding/csv"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// encTest is the library test the fixtures fail: devices encrypt their disks.
const encTest = "device-disk-encrypted"

// testsClock is the settable clock of the server, the store and the test runs.
type testsClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testsClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testsClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testsFixture is the UI fixture with continuous monitoring: Northwind has three devices,
// two of them unencrypted, so the library's encryption test fails on two resources. Bravo
// has a failing device, a test of its own and an exception, which Northwind must never
// reach.
type testsFixture struct {
	*uiFixture
	clk       *testsClock
	svc       *collect.Service
	resources map[string]int64 // Northwind's devices: external ID → resource ID

	bravoTest      string
	bravoException *domain.Exception
}

// device is a device resource; encrypted decides the encryption test.
func device(id, name string, encrypted bool) monitor.Resource {
	return monitor.Resource{Type: "device", ExternalID: id, Name: name, Attributes: map[string]any{
		"platform": "macos", "os_version": "15.3", "managed": true, "disk_encrypted": encrypted,
		"screen_lock_enabled": true, "endpoint_protection": true, "last_seen": "2026-03-01T09:00:00Z",
	}}
}

func newTestsFixture(tb testing.TB) *testsFixture {
	tb.Helper()
	f := &testsFixture{uiFixture: newUIFixture(tb), clk: &testsClock{t: time.Now().UTC().Truncate(time.Second)}, resources: map[string]int64{}}
	f.svc = &collect.Service{Store: f.st, Now: f.clk.now, Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	f.st.Now = f.clk.now
	f.srv.now = f.clk.now
	f.srv.cfg.Collect = f.svc
	f.srv.cfg.Monitoring = f.st

	f.push(tb, f.north, device("lt-1", "Ana's MacBook", true), device("lt-2", "Bo's ThinkPad", false), device("lt-3", "Cy's XPS", false))
	rs, err := f.st.Resources(f.ctx, f.north.ID, domain.ResourceFilter{Type: "device"})
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range rs {
		f.resources[r.ExternalID] = r.ID
	}

	f.bravoTest = "bravo-vault-check"
	def := "id: " + f.bravoTest + "\ntitle: " + bravoSecret + " vault check\ntype: device\nexpression: resource.managed\nseverity: low\nremediation: Enroll it.\ncontrols: [END-03]\n"
	if _, err := f.st.CreateCustomTest(f.ctx, domain.SystemActor, f.bravo.ID, def); err != nil {
		tb.Fatalf("CreateCustomTest(bravo): %v", err)
	}
	f.push(tb, f.bravo, device("b-1", bravoSecret+" laptop", false))
	f.bravoException = &domain.Exception{OrgID: f.bravo.ID, TestID: encTest, ExternalID: "b-1", Justification: bravoSecret + " reason",
		ApproverID: f.users["bravo"].ID, ExpiresAt: f.clk.now().Add(30 * 24 * time.Hour)}
	if err := f.st.CreateException(f.ctx, domain.SystemActor, f.bravoException); err != nil {
		tb.Fatalf("CreateException(bravo): %v", err)
	}
	return f
}

// push sends devices to an organization's inventory, which runs its tests.
func (f *testsFixture) push(tb testing.TB, org *domain.Organization, rs ...monitor.Resource) {
	tb.Helper()
	if _, _, err := f.svc.PushResources(f.ctx, domain.SystemActor, org.ID, "mdm", rs, false); err != nil {
		tb.Fatalf("PushResources(%s): %v", org.Slug, err)
	}
}

// except accepts a Northwind device's failure of the encryption test, approved by the admin.
func (f *testsFixture) except(tb testing.TB, ext string, term time.Duration) *domain.Exception {
	tb.Helper()
	e := &domain.Exception{OrgID: f.north.ID, TestID: encTest, ExternalID: ext, Justification: "Replaced next month",
		ApproverID: f.users["admin"].ID, ExpiresAt: f.clk.now().Add(term)}
	if err := f.st.CreateException(f.ctx, domain.Actor{UserID: f.users["member"].ID, Email: f.users["member"].Email}, e); err != nil {
		tb.Fatalf("CreateException: %v", err)
	}
	return e
}

// testsState is what a refused request must leave as it was.
type testsState struct {
	Ledger     int64
	Custom     []domain.CustomTest
	Disabled   []string
	Exceptions []domain.Exception
	Runs       int
}

func (f *testsFixture) testsState(tb testing.TB, org *domain.Organization) testsState {
	tb.Helper()
	var s testsState
	var err error
	if s.Ledger, err = f.st.LedgerSize(f.ctx, org.ID); err != nil {
		tb.Fatal(err)
	}
	if s.Custom, err = f.st.CustomTests(f.ctx, org.ID); err != nil {
		tb.Fatal(err)
	}
	if s.Disabled, err = f.st.DisabledTests(f.ctx, org.ID); err != nil {
		tb.Fatal(err)
	}
	if s.Exceptions, err = f.st.Exceptions(f.ctx, org.ID, domain.ExceptionFilter{}); err != nil {
		tb.Fatal(err)
	}
	runs, err := f.st.TestRuns(f.ctx, org.ID, domain.TestRunFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	s.Runs = len(runs)
	return s
}

// stateOf returns the state shown for a test on the tests list's row.
func stateOf(tb testing.TB, body, testID string) string {
	tb.Helper()
	i := strings.Index(body, `data-test="`+testID+`"`)
	if i < 0 {
		tb.Fatalf("the list has no row for %s", testID)
	}
	m := regexp.MustCompile(`class="badge test-([a-z_]+)"`).FindStringSubmatch(body[i:])
	if m == nil {
		tb.Fatalf("the row of %s has no state badge", testID)
	}
	return m[1]
}

func TestTestsPages(t *testing.T) {
	f := newTestsFixture(t)
	enc := "/tests/" + encTest
	ctl := f.controlByRef(t, f.north, "END-02")
	f.run(t, []uiCase{
		{name: "list", method: "GET", path: "/tests", who: "viewer", status: 200,
			want:    []string{`id="tests-table"`, `data-test="` + encTest + `"`, "Devices encrypt their disks", `href="/controls/` + id(ctl.ID) + `"`, "/tests.csv", `href="/exceptions"`},
			notWant: []string{"Run tests now", "/tests/custom/new", bravoSecret}},
		{name: "list offers editors actions", method: "GET", path: "/tests", who: "member", status: 200,
			want: []string{"Run tests now", "/tests/custom/new", enc + `/disable`}},
		{name: "list failing only", method: "GET", path: "/tests?status=failing", who: "viewer", status: 200,
			want: []string{`data-test="` + encTest + `"`, `<span id="test-count">1</span>`}},
		{name: "list by severity and search", method: "GET", path: "/tests?severity=high&q=encrypt", who: "viewer", status: 200,
			want: []string{`data-test="` + encTest + `"`}, notWant: []string{`data-test="device-screen-lock"`}},
		{name: "list custom only", method: "GET", path: "/tests?origin=custom", who: "viewer", status: 200,
			want: []string{`<span id="test-count">0</span>`, "No tests match"}},
		{name: "list sorted by title", method: "GET", path: "/tests?sort=title", who: "viewer", status: 200},
		{name: "list bad status", method: "GET", path: "/tests?status=broken", who: "viewer", status: 400, want: []string{"Status must be one of"}},
		{name: "list bad sort", method: "GET", path: "/tests?sort=colour", who: "viewer", status: 400, want: []string{"Sort must be"}},
		{name: "list needs sign-in", method: "GET", path: "/tests", status: 303},

		{name: "test page", method: "GET", path: enc, who: "viewer", status: 200,
			want: []string{"Devices encrypt their disks", `class="badge test-failing"`, `<span class="count" id="failure-count">2</span>`,
				"Bo&#39;s ThinkPad", "Cy&#39;s XPS", `href="/inventory/resources/` + id(f.resources["lt-2"]) + `"`,
				"is not encrypted", "resource.disk_encrypted", "FileVault", `href="/controls/` + id(ctl.ID) + `"`, `id="history-table"`,
				`class="history-chart"`, "From the Evident library"},
			notWant: []string{"Ana&#39;s MacBook", "/accept?resource=", "Run tests now", bravoSecret}},
		{name: "test page offers accept to editors", method: "GET", path: enc, who: "member", status: 200,
			want: []string{enc + "/accept?resource=lt-2", enc + "/accept?resource=lt-3", "Copy to a custom test", `id="disable-test"`}},
		{name: "unknown test", method: "GET", path: "/tests/no-such-test", who: "viewer", status: 404},
		{name: "test page bad page number", method: "GET", path: enc + "?failures=0", who: "viewer", status: 400},
		{name: "exceptions page", method: "GET", path: "/exceptions", who: "viewer", status: 200,
			want: []string{"No exceptions"}, notWant: []string{bravoSecret}},
		{name: "exceptions bad state", method: "GET", path: "/exceptions?state=lapsed", who: "viewer", status: 400},
		{name: "new test form", method: "GET", path: "/tests/custom/new", who: "member", status: 200, want: []string{`id="test-form"`, `id="preview-test"`, `<option value="aws.iam.user">`}},
		{name: "copy a library test", method: "GET", path: "/tests/custom/new?from=" + encTest, who: "member", status: 200,
			want: []string{`value="` + encTest + `-custom"`, "resource.disk_encrypted", `name="copy_of" value="` + encTest + `"`}},
		{name: "library tests cannot be edited", method: "GET", path: enc + "/edit", who: "member", status: 409, want: []string{"shipped library"}},
		{name: "control shows its tests", method: "GET", path: "/controls/" + id(ctl.ID), who: "viewer", status: 200,
			want: []string{`id="control-tests"`, `href="` + enc + `"`, `class="badge test-failing"`, "<strong>2</strong> failing"}},
	})

	// The list puts failing tests first, the most severe first.
	body := f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	first := regexp.MustCompile(`data-test="([^"]+)"`).FindStringSubmatch(body)
	if first == nil || first[1] != encTest {
		t.Errorf("the first test listed is %v; want the failing %s", first, encTest)
	}
	if got := stateOf(t, body, "device-managed"); got != testPassing {
		t.Errorf("device-managed shows %s; want passing", got)
	}
	if got := stateOf(t, body, "aws-iam-root-mfa"); got != testNoData {
		t.Errorf("aws-iam-root-mfa shows %s; want no_resources", got)
	}

	// CSV export of the filtered list.
	rec := f.do(t, "GET", "/tests.csv?status=failing", "viewer", nil)
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || rec.Code != 200 {
		t.Fatalf("GET /tests.csv = %d, %v", rec.Code, err)
	}
	if len(rows) != 2 || rows[1][0] != encTest || rows[1][3] != testFailing || rows[1][5] != "2" {
		t.Errorf("tests.csv = %v; want the header and the failing test with 2 failures", rows)
	}
}

func TestTestsEveryPageHasLandmarksAndLabels(t *testing.T) {
	f := newTestsFixture(t)
	ex := f.except(t, "lt-3", 30*24*time.Hour)
	labelled := regexp.MustCompile(`<label[^>]*for="([^"]+)"`)
	control := regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idAttr := regexp.MustCompile(`\bid="([^"]+)"`)
	for _, path := range []string{"/tests", "/tests/" + encTest, "/tests/custom/new", "/tests/" + encTest + "/accept?resource=lt-2",
		"/exceptions", "/exceptions/" + id(ex.ID) + "/revoke"} {
		t.Run(path, func(t *testing.T) {
			rec := f.do(t, "GET", path, "owner", nil)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d\n%s", path, rec.Code, excerpt(body))
			}
			for _, want := range []string{`<main id="main"`, `<nav class="nav" aria-label="Main">`, "<h1", `href="/tests" aria-current="page"`} {
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
				if strings.Contains(tag, `type="hidden"`) {
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

func TestRunTestsNowAndEnable(t *testing.T) {
	f := newTestsFixture(t)
	runs := f.testsState(t, f.north).Runs
	rec := f.do(t, "POST", "/tests/run", "member", vals("return", "/tests?status=failing"))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/tests?status=failing" {
		t.Fatalf("POST /tests/run = %d to %q; want 303 back to the list", rec.Code, rec.Header().Get("Location"))
	}
	if got := f.testsState(t, f.north).Runs; got != runs+1 {
		t.Errorf("test runs after Run tests now = %d; want %d", got, runs+1)
	}
	if rec := f.followFlash(t, rec, "member"); !strings.Contains(rec, "1 failing") {
		t.Errorf("after running the tests the page says %q; want the run's counts", rec)
	}
	// An outside return path is not followed.
	rec = f.do(t, "POST", "/tests/run", "member", vals("return", "https://evil.example/"))
	if loc := rec.Header().Get("Location"); loc != "/tests" {
		t.Errorf("POST /tests/run with an outside return = %q; want /tests", loc)
	}

	rec = f.do(t, "POST", "/tests/"+encTest+"/disable", "admin", vals("return", "/tests"))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("disable = %d", rec.Code)
	}
	body := f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	if got := stateOf(t, body, encTest); got != testDisabled {
		t.Errorf("after disabling, %s shows %s; want disabled", encTest, got)
	}
	if body := f.do(t, "GET", "/tests/"+encTest, "viewer", nil).Body.String(); !strings.Contains(body, "Disabled: this test is not judged") {
		t.Errorf("the disabled test's page does not say it is disabled")
	}
	f.do(t, "POST", "/tests/"+encTest+"/enable", "admin", nil)
	body = f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	if got := stateOf(t, body, encTest); got != testNotRun {
		t.Errorf("after enabling, %s shows %s; want not run until the next run", encTest, got)
	}
	f.do(t, "POST", "/tests/run", "admin", nil)
	body = f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	if got := stateOf(t, body, encTest); got != testFailing {
		t.Errorf("after the next run, %s shows %s; want failing", encTest, got)
	}
}

// followFlash follows a redirect as who and returns the flash message shown.
func (f *testsFixture) followFlash(tb testing.TB, rec interface {
	Result() *http.Response
}, who string) string {
	tb.Helper()
	res := rec.Result()
	to, _, _ := strings.Cut(res.Header.Get("Location"), "#")
	req := f.request("GET", to, who, nil)
	for _, c := range res.Cookies() {
		req.AddCookie(c)
	}
	out := httptest.NewRecorder()
	f.srv.ServeHTTP(out, req)
	m := regexp.MustCompile(`(?s)<div class="flash" role="status">.*?<span>(.*?)</span>`).FindStringSubmatch(out.Body.String())
	if m == nil {
		return ""
	}
	return m[1]
}

func TestCustomTestForm(t *testing.T) {
	f := newTestsFixture(t)
	form := func(kv ...string) url.Values {
		v := vals("id", "laptops-managed", "title", "Laptops are managed", "type", "device", "severity", "high",
			"expression", "resource.managed && resource.disk_encrypted", "message", `resource.name + " is not managed and encrypted"`,
			"remediation", "Enroll and encrypt it.", "remediation_snippet", "sudo fdesetup enable", "controls", "END-02, END-03",
			"params", "", "action", "save")
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	before := f.testsState(t, f.north)

	// A bad expression: its position next to the field, the input kept, nothing saved.
	rec := f.do(t, "POST", "/tests/custom/new", "member", form("expression", "resource.managed &&\r\n  resource.disk_encryptd"))
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("POST bad expression = %d; want 400\n%s", rec.Code, excerpt(body))
	}
	for _, want := range []string{`id="expression-error"`, "Line 2, column 11", "disk_encryptd", `id="expression-context"`,
		`aria-invalid="true"`, `value="laptops-managed"`, "Enroll and encrypt it."} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form does not contain %q\n%s", want, excerpt(body))
		}
	}
	if !strings.Contains(body, "  resource.disk_encryptd\n          ^") {
		t.Errorf("the refused form does not point at the column\n%s", excerpt(body))
	}
	for _, tc := range []struct {
		name, field, want string
		kv                []string
	}{
		{"not a bool", "expression", "must be a bool", []string{"expression", "resource.name"}},
		{"leading blank lines", "expression", "Line 1, column 9: undefined field", []string{"expression", "\r\n\r\n  resource.bogus"}},
		{"bad selector", "where", "Line 1, column", []string{"where", "resource.platform =="}},
		{"message not a string", "message", "must be a string", []string{"message", "resource.managed"}},
		{"undeclared param", "expression", "params.max is not declared", []string{"expression", "resource.screen_lock_minutes < params.max"}},
		{"library ID", "id", "test library", []string{"id", encTest}},
		{"bad ID", "id", "lower-case", []string{"id", "Laptops!"}},
		{"unknown type", "type", "unknown resource type", []string{"type", "toaster"}},
		{"no remediation", "remediation", "required", []string{"remediation", " "}},
		{"bad params", "params", "YAML mapping", []string{"params", "- a list"}},
		{"bad control", "controls", "not a control ref", []string{"controls", "AC-01, ???"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(t, "POST", "/tests/custom/new", "member", form(tc.kv...))
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusConflict {
				t.Fatalf("POST = %d; want 400 or 409\n%s", rec.Code, excerpt(body))
			}
			m := regexp.MustCompile(`(?s)id="` + tc.field + `-error">(.*?)</p>`).FindStringSubmatch(body)
			if m == nil || !strings.Contains(m[1], tc.want) {
				t.Errorf("the %s error = %v; want it to say %q\n%s", tc.field, m, tc.want, excerpt(body))
			}
		})
	}
	if diff := cmp.Diff(before, f.testsState(t, f.north)); diff != "" {
		t.Fatalf("refused tests changed Northwind (-before +after):\n%s", diff)
	}

	// The check against the inventory judges without saving.
	rec = f.do(t, "POST", "/tests/custom/new", "member", form("action", "preview"))
	body = rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("preview = %d\n%s", rec.Code, excerpt(body))
	}
	for _, want := range []string{`id="preview"`, `<dd id="preview-passed">1</dd>`, `<dd id="preview-failed">2</dd>`,
		"Bo&#39;s ThinkPad is not managed and encrypted", `href="/inventory/resources/` + id(f.resources["lt-2"]) + `"`, "Nothing was saved"} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview does not contain %q\n%s", want, excerpt(body))
		}
	}
	if diff := cmp.Diff(before, f.testsState(t, f.north)); diff != "" {
		t.Fatalf("a preview changed Northwind (-before +after):\n%s", diff)
	}

	// Saving creates the test, in the library's format.
	rec = f.do(t, "POST", "/tests/custom/new", "member", form("params", "max_minutes: 15"))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/tests/laptops-managed" {
		t.Fatalf("save = %d to %q\n%s", rec.Code, rec.Header().Get("Location"), excerpt(rec.Body.String()))
	}
	ct, err := f.st.CustomTest(f.ctx, f.north.ID, "laptops-managed")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := monitor.ParseTests("saved", []byte(ct.Definition))
	if err != nil || len(parsed) != 1 {
		t.Fatalf("the saved definition does not parse: %v\n%s", err, ct.Definition)
	}
	got := parsed[0]
	got.Origin = ""
	want := monitor.Test{ID: "laptops-managed", Title: "Laptops are managed", Type: "device", Severity: monitor.SeverityHigh,
		Expression: "resource.managed && resource.disk_encrypted", Message: `resource.name + " is not managed and encrypted"`,
		Remediation: "Enroll and encrypt it.", RemediationSnippet: "sudo fdesetup enable", Controls: []string{"END-02", "END-03"},
		Params: map[string]any{"max_minutes": 15}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("saved test mismatch (-want +got):\n%s", diff)
	}
	f.run(t, []uiCase{
		{name: "custom test page", method: "GET", path: "/tests/laptops-managed", who: "member", status: 200,
			want: []string{"Laptops are managed", "Custom test", `class="badge test-not_run"`, `id="edit-test"`, "Definition as stored", "sudo fdesetup enable", "max_minutes: 15"}},
		{name: "custom test listed", method: "GET", path: "/tests?origin=custom", who: "viewer", status: 200,
			want: []string{`data-test="laptops-managed"`, `<span id="test-count">1</span>`}},
		{name: "same ID again", method: "POST", path: "/tests/custom/new", who: "member", form: form(), status: 409,
			want: []string{`id="id-error"`, "already used"}},
		{name: "edit form", method: "GET", path: "/tests/laptops-managed/edit", who: "member", status: 200,
			want: []string{`action="/tests/laptops-managed/edit"`, "resource.managed &amp;&amp; resource.disk_encrypted"}},
	})

	// Editing keeps the ID, and a bad change saves nothing.
	rec = f.do(t, "POST", "/tests/laptops-managed/edit", "member", form("expression", "resource.managed ||", "id", "renamed"))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `id="expression-error"`) {
		t.Fatalf("bad edit = %d; want 400 with the expression's error", rec.Code)
	}
	rec = f.do(t, "POST", "/tests/laptops-managed/edit", "member", form("severity", "low", "id", "renamed"))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("edit = %d\n%s", rec.Code, excerpt(rec.Body.String()))
	}
	if ct, err := f.st.CustomTest(f.ctx, f.north.ID, "laptops-managed"); err != nil || ct.Severity != "low" {
		t.Errorf("after the edit the test is %+v, %v; want severity low under the same ID", ct, err)
	}
	// Run, then the test judges the inventory like the library's.
	f.do(t, "POST", "/tests/run", "member", nil)
	body = f.do(t, "GET", "/tests/laptops-managed", "viewer", nil).Body.String()
	if !strings.Contains(body, `class="badge test-failing"`) || !strings.Contains(body, "Cy&#39;s XPS is not managed and encrypted") {
		t.Errorf("after a run the custom test does not fail on the unencrypted devices\n%s", excerpt(body))
	}

	rec = f.do(t, "POST", "/tests/laptops-managed/delete", "member", nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("delete = %d", rec.Code)
	}
	if _, err := f.st.CustomTest(f.ctx, f.north.ID, "laptops-managed"); !domain.IsNotFound(err) {
		t.Errorf("after deleting, CustomTest = %v; want not found", err)
	}
	if rec := f.do(t, "POST", "/tests/"+encTest+"/delete", "admin", nil); rec.Code != http.StatusConflict {
		t.Errorf("deleting a library test = %d; want 409", rec.Code)
	}
}

func TestAcceptFailure(t *testing.T) {
	f := newTestsFixture(t)
	enc := "/tests/" + encTest
	today := f.clk.now().UTC()
	in := func(days int) string { return today.AddDate(0, 0, days).Format(time.DateOnly) }
	admin := id(f.users["admin"].ID)
	accept := func(kv ...string) url.Values {
		v := vals("resource", "lt-2", "justification", "Bo's laptop is replaced on Friday; it holds no customer data.",
			"approver_id", admin, "expires_at", in(30))
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	before := f.testsState(t, f.north)
	f.run(t, []uiCase{
		{name: "form", method: "GET", path: enc + "/accept?resource=lt-2", who: "member", status: 200,
			want:    []string{"Bo&#39;s ThinkPad", `name="justification"`, `id="approver_id"`, `max="` + in(365) + `"`, "Admin Person (Admin)", "Owner Person (Owner)"},
			notWant: []string{"Member Person (Member)", "Viewer Person"}},
		{name: "form for a passing resource", method: "GET", path: enc + "/accept?resource=lt-1", who: "member", status: 400, want: []string{"is not failing this test"}},
		{name: "form needs an editor", method: "GET", path: enc + "/accept?resource=lt-2", who: "viewer", status: 403},
		{name: "no justification", method: "POST", path: enc + "/accept", who: "member", form: accept("justification", "  "), status: 400,
			want: []string{`id="justification-error"`, "Justification is required"}},
		{name: "approving oneself", method: "POST", path: enc + "/accept", who: "member", form: accept("approver_id", id(f.users["member"].ID)), status: 400,
			want: []string{`id="approver_id-error"`, "other than you", "Bo&#39;s laptop is replaced on Friday"}},
		{name: "a viewer approves", method: "POST", path: enc + "/accept", who: "member", form: accept("approver_id", id(f.users["viewer"].ID)), status: 400,
			want: []string{`id="approver_id-error"`}},
		{name: "no expiry", method: "POST", path: enc + "/accept", who: "member", form: accept("expires_at", ""), status: 400,
			want: []string{`id="expires_at-error"`, "required"}},
		{name: "approver not from the list", method: "POST", path: enc + "/accept", who: "member", form: accept("approver_id", "Admin"), status: 400,
			want: []string{`id="approver_id-error"`, "chosen from the list"}},
		{name: "expiry not a date", method: "POST", path: enc + "/accept", who: "member", form: accept("expires_at", "next week"), status: 400,
			want: []string{`id="expires_at-error"`, "must be a date"}},
		{name: "fields checked in order", method: "POST", path: enc + "/accept", who: "member",
			form: accept("justification", " ", "approver_id", "Admin", "expires_at", "next week"), status: 400,
			want: []string{`id="justification-error"`}, notWant: []string{`id="approver_id-error"`, `id="expires_at-error"`}},
		{name: "approver checked before a bad date", method: "POST", path: enc + "/accept", who: "member",
			form: accept("approver_id", id(f.users["member"].ID), "expires_at", "next week"), status: 400,
			want: []string{`id="approver_id-error"`, "other than you"}, notWant: []string{`id="expires_at-error"`}},
		{name: "expiry past", method: "POST", path: enc + "/accept", who: "member", form: accept("expires_at", in(0)), status: 400,
			want: []string{`id="expires_at-error"`, "in the future"}},
		{name: "expiry beyond a year", method: "POST", path: enc + "/accept", who: "member", form: accept("expires_at", in(367)), status: 400,
			want: []string{`id="expires_at-error"`, "one year"}},
		{name: "viewer cannot accept", method: "POST", path: enc + "/accept", who: "viewer", form: accept(), status: 403},
		{name: "passing resource", method: "POST", path: enc + "/accept", who: "member", form: accept("resource", "lt-1"), status: 400},
	})
	if diff := cmp.Diff(before, f.testsState(t, f.north)); diff != "" {
		t.Fatalf("refused exceptions changed Northwind (-before +after):\n%s", diff)
	}

	rec := f.do(t, "POST", enc+"/accept", "member", accept())
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != enc+"#exceptions" {
		t.Fatalf("accept = %d to %q\n%s", rec.Code, rec.Header().Get("Location"), excerpt(rec.Body.String()))
	}
	es, err := f.st.Exceptions(f.ctx, f.north.ID, domain.ExceptionFilter{})
	if err != nil || len(es) != 1 {
		t.Fatalf("Exceptions = %d, %v; want the one accepted", len(es), err)
	}
	ex := es[0]
	wantExpiry := time.Date(today.Year(), today.Month(), today.Day()+30, 0, 0, 0, 0, time.UTC)
	if ex.ExternalID != "lt-2" || ex.ApproverID != f.users["admin"].ID || ex.CreatedBy != f.users["member"].ID || !ex.ExpiresAt.Equal(wantExpiry) {
		t.Errorf("stored exception = %+v; want lt-2 approved by the admin, asked by the member, until %v", ex, wantExpiry)
	}
	// The exception is in the ledger.
	evs, err := f.st.Events(f.ctx, f.north.ID, domain.EventFilter{Subject: "exception:" + id(ex.ID)})
	if err != nil || len(evs) != 1 || evs[0].Type != domain.EventExceptionCreated {
		t.Fatalf("ledger entries of the exception = %+v, %v; want exception.created", evs, err)
	}
	entry := evs[0].Index
	if flash := f.followFlash(t, rec, "member"); !strings.Contains(flash, "ledger as entry #"+id(entry)) {
		t.Errorf("the confirmation says %q; want the ledger entry #%d", flash, entry)
	}

	f.run(t, []uiCase{
		{name: "test page counts it excepted", method: "GET", path: enc, who: "viewer", status: 200,
			want: []string{`<span class="count" id="failure-count">1</span>`, `<span class="count" id="exception-count">1</span>`,
				`data-exception="` + id(ex.ID) + `"`, "Admin Person", `href="/ledger?index=` + id(entry) + `"`, "1 excepted"}},
		{name: "accepting again is refused", method: "GET", path: enc + "/accept?resource=lt-2", who: "member", status: 409},
		{name: "exceptions page", method: "GET", path: "/exceptions?state=active", who: "viewer", status: 200,
			want:    []string{`data-exception="` + id(ex.ID) + `" data-state="active"`, "Bo&#39;s ThinkPad", `href="/ledger?index=` + id(entry) + `"`, "Member Person"},
			notWant: []string{bravoSecret, "/revoke"}},
		{name: "exceptions by test", method: "GET", path: "/exceptions?test=device-managed", who: "viewer", status: 200, want: []string{"No exceptions match"}},
		{name: "revoke form", method: "GET", path: "/exceptions/" + id(ex.ID) + "/revoke?return=" + url.QueryEscape(enc), who: "member", status: 200,
			want: []string{`id="revoke-form"`, `name="return" value="` + enc + `"`}},
		{name: "revoke without a reason", method: "POST", path: "/exceptions/" + id(ex.ID) + "/revoke", who: "member", form: vals("reason", " "), status: 400,
			want: []string{`id="reason-error"`, "Reason is required"}},
		{name: "viewer cannot revoke", method: "POST", path: "/exceptions/" + id(ex.ID) + "/revoke", who: "viewer", form: vals("reason", "x"), status: 403},
	})
	// Both tests are failing gaps or not: the readiness view counts the excepted one out.
	body := f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	if got := stateOf(t, body, encTest); got != testFailing {
		t.Errorf("with one of two failures excepted, the test shows %s; want failing", got)
	}
	f.except(t, "lt-3", 10*24*time.Hour)
	body = f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	if got := stateOf(t, body, encTest); got != testExcepted {
		t.Errorf("with every failure excepted, the test shows %s; want excepted", got)
	}

	rec = f.do(t, "POST", "/exceptions/"+id(ex.ID)+"/revoke", "admin", vals("reason", "Bo keeps the laptop after all.", "return", enc))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != enc {
		t.Fatalf("revoke = %d to %q\n%s", rec.Code, rec.Header().Get("Location"), excerpt(rec.Body.String()))
	}
	f.run(t, []uiCase{
		{name: "revoked shows its reason", method: "GET", path: "/exceptions?state=revoked", who: "viewer", status: 200,
			want: []string{`data-exception="` + id(ex.ID) + `" data-state="revoked"`, "Revoked by Admin Person", "Bo keeps the laptop after all.", "revoked #"}},
		{name: "revoked again", method: "GET", path: "/exceptions/" + id(ex.ID) + "/revoke", who: "member", status: 409},
		{name: "the failure counts again", method: "GET", path: enc, who: "viewer", status: 200,
			want: []string{`<span class="count" id="failure-count">1</span>`, `data-resource="lt-2"`}},
	})
	rec = f.do(t, "GET", "/exceptions.csv", "viewer", nil)
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("exceptions.csv = %d rows, %v; want the header and two exceptions", len(rows), err)
	}
	if rows[2][0] != id(ex.ID) || rows[2][1] != "revoked" || rows[2][13] != "Bo keeps the laptop after all." || rows[2][14] != id(entry) {
		t.Errorf("exceptions.csv row = %v; want the revoked exception with its reason and ledger entry", rows[2])
	}
}

// TestExpiredExceptionNoLongerExcuses moves the clock past an exception's expiry: the
// failure counts again everywhere.
func TestExpiredExceptionNoLongerExcuses(t *testing.T) {
	f := newTestsFixture(t)
	f.except(t, "lt-2", 48*time.Hour)
	f.except(t, "lt-3", 48*time.Hour)
	body := f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	if got := stateOf(t, body, encTest); got != testExcepted {
		t.Fatalf("with both failures excepted the test shows %s; want excepted", got)
	}
	rep, err := f.srv.currentReadiness(f.ctx, f.north.ID, f.clk.now())
	if err != nil {
		t.Fatal(err)
	}
	gapsBefore := len(rep.Gaps)

	f.clk.advance(72 * time.Hour)
	body = f.do(t, "GET", "/tests", "viewer", nil).Body.String()
	if got := stateOf(t, body, encTest); got != testFailing {
		t.Errorf("after the exceptions expired the test shows %s; want failing", got)
	}
	f.run(t, []uiCase{
		{name: "test page", method: "GET", path: "/tests/" + encTest, who: "viewer", status: 200,
			want: []string{`<span class="count" id="failure-count">2</span>`, `<span class="count" id="exception-count">0</span>`}},
		{name: "exceptions expired", method: "GET", path: "/exceptions?state=expired", who: "viewer", status: 200,
			want: []string{`data-state="expired"`, "Expired"}},
		{name: "none active", method: "GET", path: "/exceptions?state=active", who: "viewer", status: 200, want: []string{"No exceptions match"}},
	})
	// Readiness counts the failing test as a gap again.
	f.srv.kept = viewCache{}
	rep, err = f.srv.currentReadiness(f.ctx, f.north.ID, f.clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gaps) <= gapsBefore {
		t.Errorf("readiness gaps after the exceptions expired = %d; want more than %d", len(rep.Gaps), gapsBefore)
	}
}

// TestTestsRoles has a viewer try every change: each is refused and nothing changes.
func TestTestsRoles(t *testing.T) {
	f := newTestsFixture(t)
	ex := f.except(t, "lt-2", 30*24*time.Hour)
	custom := "id: mine\ntitle: Mine\ntype: device\nexpression: resource.managed\nseverity: low\nremediation: Fix.\ncontrols: []\n"
	if _, err := f.st.CreateCustomTest(f.ctx, domain.SystemActor, f.north.ID, custom); err != nil {
		t.Fatal(err)
	}
	before := f.testsState(t, f.north)
	for _, rt := range []struct {
		method, path string
		form         url.Values
	}{
		{"POST", "/tests/run", nil},
		{"POST", "/tests/" + encTest + "/disable", nil},
		{"POST", "/tests/mine/enable", nil},
		{"GET", "/tests/custom/new", nil},
		{"POST", "/tests/custom/new", vals("id", "v", "title", "V", "type", "device", "expression", "true", "severity", "low", "remediation", "x")},
		{"GET", "/tests/mine/edit", nil},
		{"POST", "/tests/mine/edit", vals("title", "Changed", "type", "device", "expression", "true", "severity", "low", "remediation", "x")},
		{"POST", "/tests/mine/delete", nil},
		{"GET", "/tests/" + encTest + "/accept?resource=lt-3", nil},
		{"POST", "/tests/" + encTest + "/accept", vals("resource", "lt-3", "justification", "x", "approver_id", id(f.users["admin"].ID), "expires_at", "2099-01-01")},
		{"GET", "/exceptions/" + id(ex.ID) + "/revoke", nil},
		{"POST", "/exceptions/" + id(ex.ID) + "/revoke", vals("reason", "x")},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if rec := f.do(t, rt.method, rt.path, "viewer", rt.form); rec.Code != http.StatusForbidden {
				t.Errorf("%s %s as viewer = %d; want 403", rt.method, rt.path, rec.Code)
			}
		})
	}
	if diff := cmp.Diff(before, f.testsState(t, f.north)); diff != "" {
		t.Errorf("Northwind changed after a viewer's requests (-before +after):\n%s", diff)
	}
}

// TestTestsTenancy has Northwind's owner reach for Bravo's test and exception: every answer
// is 404, nothing of Bravo shows, and nothing of Bravo changes.
func TestTestsTenancy(t *testing.T) {
	f := newTestsFixture(t)
	bt, bx := "/tests/"+f.bravoTest, "/exceptions/"+id(f.bravoException.ID)
	before := f.testsState(t, f.bravo)
	for _, rt := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", bt, nil},
		{"GET", bt + "/edit", nil},
		{"POST", bt + "/edit", vals("title", "Taken", "type", "device", "expression", "true", "severity", "low", "remediation", "x")},
		{"POST", bt + "/delete", nil},
		{"POST", bt + "/disable", nil},
		{"GET", bt + "/accept?resource=b-1", nil},
		{"GET", bx + "/revoke", nil},
		{"POST", bx + "/revoke", vals("reason", "Taken over")},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			rec := f.do(t, rt.method, rt.path, "owner", rt.form)
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s as Northwind's owner = %d; want 404", rt.method, rt.path, rec.Code)
			}
			if strings.Contains(rec.Body.String(), bravoSecret) {
				t.Errorf("%s %s shows Bravo's data", rt.method, rt.path)
			}
		})
	}
	for _, path := range []string{"/tests", "/tests?q=bravo", "/exceptions", "/tests/" + encTest, "/exceptions.csv", "/tests.csv"} {
		if body := f.do(t, "GET", path, "owner", nil).Body.String(); strings.Contains(body, bravoSecret) || strings.Contains(body, f.bravoTest) {
			t.Errorf("GET %s as Northwind's owner shows Bravo's test or exception", path)
		}
	}
	// Accepting Bravo's resource from Northwind finds nothing failing.
	rec := f.do(t, "POST", "/tests/"+encTest+"/accept", "owner", vals("resource", "b-1", "justification", "x",
		"approver_id", id(f.users["admin"].ID), "expires_at", f.clk.now().AddDate(0, 1, 0).Format(time.DateOnly)))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("accepting Bravo's resource as Northwind = %d; want 400", rec.Code)
	}
	if diff := cmp.Diff(before, f.testsState(t, f.bravo)); diff != "" {
		t.Errorf("Bravo changed after Northwind's requests (-before +after):\n%s", diff)
	}
}

func TestHistoryChart(t *testing.T) {
	points := []domain.TestHistoryPoint{
		{RunID: 3, Status: domain.ResultFail, Passed: 6, Failed: 4, Excepted: 1},
		{RunID: 2, Status: domain.ResultPass, Passed: 5},
		{RunID: 1, Status: domain.ResultNoData},
	}
	v := newHistoryView(points)
	if v.Width != 30 || v.Max != 10 || len(v.Bars) != 3 {
		t.Fatalf("view = %+v; want three bars up to 10 resources", v)
	}
	if v.Bars[0].Parts != nil || len(v.Bars[1].Parts) != 1 || v.Bars[2].X <= v.Bars[1].X {
		t.Errorf("bars = %+v; want the oldest run first, empty", v.Bars)
	}
	var got []string
	for _, p := range v.Bars[2].Parts {
		got = append(got, fmt.Sprintf("%s %.0f %.0f", p.Class, p.Y, p.Height))
	}
	want := []string{"fill-fail 70 30", "fill-excepted 60 10", "fill-pass 0 60"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the latest bar (-want +got):\n%s", diff)
	}
	if got, want := v.Bars[2].Parts[0].Attrs(), (historyAttrs{X: "21.50", Y: "70.000", Height: "30.000"}); got != want {
		t.Errorf("the latest bar's failing part is drawn at %+v; want %+v", got, want)
	}
	if v.Points[0].Failing() != 3 {
		t.Errorf("failing in the latest run = %d; want 3 (4 failed, 1 excepted)", v.Points[0].Failing())
	}
}

// TestTestsPaging pages through a test's failures and its history, and through the
// exceptions: each page links to its neighbours and keeps the other list's place.
func TestTestsPaging(t *testing.T) {
	f := newTestsFixture(t)
	enc := "/tests/" + encTest
	var more []monitor.Resource
	for i := range 60 {
		more = append(more, device(fmt.Sprintf("pg-%02d", i), fmt.Sprintf("Laptop %02d", i), false))
	}
	// With the fixture's own run, the encryption test has judged historyPageSize+1 runs.
	for range historyPageSize {
		f.push(t, f.north, more...)
	}
	runs := regexp.MustCompile(`\sRun \d+</p>`)
	link := func(tb testing.TB, body, id string) string {
		tb.Helper()
		m := regexp.MustCompile(`<a href="([^"]+)" id="` + id + `">`).FindStringSubmatch(body)
		if m == nil {
			tb.Fatalf("the page has no link #%s\n%s", id, excerpt(body))
		}
		to, _, _ := strings.Cut(html.UnescapeString(m[1]), "#")
		return to
	}

	// 62 failures by external ID: lt-2, lt-3, pg-00 to pg-59.
	first := f.do(t, "GET", enc, "viewer", nil).Body.String()
	for _, want := range []string{`data-resource="lt-2"`, `data-resource="pg-47"`, "Showing 1–50 of 62.", `<a href="` + enc + `?failures=2#failures">Next</a>`} {
		if !strings.Contains(first, want) {
			t.Errorf("the first page of failures does not contain %q", want)
		}
	}
	if strings.Contains(first, `data-resource="pg-48"`) || strings.Contains(first, ">Previous</a>") {
		t.Errorf("the first page of failures shows the 51st failure or a previous page")
	}
	if n := len(runs.FindAllString(first, -1)); n != historyPageSize {
		t.Errorf("the first page of history shows %d runs; want %d", n, historyPageSize)
	}

	second := f.do(t, "GET", enc+"?failures=2", "viewer", nil).Body.String()
	for _, want := range []string{`data-resource="pg-48"`, `data-resource="pg-59"`, "Showing 51–62 of 62.", `<a href="` + enc + `#failures">Previous</a>`} {
		if !strings.Contains(second, want) {
			t.Errorf("the second page of failures does not contain %q", want)
		}
	}
	if strings.Contains(second, `data-resource="pg-47"`) || strings.Contains(second, ">Next</a>") {
		t.Errorf("the second page of failures shows the 50th failure or a next page")
	}

	// Older runs keep the page of failures, and the page of failures keeps the runs.
	older := link(t, second, "older-runs")
	if !strings.Contains(older, "failures=2") || !strings.Contains(older, "before=") {
		t.Fatalf("the older runs link is %q; want it to keep the second page of failures", older)
	}
	body := f.do(t, "GET", older, "viewer", nil).Body.String()
	before, _, _ := strings.Cut(older[strings.Index(older, "before=")+len("before="):], "&")
	for _, want := range []string{`data-resource="pg-48"`, `<a href="` + enc + `#history" class="card-link">Latest runs`,
		`<a href="` + enc + `?before=` + before + `#failures">Previous</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the older runs do not contain %q\n%s", want, excerpt(body))
		}
	}
	if n := len(runs.FindAllString(body, -1)); n != 1 || strings.Contains(body, `id="older-runs"`) {
		t.Errorf("the older runs show %d runs (older link: %v); want the one left and no older page", n, strings.Contains(body, `id="older-runs"`))
	}

	// One exception more than a page.
	for i := range exceptionsPageSize + 1 {
		f.except(t, fmt.Sprintf("pg-%02d", i), 30*24*time.Hour)
	}
	rows := regexp.MustCompile(`<tr data-exception="`)
	body = f.do(t, "GET", "/exceptions?state=active", "viewer", nil).Body.String()
	if n := len(rows.FindAllString(body, -1)); n != exceptionsPageSize {
		t.Errorf("the first page of exceptions shows %d; want %d", n, exceptionsPageSize)
	}
	older = link(t, body, "older-exceptions")
	if !strings.Contains(older, "state=active") {
		t.Errorf("the older exceptions link %q does not keep the filter", older)
	}
	if !strings.Contains(body, `href="/exceptions.csv?state=active" id="export-exceptions"`) {
		t.Errorf("the export link does not keep the filter\n%s", excerpt(body))
	}
	body = f.do(t, "GET", older, "viewer", nil).Body.String()
	if n := len(rows.FindAllString(body, -1)); n != 1 || !strings.Contains(body, "<code>pg-00</code>") {
		t.Errorf("the older exceptions show %d; want the oldest one, of pg-00", n)
	}
	if !strings.Contains(body, `<a href="/exceptions?state=active">Newest</a>`) || strings.Contains(body, `id="older-exceptions"`) {
		t.Errorf("the older exceptions do not link back to the newest only\n%s", excerpt(body))
	}
}

// TestSortTests orders the same tests by each of the list's sort keys.
func TestSortTests(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	entry := func(id, title string, sev monitor.Severity, enabled bool, status domain.ResultStatus, failed, excepted int, runAgo time.Duration) testEntry {
		e := testEntry{TestInfo: collect.TestInfo{Test: monitor.Test{ID: id, Title: title, Severity: sev}, Enabled: enabled}}
		if status != "" {
			e.Summary = &domain.TestSummary{TestID: id, Status: status, Failed: failed, Excepted: excepted, LastRunAt: at.Add(-runAgo)}
		}
		return e
	}
	all := []testEntry{
		entry("pass-high", "Passes", monitor.SeverityHigh, true, domain.ResultPass, 0, 0, time.Hour),
		entry("fail-low-many", "Fails a lot", monitor.SeverityLow, true, domain.ResultFail, 9, 0, 2*time.Hour),
		entry("fail-critical", "Fails badly", monitor.SeverityCritical, true, domain.ResultFail, 2, 0, 3*time.Hour),
		entry("excepted-high", "All excepted", monitor.SeverityHigh, true, domain.ResultExcepted, 3, 3, 4*time.Hour),
		entry("error-medium", "Cannot judge", monitor.SeverityMedium, true, domain.ResultError, 0, 0, 0),
		entry("not-run", "Never judged", monitor.SeverityCritical, true, "", 0, 0, 0),
		entry("disabled", "Switched off", monitor.SeverityCritical, false, "", 0, 0, 0),
	}
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"", []string{"fail-critical", "fail-low-many", "error-medium", "excepted-high", "pass-high", "not-run", "disabled"}},
		{"severity", []string{"fail-critical", "not-run", "disabled", "excepted-high", "pass-high", "error-medium", "fail-low-many"}},
		{"failing", []string{"fail-low-many", "fail-critical", "not-run", "disabled", "excepted-high", "pass-high", "error-medium"}},
		{"title", []string{"excepted-high", "error-medium", "fail-low-many", "fail-critical", "not-run", "pass-high", "disabled"}},
		{"last_run", []string{"error-medium", "pass-high", "fail-low-many", "fail-critical", "excepted-high", "not-run", "disabled"}},
	} {
		ts := slices.Clone(all)
		sortTests(ts, tc.key)
		var got []string
		for _, e := range ts {
			got = append(got, e.Test.ID)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("sortTests(%q) (-want +got):\n%s", tc.key, diff)
		}
	}
}
