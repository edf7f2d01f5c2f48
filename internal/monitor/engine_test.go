package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func mustCompile(tb testing.TB, t Test) *Program {
	tb.Helper()
	if t.Title == "" {
		t.Title = t.ID
	}
	if t.Severity == "" {
		t.Severity = SeverityMedium
	}
	if t.Remediation == "" {
		t.Remediation = "Fix it."
	}
	p, err := Compile(t)
	if err != nil {
		tb.Fatalf("Compile(%s) = %v", t.ID, err)
	}
	return p
}

func user(id string, attrs map[string]any) *Resource {
	return &Resource{Type: "aws.iam.user", ExternalID: id, Name: id, Attributes: attrs}
}

func evaluate(tb testing.TB, progs []*Program, inv Inventory) Results {
	tb.Helper()
	res, err := Evaluate(context.Background(), progs, inv, testNow)
	if err != nil {
		tb.Fatalf("Evaluate() = %v", err)
	}
	return res
}

func TestEvaluate(t *testing.T) {
	progs := []*Program{
		mustCompile(t, Test{ID: "mfa", Type: "aws.iam.user", Where: "resource.console_access", Expression: "resource.mfa_enabled",
			Message: `resource.name + " has no MFA"`}),
		mustCompile(t, Test{ID: "no-admin", Type: "aws.iam.user", Expression: "!resource.is_admin"}),
		mustCompile(t, Test{ID: "root", Type: "aws.iam.root", Expression: "resource.mfa_enabled"}),
	}
	inv := NewMemoryInventory([]*Resource{
		user("alice", map[string]any{"console_access": true, "mfa_enabled": true, "is_admin": false}),
		user("bob", map[string]any{"console_access": true, "mfa_enabled": false, "is_admin": true}),
		user("svc", map[string]any{"console_access": false, "mfa_enabled": false, "is_admin": false}),
		user("broken", map[string]any{"console_access": true}), // is_admin and mfa_enabled missing
	})
	want := Results{At: testNow, Tests: []TestResult{
		{TestID: "mfa", Type: "aws.iam.user", Status: StatusFail, Passed: 1, Failed: 1, Errors: 1, Resources: []ResourceResult{
			{ExternalID: "alice", Status: StatusPass},
			{ExternalID: "bob", Status: StatusFail, Message: "bob has no MFA"},
			{ExternalID: "broken", Status: StatusError, Message: `aws.iam.user has no attribute "mfa_enabled" (test optional fields with has())`},
		}},
		{TestID: "no-admin", Type: "aws.iam.user", Status: StatusFail, Passed: 2, Failed: 1, Errors: 1, Resources: []ResourceResult{
			{ExternalID: "alice", Status: StatusPass},
			{ExternalID: "bob", Status: StatusFail},
			{ExternalID: "svc", Status: StatusPass},
			{ExternalID: "broken", Status: StatusError, Message: `aws.iam.user has no attribute "is_admin" (test optional fields with has())`},
		}},
		{TestID: "root", Type: "aws.iam.root", Status: StatusNoData, Resources: []ResourceResult{}},
	}}
	got := evaluate(t, progs, inv)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate() (-want +got):\n%s", diff)
	}
	if tr, ok := got.Test("no-admin"); !ok || tr.Passed != 2 {
		t.Errorf("Results.Test(no-admin) = %+v, %v", tr, ok)
	}
	if _, ok := got.Test("missing"); ok {
		t.Error("Results.Test(missing) found a result")
	}
}

func TestEvaluateStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs []map[string]any
		want  Status
	}{
		{"all pass", []map[string]any{{"mfa_enabled": true}}, StatusPass},
		{"fail wins over error", []map[string]any{{"mfa_enabled": false}, {}}, StatusFail},
		{"error without failures", []map[string]any{{"mfa_enabled": true}, {}}, StatusError},
		{"nothing selected", nil, StatusNoData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []*Resource
			for i, a := range tc.attrs {
				rs = append(rs, user(fmt.Sprint(i), a))
			}
			p := mustCompile(t, Test{ID: "mfa", Type: "aws.iam.user", Expression: "resource.mfa_enabled"})
			if got := evaluate(t, []*Program{p}, NewMemoryInventory(rs)).Tests[0].Status; got != tc.want {
				t.Errorf("status = %s; want %s", got, tc.want)
			}
		})
	}
}

// TestEvaluateOrder runs enough resources for many batches on several workers: verdicts
// come back complete and in inventory order.
func TestEvaluateOrder(t *testing.T) {
	const n = batchSize*7 + 13
	var rs []*Resource
	for i := range n {
		rs = append(rs, user(fmt.Sprintf("u%05d", i), map[string]any{"mfa_enabled": i%3 != 0, "console_access": i%2 == 0}))
	}
	progs := []*Program{
		mustCompile(t, Test{ID: "mfa", Type: "aws.iam.user", Expression: "resource.mfa_enabled"}),
		mustCompile(t, Test{ID: "console-mfa", Type: "aws.iam.user", Where: "resource.console_access", Expression: "resource.mfa_enabled"}),
	}
	res := evaluate(t, progs, NewMemoryInventory(rs))
	for k, tr := range res.Tests {
		var want []ResourceResult
		for i, r := range rs {
			if k == 1 && i%2 != 0 {
				continue
			}
			st := StatusPass
			if i%3 == 0 {
				st = StatusFail
			}
			want = append(want, ResourceResult{ExternalID: r.ExternalID, Status: st})
		}
		if diff := cmp.Diff(want, tr.Resources); diff != "" {
			t.Errorf("%s verdicts (-want +got):\n%s", tr.TestID, diff)
		}
		if tr.Passed+tr.Failed != len(want) {
			t.Errorf("%s counts %d+%d; want %d", tr.TestID, tr.Passed, tr.Failed, len(want))
		}
	}
}

func TestEvaluateValueForms(t *testing.T) {
	// The same resource with attributes as connectors build them and as JSON returns them.
	p := mustCompile(t, Test{ID: "keys", Type: "aws.iam.user",
		Expression: `resource.access_keys.all(k, k.status != "Active" || now - k.created_at <= days(90)) && resource.groups.exists(g, g == "dev") && resource.tags["team"] == "core"`})
	forms := map[string]*Resource{
		"go": user("go", map[string]any{
			"access_keys": []map[string]any{{"status": "Active", "created_at": testNow.Add(-24 * time.Hour)}},
			"groups":      []string{"dev"},
			"tags":        map[string]string{"team": "core"},
		}),
		"json": user("json", map[string]any{
			"access_keys": []any{map[string]any{"status": "Active", "created_at": testNow.Add(-24 * time.Hour).Format(time.RFC3339)}},
			"groups":      []any{"dev"},
			"tags":        map[string]any{"team": "core"},
		}),
	}
	for name, r := range forms {
		if got := evaluate(t, []*Program{p}, NewMemoryInventory([]*Resource{r})).Tests[0]; got.Status != StatusPass {
			t.Errorf("%s form: %+v; want a pass", name, got)
		}
	}
	// CEL's && is commutative: the other terms must hold for the error to surface.
	bad := user("bad", map[string]any{"access_keys": "none", "groups": []any{"dev"}, "tags": map[string]any{"team": "core"}})
	got := evaluate(t, []*Program{p}, NewMemoryInventory([]*Resource{bad})).Tests[0]
	if got.Status != StatusError || !strings.Contains(got.Resources[0].Message, "aws.iam.user.access_keys is a string, not list<object>") {
		t.Errorf("wrong kind: %+v; want an error naming the field", got)
	}
}

func TestEvaluateCustomType(t *testing.T) {
	p := mustCompile(t, Test{ID: "vendor", Type: "custom.vendor", Where: `resource.tier == "critical"`,
		Expression: `resource.score >= 7 && resource.id != "" && resource.type == "custom.vendor" && resource.connection == "push"`})
	rs := []*Resource{
		{Type: "custom.vendor", ExternalID: "a", Name: "A", Connection: "push", Attributes: map[string]any{"tier": "critical", "score": 8.0}},
		{Type: "custom.vendor", ExternalID: "b", Name: "B", Connection: "push", Attributes: map[string]any{"tier": "critical", "score": 3}},
		{Type: "custom.vendor", ExternalID: "c", Name: "C", Connection: "push", Attributes: map[string]any{"tier": "low"}},
		{Type: "custom.vendor", ExternalID: "d", Name: "D", Connection: "push", Attributes: map[string]any{"tier": "critical", "score": "high"}},
	}
	got := evaluate(t, []*Program{p}, NewMemoryInventory(rs)).Tests[0]
	statuses := map[string]Status{}
	for _, rr := range got.Resources {
		statuses[rr.ExternalID] = rr.Status
	}
	want := map[string]Status{"a": StatusPass, "b": StatusFail, "d": StatusError}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("custom type verdicts (-want +got):\n%s", diff)
	}
	// A dynamic expression that is not a bool is an error for that resource.
	q := mustCompile(t, Test{ID: "flag", Type: "custom.vendor", Expression: "resource.tier"})
	got = evaluate(t, []*Program{q}, NewMemoryInventory(rs[:1])).Tests[0]
	if got.Resources[0].Status != StatusError || !strings.Contains(got.Resources[0].Message, "not a bool") {
		t.Errorf("non-bool result: %+v; want an error", got.Resources[0])
	}
}

func TestEvaluateMessageError(t *testing.T) {
	p := mustCompile(t, Test{ID: "mfa", Type: "aws.iam.user", Expression: "resource.mfa_enabled",
		Message: `resource.name + " last used " + string(resource.password_last_used)`})
	got := evaluate(t, []*Program{p}, NewMemoryInventory([]*Resource{user("a", map[string]any{"mfa_enabled": false})})).Tests[0]
	if rr := got.Resources[0]; rr.Status != StatusFail || !strings.HasPrefix(rr.Message, `(message: aws.iam.user has no attribute "password_last_used"`) {
		t.Errorf("verdict = %+v; want a failure whose message explains the message error", rr)
	}
}

func TestRelated(t *testing.T) {
	person := func(id, email string) *Resource {
		return &Resource{Type: "hr.person", ExternalID: id, Name: id, Attributes: map[string]any{"email": email, "end_date": testNow.AddDate(0, -1, 0)}}
	}
	okta := func(id, email, status string) *Resource {
		return &Resource{Type: "okta.user", ExternalID: id, Name: id, Attributes: map[string]any{"email": email, "status": status}}
	}
	inv := &countingInventory{MemoryInventory: NewMemoryInventory([]*Resource{
		person("alice", "Alice@Example.com"),
		person("bob", "bob@example.com"),
		person("carol", "carol@example.com"),
		person("nobody", ""),
		okta("o1", " alice@example.com", "ACTIVE"),
		okta("o2", "bob@example.com", "DEPROVISIONED"),
		okta("o3", "BOB@example.com", "SUSPENDED"),
		okta("o4", "", "ACTIVE"),
		user("u1", map[string]any{"groups": []string{"Admins", "dev"}}),
	})}
	progs := []*Program{
		mustCompile(t, Test{ID: "okta", Type: "hr.person",
			Expression: `related("okta.user", "email", resource.email).all(u, u.status != "ACTIVE")`,
			Message:    `related("okta.user", "email", resource.email).map(u, u.id).join(",")`}),
		mustCompile(t, Test{ID: "okta-count", Type: "hr.person",
			Expression: `related("okta.user", "email", resource.email).size() < 2`}),
		mustCompile(t, Test{ID: "by-group", Type: "hr.person",
			Expression: `related("aws.iam.user", "groups", "ADMINS").size() == 1`}),
	}
	res := evaluate(t, progs, inv)
	verdicts := map[string]map[string]string{}
	for _, tr := range res.Tests {
		verdicts[tr.TestID] = map[string]string{}
		for _, rr := range tr.Resources {
			verdicts[tr.TestID][rr.ExternalID] = rr.Status.String() + " " + rr.Message
		}
	}
	want := map[string]map[string]string{
		"okta":       {"alice": "fail o1", "bob": "pass ", "carol": "pass ", "nobody": "pass "},
		"okta-count": {"alice": "pass ", "bob": "fail ", "carol": "pass ", "nobody": "pass "},
		"by-group":   {"alice": "pass ", "bob": "pass ", "carol": "pass ", "nobody": "pass "},
	}
	if diff := cmp.Diff(want, verdicts); diff != "" {
		t.Errorf("related verdicts (-want +got):\n%s", diff)
	}
	// Each type is read once for the tests that select it and once per index, whatever the
	// number of tests and resources.
	if diff := cmp.Diff(map[string]int{"hr.person": 1, "okta.user": 1, "aws.iam.user": 1}, inv.reads()); diff != "" {
		t.Errorf("inventory reads (-want +got):\n%s", diff)
	}
}

// countingInventory counts how often each type is read.
type countingInventory struct {
	*MemoryInventory
	mu sync.Mutex
	n  map[string]int
}

func (c *countingInventory) Resources(ctx context.Context, typ string) iter.Seq2[*Resource, error] {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[typ]++
	c.mu.Unlock()
	return c.MemoryInventory.Resources(ctx, typ)
}

func (c *countingInventory) reads() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// failingInventory fails to read one type after yielding some of it.
type failingInventory struct {
	*MemoryInventory
	typ   string
	after int
}

var errRead = errors.New("connection reset")

func (f *failingInventory) Resources(ctx context.Context, typ string) iter.Seq2[*Resource, error] {
	if typ != f.typ {
		return f.MemoryInventory.Resources(ctx, typ)
	}
	return func(yield func(*Resource, error) bool) {
		i := 0
		for r, err := range f.MemoryInventory.Resources(ctx, typ) {
			if i == f.after {
				yield(nil, errRead)
				return
			}
			i++
			if !yield(r, err) {
				return
			}
		}
	}
}

func TestEvaluateInventoryErrors(t *testing.T) {
	var rs []*Resource
	for i := range 3 * batchSize {
		rs = append(rs, user(fmt.Sprint(i), map[string]any{"mfa_enabled": true, "email": fmt.Sprintf("u%d@example.com", i)}))
	}
	rs = append(rs, &Resource{Type: "hr.person", ExternalID: "p", Attributes: map[string]any{"email": "u1@example.com"}})
	rs = append(rs, &Resource{Type: "aws.iam.root", ExternalID: "r", Attributes: map[string]any{"mfa_enabled": true}})
	progs := []*Program{
		mustCompile(t, Test{ID: "mfa", Type: "aws.iam.user", Expression: "resource.mfa_enabled"}),
		mustCompile(t, Test{ID: "aws-left", Type: "hr.person", Expression: `related("aws.iam.user", "email", resource.email).size() == 0`}),
		mustCompile(t, Test{ID: "root", Type: "aws.iam.root", Expression: "resource.mfa_enabled"}),
	}
	inv := &failingInventory{MemoryInventory: NewMemoryInventory(rs), typ: "aws.iam.user", after: batchSize + 10}
	res := evaluate(t, progs, inv)
	for _, tc := range []struct {
		id     string
		status Status
		err    string
	}{
		{"mfa", StatusError, "read aws.iam.user: connection reset"},
		{"aws-left", StatusError, "read aws.iam.user for related(): connection reset"},
		{"root", StatusPass, ""},
	} {
		tr, _ := res.Test(tc.id)
		if tr.Status != tc.status || tr.Err != tc.err {
			t.Errorf("%s: status %s, err %q; want %s, %q", tc.id, tr.Status, tr.Err, tc.status, tc.err)
		}
	}
}

func TestEvaluateCanceled(t *testing.T) {
	var rs []*Resource
	for i := range 10 * batchSize {
		rs = append(rs, user(fmt.Sprint(i), map[string]any{"mfa_enabled": true}))
	}
	p := mustCompile(t, Test{ID: "mfa", Type: "aws.iam.user", Expression: "resource.mfa_enabled"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Evaluate(ctx, []*Program{p}, NewMemoryInventory(rs), testNow); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate(canceled) = %v; want context.Canceled", err)
	}
}

func TestEvaluateConcurrentRuns(t *testing.T) {
	// Programs are shared between runs, as the library's are.
	p := mustCompile(t, Test{ID: "left", Type: "hr.person", Expression: `related("okta.user", "email", resource.email).size() == 0`})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("p%d@example.com", i)
			inv := NewMemoryInventory([]*Resource{
				{Type: "hr.person", ExternalID: "p", Attributes: map[string]any{"email": email}},
				{Type: "okta.user", ExternalID: "o", Attributes: map[string]any{"email": email}},
			})
			res, err := Evaluate(context.Background(), []*Program{p}, inv, testNow)
			if err != nil || res.Tests[0].Status != StatusFail {
				t.Errorf("run %d: %v, %+v; want a failure", i, err, res.Tests)
			}
		}()
	}
	wg.Wait()
}

func TestEvaluateCostLimit(t *testing.T) {
	p := mustCompile(t, Test{ID: "slow", Type: "aws.iam.user",
		Expression: "lists.range(5000).all(i, lists.range(5000).all(j, i + j >= 0))"})
	got := evaluate(t, []*Program{p}, NewMemoryInventory([]*Resource{user("a", map[string]any{})}))
	if rr := got.Tests[0].Resources[0]; rr.Status != StatusError || !strings.Contains(rr.Message, "cost limit") {
		t.Errorf("verdict = %+v; want an error for exceeding the cost limit", rr)
	}
}

func TestStatusText(t *testing.T) {
	for _, s := range []Status{StatusPass, StatusFail, StatusError, StatusNoData} {
		text, err := s.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText() = %v", s, err)
		}
		var back Status
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, s)
		}
	}
	if _, err := StatusNone.MarshalText(); err == nil {
		t.Error("StatusNone.MarshalText() = nil error; want an error")
	}
	var s Status
	if err := s.UnmarshalText([]byte("passed")); err == nil {
		t.Error(`UnmarshalText("passed") = nil error; want an error`)
	}
	data, err := json.Marshal(ResourceResult{ExternalID: "a", Status: StatusFail})
	if err != nil || string(data) != `{"id":"a","status":"fail"}` {
		t.Errorf("json.Marshal(ResourceResult) = %s, %v", data, err)
	}
}
