package collect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/store"
)

var ctx = context.Background()

// start is the time the tests run at.
var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// token is the fake connector's credential; it must never appear outside the sealed secret.
const token = "tok-9f8e7d6c5b4a"

// fakeConfig configures the fake connector.
type fakeConfig struct {
	Account string `json:"account"`
	Token   string `json:"token"`
}

// account is what the fake connector finds in one account of its fake source.
type account struct {
	mu        sync.Mutex
	resources []monitor.Resource
	errors    []connector.TypeError
	fail      error
	body      []byte // the first response's body, JSON; the resources when nil
	calls     int
}

// world is the fake source: its accounts by name.
type world struct {
	mu       sync.Mutex
	accounts map[string]*account
}

func newWorld() *world { return &world{accounts: map[string]*account{}} }

// account returns the named account, created empty.
func (w *world) account(name string) *account {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.accounts[name]
	if !ok {
		a = &account{}
		w.accounts[name] = a
	}
	return a
}

// set replaces what an account holds.
func (a *account) set(rs []monitor.Resource, errs []connector.TypeError, fail error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resources, a.errors, a.fail = rs, errs, fail
}

func (a *account) callCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// fakeConnector implements connector.Connector over the world.
type fakeConnector struct {
	cfg   fakeConfig
	world *world
}

func (c *fakeConnector) Kind() string { return "fake" }

func (c *fakeConnector) Collect(ctx context.Context) (*connector.Collection, error) {
	a := c.world.account(c.cfg.Account)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.fail != nil {
		return nil, a.fail
	}
	body := a.body
	if body == nil {
		var err error
		if body, err = json.Marshal(a.resources); err != nil {
			return nil, err
		}
	}
	col := &connector.Collection{
		Resources: append([]monitor.Resource(nil), a.resources...),
		Errors:    append([]connector.TypeError(nil), a.errors...),
		Raw: []connector.Exchange{
			{At: start, Method: "GET", URL: "https://fake.example/users?account=" + c.cfg.Account, Status: 200, Response: body},
			{At: start, Method: "POST", URL: "https://fake.example/", Status: 200, Response: []byte("<ok>" + c.cfg.Account + "</ok>")},
		},
	}
	return col, nil
}

// factory builds fake connectors; a configuration without a token is invalid.
func (w *world) factory() collect.Factory {
	return collect.JSONFactory(func(c fakeConfig) (connector.Connector, error) {
		if c.Token == "" {
			return nil, domain.Invalid("token", "is required")
		}
		if c.Account == "" {
			return nil, errors.New("no account")
		}
		return &fakeConnector{cfg: c, world: w}, nil
	})
}

// config is a fake connection's configuration as JSON.
func config(account string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"account": %q, "token": %q}`, account, token))
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testKey is the sealing key of the tests.
var testKey = bytes.Repeat([]byte{42}, collect.SecretKeySize)

// env is a service over a store with a fixed clock.
type env struct {
	st    *store.Store
	svc   *collect.Service
	ev    *evidence.Service
	world *world
	log   *syncBuffer
	now   time.Time
}

func (e *env) clock() time.Time { return e.now }

// newEnv returns a service over st with its own blob directory, the fake connector and a
// clock at start shared by the store.
func newEnv(tb testing.TB, st *store.Store, w *world, blobDir string) *env {
	tb.Helper()
	e := &env{st: st, world: w, log: &syncBuffer{}, now: start}
	st.Now = e.clock
	blobs, err := blob.NewLocal(blobDir)
	if err != nil {
		tb.Fatalf("blob.NewLocal = %v", err)
	}
	sealer, err := collect.NewSealer(testKey)
	if err != nil {
		tb.Fatal(err)
	}
	e.ev = &evidence.Service{Store: st, Blobs: blobs, Now: e.clock}
	e.svc = &collect.Service{
		Store: st, Evidence: e.ev, Sealer: sealer,
		Connectors: map[string]collect.Factory{"fake": w.factory()},
		Now:        e.clock, Version: "1.2.3",
		Logger: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return e
}

// org creates an organization with two controls, AC-01 owned by a member, and returns
// it with the member.
func (e *env) org(tb testing.TB, slug string) (*domain.Organization, *domain.User) {
	tb.Helper()
	o := &domain.Organization{Slug: slug, Name: "Org " + slug}
	lib := []domain.LibraryControl{
		{Ref: "AC-01", Title: "Multi-factor authentication", Frequency: domain.FrequencyContinuous, Criteria: []string{"CC6.1"}, Finding: "MFA is not enforced"},
		{Ref: "CM-01", Title: "Change review", Frequency: domain.FrequencyPerEvent, Criteria: []string{"CC8.1"}, Finding: "Changes go unreviewed"},
	}
	if err := e.st.CreateOrganization(ctx, domain.SystemActor, o, nil, lib); err != nil {
		tb.Fatalf("CreateOrganization = %v", err)
	}
	u := &domain.User{Email: "owner@" + slug + ".example", Name: "Owen"}
	if err := e.st.CreateUser(ctx, u); err != nil {
		tb.Fatalf("CreateUser = %v", err)
	}
	if err := e.st.AddMember(ctx, domain.SystemActor, o.ID, u.ID, domain.RoleMember); err != nil {
		tb.Fatalf("AddMember = %v", err)
	}
	c, err := e.st.ControlByRef(ctx, o.ID, "AC-01")
	if err != nil {
		tb.Fatal(err)
	}
	owner := &u.ID
	if _, err := e.st.UpdateControl(ctx, domain.SystemActor, o.ID, c.ID, domain.ControlChange{OwnerID: &owner}); err != nil {
		tb.Fatalf("UpdateControl = %v", err)
	}
	return o, u
}

// mfaTest is an organization's own test of the fake users.
const mfaTest = `id: fake-user-mfa
title: Users have MFA
type: custom.user
expression: resource.mfa == true
message: '"user " + resource.name + " has no MFA"'
severity: critical
remediation: Turn on MFA for the user.
controls: [AC-01]
`

func user(id, name string, mfa bool) monitor.Resource {
	return monitor.Resource{Type: "custom.user", ExternalID: id, Name: name, Attributes: map[string]any{"mfa": mfa}}
}

func must(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s = %v", what, err)
	}
}

func wantInvalid(tb testing.TB, what string, err error, field string) {
	tb.Helper()
	if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != field {
		tb.Fatalf("%s = %v (kind %s, field %q); want invalid %q", what, err, domain.KindOf(err), domain.FieldOf(err), field)
	}
}

// noToken fails if the credential appears in s.
func noToken(tb testing.TB, where, s string) {
	tb.Helper()
	if strings.Contains(s, token) {
		tb.Errorf("the credential appears in %s", where)
	}
}
