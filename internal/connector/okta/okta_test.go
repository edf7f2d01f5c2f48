package okta

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

const testToken = "00EvidentTestToken-abcdefghijklmnopqrstuvwxyz01"

var testNow = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

// page is one canned answer of the fake Okta: a file and, for lists, the next page's path
// and query, sent in a Link header as Okta does.
type page struct {
	status int
	file   string
	next   string
	header map[string]string
}

const (
	alice = "00u1alice0000000A0x7"
	bob   = "00u1bob00000000B0x7"
	carol = "00u1carol000000C0x7"
	dave  = "00u1dave0000000D0x7"
)

// fakeOkta answers the Okta management API over TLS from the files in testdata.
type fakeOkta struct {
	tb  testing.TB
	srv *httptest.Server

	mu     sync.Mutex
	routes map[string]page   // method, path and sorted query → answer
	queued map[string][]page // answers given once each, before the usual one
	hits   map[string]int
	auth   map[string]bool
}

func newFakeOkta(tb testing.TB) *fakeOkta {
	tb.Helper()
	f := &fakeOkta{
		tb: tb,
		routes: map[string]page{
			"GET /api/v1/users?limit=200":                                       {file: "users_1.json", next: "/api/v1/users?after=" + bob + "&limit=200"},
			"GET /api/v1/users?after=" + bob + "&limit=200":                     {file: "users_2.json"},
			"GET /api/v1/users/" + alice + "/factors":                           {file: "factors_alice.json"},
			"GET /api/v1/users/" + bob + "/factors":                             {file: "factors_bob.json"},
			"GET /api/v1/users/" + carol + "/factors":                           {file: "factors_carol.json"},
			"GET /api/v1/users/" + dave + "/factors":                            {file: "empty_list.json"},
			"GET /api/v1/iam/assignees/users?limit=100":                         {file: "role_assignees_1.json"},
			"GET /api/v1/iam/assignees/users?after=" + alice + "&limit=100":     {file: "role_assignees_2.json"},
			"GET /api/v1/users/" + alice + "/roles":                             {file: "roles_alice.json"},
			"GET /api/v1/users/" + carol + "/roles":                             {file: "roles_carol.json"},
			"GET /api/v1/policies?type=OKTA_SIGN_ON":                            {file: "policies_signon_1.json", next: "/api/v1/policies?after=00p1admins00000000x7&type=OKTA_SIGN_ON"},
			"GET /api/v1/policies?after=00p1admins00000000x7&type=OKTA_SIGN_ON": {file: "policies_signon_2.json"},
			"GET /api/v1/policies/00p1admins00000000x7/rules":                   {file: "rules_admins.json"},
			"GET /api/v1/policies/00p1default0000000x7/rules":                   {file: "rules_default.json"},
			"GET /api/v1/policies?type=ACCESS_POLICY":                           {file: "policies_access.json"},
			"GET /api/v1/policies/rst1dashboard00000x7/rules":                   {file: "rules_dashboard.json"},
			"GET /api/v1/policies?type=PASSWORD":                                {file: "policies_password.json"},
		},
		queued: map[string][]page{},
		hits:   map[string]int{},
		auth:   map[string]bool{},
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOkta) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	if q := r.URL.Query(); len(q) > 0 {
		key += "?" + q.Encode()
	}
	f.mu.Lock()
	f.auth[r.Header.Get("Authorization")] = true
	f.hits[key]++
	p, ok := f.routes[key]
	if len(f.queued[key]) > 0 {
		p, ok = f.queued[key][0], true
		f.queued[key] = f.queued[key][1:]
	}
	f.mu.Unlock()
	if !ok {
		f.tb.Errorf("the fake Okta has no answer for %s", key)
		p = page{status: http.StatusNotFound, file: "empty_list.json"}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Date", testNow.Format(http.TimeFormat))
	h.Set("X-Okta-Request-Id", "aHR0cHM6Ly9hY21lLm9rdGEuY29t")
	h.Set("X-Rate-Limit-Limit", "600")
	h.Set("X-Rate-Limit-Remaining", "598")
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(testNow.Add(time.Minute).Unix(), 10))
	self := f.srv.URL + r.URL.RequestURI()
	h.Add("Link", fmt.Sprintf(`<%s>; rel="self"`, self))
	if p.next != "" {
		h.Add("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.srv.URL, p.next))
	}
	for k, v := range p.header {
		h.Set(k, v)
	}
	body, err := os.ReadFile(filepath.Join("testdata", p.file))
	if err != nil {
		f.tb.Errorf("read testdata: %v", err)
	}
	status := p.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (f *fakeOkta) queue(key string, pages ...page) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued[key] = append(f.queued[key], pages...)
}

func (f *fakeOkta) set(key string, p page) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[key] = p
}

type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func collect(tb testing.TB, f *fakeOkta, s *sleeper) (*connector.Collection, error) {
	tb.Helper()
	c, err := New(Config{OrgURL: f.srv.URL, APIToken: testToken}, Options{
		HTTPClient: f.srv.Client(),
		Now:        func() time.Time { return testNow },
		Sleep:      s.sleep,
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c.Collect(context.Background())
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func wantResources() []monitor.Resource {
	factor := func(typ, provider, status string) map[string]any {
		return map[string]any{"type": typ, "provider": provider, "status": status}
	}
	return []monitor.Resource{
		{Type: TypeUser, ExternalID: alice, Name: "alice@acme.example", Attributes: map[string]any{
			"login": "alice@acme.example", "email": "alice@acme.example", "status": "ACTIVE",
			"created_at":          ts("2023-01-10T09:00:00Z"),
			"activated_at":        ts("2023-01-10T09:05:00Z"),
			"last_login":          ts("2025-06-29T08:12:45Z"),
			"password_changed_at": ts("2025-03-02T11:00:00Z"),
			"factors": []map[string]any{
				factor("push", "OKTA", "ACTIVE"),
				factor("signed_nonce", "OKTA", "ACTIVE"),
			},
			"admin_roles": []string{"SUPER_ADMIN"},
		}},
		{Type: TypeUser, ExternalID: bob, Name: "bob@acme.example", Attributes: map[string]any{
			"login": "bob@acme.example", "email": "bob@acme.example", "status": "ACTIVE",
			"created_at":          ts("2023-04-03T14:30:00Z"),
			"activated_at":        ts("2023-04-03T14:31:00Z"),
			"last_login":          ts("2025-06-27T17:40:00Z"),
			"password_changed_at": ts("2024-11-20T09:00:00Z"),
			"factors": []map[string]any{
				factor("sms", "OKTA", "ACTIVE"),
				factor("email", "OKTA", "ACTIVE"),
				factor("token:software:totp", "GOOGLE", "PENDING_ACTIVATION"),
			},
			"admin_roles": []string{},
		}},
		{Type: TypeUser, ExternalID: carol, Name: "carol@acme.example", Attributes: map[string]any{
			"login": "carol@acme.example", "email": "carol@acme.example", "status": "SUSPENDED",
			"created_at":          ts("2024-02-01T08:00:00Z"),
			"activated_at":        ts("2024-02-01T08:10:00Z"),
			"password_changed_at": ts("2024-02-01T08:10:00Z"),
			"factors":             []map[string]any{factor("webauthn", "FIDO", "ACTIVE")},
			"admin_roles":         []string{"Access Reviewer", "HELP_DESK_ADMIN"},
		}},
		{Type: TypeUser, ExternalID: dave, Name: "dave@acme.example", Attributes: map[string]any{
			"login": "dave@acme.example", "email": "dave@acme.example", "status": "STAGED",
			"created_at":  ts("2025-06-25T12:00:00Z"),
			"factors":     []map[string]any{},
			"admin_roles": []string{},
		}},
		{Type: TypePolicy, ExternalID: "00p1admins00000000x7", Name: "Administrators", Attributes: map[string]any{
			"kind": "OKTA_SIGN_ON", "status": "ACTIVE", "priority": int64(1), "system": false,
			"mfa_required": true, "session_lifetime_minutes": int64(720), "session_idle_minutes": int64(60),
		}},
		{Type: TypePolicy, ExternalID: "00p1default0000000x7", Name: "Default Policy", Attributes: map[string]any{
			"kind": "OKTA_SIGN_ON", "status": "ACTIVE", "priority": int64(2), "system": true,
			"mfa_required": false, "session_lifetime_minutes": int64(0), "session_idle_minutes": int64(120),
		}},
		{Type: TypePolicy, ExternalID: "rst1dashboard00000x7", Name: "Okta Dashboard", Attributes: map[string]any{
			"kind": "ACCESS_POLICY", "status": "ACTIVE", "priority": int64(0), "system": false,
			"mfa_required": false,
		}},
		{Type: TypePolicy, ExternalID: "00p1password000000x7", Name: "Default Policy", Attributes: map[string]any{
			"kind": "PASSWORD", "status": "ACTIVE", "priority": int64(1), "system": true,
			"password_min_length":        int64(12),
			"password_require_uppercase": true,
			"password_require_lowercase": true,
			"password_require_number":    true,
			"password_require_symbol":    false,
			"password_max_age_days":      int64(0),
			"password_history_count":     int64(4),
			"lockout_attempts":           int64(10),
		}},
	}
}

func sorted(rs []monitor.Resource) []monitor.Resource {
	out := append([]monitor.Resource(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].ExternalID < out[j].ExternalID
	})
	return out
}

func only(rs []monitor.Resource, typ string) []monitor.Resource {
	var out []monitor.Resource
	for _, r := range rs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func without(rs []monitor.Resource, ids ...string) []monitor.Resource {
	drop := map[string]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	var out []monitor.Resource
	for _, r := range rs {
		if !drop[r.ExternalID] {
			out = append(out, r)
		}
	}
	return out
}

func TestCollect(t *testing.T) {
	f := newFakeOkta(t)
	var s sleeper
	got, err := collect(t, f, &s)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if diff := cmp.Diff(sorted(wantResources()), sorted(got.Resources)); diff != "" {
		t.Errorf("Collect resources (-want +got):\n%s", diff)
	}
	if len(got.Errors) != 0 {
		t.Errorf("Collect errors = %v; want none", got.Errors)
	}
	for _, r := range got.Resources {
		if err := monitor.ValidateResource(&r); err != nil {
			t.Errorf("ValidateResource(%s %s) = %v", r.Type, r.ExternalID, err)
		}
	}
	if len(s.waits) != 0 {
		t.Errorf("waits = %v; want none", s.waits)
	}
	if diff := cmp.Diff(map[string]bool{"SSWS " + testToken: true}, f.auth); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
	total := 0
	for _, n := range f.hits {
		total += n
	}
	if len(got.Raw) != total {
		t.Errorf("recorded %d exchanges; the server answered %d requests", len(got.Raw), total)
	}
	ops := map[string]int{}
	for _, e := range got.Raw {
		if !strings.HasPrefix(e.URL, f.srv.URL+"/api/v1/") || e.Status != http.StatusOK {
			t.Errorf("exchange %s %s %d: want a successful call to the API", e.Method, e.URL, e.Status)
		}
		path := strings.TrimPrefix(strings.SplitN(e.URL, "?", 2)[0], f.srv.URL)
		if want := operationOf(path); e.Operation != want {
			t.Errorf("exchange %s is recorded as %q; want %q", e.URL, e.Operation, want)
		}
		ops[e.Operation]++
	}
	wantOps := map[string]int{
		"ListUsers": 2, "ListFactors": 4, "ListUsersWithRoleAssignments": 2, "ListAssignedRolesForUser": 2,
		"ListPolicies": 4, "ListPolicyRules": 3,
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("exchanges per operation (-want +got):\n%s", diff)
	}
	assertNoSecret(t, got)
}

// operationOf names the operation of a request path as Okta's API reference does.
func operationOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/api/v1/users":
		return "ListUsers"
	case len(parts) == 5 && parts[2] == "users" && parts[4] == "factors":
		return "ListFactors"
	case len(parts) == 5 && parts[2] == "users" && parts[4] == "roles":
		return "ListAssignedRolesForUser"
	case path == "/api/v1/iam/assignees/users":
		return "ListUsersWithRoleAssignments"
	case path == "/api/v1/policies":
		return "ListPolicies"
	case len(parts) == 5 && parts[2] == "policies" && parts[4] == "rules":
		return "ListPolicyRules"
	}
	return "?"
}

func TestCollectThrottlingAndFailures(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fakeOkta)
		wantWaits  []time.Duration
		wantErrors []connector.TypeError
		wantErr    string
		want       func([]monitor.Resource) []monitor.Resource
	}{
		{
			name: "429 waits until the window resets",
			setup: func(f *fakeOkta) {
				f.queue("GET /api/v1/users?after="+bob+"&limit=200", page{
					status: http.StatusTooManyRequests, file: "error_rate_limit.json",
					header: map[string]string{"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": strconv.FormatInt(testNow.Add(25*time.Second).Unix(), 10)},
				})
			},
			wantWaits: []time.Duration{26 * time.Second},
		},
		{
			name: "server errors back off then succeed",
			setup: func(f *fakeOkta) {
				f.queue("GET /api/v1/users/"+carol+"/factors",
					page{status: http.StatusInternalServerError, file: "error_internal.json"},
					page{status: http.StatusBadGateway, file: "error_internal.json"})
			},
			wantWaits: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name: "password policies forbidden",
			setup: func(f *fakeOkta) {
				f.set("GET /api/v1/policies?type=PASSWORD", page{status: http.StatusForbidden, file: "error_forbidden.json"})
			},
			wantErrors: []connector.TypeError{{Type: TypePolicy, Message: "list PASSWORD policies: 403 Forbidden: E0000006 You do not have permission to perform the requested action"}},
			want:       func(rs []monitor.Resource) []monitor.Resource { return without(rs, "00p1password000000x7") },
		},
		{
			name: "administrator roles forbidden leaves users out",
			setup: func(f *fakeOkta) {
				f.set("GET /api/v1/iam/assignees/users?limit=100", page{status: http.StatusForbidden, file: "error_forbidden.json"})
			},
			wantErrors: []connector.TypeError{{Type: TypeUser, Message: "administrator roles: 403 Forbidden: E0000006 You do not have permission to perform the requested action"}},
			want:       func(rs []monitor.Resource) []monitor.Resource { return only(rs, TypePolicy) },
		},
		{
			name: "one user's factors fail alone",
			setup: func(f *fakeOkta) {
				f.set("GET /api/v1/users/"+bob+"/factors", page{status: http.StatusNotFound, file: "error_forbidden.json"})
			},
			wantErrors: []connector.TypeError{{Type: TypeUser, Message: "user " + bob + ": factors: 404 Not Found: E0000006 You do not have permission to perform the requested action"}},
			want:       func(rs []monitor.Resource) []monitor.Resource { return without(rs, bob) },
		},
		{
			name: "Classic Engine has no access policies",
			setup: func(f *fakeOkta) {
				f.set("GET /api/v1/policies?type=ACCESS_POLICY", page{status: http.StatusBadRequest, file: "error_policy_type.json"})
			},
			want: func(rs []monitor.Resource) []monitor.Resource { return without(rs, "rst1dashboard00000x7") },
		},
		{
			name: "server errors until attempts run out",
			setup: func(f *fakeOkta) {
				f.set("GET /api/v1/policies/rst1dashboard00000x7/rules", page{status: http.StatusServiceUnavailable, file: "error_internal.json"})
			},
			wantWaits:  []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
			wantErrors: []connector.TypeError{{Type: TypePolicy, Message: "policy rst1dashboard00000x7: rules: 503 Service Unavailable: E0000009 Internal Server Error"}},
			want:       func(rs []monitor.Resource) []monitor.Resource { return without(rs, "rst1dashboard00000x7") },
		},
		{
			name: "an invalid token ends the run",
			setup: func(f *fakeOkta) {
				f.set("GET /api/v1/users?limit=200", page{status: http.StatusUnauthorized, file: "error_invalid_token.json"})
			},
			wantErr: "okta: list users: 401 Unauthorized: E0000011 Invalid token provided",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOkta(t)
			tt.setup(f)
			var s sleeper
			got, err := collect(t, f, &s)
			if diff := cmp.Diff(tt.wantWaits, s.waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Collect error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if diff := cmp.Diff(tt.wantErrors, got.Errors); diff != "" {
				t.Errorf("Collect errors (-want +got):\n%s", diff)
			}
			want := wantResources()
			if tt.want != nil {
				want = tt.want(want)
			}
			if diff := cmp.Diff(sorted(want), sorted(got.Resources)); diff != "" {
				t.Errorf("Collect resources (-want +got):\n%s", diff)
			}
			assertNoSecret(t, got)
		})
	}
}

func TestCollectStopsWhenContextEnds(t *testing.T) {
	f := newFakeOkta(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.queue("GET /api/v1/users/"+alice+"/factors", page{status: http.StatusServiceUnavailable, file: "error_internal.json"})
	c, err := New(Config{OrgURL: f.srv.URL, APIToken: testToken}, Options{
		HTTPClient: f.srv.Client(),
		Sleep: func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.Collect(ctx); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Collect error = %v; want the cancellation", err)
	}
}

func assertNoSecret(tb testing.TB, c *connector.Collection) {
	tb.Helper()
	for _, e := range c.Raw {
		if strings.Contains(e.URL, testToken) || strings.Contains(string(e.Response), testToken) {
			tb.Errorf("exchange %s %s holds the token", e.Method, e.URL)
		}
	}
	for _, e := range c.Errors {
		if strings.Contains(e.Message, testToken) {
			tb.Errorf("error %q holds the token", e.Message)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantField string
	}{
		{"valid", Config{OrgURL: "https://acme.okta.com", APIToken: testToken}, ""},
		{"valid with a slash", Config{OrgURL: "https://acme.okta.com/", APIToken: testToken}, ""},
		{"missing address", Config{APIToken: testToken}, "org_url"},
		{"plain http", Config{OrgURL: "http://acme.okta.com", APIToken: testToken}, "org_url"},
		{"admin console address", Config{OrgURL: "https://acme-admin.okta.com/admin/dashboard", APIToken: testToken}, "org_url"},
		{"address with a query", Config{OrgURL: "https://acme.okta.com?x=1", APIToken: testToken}, "org_url"},
		{"missing token", Config{OrgURL: "https://acme.okta.com"}, "api_token"},
		{"token with a space", Config{OrgURL: "https://acme.okta.com", APIToken: "SSWS " + testToken}, "api_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if got := domain.FieldOf(err); got != tt.wantField || (tt.wantField == "") != (err == nil) {
				t.Errorf("Validate() = %v; want an error naming %q", err, tt.wantField)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("Validate() = %q holds the token", err)
			}
		})
	}
}

func TestConfigRedacted(t *testing.T) {
	got := Config{OrgURL: "https://acme.okta.com", APIToken: testToken}.Redacted()
	want := Config{OrgURL: "https://acme.okta.com", APIToken: "REDACTED"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Redacted() (-want +got):\n%s", diff)
	}
}

func TestThrottled(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		wantWait time.Duration
		want     bool
	}{
		{"not throttled", http.StatusOK, nil, 0, false},
		{"forbidden", http.StatusForbidden, nil, 0, false},
		{"reset against the server's clock", http.StatusTooManyRequests, map[string]string{
			"Date": now.Add(-time.Hour).Format(http.TimeFormat), "X-Rate-Limit-Reset": strconv.FormatInt(now.Add(-time.Hour+10*time.Second).Unix(), 10),
		}, 11 * time.Second, true},
		{"reset against ours without a Date", http.StatusTooManyRequests, map[string]string{
			"X-Rate-Limit-Reset": strconv.FormatInt(now.Add(5*time.Second).Unix(), 10),
		}, 6 * time.Second, true},
		{"no reset header backs off", http.StatusTooManyRequests, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			for k, v := range tt.header {
				resp.Header.Set(k, v)
			}
			wait, ok := throttled(resp, now)
			if wait != tt.wantWait || ok != tt.want {
				t.Errorf("throttled() = %v, %v; want %v, %v", wait, ok, tt.wantWait, tt.want)
			}
		})
	}
}
