package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/connector/aws"
	"github.com/evidenthq/evident/internal/connector/github"
	"github.com/evidenthq/evident/internal/connector/google"
	"github.com/evidenthq/evident/internal/connector/okta"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/store"
)

// The connection tests run the real Okta connector, through the real collect service with
// sealed credentials, against a local server that answers with Okta's wire format (the
// recorded answers of the connector's own tests). Only the credential key, the clock of
// the run and the server's address are the test's.

// connToken is the Okta API token the tests configure. It must never appear in a page, an
// API response or a log line; connToken2 replaces it.
const (
	connToken  = "00Evident-Web-Secret-Token-9f8e7d6c5b4a3"
	connToken2 = "00Evident-Web-Replaced-Token-1a2b3c4d5e6"
)

// syncLog is a log destination safe for the background runs' concurrent writes.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// fakeOktaServer answers the Okta management API calls of a collection: two users, no
// factors, no administrators, and 403 for the policies, which makes every run partial
// with errors to show. It records the tokens it was sent.
type fakeOktaServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens map[string]int
}

func newFakeOktaServer(tb testing.TB) *fakeOktaServer {
	tb.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "connector", "okta", "testdata", name))
		if err != nil {
			tb.Fatalf("read Okta testdata: %v", err)
		}
		return b
	}
	users, empty, forbidden := read("users_2.json"), read("empty_list.json"), read("error_forbidden.json")
	f := &fakeOktaServer{tokens: map[string]int{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "SSWS ")]++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch p := r.URL.Path; {
		case p == "/api/v1/users":
			_, _ = w.Write(users)
		case strings.HasSuffix(p, "/factors"):
			_, _ = w.Write(empty)
		case p == "/api/v1/iam/assignees/users":
			_, _ = w.Write([]byte(`{"value": [], "_links": {}}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(forbidden)
		}
	}))
	tb.Cleanup(f.srv.Close)
	return f
}

// sawToken reports how many requests carried the token.
func (f *fakeOktaServer) sawToken(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[token]
}

// connEnv is what the connection tests add to a server: the collect service with a
// credential key and the Okta connector, evidence for the snapshots, and logs that can be
// read while runs write them.
type connEnv struct {
	okta *fakeOktaServer
	svc  *collect.Service
	logs *syncLog
}

// withConnections switches on connections for srv over st.
func withConnections(tb testing.TB, srv *Server, st *store.Store) *connEnv {
	tb.Helper()
	blobs, err := blob.NewLocal(filepath.Join(tb.TempDir(), "blobs"))
	if err != nil {
		tb.Fatalf("NewLocal: %v", err)
	}
	env := &connEnv{okta: newFakeOktaServer(tb), logs: &syncLog{}}
	logger := slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client := env.okta.srv.Client()
	env.svc = &collect.Service{
		Store:    st,
		Evidence: &evidence.Service{Store: st, Blobs: blobs},
		Sealer:   newSealer(tb),
		Connectors: map[string]collect.Factory{
			"okta": collect.JSONFactory(func(c okta.Config) (connector.Connector, error) {
				return okta.New(c, okta.Options{HTTPClient: client, MaxAttempts: 1})
			}),
		},
		Version: "test",
		Logger:  logger,
	}
	srv.cfg.Collect = env.svc
	srv.cfg.Monitoring = st
	srv.log = logger
	return env
}

// newSealer returns a sealer with a new random credential key.
func newSealer(tb testing.TB) *collect.Sealer {
	tb.Helper()
	key := make([]byte, collect.SecretKeySize)
	_, _ = rand.Read(key)
	sealer, err := collect.NewSealer(key)
	if err != nil {
		tb.Fatal(err)
	}
	return sealer
}

// oktaConfig is a valid configuration of the fake Okta, as JSON.
func (e *connEnv) oktaConfig(token string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"org_url": e.okta.srv.URL, "api_token": token})
	return b
}

// addConnection creates an Okta connection in org through the service.
func (e *connEnv) addConnection(tb testing.TB, st *store.Store, orgID int64, name string) *domain.Connection {
	tb.Helper()
	c, err := e.svc.CreateConnection(context.Background(), domain.SystemActor, orgID, collect.ConnectionInput{
		Kind: "okta", Name: name, Config: e.oktaConfig(connToken),
	})
	if err != nil {
		tb.Fatalf("CreateConnection(%s): %v", name, err)
	}
	return c
}

// run runs a connection to its end, tests included, and returns the finished run.
func (e *connEnv) run(tb testing.TB, orgID, id int64) *domain.ConnectionRun {
	tb.Helper()
	run, err := e.svc.RunConnection(context.Background(), orgID, id)
	if err != nil {
		tb.Fatalf("RunConnection(%d): %v", id, err)
	}
	return run
}

// waitRun waits for a run started in the background to finish, with the tests it
// triggers, so that nothing is still writing when the test ends.
func waitRun(tb testing.TB, st *store.Store, orgID, runID int64) *domain.ConnectionRun {
	tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		run, err := st.ConnectionRun(ctx, orgID, runID)
		if err != nil {
			tb.Fatalf("ConnectionRun(%d): %v", runID, err)
		}
		if run.Status != domain.RunRunning {
			if run.Status == domain.RunFailed {
				return run
			}
			trs, err := st.TestRuns(ctx, orgID, domain.TestRunFilter{Limit: 20})
			if err != nil {
				tb.Fatal(err)
			}
			for _, tr := range trs {
				if tr.ConnectionRunID != nil && *tr.ConnectionRunID == runID {
					return run
				}
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("run %d has not finished after a minute: %+v", runID, run)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noSecrets fails the test when a text shows a credential.
func noSecrets(tb testing.TB, what, text string) {
	tb.Helper()
	for _, s := range []string{connToken, connToken2} {
		if strings.Contains(text, s) {
			tb.Errorf("%s shows the credential %q", what, s)
		}
	}
}

// configKeys lists the JSON keys of a shipped connector's configuration.
func configKeys(tb testing.TB, kind string) []string {
	tb.Helper()
	var typ reflect.Type
	switch kind {
	case "aws":
		typ = reflect.TypeFor[aws.Config]()
	case "github":
		typ = reflect.TypeFor[github.Config]()
	case "okta":
		typ = reflect.TypeFor[okta.Config]()
	case "google":
		typ = reflect.TypeFor[google.Config]()
	default:
		tb.Fatalf("no connector of kind %q", kind)
	}
	var out []string
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
