package web

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAPIPushResources pushes resources, lists the inventory, and checks the validation
// errors name the field and index at fault.
func TestAPIPushResources(t *testing.T) {
	f := newAPIFixture(t)
	const push = `{"source":"cmdb","resources":[
		{"type":"custom.laptop","id":"lt-1","name":"Ana's laptop","attributes":{"encrypted":"yes"}},
		{"type":"custom.laptop","id":"lt-2","name":"Bo's laptop","attributes":{"encrypted":"no"}}]}`
	tests := []struct {
		name      string
		who, body string
		status    int
		field     string
	}{
		{"viewer may not push", "viewer", push, http.StatusForbidden, ""},
		{"no source", "member", `{"resources":[]}`, http.StatusBadRequest, "source"},
		{"no resources", "member", `{"source":"cmdb"}`, http.StatusBadRequest, "resources"},
		{"unknown type", "member", `{"source":"cmdb","resources":[{"type":"nope","id":"x"}]}`, http.StatusBadRequest, "resources[0].type"},
		{"missing id", "member", `{"source":"cmdb","resources":[{"type":"custom.laptop","id":"a","name":"A"},{"type":"custom.laptop","name":"B"}]}`, http.StatusBadRequest, "resources[1].id"},
		{"unknown field", "member", `{"source":"cmdb","resources":[],"extra":1}`, http.StatusBadRequest, "extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, "POST", "/api/v1/resources", tt.who, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("POST /resources = %d %s; want %d", rec.Code, rec.Body, tt.status)
			}
			var body apiErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Error.Field != tt.field {
				t.Errorf("error field = %q (%s); want %q", body.Error.Field, body.Error.Message, tt.field)
			}
		})
	}
	const empty = "{\"next_after\":null,\"resources\":[]}\n"
	if rec := f.do(t, "GET", "/api/v1/resources", "viewer", ""); rec.Body.String() != empty {
		t.Fatalf("after refused pushes the inventory is %s; want empty", rec.Body)
	}

	rec := f.do(t, "POST", "/api/v1/resources", "member", push)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /resources = %d %s", rec.Code, rec.Body)
	}
	var res struct {
		Added, Changed, Unchanged, Gone int
		TestRun                         *struct{ ID, Tests int } `json:"test_run"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.TestRun == nil || res.TestRun.ID == 0 || res.TestRun.Tests == 0 {
		t.Errorf("push result = %s; want 2 added and a test run", rec.Body)
	}

	// Replacing with one resource marks the other gone.
	rec = f.do(t, "POST", "/api/v1/resources", "member", `{"source":"cmdb","replace":true,"resources":[
		{"type":"custom.laptop","id":"lt-1","name":"Ana's laptop","attributes":{"encrypted":"yes"}}]}`)
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.Unchanged != 1 || res.Gone != 1 {
		t.Errorf("replace = %d %s; want 1 unchanged and 1 gone", rec.Code, rec.Body)
	}

	list := func(query string) []string {
		t.Helper()
		rec := f.do(t, "GET", "/api/v1/resources"+query, "viewer", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /resources%s = %d %s", query, rec.Code, rec.Body)
		}
		var out struct{ Resources []apiResource }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range out.Resources {
			ids = append(ids, r.Source+"/"+r.Type+"/"+r.ExternalID)
		}
		return ids
	}
	lists := []struct {
		name, query string
		want        []string
	}{
		{"current", "", []string{"cmdb/custom.laptop/lt-1"}},
		{"with gone", "?include_gone=true", []string{"cmdb/custom.laptop/lt-1", "cmdb/custom.laptop/lt-2"}},
		{"by type", "?type=custom.laptop", []string{"cmdb/custom.laptop/lt-1"}},
		{"other type", "?type=custom.phone", nil},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, list(tt.query)); diff != "" {
				t.Errorf("GET /resources%s (-want +got):\n%s", tt.query, diff)
			}
		})
	}
	// Globex sees none of Acme's resources.
	if rec := f.do(t, "GET", "/api/v1/resources?include_gone=true", "globex", ""); rec.Body.String() != empty {
		t.Errorf("Globex's inventory = %s; want empty", rec.Body)
	}
	if rec := f.do(t, "GET", "/api/v1/resources?limit=0", "viewer", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("GET /resources?limit=0 = %d; want 400", rec.Code)
	}
}

// TestAPITests lists the tests with their state and outcome after a push.
func TestAPITests(t *testing.T) {
	f := newAPIFixture(t)
	get := func() map[string]apiTest {
		t.Helper()
		rec := f.do(t, "GET", "/api/v1/tests", "viewer", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /tests = %d %s", rec.Code, rec.Body)
		}
		var out struct{ Tests []apiTest }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		m := map[string]apiTest{}
		for _, tt := range out.Tests {
			m[tt.ID] = tt
		}
		return m
	}
	before := get()
	if len(before) < 40 {
		t.Fatalf("GET /tests lists %d tests; want the library of at least 40", len(before))
	}
	for id, tt := range before {
		if !tt.Enabled || tt.Custom || tt.Status != nil {
			t.Fatalf("before any run, test %s = %+v; want enabled, from the library, without status", id, tt)
		}
	}
	// An HR roster with one person who left long ago and another who did not.
	rec := f.do(t, "POST", "/api/v1/resources", "member", `{"source":"hris","resources":[
		{"type":"hr.person","id":"ana@acme.example","name":"Ana","attributes":{"email":"ana@acme.example","start_date":"2020-01-06T00:00:00Z","employment_type":"full_time"}}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("push = %d %s", rec.Code, rec.Body)
	}
	after := get()
	ran := 0
	for _, tt := range after {
		if tt.Status != nil {
			ran++
			if tt.LastRunAt == nil {
				t.Errorf("test %s has a status but no last run time", tt.ID)
			}
		}
	}
	if ran != len(after) {
		t.Errorf("after a push %d of %d tests have a status; want all", ran, len(after))
	}
}
