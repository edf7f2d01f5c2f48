package github

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

const testToken = "ghp_EvidentTestToken0123456789abcdefABCD"

// testNow is the collection time: the pull request window opens 90 days earlier, on
// 2025-04-01T12:00:00Z.
var testNow = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

// reply is one canned answer of the fake GitHub.
type reply struct {
	status int
	header map[string]string
	file   string // under testdata; empty means no body
}

// fakeGitHub answers the REST v3 API of GitHub Enterprise Server (/api/v3) from the files
// in testdata, paginating lists with Link headers as GitHub does.
type fakeGitHub struct {
	tb  testing.TB
	srv *httptest.Server

	mu     sync.Mutex
	pages  map[string][]string // route → one file per page
	fixed  map[string]reply    // route → the answer every time
	queued map[string][]reply  // route → answers given once each, before the usual one
	hits   map[string]int      // route, plus " page N" beyond the first page → requests
	auth   map[string]bool     // Authorization headers seen
}

func newFakeGitHub(tb testing.TB) *fakeGitHub {
	tb.Helper()
	f := &fakeGitHub{
		tb: tb,
		pages: map[string][]string{
			"GET /api/v3/orgs/acme":                                             {"org.json"},
			"GET /api/v3/orgs/acme/members?filter=all&role=all":                 {"members_all_1.json", "members_all_2.json"},
			"GET /api/v3/orgs/acme/members?filter=all&role=admin":               {"members_admin.json"},
			"GET /api/v3/orgs/acme/members?filter=2fa_disabled&role=all":        {"members_2fa_disabled.json"},
			"GET /api/v3/orgs/acme/outside_collaborators?filter=all":            {"outside_collaborators.json"},
			"GET /api/v3/orgs/acme/repos?direction=asc&sort=full_name&type=all": {"repos_1.json", "repos_2.json"},

			"GET /api/v3/repos/acme/api/branches/main/protection":                          {"api_protection.json"},
			"GET /api/v3/repos/acme/api/rulesets?includes_parents=true":                    {"api_rulesets.json"},
			"GET /api/v3/repos/acme/api/rulesets/101?includes_parents=true":                {"ruleset_101.json"},
			"GET /api/v3/repos/acme/api/collaborators?affiliation=outside":                 {"api_collaborators_outside.json"},
			"GET /api/v3/repos/acme/api/pulls?direction=desc&sort=updated&state=closed":    {"api_pulls_1.json", "api_pulls_2.json", "api_pulls_3.json"},
			"GET /api/v3/repos/acme/api/pulls/14":                                          {"api_pull_14.json"},
			"GET /api/v3/repos/acme/api/pulls/14/reviews":                                  {"api_pull_14_reviews.json"},
			"GET /api/v3/repos/acme/api/pulls/12":                                          {"api_pull_12.json"},
			"GET /api/v3/repos/acme/api/pulls/12/reviews":                                  {"api_pull_12_reviews.json"},
			"GET /api/v3/repos/acme/web/rulesets?includes_parents=true":                    {"web_rulesets.json"},
			"GET /api/v3/repos/acme/web/rulesets/202?includes_parents=true":                {"ruleset_202.json"},
			"GET /api/v3/repos/acme/web/rulesets/203?includes_parents=true":                {"ruleset_203.json"},
			"GET /api/v3/repos/acme/web/collaborators?affiliation=outside":                 {"web_collaborators_outside.json"},
			"GET /api/v3/repos/acme/web/pulls?direction=desc&sort=updated&state=closed":    {"web_pulls.json"},
			"GET /api/v3/repos/acme/web/pulls/5":                                           {"web_pull_5.json"},
			"GET /api/v3/repos/acme/web/pulls/5/reviews":                                   {"empty_list.json"},
			"GET /api/v3/repos/acme/legacy/collaborators?affiliation=outside":              {"empty_list.json"},
			"GET /api/v3/repos/acme/legacy/pulls?direction=desc&sort=updated&state=closed": {"empty_list.json"},
		},
		fixed: map[string]reply{
			"GET /api/v3/repos/acme/api/vulnerability-alerts":              {status: http.StatusNoContent},
			"GET /api/v3/repos/acme/web/branches/trunk/protection":         {status: http.StatusNotFound, file: "branch_not_protected.json"},
			"GET /api/v3/repos/acme/web/vulnerability-alerts":              {status: http.StatusNotFound, file: "not_found.json"},
			"GET /api/v3/repos/acme/legacy/branches/master/protection":     {status: http.StatusNotFound, file: "branch_not_protected.json"},
			"GET /api/v3/repos/acme/legacy/rulesets?includes_parents=true": {status: http.StatusNotFound, file: "not_found.json"},
			"GET /api/v3/repos/acme/legacy/vulnerability-alerts":           {status: http.StatusNotFound, file: "not_found.json"},
		},
		queued: map[string][]reply{},
		hits:   map[string]int{},
		auth:   map[string]bool{},
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// route names a request the way the fake's tables do: method, path and the query without
// the pagination parameters.
func route(r *http.Request) (string, int) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	q.Del("page")
	q.Del("per_page")
	key := r.Method + " " + r.URL.Path
	if len(q) > 0 {
		key += "?" + q.Encode()
	}
	return key, max(page, 1)
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	key, page := route(r)
	f.mu.Lock()
	f.auth[r.Header.Get("Authorization")] = true
	hit := key
	if page > 1 {
		hit += fmt.Sprintf(" page %d", page)
	}
	f.hits[hit]++
	var rep reply
	var link string
	switch {
	case len(f.queued[key]) > 0:
		rep = f.queued[key][0]
		f.queued[key] = f.queued[key][1:]
	case f.fixed[key].status != 0:
		rep = f.fixed[key]
	case page <= len(f.pages[key]):
		files := f.pages[key]
		rep = reply{status: http.StatusOK, file: files[page-1]}
		if page < len(files) {
			next := *r.URL
			q := next.Query()
			q.Set("page", strconv.Itoa(page+1))
			next.RawQuery = q.Encode()
			last := *r.URL
			q.Set("page", strconv.Itoa(len(files)))
			last.RawQuery = q.Encode()
			link = fmt.Sprintf(`<%s%s>; rel="next", <%s%s>; rel="last"`, f.srv.URL, next.RequestURI(), f.srv.URL, last.RequestURI())
		}
	default:
		f.tb.Errorf("the fake GitHub has no answer for %s (page %d)", key, page)
		rep = reply{status: http.StatusNotFound, file: "not_found.json"}
	}
	f.mu.Unlock()

	h := w.Header()
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4987")
	h.Set("X-RateLimit-Used", "13")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(testNow.Add(40*time.Minute).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	if link != "" {
		h.Set("Link", link)
	}
	for k, v := range rep.header {
		h.Set(k, v)
	}
	if rep.file == "" {
		w.WriteHeader(rep.status)
		return
	}
	body, err := os.ReadFile(filepath.Join("testdata", rep.file))
	if err != nil {
		f.tb.Errorf("read testdata: %v", err)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
}

// queue makes the fake answer a route with the replies, once each, before its usual answer.
func (f *fakeGitHub) queue(key string, replies ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued[key] = append(f.queued[key], replies...)
}

// always makes the fake answer a route with the reply every time.
func (f *fakeGitHub) always(key string, rep reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fixed[key] = rep
}

func (f *fakeGitHub) hitCount(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[key]
}

// sleeper records the waits the connector asks for instead of waiting.
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

func testConfig(f *fakeGitHub) Config {
	return Config{Token: testToken, Organization: "acme", BaseURL: f.srv.URL}
}

func collect(tb testing.TB, f *fakeGitHub, cfg Config, s *sleeper) (*connector.Collection, error) {
	tb.Helper()
	c, err := New(cfg, Options{HTTPClient: f.srv.Client(), Now: func() time.Time { return testNow }, Sleep: s.sleep})
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

// wantResources is what the fixtures in testdata describe.
func wantResources() []monitor.Resource {
	return []monitor.Resource{
		{Type: TypeOrg, ExternalID: "acme", Name: "Acme Corporation", Attributes: map[string]any{
			"login":                                  "acme",
			"two_factor_requirement_enabled":         true,
			"default_repository_permission":          "read",
			"members_can_create_public_repositories": false,
		}},
		{Type: TypeMember, ExternalID: "acme/alice", Name: "alice", Attributes: map[string]any{
			"org": "acme", "login": "alice", "two_factor_enabled": true, "role": "admin",
		}},
		{Type: TypeMember, ExternalID: "acme/bob", Name: "bob", Attributes: map[string]any{
			"org": "acme", "login": "bob", "two_factor_enabled": true, "role": "member",
		}},
		{Type: TypeMember, ExternalID: "acme/carol", Name: "carol", Attributes: map[string]any{
			"org": "acme", "login": "carol", "two_factor_enabled": false, "role": "member",
		}},
		{Type: TypeOutsideCollaborator, ExternalID: "acme/dave", Name: "dave", Attributes: map[string]any{
			"org": "acme", "login": "dave",
			"repositories": []map[string]any{
				{"repository": "acme/api", "permission": "write"},
				{"repository": "acme/web", "permission": "admin"},
			},
		}},
		{Type: TypeRepository, ExternalID: "acme/api", Name: "acme/api", Attributes: map[string]any{
			"org": "acme", "private": true, "visibility": "private", "archived": false, "fork": false,
			"default_branch": "main",
			"pushed_at":      ts("2025-06-12T09:00:00Z"),
			"protection": map[string]any{
				"enabled":                    true,
				"required_approving_reviews": int64(2),
				"dismiss_stale_reviews":      true,
				"require_code_owner_reviews": false,
				"enforce_admins":             true,
				"allow_force_pushes":         false,
				"allow_deletions":            false,
				"required_status_checks":     []string{"ci/build", "ci/lint"},
				"required_signatures":        false,
			},
			"rulesets": []map[string]any{
				{"name": "org-default", "enforcement": "active", "target": "branch", "includes_default_branch": true},
			},
			"secret_scanning_enabled":   true,
			"dependabot_alerts_enabled": true,
			"topics":                    []string{"backend", "payments"},
		}},
		{Type: TypeRepository, ExternalID: "acme/web", Name: "acme/web", Attributes: map[string]any{
			"org": "acme", "private": false, "visibility": "public", "archived": false, "fork": false,
			"default_branch": "trunk",
			"pushed_at":      ts("2025-06-20T16:30:00Z"),
			"protection": map[string]any{
				"enabled":                    true,
				"required_approving_reviews": int64(2),
				"dismiss_stale_reviews":      true,
				"require_code_owner_reviews": true,
				"enforce_admins":             true,
				"allow_force_pushes":         false,
				"allow_deletions":            false,
				"required_status_checks":     []string{"ci/lint"},
				"required_signatures":        true,
			},
			"rulesets": []map[string]any{
				{"name": "org-default", "enforcement": "active", "target": "branch", "includes_default_branch": true},
				{"name": "release branches", "enforcement": "evaluate", "target": "branch", "includes_default_branch": false},
				{"name": "trunk", "enforcement": "active", "target": "branch", "includes_default_branch": true},
			},
			"secret_scanning_enabled":   false,
			"dependabot_alerts_enabled": false,
			"topics":                    []string{},
		}},
		{Type: TypeRepository, ExternalID: "acme/legacy", Name: "acme/legacy", Attributes: map[string]any{
			"org": "acme", "private": true, "visibility": "private", "archived": true, "fork": false,
			"default_branch": "master",
			"pushed_at":      ts("2021-02-01T12:00:00Z"),
			"protection": map[string]any{
				"enabled":                    false,
				"required_approving_reviews": int64(0),
				"dismiss_stale_reviews":      false,
				"require_code_owner_reviews": false,
				"enforce_admins":             false,
				"allow_force_pushes":         true,
				"allow_deletions":            true,
				"required_status_checks":     []string{},
				"required_signatures":        false,
			},
			"rulesets":                  []map[string]any{},
			"secret_scanning_enabled":   false,
			"dependabot_alerts_enabled": false,
			"topics":                    []string{},
		}},
		{Type: TypePullRequest, ExternalID: "acme/api#14", Name: "acme/api#14", Attributes: map[string]any{
			"repository": "acme/api", "number": int64(14), "title": "Add refund endpoint",
			"author": "alice", "base_branch": "main", "default_branch": "main",
			"created_at": ts("2025-06-10T08:00:00Z"), "merged_at": ts("2025-06-12T09:00:00Z"),
			"merged_by": "alice", "merge_commit_sha": "abcdef0123456789abcdef0123456789abcdef14",
			"reviews": []map[string]any{
				{"reviewer": "bob", "state": "APPROVED", "submitted_at": ts("2025-06-11T15:00:00Z")},
			},
			"labels": []string{"enhancement"},
		}},
		{Type: TypePullRequest, ExternalID: "acme/api#12", Name: "acme/api#12", Attributes: map[string]any{
			"repository": "acme/api", "number": int64(12), "title": "Rotate signing keys",
			"author": "bob", "base_branch": "main", "default_branch": "main",
			"created_at": ts("2025-04-28T08:00:00Z"), "merged_at": ts("2025-05-02T17:30:00Z"),
			"merged_by": "bob", "merge_commit_sha": "abcdef0123456789abcdef0123456789abcdef12",
			"reviews": []map[string]any{
				{"reviewer": "alice", "state": "CHANGES_REQUESTED", "submitted_at": ts("2025-04-29T10:00:00Z")},
				{"reviewer": "alice", "state": "APPROVED", "submitted_at": ts("2025-05-01T09:00:00Z")},
			},
			"labels": []string{},
		}},
		{Type: TypePullRequest, ExternalID: "acme/web#5", Name: "acme/web#5", Attributes: map[string]any{
			"repository": "acme/web", "number": int64(5), "title": "Hotfix header",
			"author": "carol", "base_branch": "trunk", "default_branch": "trunk",
			"created_at": ts("2025-06-18T08:00:00Z"), "merged_at": ts("2025-06-18T08:05:00Z"),
			"merged_by": "carol", "merge_commit_sha": "abcdef0123456789abcdef0123456789abcdef05",
			"reviews": []map[string]any{},
			"labels":  []string{},
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

func without(rs []monitor.Resource, ids ...string) []monitor.Resource {
	drop := map[string]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	var out []monitor.Resource
	for _, r := range rs {
		if !drop[r.Type+" "+r.ExternalID] {
			out = append(out, r)
		}
	}
	return out
}

func TestCollect(t *testing.T) {
	f := newFakeGitHub(t)
	var s sleeper
	got, err := collect(t, f, testConfig(f), &s)
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
	if !f.auth["Bearer "+testToken] || len(f.auth) != 1 {
		t.Errorf("Authorization headers = %v; want only the token", f.auth)
	}
	checks := []struct {
		route string
		want  int
	}{
		{"GET /api/v3/orgs/acme/members?filter=all&role=all page 2", 1},
		{"GET /api/v3/orgs/acme/repos?direction=asc&sort=full_name&type=all page 2", 1},
		// The second page holds a pull request updated before the window: the third page
		// is never read.
		{"GET /api/v3/repos/acme/api/pulls?direction=desc&sort=updated&state=closed page 2", 1},
		{"GET /api/v3/repos/acme/api/pulls?direction=desc&sort=updated&state=closed page 3", 0},
		// The organization ruleset is read once, from the first repository.
		{"GET /api/v3/repos/acme/api/rulesets/101?includes_parents=true", 1},
	}
	for _, c := range checks {
		if n := f.hitCount(c.route); n != c.want {
			t.Errorf("requests to %s = %d; want %d", c.route, n, c.want)
		}
	}
	if len(got.Raw) != requestCount(f) {
		t.Errorf("recorded %d exchanges; the server answered %d requests", len(got.Raw), requestCount(f))
	}
	ops := map[string]int{}
	for _, e := range got.Raw {
		if !e.At.Equal(testNow) || e.Method != http.MethodGet || !strings.HasPrefix(e.URL, f.srv.URL+"/api/v3/") {
			t.Errorf("exchange %+v: want a GET to the API stamped %v", e, testNow)
		}
		if !matchesTemplate(e.Operation, e.URL) {
			t.Errorf("exchange %s is recorded as %q", e.URL, e.Operation)
		}
		ops[e.Operation]++
	}
	// Every request is named as GitHub's documentation names its endpoint.
	wantOps := map[string]int{
		"GET /orgs/{org}":                                        1,
		"GET /orgs/{org}/members":                                4, // two pages of all members, the 2FA-disabled and the admin filters
		"GET /orgs/{org}/outside_collaborators":                  1,
		"GET /orgs/{org}/repos":                                  2,
		"GET /repos/{owner}/{repo}/branches/{branch}/protection": 3,
		"GET /repos/{owner}/{repo}/vulnerability-alerts":         3,
		"GET /repos/{owner}/{repo}/rulesets":                     3,
		"GET /repos/{owner}/{repo}/rulesets/{ruleset_id}":        3,
		"GET /repos/{owner}/{repo}/collaborators":                3,
		"GET /repos/{owner}/{repo}/pulls":                        4, // two pages for api, one each for legacy and web
		"GET /repos/{owner}/{repo}/pulls/{pull_number}":          3,
		"GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews":  3,
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("exchanges per operation (-want +got):\n%s", diff)
	}
}

// matchesTemplate reports whether the path of a recorded URL fits the operation's path
// template, under the API's base path.
func matchesTemplate(op, rawURL string) bool {
	method, tmpl, ok := strings.Cut(op, " ")
	u, err := url.Parse(rawURL)
	if !ok || method != http.MethodGet || err != nil {
		return false
	}
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/api/v3/"), "/")
	want := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
	if len(segs) != len(want) {
		return false
	}
	for i, w := range want {
		if !strings.HasPrefix(w, "{") && w != segs[i] {
			return false
		}
	}
	return true
}

func requestCount(f *fakeGitHub) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.hits {
		n += c
	}
	return n
}

func TestCollectThrottlingAndFailures(t *testing.T) {
	rateLimited := func(reset time.Time) reply {
		return reply{status: http.StatusForbidden, file: "rate_limited.json", header: map[string]string{
			"X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset":     strconv.FormatInt(reset.Unix(), 10),
		}}
	}
	tests := []struct {
		name       string
		setup      func(f *fakeGitHub)
		wantWaits  []time.Duration
		wantErrors []connector.TypeError
		wantErr    string // the whole run fails with an error containing this
		drop       []string
	}{
		{
			name: "primary rate limit waits until the reset",
			setup: func(f *fakeGitHub) {
				f.queue("GET /api/v3/orgs/acme", rateLimited(testNow.Add(30*time.Second)))
			},
			wantWaits: []time.Duration{31 * time.Second},
		},
		{
			name: "secondary rate limit honours Retry-After",
			setup: func(f *fakeGitHub) {
				f.queue("GET /api/v3/orgs/acme/members?filter=all&role=admin",
					reply{status: http.StatusTooManyRequests, file: "secondary_rate_limited.json", header: map[string]string{"Retry-After": "7"}})
			},
			wantWaits: []time.Duration{7 * time.Second},
		},
		{
			name: "secondary rate limit without headers waits a minute",
			setup: func(f *fakeGitHub) {
				f.queue("GET /api/v3/repos/acme/api/pulls/14/reviews",
					reply{status: http.StatusForbidden, file: "secondary_rate_limited.json"})
			},
			wantWaits: []time.Duration{time.Minute},
		},
		{
			name: "server errors back off then succeed",
			setup: func(f *fakeGitHub) {
				f.queue("GET /api/v3/orgs/acme/repos?direction=asc&sort=full_name&type=all",
					reply{status: http.StatusBadGateway, file: "server_error.json"},
					reply{status: http.StatusServiceUnavailable, file: "server_error.json"})
			},
			wantWaits: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name: "rulesets forbidden leaves the repository out",
			setup: func(f *fakeGitHub) {
				f.always("GET /api/v3/repos/acme/web/rulesets?includes_parents=true",
					reply{status: http.StatusForbidden, file: "forbidden.json"})
			},
			wantErrors: []connector.TypeError{{Type: TypeRepository, Message: "acme/web: rulesets: GET URL/api/v3/repos/acme/web/rulesets?includes_parents=true&per_page=100: 403 Resource not accessible by personal access token []"}},
			drop:       []string{TypeRepository + " acme/web"},
		},
		{
			name: "server errors until attempts run out",
			setup: func(f *fakeGitHub) {
				f.always("GET /api/v3/orgs/acme/members?filter=2fa_disabled&role=all",
					reply{status: http.StatusInternalServerError, file: "server_error.json"})
			},
			wantWaits:  []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
			wantErrors: []connector.TypeError{{Type: TypeMember, Message: "list members without two-factor authentication: GET URL/api/v3/orgs/acme/members?filter=2fa_disabled&per_page=100&role=all: 500 Server Error []"}},
			drop:       []string{TypeMember + " acme/alice", TypeMember + " acme/bob", TypeMember + " acme/carol"},
		},
		{
			name: "a token without owner rights misses the organization settings",
			setup: func(f *fakeGitHub) {
				f.always("GET /api/v3/orgs/acme", reply{status: http.StatusOK, file: "org_not_owner.json"})
			},
			wantErrors: []connector.TypeError{{Type: TypeOrg, Message: errNotOwner.Error()}},
			drop:       []string{TypeOrg + " acme"},
		},
		{
			name: "pull requests of one repository fail alone",
			setup: func(f *fakeGitHub) {
				f.always("GET /api/v3/repos/acme/web/pulls?direction=desc&sort=updated&state=closed",
					reply{status: http.StatusNotFound, file: "not_found.json"})
			},
			wantErrors: []connector.TypeError{{Type: TypePullRequest, Message: "acme/web: list pull requests: GET URL/api/v3/repos/acme/web/pulls?direction=desc&per_page=100&sort=updated&state=closed: 404 Not Found []"}},
			drop:       []string{TypePullRequest + " acme/web#5"},
		},
		{
			name: "a rate limit resetting beyond the longest wait ends the run",
			setup: func(f *fakeGitHub) {
				f.always("GET /api/v3/orgs/acme", rateLimited(testNow.Add(2*time.Hour)))
			},
			wantErr: "API rate limit exceeded",
		},
		{
			name: "bad credentials end the run",
			setup: func(f *fakeGitHub) {
				f.always("GET /api/v3/orgs/acme", reply{status: http.StatusUnauthorized, file: "bad_credentials.json"})
			},
			wantErr: "401 Bad credentials",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t)
			tt.setup(f)
			var s sleeper
			got, err := collect(t, f, testConfig(f), &s)
			if diff := cmp.Diff(tt.wantWaits, s.waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Collect error = %v; want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("Collect error %q holds the token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			for i := range got.Errors {
				got.Errors[i].Message = strings.ReplaceAll(got.Errors[i].Message, f.srv.URL, "URL")
			}
			if diff := cmp.Diff(tt.wantErrors, got.Errors); diff != "" {
				t.Errorf("Collect errors (-want +got):\n%s", diff)
			}
			want := without(wantResources(), tt.drop...)
			if diff := cmp.Diff(sorted(want), sorted(got.Resources)); diff != "" {
				t.Errorf("Collect resources (-want +got):\n%s", diff)
			}
			assertNoSecret(t, got, testToken)
		})
	}
}

func TestCollectRepositoryFilter(t *testing.T) {
	f := newFakeGitHub(t)
	cfg := testConfig(f)
	cfg.Repositories = []string{"API", "missing"}
	var s sleeper
	got, err := collect(t, f, cfg, &s)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	wantErrors := []connector.TypeError{{Type: TypeRepository, Message: "repository acme/missing: not found, or the token cannot see it"}}
	if diff := cmp.Diff(wantErrors, got.Errors); diff != "" {
		t.Errorf("Collect errors (-want +got):\n%s", diff)
	}
	want := without(wantResources(), TypeRepository+" acme/web", TypeRepository+" acme/legacy", TypePullRequest+" acme/web#5", TypeOutsideCollaborator+" acme/dave")
	want = append(want, monitor.Resource{Type: TypeOutsideCollaborator, ExternalID: "acme/dave", Name: "dave", Attributes: map[string]any{
		"org": "acme", "login": "dave",
		"repositories": []map[string]any{{"repository": "acme/api", "permission": "write"}},
	}})
	if diff := cmp.Diff(sorted(want), sorted(got.Resources)); diff != "" {
		t.Errorf("Collect resources (-want +got):\n%s", diff)
	}
	if n := f.hitCount("GET /api/v3/repos/acme/web/pulls?direction=desc&sort=updated&state=closed"); n != 0 {
		t.Errorf("read pull requests of a repository left out by the filter %d times", n)
	}
}

func TestCollectRecordsNoSecret(t *testing.T) {
	f := newFakeGitHub(t)
	var s sleeper
	got, err := collect(t, f, testConfig(f), &s)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(got.Raw) == 0 {
		t.Fatal("Collect recorded no exchange")
	}
	assertNoSecret(t, got, testToken)
}

func assertNoSecret(tb testing.TB, c *connector.Collection, secret string) {
	tb.Helper()
	for _, e := range c.Raw {
		if strings.Contains(e.URL, secret) || strings.Contains(string(e.Response), secret) {
			tb.Errorf("exchange %s %s holds the secret", e.Method, e.URL)
		}
	}
	for _, e := range c.Errors {
		if strings.Contains(e.Message, secret) {
			tb.Errorf("error %q holds the secret", e.Message)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	valid := Config{Token: testToken, Organization: "acme"}
	tests := []struct {
		name      string
		change    func(c *Config)
		wantField string
	}{
		{"valid", func(c *Config) {}, ""},
		{"enterprise server", func(c *Config) { c.BaseURL = "https://github.example.com" }, ""},
		{"missing token", func(c *Config) { c.Token = " " }, "token"},
		{"token with a newline", func(c *Config) { c.Token = "ghp_abc\n" }, "token"},
		{"missing organization", func(c *Config) { c.Organization = "" }, "organization"},
		{"organization with a slash", func(c *Config) { c.Organization = "acme/api" }, "organization"},
		{"base URL without a scheme", func(c *Config) { c.BaseURL = "github.example.com" }, "base_url"},
		{"base URL over http", func(c *Config) { c.BaseURL = "http://github.example.com" }, "base_url"},
		{"base URL with credentials", func(c *Config) { c.BaseURL = "https://user:pass@github.example.com" }, "base_url"},
		{"negative window", func(c *Config) { c.PullRequestDays = -1 }, "pull_request_days"},
		{"window too long", func(c *Config) { c.PullRequestDays = MaxPullRequestDays + 1 }, "pull_request_days"},
		{"repository with its owner", func(c *Config) { c.Repositories = []string{"api", "acme/web"} }, "repositories[1]"},
		{"repository twice", func(c *Config) { c.Repositories = []string{"api", "API"} }, "repositories[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
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
	c := Config{Token: testToken, Organization: "acme", Repositories: []string{"api"}}
	got := c.Redacted()
	want := Config{Token: "REDACTED", Organization: "acme", Repositories: []string{"api"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Redacted() (-want +got):\n%s", diff)
	}
	got.Repositories[0] = "changed"
	if c.Repositories[0] != "api" {
		t.Error("Redacted() shares the repository list with the original")
	}
}

func TestRefMatches(t *testing.T) {
	tests := []struct {
		pattern, branch string
		want            bool
	}{
		{"~ALL", "main", true},
		{"~DEFAULT_BRANCH", "trunk", true},
		{"refs/heads/main", "main", true},
		{"refs/heads/main", "maintenance", false},
		{"refs/heads/ma*", "main", true},
		{"refs/heads/*", "release/1.0", false},
		{"refs/heads/**", "release/1.0", true},
		{"refs/heads/release/**/*", "release/1.0/hotfix", true},
		{"refs/heads/tr?nk", "trunk", true},
		{"refs/heads/[mt]ain", "main", true},
		{"refs/heads/[!m]ain", "main", false},
		{"refs/heads/v1.0", "v1x0", false},
		{"refs/heads/[main", "[main", true},
		{"main", "main", true},
		{"refs/tags/*", "main", false},
	}
	for _, tt := range tests {
		if got := refMatches(tt.pattern, tt.branch); got != tt.want {
			t.Errorf("refMatches(%q, %q) = %v; want %v", tt.pattern, tt.branch, got, tt.want)
		}
	}
}

func FuzzGlobMatch(f *testing.F) {
	for _, seed := range []string{"refs/heads/*", "**", "[!a-z]?", "[", "[]]", `\`, "日本*"} {
		f.Add(seed, "main")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := globMatch(pattern, name)
		if pattern == name && !strings.ContainsAny(pattern, "*?[]\\") && !got {
			t.Errorf("globMatch(%q, %q) = false; a literal pattern matches itself", pattern, name)
		}
	})
}

func TestThrottled(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		wantWait time.Duration
		want     bool
	}{
		{"not throttled", http.StatusOK, nil, "", 0, false},
		{"forbidden", http.StatusForbidden, nil, `{"message":"Must have admin rights to Repository."}`, 0, false},
		{"primary limit", http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1750000090"}, "", 91 * time.Second, true},
		{"primary limit already reset", http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1749999990"}, "", time.Second, true},
		{"retry after", http.StatusTooManyRequests, map[string]string{"Retry-After": "12"}, "", 12 * time.Second, true},
		{"too many requests", http.StatusTooManyRequests, nil, "", time.Minute, true},
		{"secondary limit in the body", http.StatusForbidden, nil, `{"message":"You have exceeded a secondary rate limit."}`, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tt.header {
				rec.Header().Set(k, v)
			}
			rec.WriteHeader(tt.status)
			rec.WriteString(tt.body)
			resp := rec.Result()
			wait, ok := throttled(resp, now)
			if wait != tt.wantWait || ok != tt.want {
				t.Errorf("throttled() = %v, %v; want %v, %v", wait, ok, tt.wantWait, tt.want)
			}
			if body, err := io.ReadAll(resp.Body); err != nil || string(body) != tt.body {
				t.Errorf("body after throttled() = %q, %v; want %q unchanged", body, err, tt.body)
			}
		})
	}
}
