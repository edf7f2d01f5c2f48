package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
)

// pushDevices pushes devices to Acme through the API, which runs its tests: lt-2 and lt-3
// fail the library's encryption test.
func (f *apiFixture) pushDevices(tb testing.TB) {
	tb.Helper()
	dev := func(id, name string, encrypted bool) string {
		return `{"type":"device","id":"` + id + `","name":"` + name + `","attributes":{"platform":"macos","os_version":"15.3",` +
			`"managed":true,"disk_encrypted":` + strconv.FormatBool(encrypted) + `,"screen_lock_enabled":true,` +
			`"endpoint_protection":true,"last_seen":"2026-03-01T09:00:00Z"}}`
	}
	body := `{"source":"mdm","resources":[` + dev("lt-1", "Ana's MacBook", true) + "," + dev("lt-2", "Bo's ThinkPad", false) + "," +
		dev("lt-3", "Cy's XPS", false) + `]}`
	if rec := f.do(tb, "POST", "/api/v1/resources", "member", body); rec.Code != http.StatusOK {
		tb.Fatalf("push = %d %s", rec.Code, rec.Body)
	}
}

// decode reads a JSON response into v, failing the test on a wrong status.
func decodeAs[T any](tb testing.TB, rec interface {
	Result() *http.Response
}, status int) T {
	tb.Helper()
	res := rec.Result()
	var v T
	if res.StatusCode != status {
		var e apiErrorBody
		_ = json.NewDecoder(res.Body).Decode(&e)
		tb.Fatalf("status %d (%+v); want %d", res.StatusCode, e.Error, status)
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return v
}

const apiCustomTest = `{"id":"laptops-managed","title":"Laptops are managed","type":"device",
	"expression":"resource.managed && resource.disk_encrypted","message":"resource.name + \" is not managed and encrypted\"",
	"severity":"high","remediation":"Enroll and encrypt it.","remediation_snippet":"sudo fdesetup enable",
	"controls":["END-02"],"params":{"max_minutes":15}}`

func TestAPITestRoutes(t *testing.T) {
	f := newAPIFixture(t)
	f.pushDevices(t)
	bad := strings.Replace(apiCustomTest, "resource.managed && resource.disk_encrypted", `resource.managed &&\n resource.disk_encryptd`, 1)
	f.run(t, []apiCase{
		{"get library test", "GET", "/api/v1/tests/device-disk-encrypted", "viewer", "", 200,
			[]string{`"expression":"resource.disk_encrypted"`, `"state":"failing"`, `"failed":2`, `"custom":false`, `"remediation":"Turn on FileVault`, `"last_run_id":`}, ""},
		{"list has state", "GET", "/api/v1/tests", "viewer", "", 200, []string{`"id":"device-disk-encrypted"`, `"state":"failing"`, `"state":"no_resources"`}, ""},
		{"unknown test", "GET", "/api/v1/tests/nope", "viewer", "", 404, nil, ""},
		{"viewer cannot create", "POST", "/api/v1/tests", "viewer", apiCustomTest, 403, nil, ""},
		{"bad expression", "POST", "/api/v1/tests", "member", bad, 400, []string{`expression: 2:10: undefined field 'disk_encryptd'`}, "expression"},
		{"not a bool", "POST", "/api/v1/tests", "member", strings.Replace(apiCustomTest, `"resource.managed && resource.disk_encrypted"`, `"resource.name"`, 1), 400, []string{"bool"}, "expression"},
		{"bad severity", "POST", "/api/v1/tests", "member", strings.Replace(apiCustomTest, `"high"`, `"dire"`, 1), 400, nil, "severity"},
		{"unknown field", "POST", "/api/v1/tests", "member", strings.Replace(apiCustomTest, `"severity"`, `"colour":"red","severity"`, 1), 400, nil, "colour"},
		{"library ID", "POST", "/api/v1/tests", "member", strings.Replace(apiCustomTest, "laptops-managed", "device-disk-encrypted", 1), 409, []string{"test library"}, ""},
		{"library test cannot be replaced", "PUT", "/api/v1/tests/device-disk-encrypted", "member", apiCustomTest, 409, nil, ""},
		{"library test cannot be deleted", "DELETE", "/api/v1/tests/device-disk-encrypted", "admin", "", 409, nil, ""},
		{"library test title cannot change", "PATCH", "/api/v1/tests/device-disk-encrypted", "admin", `{"title":"Mine"}`, 409, nil, ""},
	})
	if cs, err := f.st.CustomTests(f.ctx, f.acme.ID); err != nil || len(cs) != 0 {
		t.Fatalf("after refused creations Acme has %d custom tests (%v); want none", len(cs), err)
	}

	rec := f.do(t, "POST", "/api/v1/tests", "member", apiCustomTest)
	created := decodeAs[apiTestDetail](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != "/api/v1/tests/laptops-managed" {
		t.Errorf("Location = %q", loc)
	}
	if !created.Custom || !created.Enabled || created.State != testNotRun || created.Params["max_minutes"] != float64(15) || created.RemediationSnippet != "sudo fdesetup enable" {
		t.Errorf("created = %+v; want a custom, enabled test not run yet, with its params and snippet", created)
	}
	f.run(t, []apiCase{
		{"same ID again", "POST", "/api/v1/tests", "member", apiCustomTest, 409, []string{"already used"}, ""},
		{"replace with another ID", "PUT", "/api/v1/tests/laptops-managed", "member", strings.Replace(apiCustomTest, `"laptops-managed"`, `"other"`, 1), 400, nil, "id"},
		{"replace with a bad expression", "PUT", "/api/v1/tests/laptops-managed", "member", bad, 400, nil, "expression"},
		{"patch a bad expression", "PATCH", "/api/v1/tests/laptops-managed", "member", `{"expression":"resource.managed ||"}`, 400, []string{"1:"}, "expression"},
		{"viewer cannot patch", "PATCH", "/api/v1/tests/laptops-managed", "viewer", `{"enabled":false}`, 403, nil, ""},
		{"viewer cannot delete", "DELETE", "/api/v1/tests/laptops-managed", "viewer", "", 403, nil, ""},
		{"viewer cannot replace", "PUT", "/api/v1/tests/laptops-managed", "viewer", apiCustomTest, 403, nil, ""},
		{"viewer cannot disable", "POST", "/api/v1/tests/device-disk-encrypted/disable", "viewer", "", 403, nil, ""},
		{"viewer cannot enable", "POST", "/api/v1/tests/laptops-managed/enable", "viewer", "", 403, nil, ""},
		{"unknown test cannot be enabled", "POST", "/api/v1/tests/nope/enable", "member", "", 404, nil, ""},
	})
	patched := decodeAs[apiTestDetail](t, f.do(t, "PATCH", "/api/v1/tests/laptops-managed", "member", `{"severity":"low","params":null,"enabled":false}`), 200)
	if patched.Severity != "low" || len(patched.Params) != 0 || patched.Enabled || patched.State != testDisabled || patched.Expression != "resource.managed && resource.disk_encrypted" {
		t.Errorf("patched = %+v; want low severity, no params, disabled, the expression unchanged", patched)
	}
	enabled := decodeAs[apiTestDetail](t, f.do(t, "POST", "/api/v1/tests/laptops-managed/enable", "member", ""), 200)
	if !enabled.Enabled {
		t.Errorf("after enable the test is disabled")
	}
	replaced := decodeAs[apiTestDetail](t, f.do(t, "PUT", "/api/v1/tests/laptops-managed", "member",
		strings.Replace(apiCustomTest, `"high"`, `"critical"`, 1)), 200)
	if replaced.Severity != "critical" || replaced.Params["max_minutes"] != float64(15) {
		t.Errorf("replaced = %+v; want the new definition", replaced)
	}
	disabled := decodeAs[apiTestDetail](t, f.do(t, "POST", "/api/v1/tests/device-disk-encrypted/disable", "admin", ""), 200)
	if disabled.Enabled || disabled.State != testDisabled {
		t.Errorf("library test after disable = %+v; want disabled", disabled)
	}
	decodeAs[apiTestDetail](t, f.do(t, "PATCH", "/api/v1/tests/device-disk-encrypted", "admin", `{"enabled":true}`), 200)

	// Run now: both tests judge the inventory.
	rec = f.do(t, "POST", "/api/v1/test-runs", "member", "")
	run := decodeAs[apiTestRun](t, rec, http.StatusCreated)
	if run.ID == 0 || run.Failing != 2 || rec.Header().Get("Location") != "/api/v1/test-runs/"+strconv.FormatInt(run.ID, 10) {
		t.Errorf("run = %+v at %q; want two failing tests", run, rec.Header().Get("Location"))
	}
	got := decodeAs[apiTestRun](t, f.do(t, "GET", "/api/v1/test-runs/"+strconv.FormatInt(run.ID, 10), "viewer", ""), 200)
	if diff := cmp.Diff(run, got); diff != "" {
		t.Errorf("GET /test-runs/{id} (-created +got):\n%s", diff)
	}

	type failures struct {
		Failures []apiFailure
		Total    int
	}
	fl := decodeAs[failures](t, f.do(t, "GET", "/api/v1/tests/laptops-managed/failures", "viewer", ""), 200)
	if fl.Total != 2 || len(fl.Failures) != 2 || fl.Failures[0].ExternalID != "lt-2" || fl.Failures[0].ResourceID == nil ||
		fl.Failures[0].Message != "Bo's ThinkPad is not managed and encrypted" || fl.Failures[0].Status != "fail" {
		t.Errorf("failures = %+v; want lt-2 and lt-3 with their resources and messages", fl)
	}
	page := decodeAs[failures](t, f.do(t, "GET", "/api/v1/tests/laptops-managed/failures?offset=1&limit=1", "viewer", ""), 200)
	if page.Total != 2 || len(page.Failures) != 1 || page.Failures[0].ExternalID != "lt-3" {
		t.Errorf("second page of failures = %+v; want lt-3", page)
	}
	type history struct {
		History    []apiHistoryPoint
		NextBefore *int64 `json:"next_before"`
	}
	h := decodeAs[history](t, f.do(t, "GET", "/api/v1/tests/device-disk-encrypted/history?limit=1", "viewer", ""), 200)
	if len(h.History) != 1 || h.History[0].RunID != run.ID || h.History[0].Failed != 2 || h.NextBefore == nil {
		t.Fatalf("history = %+v; want the latest run and a next page", h)
	}
	older := decodeAs[history](t, f.do(t, "GET", "/api/v1/tests/device-disk-encrypted/history?before="+strconv.FormatInt(*h.NextBefore, 10), "viewer", ""), 200)
	if len(older.History) == 0 || older.History[0].RunID >= run.ID || older.NextBefore != nil {
		t.Errorf("older history = %+v; want the earlier runs and no further page", older)
	}
	f.run(t, []apiCase{
		{"failures bad status", "GET", "/api/v1/tests/laptops-managed/failures?status=pass", "viewer", "", 400, nil, "status"},
		{"failures bad limit", "GET", "/api/v1/tests/laptops-managed/failures?limit=0", "viewer", "", 400, nil, "limit"},
		{"history bad before", "GET", "/api/v1/tests/laptops-managed/history?before=x", "viewer", "", 400, nil, "before"},
		{"viewer cannot run", "POST", "/api/v1/test-runs", "viewer", "", 403, nil, ""},
		{"unknown run", "GET", "/api/v1/test-runs/99999", "viewer", "", 404, nil, ""},
		{"delete", "DELETE", "/api/v1/tests/laptops-managed", "member", "", 204, nil, ""},
		{"deleted", "GET", "/api/v1/tests/laptops-managed", "viewer", "", 404, nil, ""},
	})
}

func TestAPIExceptions(t *testing.T) {
	f := newAPIFixture(t)
	f.pushDevices(t)
	expires := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second)
	body := func(kv ...string) string {
		m := map[string]any{"test_id": "device-disk-encrypted", "external_id": "lt-2", "justification": "Replaced on Friday.",
			"approver_id": f.users["admin"].ID, "expires_at": expires.Format(time.RFC3339)}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	self := strings.Replace(body(), strconv.FormatInt(f.users["admin"].ID, 10), strconv.FormatInt(f.users["member"].ID, 10), 1)
	viewerApproves := strings.Replace(body(), strconv.FormatInt(f.users["admin"].ID, 10), strconv.FormatInt(f.users["viewer"].ID, 10), 1)
	f.run(t, []apiCase{
		{"viewer cannot create", "POST", "/api/v1/exceptions", "viewer", body(), 403, nil, ""},
		{"no justification", "POST", "/api/v1/exceptions", "member", body("justification", " "), 400, nil, "justification"},
		{"approving oneself", "POST", "/api/v1/exceptions", "member", self, 400, []string{"other than you"}, "approver_id"},
		{"a viewer approves", "POST", "/api/v1/exceptions", "member", viewerApproves, 400, nil, "approver_id"},
		{"beyond a year", "POST", "/api/v1/exceptions", "member", body("expires_at", time.Now().UTC().AddDate(1, 0, 2).Format(time.RFC3339)), 400, []string{"one year"}, "expires_at"},
		{"past", "POST", "/api/v1/exceptions", "member", body("expires_at", "2020-01-01T00:00:00Z"), 400, nil, "expires_at"},
		{"not a time", "POST", "/api/v1/exceptions", "member", body("expires_at", "next week"), 400, nil, "expires_at"},
		{"unknown test", "POST", "/api/v1/exceptions", "member", body("test_id", "nope"), 400, nil, "test_id"},
		{"passing resource", "POST", "/api/v1/exceptions", "member", body("external_id", "lt-1"), 400, nil, "external_id"},
		{"bad state", "GET", "/api/v1/exceptions?state=lapsed", "viewer", "", 400, nil, "state"},
	})
	if es, _ := f.st.Exceptions(f.ctx, f.acme.ID, domain.ExceptionFilter{}); len(es) != 0 {
		t.Fatalf("refused requests created %d exceptions", len(es))
	}

	rec := f.do(t, "POST", "/api/v1/exceptions", "member", body())
	ex := decodeAs[apiException](t, rec, http.StatusCreated)
	if ex.State != exceptionActive || ex.ApproverID != f.users["admin"].ID || ex.RequestedByID != f.users["member"].ID ||
		ex.ResourceID == nil || ex.LedgerIndex == nil || !ex.ExpiresAt.Equal(expires) || ex.TestTitle != "Devices encrypt their disks" {
		t.Fatalf("created = %+v; want active, approved by the admin, with its resource and ledger entry", ex)
	}
	evs, err := f.st.Events(f.ctx, f.acme.ID, domain.EventFilter{Subject: "exception:" + strconv.FormatInt(ex.ID, 10)})
	if err != nil || len(evs) != 1 || evs[0].Index != *ex.LedgerIndex || evs[0].Type != domain.EventExceptionCreated {
		t.Fatalf("ledger entries = %+v, %v; want exception.created at #%d", evs, err, *ex.LedgerIndex)
	}
	sid := strconv.FormatInt(ex.ID, 10)
	test := decodeAs[apiTestDetail](t, f.do(t, "GET", "/api/v1/tests/device-disk-encrypted", "viewer", ""), 200)
	if test.Excepted != 1 || test.Failed != 2 || test.State != testFailing {
		t.Errorf("test with one of two failures excepted = %+v; want 1 excepted, still failing", test)
	}
	type failures struct{ Failures []apiFailure }
	fl := decodeAs[failures](t, f.do(t, "GET", "/api/v1/tests/device-disk-encrypted/failures?status=excepted", "viewer", ""), 200)
	if len(fl.Failures) != 1 || fl.Failures[0].ExternalID != "lt-2" || fl.Failures[0].ExceptionID == nil || *fl.Failures[0].ExceptionID != ex.ID {
		t.Errorf("excepted failures = %+v; want lt-2 under the exception", fl)
	}

	// Globex's exception is out of reach.
	globexEx := &domain.Exception{OrgID: f.globex.ID, TestID: "device-disk-encrypted", ExternalID: "g-1", Justification: "Globex only",
		ApproverID: f.users["globex"].ID, ExpiresAt: expires}
	f.pushGlobexDevice(t)
	if err := f.st.CreateException(f.ctx, domain.SystemActor, globexEx); err != nil {
		t.Fatal(err)
	}
	gid := strconv.FormatInt(globexEx.ID, 10)
	f.run(t, []apiCase{
		{"list", "GET", "/api/v1/exceptions", "viewer", "", 200, []string{`"id":` + sid, `"state":"active"`, `"ledger_index":`}, ""},
		{"list active", "GET", "/api/v1/exceptions?state=active&test_id=device-disk-encrypted&external_id=lt-2", "viewer", "", 200, []string{`"id":` + sid}, ""},
		{"list revoked", "GET", "/api/v1/exceptions?state=revoked", "viewer", "", 200, []string{`"exceptions":[]`}, ""},
		{"get", "GET", "/api/v1/exceptions/" + sid, "viewer", "", 200, []string{`"justification":"Replaced on Friday."`, `"revoke_reason":null`}, ""},
		{"twice", "POST", "/api/v1/exceptions", "member", body(), 409, nil, ""},
		{"another organization's", "GET", "/api/v1/exceptions/" + gid, "owner", "", 404, nil, ""},
		{"revoke another organization's", "POST", "/api/v1/exceptions/" + gid + "/revoke", "owner", `{"reason":"Not ours"}`, 404, nil, ""},
		{"viewer cannot revoke", "POST", "/api/v1/exceptions/" + sid + "/revoke", "viewer", `{"reason":"x"}`, 403, nil, ""},
		{"revoke without a reason", "POST", "/api/v1/exceptions/" + sid + "/revoke", "member", `{"reason":" "}`, 400, nil, "reason"},
		{"revoke with no body", "POST", "/api/v1/exceptions/" + sid + "/revoke", "member", "", 400, nil, "body"},
	})
	if body := f.do(t, "GET", "/api/v1/exceptions", "owner", "").Body.String(); strings.Contains(body, "Globex only") {
		t.Errorf("Acme's list shows Globex's exception")
	}
	if g, err := f.st.Exception(f.ctx, f.globex.ID, globexEx.ID); err != nil || g.RevokedAt != nil {
		t.Errorf("Globex's exception after Acme's requests = %+v, %v; want unchanged", g, err)
	}

	revoked := decodeAs[apiException](t, f.do(t, "POST", "/api/v1/exceptions/"+sid+"/revoke", "admin", `{"reason":"Bo keeps it."}`), 200)
	if revoked.State != exceptionRevoked || revoked.RevokeReason == nil || *revoked.RevokeReason != "Bo keeps it." || revoked.RevokeLedgerIndex == nil ||
		revoked.RevokedBy == nil || *revoked.RevokedBy != f.users["admin"].Name {
		t.Errorf("revoked = %+v; want revoked by the admin with the reason and its ledger entry", revoked)
	}
	f.run(t, []apiCase{
		{"revoke again", "POST", "/api/v1/exceptions/" + sid + "/revoke", "admin", `{"reason":"Again"}`, 409, nil, ""},
		{"list revoked", "GET", "/api/v1/exceptions?state=revoked", "viewer", "", 200, []string{`"id":` + sid, `"revoke_reason":"Bo keeps it."`}, ""},
	})
	test = decodeAs[apiTestDetail](t, f.do(t, "GET", "/api/v1/tests/device-disk-encrypted", "viewer", ""), 200)
	if test.Excepted != 0 {
		t.Errorf("after the revocation %d failures are excepted; want none", test.Excepted)
	}
}

// pushGlobexDevice gives Globex an unencrypted device failing the encryption test.
func (f *apiFixture) pushGlobexDevice(tb testing.TB) {
	tb.Helper()
	body := `{"source":"mdm","resources":[{"type":"device","id":"g-1","name":"Globex laptop","attributes":{"platform":"macos",` +
		`"os_version":"15.3","managed":true,"disk_encrypted":false,"screen_lock_enabled":true,"endpoint_protection":true,` +
		`"last_seen":"2026-03-01T09:00:00Z"}}]}`
	if rec := f.do(tb, "POST", "/api/v1/resources", "globex", body); rec.Code != http.StatusOK {
		tb.Fatalf("push to Globex = %d %s", rec.Code, rec.Body)
	}
}

// TestAPITestsTenancy has Acme reach for Globex's own test by ID: every route answers 404
// and nothing of Globex changes.
func TestAPITestsTenancy(t *testing.T) {
	f := newAPIFixture(t)
	def := strings.Replace(apiCustomTest, "laptops-managed", "globex-only", 1)
	decodeAs[apiTestDetail](t, f.do(t, "POST", "/api/v1/tests", "globex", def), http.StatusCreated)
	run := decodeAs[apiTestRun](t, f.do(t, "POST", "/api/v1/test-runs", "globex", ""), http.StatusCreated)
	before, err := f.st.LedgerSize(f.ctx, f.globex.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range []struct{ method, path, body string }{
		{"GET", "/api/v1/tests/globex-only", ""},
		{"PUT", "/api/v1/tests/globex-only", def},
		{"PATCH", "/api/v1/tests/globex-only", `{"enabled":false}`},
		{"DELETE", "/api/v1/tests/globex-only", ""},
		{"POST", "/api/v1/tests/globex-only/disable", ""},
		{"POST", "/api/v1/tests/globex-only/enable", ""},
		{"GET", "/api/v1/tests/globex-only/failures", ""},
		{"GET", "/api/v1/tests/globex-only/history", ""},
		{"GET", "/api/v1/test-runs/" + strconv.FormatInt(run.ID, 10), ""},
	} {
		rec := f.do(t, rt.method, rt.path, "owner", rt.body)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s as Acme's owner = %d %s; want 404", rt.method, rt.path, rec.Code, rec.Body)
		}
	}
	if after, _ := f.st.LedgerSize(f.ctx, f.globex.ID); after != before {
		t.Errorf("Globex's ledger grew from %d to %d after Acme's requests", before, after)
	}
	if ct, err := f.st.CustomTest(f.ctx, f.globex.ID, "globex-only"); err != nil || !ct.Enabled {
		t.Errorf("Globex's test after Acme's requests = %+v, %v; want it there and enabled", ct, err)
	}
	// Acme may use the same ID for a test of its own.
	decodeAs[apiTestDetail](t, f.do(t, "POST", "/api/v1/tests", "member", def), http.StatusCreated)
}

// TestAPITestsMatchOpenAPI checks that the tests and exceptions routes answer with exactly
// the properties their OpenAPI schemas describe, so that the description cannot drift
// from the answers.
func TestAPITestsMatchOpenAPI(t *testing.T) {
	f := newAPIFixture(t)
	f.pushDevices(t)
	ex := decodeAs[apiException](t, f.do(t, "POST", "/api/v1/exceptions", "member", `{"test_id":"device-disk-encrypted","external_id":"lt-2",`+
		`"justification":"Replaced on Friday.","approver_id":`+strconv.FormatInt(f.users["admin"].ID, 10)+
		`,"expires_at":"`+time.Now().UTC().Add(24*time.Hour).Format(time.RFC3339)+`"}`), http.StatusCreated)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				Required   []string       `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, list, schema string
	}{
		{"/api/v1/tests", "tests", "Test"},
		{"/api/v1/tests/device-disk-encrypted", "", "TestDetail"},
		{"/api/v1/tests/device-disk-encrypted/failures", "failures", "TestFailure"},
		{"/api/v1/tests/device-disk-encrypted/history", "history", "TestHistoryPoint"},
		{"/api/v1/exceptions", "exceptions", "Exception"},
		{"/api/v1/exceptions/" + strconv.FormatInt(ex.ID, 10), "", "Exception"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := f.do(t, "GET", tc.path, "viewer", "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tc.path, rec.Code, rec.Body)
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &obj); err != nil {
				t.Fatal(err)
			}
			if tc.list != "" {
				var items []map[string]json.RawMessage
				if err := json.Unmarshal(obj[tc.list], &items); err != nil || len(items) == 0 {
					t.Fatalf("GET %s lists nothing to check (%v)", tc.path, err)
				}
				obj = items[0]
			}
			schema, ok := doc.Components.Schemas[tc.schema]
			if !ok {
				t.Fatalf("openapi.json has no schema %s", tc.schema)
			}
			for k := range obj {
				if _, ok := schema.Properties[k]; !ok {
					t.Errorf("GET %s answers %q, which %s does not describe", tc.path, k, tc.schema)
				}
			}
			for _, k := range schema.Required {
				if _, ok := obj[k]; !ok {
					t.Errorf("GET %s lacks %q, which %s requires", tc.path, k, tc.schema)
				}
			}
		})
	}
}

// TestAPIExceptionsPagingAndFilters pages through the exceptions by next_before and
// narrows them by resource and by state, and the failures by status.
func TestAPIExceptionsPagingAndFilters(t *testing.T) {
	f := newAPIFixture(t)
	f.pushDevices(t)
	expires := time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	ids := map[string]int64{}
	for _, ext := range []string{"lt-2", "lt-3"} {
		body := `{"test_id":"device-disk-encrypted","external_id":"` + ext + `","justification":"Replaced soon.","approver_id":` +
			strconv.FormatInt(f.users["admin"].ID, 10) + `,"expires_at":"` + expires + `"}`
		ids[ext] = decodeAs[apiException](t, f.do(t, "POST", "/api/v1/exceptions", "member", body), http.StatusCreated).ID
	}
	type page struct {
		Exceptions []apiException
		NextBefore *int64 `json:"next_before"`
	}
	externalIDs := func(p page) []string {
		var out []string
		for _, x := range p.Exceptions {
			out = append(out, x.ExternalID)
		}
		return out
	}
	newest := decodeAs[page](t, f.do(t, "GET", "/api/v1/exceptions?limit=1", "viewer", ""), 200)
	if diff := cmp.Diff([]string{"lt-3"}, externalIDs(newest)); diff != "" || newest.NextBefore == nil || *newest.NextBefore != ids["lt-3"] {
		t.Fatalf("first page = %+v; want the newest, lt-3, and next_before %d (-want +got):\n%s", newest, ids["lt-3"], diff)
	}
	older := decodeAs[page](t, f.do(t, "GET", "/api/v1/exceptions?limit=1&before="+strconv.FormatInt(*newest.NextBefore, 10), "viewer", ""), 200)
	if diff := cmp.Diff([]string{"lt-2"}, externalIDs(older)); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"by resource", "external_id=lt-2", []string{"lt-2"}},
		{"by test", "test_id=device-managed", nil},
		{"active", "state=active", []string{"lt-3", "lt-2"}},
		{"expired", "state=expired", nil},
	} {
		got := decodeAs[page](t, f.do(t, "GET", "/api/v1/exceptions?"+tc.query, "viewer", ""), 200)
		if diff := cmp.Diff(tc.want, externalIDs(got)); diff != "" || got.NextBefore != nil {
			t.Errorf("GET /exceptions?%s (-want +got):\n%s (next_before %v)", tc.query, diff, got.NextBefore)
		}
	}

	// Both failures are excepted: none fails without an exception.
	type failures struct {
		Failures []apiFailure
		Total    int
	}
	for status, want := range map[string]int{"fail": 0, "excepted": 2, "": 2} {
		fl := decodeAs[failures](t, f.do(t, "GET", "/api/v1/tests/device-disk-encrypted/failures?status="+status, "viewer", ""), 200)
		if fl.Total != want || len(fl.Failures) != want {
			t.Errorf("failures?status=%s = %d of %d; want %d", status, len(fl.Failures), fl.Total, want)
		}
	}
}
