package collect_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/readiness"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// snapshotOf reads and decodes a run's snapshot evidence.
func (e *env) snapshotOf(tb testing.TB, orgID int64, id int64) (*domain.Evidence, collect.Snapshot, string) {
	tb.Helper()
	item, err := e.st.Evidence(ctx, orgID, id)
	must(tb, "Evidence", err)
	r, err := e.ev.Open(ctx, orgID, item)
	must(tb, "Open evidence", err)
	defer r.Close()
	raw, err := io.ReadAll(r)
	must(tb, "read evidence", err)
	var snap collect.Snapshot
	must(tb, "decode snapshot", json.Unmarshal(raw, &snap))
	return item, snap, string(raw)
}

func TestCreateConnection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, newWorld(), t.TempDir())
		org, _ := e.org(t, "acme")
		for _, tc := range []struct {
			name  string
			in    collect.ConnectionInput
			field string
		}{
			{"unknown kind", collect.ConnectionInput{Kind: "nope", Name: "x", Config: config("a")}, "kind"},
			{"missing setting", collect.ConnectionInput{Kind: "fake", Name: "x", Config: json.RawMessage(`{"account": "a"}`)}, "config.token"},
			{"unknown setting", collect.ConnectionInput{Kind: "fake", Name: "x", Config: json.RawMessage(`{"account": "a", "token": "t", "colour": 1}`)}, "config.colour"},
			{"mistyped setting", collect.ConnectionInput{Kind: "fake", Name: "x", Config: json.RawMessage(`{"account": 7, "token": "t"}`)}, "config.account"},
			{"not an object", collect.ConnectionInput{Kind: "fake", Name: "x", Config: json.RawMessage(`[1]`)}, "config"},
			{"rejected by the connector", collect.ConnectionInput{Kind: "fake", Name: "x", Config: json.RawMessage(`{"token": "t"}`)}, "config"},
			{"no name", collect.ConnectionInput{Kind: "fake", Config: config("a")}, "name"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.CreateConnection(ctx, domain.SystemActor, org.ID, tc.in)
				wantInvalid(t, "CreateConnection", err, tc.field)
			})
		}
		c, err := e.svc.CreateConnection(ctx, domain.SystemActor, org.ID, collect.ConnectionInput{Kind: "fake", Name: "prod", Config: config("a1")})
		must(t, "CreateConnection", err)
		if c.Interval != time.Hour || !c.Enabled {
			t.Errorf("connection = %+v; want hourly and enabled", c)
		}
		sec, err := st.ConnectionSecret(ctx, org.ID, c.ID)
		must(t, "ConnectionSecret", err)
		noToken(t, "the stored ciphertext", string(sec.Ciphertext))
		events, err := st.Events(ctx, org.ID, domain.EventFilter{Limit: 1000})
		must(t, "Events", err)
		for _, ev := range events {
			noToken(t, "event "+ev.Type, string(ev.Data))
		}
		if got := e.svc.Kinds(); !cmp.Equal(got, []string{"fake"}) {
			t.Errorf("Kinds = %v; want [fake]", got)
		}
	})
}

func TestRunConnection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld()
		e := newEnv(t, st, w, t.TempDir())
		org, owner := e.org(t, "acme")
		ac01, err := st.ControlByRef(ctx, org.ID, "AC-01")
		must(t, "ControlByRef", err)
		_, err = st.CreateCustomTest(ctx, domain.SystemActor, org.ID, mfaTest)
		must(t, "CreateCustomTest", err)
		a1 := w.account("a1")
		a1.set([]monitor.Resource{user("u1", "alice", true), user("u2", "bob", false)}, nil, nil)
		c, err := e.svc.CreateConnection(ctx, domain.SystemActor, org.ID, collect.ConnectionInput{Kind: "fake", Name: "prod", Config: config("a1")})
		must(t, "CreateConnection", err)

		run, err := e.svc.RunConnection(ctx, org.ID, c.ID)
		must(t, "RunConnection", err)
		if run.Status != domain.RunSucceeded || run.Added != 2 || run.EvidenceID == nil || run.Trigger != domain.TriggerManual {
			t.Fatalf("run = %+v; want a succeeded manual run adding 2 resources with its snapshot", run)
		}
		if n := a1.callCount(); n != 1 {
			t.Errorf("connector ran %d times; want 1", n)
		}

		item, snap, raw := e.snapshotOf(t, org.ID, *run.EvidenceID)
		day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		if item.Kind != domain.EvidenceSnapshot || item.Source != "fake/1.2.3" || !item.PeriodStart.Equal(day) ||
			!item.PeriodEnd.Equal(day) || item.MediaType != "application/json" || item.AddedBy != 0 {
			t.Errorf("snapshot item = %+v; want a system snapshot from fake/1.2.3 for %s", item, day.Format(time.DateOnly))
		}
		if diff := cmp.Diff([]int64{ac01.ID}, item.ControlIDs); diff != "" {
			t.Errorf("snapshot controls mismatch (-want +got):\n%s", diff)
		}
		if snap.Format != collect.SnapshotFormat || snap.RunID != run.ID || snap.Connection.Name != "prod" || len(snap.Exchanges) != 2 {
			t.Fatalf("snapshot = %+v; want the run's two exchanges", snap)
		}
		var listed []monitor.Resource
		must(t, "decode the JSON response", json.Unmarshal(snap.Exchanges[0].JSON, &listed))
		if len(listed) != 2 || snap.Exchanges[1].Text == nil || *snap.Exchanges[1].Text != "<ok>a1</ok>" {
			t.Errorf("exchanges = %+v; want the JSON body as JSON and the XML as text", snap.Exchanges)
		}
		noToken(t, "the snapshot", raw)

		// The tests ran on the inventory: bob fails the organization's MFA test.
		sum, err := st.TestSummary(ctx, org.ID, "fake-user-mfa", e.now)
		must(t, "TestSummary", err)
		if sum.Status != domain.ResultFail || sum.Failed != 1 || sum.Passed != 1 {
			t.Errorf("summary = %+v; want failing on 1 of 2", sum)
		}
		verdicts, err := st.TestVerdicts(ctx, org.ID, "fake-user-mfa", e.now, domain.VerdictFilter{Status: domain.ResultFail})
		must(t, "TestVerdicts", err)
		if len(verdicts) != 1 || verdicts[0].Name != "bob" || verdicts[0].Message != "user bob has no MFA" {
			t.Errorf("failing verdicts = %+v; want bob with the test's message", verdicts)
		}
		runs, err := st.TestRuns(ctx, org.ID, domain.TestRunFilter{})
		must(t, "TestRuns", err)
		if len(runs) != 1 || runs[0].ConnectionRunID == nil || *runs[0].ConnectionRunID != run.ID || runs[0].Tests < 2 {
			t.Errorf("test runs = %+v; want one run of the library and the custom test after the connection run", runs)
		}
		tasks, err := st.Tasks(ctx, org.ID, domain.TaskFilter{AssigneeID: owner.ID})
		must(t, "Tasks", err)
		if len(tasks) != 1 || tasks[0].TestID != "fake-user-mfa" {
			t.Errorf("owner's tasks = %+v; want the failing test's", tasks)
		}
		rep, err := readiness.Compute(ctx, st, catalog.Default(), org.ID, e.now)
		must(t, "readiness.Compute", err)
		var gap *readiness.Gap
		for i, g := range rep.Gaps {
			if g.Kind == readiness.GapTestFailing {
				gap = &rep.Gaps[i]
			}
		}
		if gap == nil || gap.ControlID != ac01.ID || gap.Title != "Users have MFA fails on 1 resource" ||
			gap.Severity != readiness.SeverityCritical || gap.NextStep != "Turn on MFA for the user." {
			t.Errorf("test gap = %+v; want a critical gap on AC-01 with the remediation", gap)
		}

		// Bob enables MFA: the test recovers and the task closes.
		e.now = e.now.Add(time.Hour)
		a1.set([]monitor.Resource{user("u1", "alice", true), user("u2", "bob", true)}, nil, nil)
		run, err = e.svc.RunConnection(ctx, org.ID, c.ID)
		must(t, "RunConnection(second)", err)
		if run.Changed != 1 {
			t.Errorf("second run changed %d resources; want 1", run.Changed)
		}
		alerts, err := st.Alerts(ctx, org.ID, domain.AlertFilter{TestID: "fake-user-mfa"})
		must(t, "Alerts", err)
		if len(alerts) != 2 || alerts[0].State != domain.AlertRecovered || alerts[1].State != domain.AlertFailing {
			t.Errorf("alerts = %+v; want failing then recovered", alerts)
		}
		if tasks, _ := st.Tasks(ctx, org.ID, domain.TaskFilter{}); len(tasks) != 0 {
			t.Errorf("open tasks after recovery = %+v; want none", tasks)
		}
		noToken(t, "the log", e.log.String())
	})
}

func TestRunConnectionPartialAndFailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld()
		e := newEnv(t, st, w, t.TempDir())
		org, _ := e.org(t, "acme")
		c, err := e.svc.CreateConnection(ctx, domain.SystemActor, org.ID, collect.ConnectionInput{Kind: "fake", Name: "prod", Config: config("a1")})
		must(t, "CreateConnection", err)
		a1 := w.account("a1")

		a1.set([]monitor.Resource{user("u1", "alice", true)}, []connector.TypeError{{Type: "custom.group", Message: "403 Forbidden"}}, nil)
		run, err := e.svc.RunConnection(ctx, org.ID, c.ID)
		must(t, "RunConnection(partial)", err)
		if run.Status != domain.RunPartial || run.Added != 1 ||
			!cmp.Equal(run.Errors, []domain.TypeError{{Type: "custom.group", Message: "403 Forbidden"}}) {
			t.Errorf("partial run = %+v; want partial, alice added, the group error kept", run)
		}
		item, err := st.Evidence(ctx, org.ID, *run.EvidenceID)
		must(t, "Evidence", err)
		if !strings.Contains(item.Description, "custom.group: 403 Forbidden") {
			t.Errorf("snapshot description = %q; want the type that failed", item.Description)
		}

		e.now = e.now.Add(time.Hour)
		a1.set(nil, nil, errors.New("401 Unauthorized: the token was revoked"))
		run, err = e.svc.RunConnection(ctx, org.ID, c.ID)
		must(t, "RunConnection(failed)", err)
		if run.Status != domain.RunFailed || run.EvidenceID != nil || !strings.Contains(run.Message, "401 Unauthorized") {
			t.Errorf("failed run = %+v; want failed with the connector's error and no snapshot", run)
		}
		if got, _ := st.Resources(ctx, org.ID, domain.ResourceFilter{}); len(got) != 1 {
			t.Errorf("resources after a failed run = %d; want alice kept", len(got))
		}

		// New credentials take effect on the next run.
		e.now = e.now.Add(time.Hour)
		w.account("a2").set([]monitor.Resource{user("u9", "zed", true)}, nil, nil)
		_, err = e.svc.UpdateConnection(ctx, domain.SystemActor, org.ID, c.ID, collect.ConnectionUpdate{Config: config("a2")})
		must(t, "UpdateConnection", err)
		_, err = e.svc.UpdateConnection(ctx, domain.SystemActor, org.ID, c.ID, collect.ConnectionUpdate{Config: json.RawMessage(`{}`)})
		wantInvalid(t, "UpdateConnection(bad config)", err, "config.token")
		run, err = e.svc.RunConnection(ctx, org.ID, c.ID)
		must(t, "RunConnection(new credentials)", err)
		if run.Status != domain.RunSucceeded || run.Added != 1 || run.Gone != 1 {
			t.Errorf("run with new credentials = %+v; want zed added and alice gone", run)
		}

		// Credentials sealed with another key fail the run, saying so.
		other, err := collect.NewSealer(make([]byte, collect.SecretKeySize))
		must(t, "NewSealer", err)
		e.svc.Sealer = other
		run, err = e.svc.RunConnection(ctx, org.ID, c.ID)
		must(t, "RunConnection(other key)", err)
		if run.Status != domain.RunFailed || !strings.Contains(run.Message, "another key") {
			t.Errorf("run with another key = %+v; want failed naming the key", run)
		}
		noToken(t, "the log", e.log.String())
	})
}

func TestLargeSnapshotGoesToBlobStore(t *testing.T) {
	st := storetest.SQLite(t)
	w := newWorld()
	e := newEnv(t, st, w, t.TempDir())
	org, _ := e.org(t, "acme")
	big := make([]monitor.Resource, 2000)
	for i := range big {
		big[i] = user("u"+strings.Repeat("x", 40)+string(rune('a'+i%26))+time.Duration(i).String(), "user", i%2 == 0)
	}
	w.account("a1").set(big, nil, nil)
	c, err := e.svc.CreateConnection(ctx, domain.SystemActor, org.ID, collect.ConnectionInput{Kind: "fake", Name: "prod", Config: config("a1")})
	must(t, "CreateConnection", err)
	run, err := e.svc.RunConnection(ctx, org.ID, c.ID)
	must(t, "RunConnection", err)
	item, snap, _ := e.snapshotOf(t, org.ID, *run.EvidenceID)
	if item.Size <= domain.MaxInlineContent {
		t.Fatalf("snapshot size = %d; the test needs one over %d", item.Size, domain.MaxInlineContent)
	}
	if _, err := st.EvidenceContent(ctx, org.ID, item.ID); !domain.IsNotFound(err) {
		t.Errorf("EvidenceContent(large snapshot) = %v; want it in the blob store, not inline", err)
	}
	var listed []monitor.Resource
	must(t, "decode", json.Unmarshal(snap.Exchanges[0].JSON, &listed))
	if len(listed) != len(big) {
		t.Errorf("snapshot lists %d resources; want %d", len(listed), len(big))
	}
}

func TestPushResourcesRunsTests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, newWorld(), t.TempDir())
		org, _ := e.org(t, "acme")
		_, err := st.CreateCustomTest(ctx, domain.SystemActor, org.ID, mfaTest)
		must(t, "CreateCustomTest", err)
		sum, run, err := e.svc.PushResources(ctx, domain.SystemActor, org.ID, "idp-export",
			[]monitor.Resource{user("u1", "alice", false)}, false)
		must(t, "PushResources", err)
		if sum.Added != 1 || run == nil || run.Trigger != domain.TriggerPush || run.Failing != 1 {
			t.Errorf("push = %+v, run %+v; want 1 added and a push test run with 1 failing test", sum, run)
		}
		_, _, err = e.svc.PushResources(ctx, domain.SystemActor, org.ID, "idp-export",
			[]monitor.Resource{{Type: "custom.user", Name: "no id"}}, false)
		wantInvalid(t, "PushResources(no id)", err, "resources[0].id")

		infos, err := e.svc.Tests(ctx, org.ID)
		must(t, "Tests", err)
		if len(infos) != len(monitor.Library())+1 || !infos[len(infos)-1].Custom || infos[len(infos)-1].Test.ID != "fake-user-mfa" {
			t.Errorf("Tests = %d, last %+v; want the library then the custom test", len(infos), infos[len(infos)-1])
		}
		must(t, "SetTestEnabled", st.SetTestEnabled(ctx, domain.SystemActor, org.ID, "fake-user-mfa", false))
		run, err = e.svc.RunTests(ctx, org.ID)
		must(t, "RunTests", err)
		if run.Failing != 0 || run.Tests != len(monitor.Library()) {
			t.Errorf("run with the custom test disabled = %+v; want the library only, nothing failing", run)
		}
	})
}

// testsBroken is a store whose tests cannot be read, so no test run can start.
type testsBroken struct{ collect.Store }

func (testsBroken) CustomTests(context.Context, int64) ([]domain.CustomTest, error) {
	return nil, errors.New("custom tests unreadable")
}

// TestPushResourcesStoredWhenTestsCannotRun: the resources are stored even when the tests
// cannot run after, and the error says so apart from a failure to store them.
func TestPushResourcesStoredWhenTestsCannotRun(t *testing.T) {
	st := storetest.SQLite(t)
	e := newEnv(t, st, newWorld(), t.TempDir())
	org, _ := e.org(t, "acme")
	svc := &collect.Service{Store: testsBroken{st}}
	sum, run, err := svc.PushResources(ctx, domain.SystemActor, org.ID, "idp-export", []monitor.Resource{user("u1", "alice", false)}, false)
	var notRun *collect.TestsNotRunError
	if !errors.As(err, &notRun) || run != nil || sum.Added != 1 {
		t.Fatalf("PushResources = %+v, %+v, %v; want 1 added, no run and a TestsNotRunError", sum, run, err)
	}
	if types, err := st.ResourceTypes(ctx, org.ID); err != nil || len(types) != 1 || types[0] != (domain.ResourceTypeCount{Type: "custom.user", Count: 1}) {
		t.Errorf("resources after the push = %+v, %v; want one custom.user", types, err)
	}
	_, _, err = svc.PushResources(ctx, domain.SystemActor, org.ID, "idp-export", []monitor.Resource{{Type: "custom.user", Name: "no id"}}, false)
	if errors.As(err, &notRun) {
		t.Errorf("a push refused as invalid = %v; want an error other than TestsNotRunError", err)
	}
}

// TestStartConnection: the run is claimed before StartConnection returns, finishes in the
// background, and a connection already claimed cannot be started again.
func TestStartConnection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newWorld()
		e := newEnv(t, st, w, t.TempDir())
		org, _ := e.org(t, "acme")
		w.account("a1").set([]monitor.Resource{user("u1", "alice", true)}, nil, nil)
		c, err := e.svc.CreateConnection(ctx, domain.SystemActor, org.ID, collect.ConnectionInput{Kind: "fake", Name: "prod", Config: config("a1")})
		must(t, "CreateConnection", err)

		started, done, err := e.svc.StartConnection(ctx, org.ID, c.ID)
		must(t, "StartConnection", err)
		if started.ID == 0 || started.Status != domain.RunRunning || started.Trigger != domain.TriggerManual {
			t.Fatalf("started run = %+v; want a running manual run", started)
		}
		res := <-done
		if res.Err != nil || res.Run == nil || res.Run.ID != started.ID || res.Run.Status != domain.RunSucceeded || res.Run.Added != 1 {
			t.Fatalf("finished = %+v, %v; want run %d succeeded with 1 resource added", res.Run, res.Err, started.ID)
		}

		// Another process holds a claim: starting it again is a conflict, and nothing runs.
		_, err = st.ClaimConnection(ctx, org.ID, c.ID, "elsewhere", time.Minute)
		must(t, "ClaimConnection", err)
		if _, done, err := e.svc.StartConnection(ctx, org.ID, c.ID); domain.KindOf(err) != domain.KindConflict || done != nil {
			t.Errorf("StartConnection while claimed = %v; want KindConflict and no run", err)
		}
	})
}
