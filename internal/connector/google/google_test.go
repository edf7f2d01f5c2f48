package google

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

const (
	testAccessToken = "ya29.EvidentTestAccessToken-0123456789abcdef"
	testSubject     = "admin@acme.example"
	testClientEmail = "evident-collector@acme-security.iam.gserviceaccount.com"
	page2Token      = "Q0FFU0hRRWFLMkZzWlhoQVlXTnRaUzVsZUdGdGNHeGxJZ1E9"
)

var testNow = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
	keyPEM  string
)

// serviceAccount returns a test key, generated once per run, and its PEM form.
func serviceAccount(tb testing.TB) (*rsa.PrivateKey, string) {
	tb.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		testKey = k
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	})
	return testKey, keyPEM
}

// credentials is a service account key as the Google Cloud console issues it, with its
// token URI pointing at the fake.
func credentials(tb testing.TB, tokenURI string) string {
	tb.Helper()
	_, pemKey := serviceAccount(tb)
	b, err := json.Marshal(map[string]string{
		"type":                        "service_account",
		"project_id":                  "acme-security",
		"private_key_id":              "3f9a1c0b7e2d4a6b8c0d1e2f3a4b5c6d7e8f9a0b",
		"private_key":                 pemKey,
		"client_email":                testClientEmail,
		"client_id":                   "112233445566778899001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/evident-collector%40acme-security.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// answer is one canned response of the fake.
type answer struct {
	status int
	file   string
	header map[string]string
}

// fakeGoogle is Google's OAuth token endpoint and the Directory API's users.list over TLS.
type fakeGoogle struct {
	tb  testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	pages      map[string]answer   // pageToken → answer
	queued     map[string][]answer // pageToken → answers given once each first
	token      answer
	tokenCalls int
	listCalls  int
}

func newFakeGoogle(tb testing.TB) *fakeGoogle {
	tb.Helper()
	f := &fakeGoogle{
		tb: tb,
		pages: map[string]answer{
			"":         {status: http.StatusOK, file: "users_1.json"},
			page2Token: {status: http.StatusOK, file: "users_2.json"},
		},
		queued: map[string][]answer{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.serveToken)
	mux.HandleFunc("GET /admin/directory/v1/users", f.serveUsers)
	f.srv = httptest.NewTLSServer(mux)
	tb.Cleanup(f.srv.Close)
	return f
}

// serveToken checks the signed assertion of the JWT bearer grant and issues a token.
func (f *fakeGoogle) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenCalls++
	ans := f.token
	f.mu.Unlock()
	if ans.status != 0 {
		f.write(w, ans)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		f.tb.Errorf("token request: grant_type %q, %v", r.PostForm.Get("grant_type"), err)
	}
	claims := f.verify(r.PostForm.Get("assertion"))
	want := map[string]any{"iss": testClientEmail, "sub": testSubject, "scope": Scope, "aud": f.srv.URL + "/token"}
	for k, v := range want {
		if claims[k] != v {
			f.tb.Errorf("assertion claim %s = %v; want %v", k, claims[k], v)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": testAccessToken, "expires_in": 3599, "token_type": "Bearer"})
}

// verify checks a JWT's RS256 signature with the test key and returns its claims.
func (f *fakeGoogle) verify(jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		f.tb.Errorf("assertion is not a JWT")
		return nil
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		f.tb.Errorf("assertion signature: %v", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	key, _ := serviceAccount(f.tb)
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		f.tb.Errorf("assertion signature: %v", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		f.tb.Errorf("assertion payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		f.tb.Errorf("assertion payload: %v", err)
	}
	return claims
}

func (f *fakeGoogle) serveUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want := map[string]string{"customer": "my_customer", "maxResults": "500", "orderBy": "email", "projection": "basic", "fields": userFields, "alt": "json"}
	for k, v := range want {
		if q.Get(k) != v {
			f.tb.Errorf("users.list %s = %q; want %q", k, q.Get(k), v)
		}
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testAccessToken {
		f.tb.Errorf("users.list Authorization = %q; want the access token", got)
	}
	token := q.Get("pageToken")
	f.mu.Lock()
	f.listCalls++
	ans, ok := f.pages[token]
	if len(f.queued[token]) > 0 {
		ans, ok = f.queued[token][0], true
		f.queued[token] = f.queued[token][1:]
	}
	f.mu.Unlock()
	if !ok {
		f.tb.Errorf("the fake has no page %q", token)
		ans = answer{status: http.StatusBadRequest, file: "error_not_authorized.json"}
	}
	f.write(w, ans)
}

func (f *fakeGoogle) write(w http.ResponseWriter, ans answer) {
	body, err := os.ReadFile(filepath.Join("testdata", ans.file))
	if err != nil {
		f.tb.Errorf("read testdata: %v", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Vary", "Origin, X-Origin, Referer")
	for k, v := range ans.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(ans.status)
	_, _ = w.Write(body)
}

func (f *fakeGoogle) queue(pageToken string, answers ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued[pageToken] = append(f.queued[pageToken], answers...)
}

func (f *fakeGoogle) config(tb testing.TB) Config {
	return Config{Credentials: credentials(tb, f.srv.URL+"/token"), Subject: testSubject, Endpoint: f.srv.URL}
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

func collect(tb testing.TB, f *fakeGoogle, s *sleeper) (*connector.Collection, error) {
	tb.Helper()
	c, err := New(f.config(tb), Options{HTTPClient: f.srv.Client(), Now: func() time.Time { return testNow }, Sleep: s.sleep})
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
	return []monitor.Resource{
		{Type: TypeUser, ExternalID: "104383290812738475612", Name: "Alice Martin", Attributes: map[string]any{
			"email": "alice@acme.example", "is_admin": true, "is_delegated_admin": false,
			"suspended": false, "archived": false, "is_enrolled_in_2sv": true, "is_enforced_in_2sv": true,
			"created_at": ts("2019-03-11T10:00:00Z"), "last_login": ts("2025-06-29T08:12:45Z"), "org_unit_path": "/",
		}},
		{Type: TypeUser, ExternalID: "117283947561029384756", Name: "Bob Dupont", Attributes: map[string]any{
			"email": "bob@acme.example", "is_admin": false, "is_delegated_admin": false,
			"suspended": false, "archived": false, "is_enrolled_in_2sv": false, "is_enforced_in_2sv": false,
			"created_at": ts("2021-09-01T07:30:00Z"), "last_login": ts("2025-06-27T17:40:00Z"), "org_unit_path": "/Engineering",
		}},
		{Type: TypeUser, ExternalID: "109876543210987654321", Name: "Carol Leroy", Attributes: map[string]any{
			"email": "carol@acme.example", "is_admin": false, "is_delegated_admin": false,
			"suspended": true, "archived": false, "is_enrolled_in_2sv": true, "is_enforced_in_2sv": true,
			"created_at": ts("2024-02-01T08:00:00Z"), "org_unit_path": "/Former employees",
		}},
		{Type: TypeUser, ExternalID: "100000000000000000042", Name: "Dave Moreau", Attributes: map[string]any{
			"email": "dave@acme.example", "is_admin": false, "is_delegated_admin": true,
			"suspended": false, "archived": false, "is_enrolled_in_2sv": true, "is_enforced_in_2sv": false,
			"created_at": ts("2025-06-25T12:00:00Z"), "last_login": ts("2025-06-30T07:01:02Z"), "org_unit_path": "/Sales",
		}},
	}
}

func sorted(rs []monitor.Resource) []monitor.Resource {
	out := append([]monitor.Resource(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i].ExternalID < out[j].ExternalID })
	return out
}

func TestCollect(t *testing.T) {
	f := newFakeGoogle(t)
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
			t.Errorf("ValidateResource(%s) = %v", r.ExternalID, err)
		}
	}
	if f.tokenCalls != 1 || f.listCalls != 2 {
		t.Errorf("token requests = %d, list requests = %d; want 1 and 2", f.tokenCalls, f.listCalls)
	}
	// Only the API's answers are evidence; the token exchange is not recorded.
	if len(got.Raw) != 2 {
		t.Fatalf("recorded %d exchanges; want the 2 pages", len(got.Raw))
	}
	for _, e := range got.Raw {
		if !strings.HasPrefix(e.URL, f.srv.URL+"/admin/directory/v1/users?") || e.Status != http.StatusOK || !e.At.Equal(testNow) {
			t.Errorf("exchange %s %s %d at %v: want a users page at %v", e.Method, e.URL, e.Status, e.At, testNow)
		}
		if e.Operation != "directory.users.list" {
			t.Errorf("exchange %s is recorded as %q; want the Directory API's users.list", e.URL, e.Operation)
		}
	}
	assertNoSecret(t, got, nil)
}

func TestCollectThrottlingAndFailures(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fakeGoogle)
		wantWaits  []time.Duration
		wantErrors []connector.TypeError
		wantErr    string
		wantNone   bool
	}{
		{
			name: "429 honours Retry-After",
			setup: func(f *fakeGoogle) {
				f.queue("", answer{status: http.StatusTooManyRequests, file: "error_too_many.json", header: map[string]string{"Retry-After": "3"}})
			},
			wantWaits: []time.Duration{3 * time.Second},
		},
		{
			name: "quota 403 backs off",
			setup: func(f *fakeGoogle) {
				f.queue(page2Token, answer{status: http.StatusForbidden, file: "error_rate_limit.json"})
			},
			wantWaits: []time.Duration{time.Second},
		},
		{
			name: "server errors back off then succeed",
			setup: func(f *fakeGoogle) {
				f.queue(page2Token,
					answer{status: http.StatusServiceUnavailable, file: "error_backend.json"},
					answer{status: http.StatusServiceUnavailable, file: "error_backend.json"})
			},
			wantWaits: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name: "a later page failing for good reports the type",
			setup: func(f *fakeGoogle) {
				f.pages[page2Token] = answer{status: http.StatusServiceUnavailable, file: "error_backend.json"}
			},
			wantWaits:  []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
			wantErrors: []connector.TypeError{{Type: TypeUser, Message: "list users (page 2): 503 The service is currently unavailable."}},
			wantNone:   true,
		},
		{
			name: "a subject who is not an administrator ends the run",
			setup: func(f *fakeGoogle) {
				f.pages[""] = answer{status: http.StatusForbidden, file: "error_not_authorized.json"}
			},
			wantErr: "google: list users: 403 Not Authorized to access this resource/api",
		},
		{
			name: "a refused key ends the run",
			setup: func(f *fakeGoogle) {
				f.token = answer{status: http.StatusBadRequest, file: "token_invalid_grant.json"}
			},
			wantErr: "google: list users: the token endpoint refused the key: 400 Bad Request: invalid_grant: Invalid JWT Signature.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGoogle(t)
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
				assertNoSecret(t, nil, err)
				return
			}
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if diff := cmp.Diff(tt.wantErrors, got.Errors); diff != "" {
				t.Errorf("Collect errors (-want +got):\n%s", diff)
			}
			want := wantResources()
			if tt.wantNone {
				want = nil
			}
			if diff := cmp.Diff(sorted(want), sorted(got.Resources)); diff != "" {
				t.Errorf("Collect resources (-want +got):\n%s", diff)
			}
			assertNoSecret(t, got, nil)
		})
	}
}

// assertNoSecret checks that neither the access token nor any part of the key appears in
// what a run keeps or returns.
func assertNoSecret(tb testing.TB, c *connector.Collection, err error) {
	tb.Helper()
	_, pemKey := serviceAccount(tb)
	lines := strings.Split(strings.TrimSpace(pemKey), "\n")
	secrets := append([]string{testAccessToken}, lines[1:len(lines)-1]...)
	var texts []string
	if err != nil {
		texts = append(texts, err.Error())
	}
	if c != nil {
		for _, e := range c.Raw {
			texts = append(texts, e.URL, string(e.Response))
		}
		for _, e := range c.Errors {
			texts = append(texts, e.Message)
		}
	}
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				tb.Errorf("%.80q holds a secret", text)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	key := credentials(t, "https://oauth2.googleapis.com/token")
	edit := func(change func(m map[string]string)) string {
		var m map[string]string
		if err := json.Unmarshal([]byte(key), &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name      string
		cfg       Config
		wantField string
	}{
		{"valid", Config{Credentials: key, Subject: testSubject}, ""},
		{"valid with a customer and an endpoint", Config{Credentials: key, Subject: testSubject, Customer: "C03az79cb", Endpoint: "https://admin.googleapis.com/"}, ""},
		{"missing key", Config{Subject: testSubject}, "credentials"},
		{"not JSON", Config{Credentials: "-----BEGIN PRIVATE KEY-----", Subject: testSubject}, "credentials"},
		{"user credentials", Config{Credentials: edit(func(m map[string]string) { m["type"] = "authorized_user" }), Subject: testSubject}, "credentials"},
		{"no client email", Config{Credentials: edit(func(m map[string]string) { delete(m, "client_email") }), Subject: testSubject}, "credentials"},
		{"unreadable private key", Config{Credentials: edit(func(m map[string]string) {
			m["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}), Subject: testSubject}, "credentials"},
		{"token URI over http", Config{Credentials: edit(func(m map[string]string) { m["token_uri"] = "http://oauth2.googleapis.com/token" }), Subject: testSubject}, "credentials"},
		{"missing subject", Config{Credentials: key}, "subject"},
		{"subject is not an address", Config{Credentials: key, Subject: "Admin <admin@acme.example>"}, "subject"},
		{"bad customer", Config{Credentials: key, Subject: testSubject, Customer: "acme.example"}, "customer"},
		{"endpoint over http", Config{Credentials: key, Subject: testSubject, Endpoint: "http://localhost:8080"}, "endpoint"},
	}
	_, pemKey := serviceAccount(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if got := domain.FieldOf(err); got != tt.wantField || (tt.wantField == "") != (err == nil) {
				t.Errorf("Validate() = %v; want an error naming %q", err, tt.wantField)
			}
			if err != nil && (strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), pemKey[40:80])) {
				t.Errorf("Validate() = %q repeats the key", err)
			}
		})
	}
}

func TestConfigRedacted(t *testing.T) {
	c := Config{Credentials: credentials(t, "https://oauth2.googleapis.com/token"), Subject: testSubject, Customer: "C03az79cb"}
	want := Config{Credentials: "REDACTED", Subject: testSubject, Customer: "C03az79cb"}
	if diff := cmp.Diff(want, c.Redacted()); diff != "" {
		t.Errorf("Redacted() (-want +got):\n%s", diff)
	}
}

func TestThrottled(t *testing.T) {
	now := testNow
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		wantWait time.Duration
		want     bool
	}{
		{"success", http.StatusOK, nil, "", 0, false},
		{"429 without Retry-After", http.StatusTooManyRequests, nil, read("error_too_many.json"), 0, true},
		{"429 with Retry-After", http.StatusTooManyRequests, map[string]string{"Retry-After": "9"}, "", 9 * time.Second, true},
		{"quota 403", http.StatusForbidden, nil, read("error_rate_limit.json"), 0, true},
		{"permission 403", http.StatusForbidden, nil, read("error_not_authorized.json"), 0, false},
		{"403 that is not JSON", http.StatusForbidden, nil, "<html>Forbidden</html>", 0, false},
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
				t.Errorf("body after throttled() = %q, %v; want it unchanged", body, err)
			}
		})
	}
}
