package connector

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testRoutes = Routes{
	{Method: "GET", Path: "/orgs/{org}"},
	{Method: "GET", Path: "/orgs/{org}/members"},
	{Method: "GET", Path: "/repos/{owner}/{repo}/branches/{branch}/protection"},
	{Method: "GET", Path: "/api/v1/users", Name: "ListUsers"},
	{Method: "GET", Path: "/api/v1/users/{userId}/factors", Name: "ListFactors"},
}

func TestRoutesOperation(t *testing.T) {
	tests := []struct {
		method, url, want string
	}{
		{"GET", "https://api.github.com/orgs/acme", "GET /orgs/{org}"},
		{"GET", "https://api.github.com/orgs/acme/members?filter=2fa_disabled&page=2", "GET /orgs/{org}/members"},
		{"GET", "https://github.example.com/api/v3/orgs/acme/members", "GET /orgs/{org}/members"},
		{"GET", "https://api.github.com/repos/acme/api/branches/release%2F1.0/protection", "GET /repos/{owner}/{repo}/branches/{branch}/protection"},
		{"GET", "https://acme.okta.com/api/v1/users?limit=200", "ListUsers"},
		{"GET", "https://acme.okta.com/api/v1/users/00u1/factors", "ListFactors"},
		{"POST", "https://api.github.com/orgs/acme", ""},
		{"GET", "https://api.github.com/orgs/acme/teams", ""},
		{"GET", "https://api.github.com/orgs//members", ""},
		{"GET", "https://api.github.com/", ""},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, tc.url, nil)
		if got := testRoutes.Operation(req); got != tc.want {
			t.Errorf("Operation(%s %s) = %q; want %q", tc.method, tc.url, got, tc.want)
		}
	}
}

func TestRecorderOperation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer srv.Close()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rec := &Recorder{Next: http.DefaultTransport, Now: func() time.Time { return now }, Operation: testRoutes.Operation}
	client := &http.Client{Transport: rec}
	for _, path := range []string{"/orgs/acme/members?page=1", "/orgs/acme/hooks"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	var got []string
	for _, e := range rec.Exchanges() {
		got = append(got, e.Operation)
	}
	// A request the routes do not know is named by its method and path.
	if diff := cmp.Diff([]string{"GET /orgs/{org}/members", "GET /orgs/acme/hooks"}, got); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
}
