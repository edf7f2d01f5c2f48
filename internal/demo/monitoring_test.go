package demo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/connector/aws"
	"github.com/evidenthq/evident/internal/connector/github"
	"github.com/evidenthq/evident/internal/connector/google"
	"github.com/evidenthq/evident/internal/connector/okta"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/readiness"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// clock is the store's clock in these tests: it starts at testNow and moves a second at
// every reading, as time does while a seed runs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// monitoringService returns the monitoring service over the store, as the binary builds
// it: the real connectors and a credential key of its own.
func monitoringService(tb testing.TB, st *store.Store) (*collect.Service, *clock) {
	tb.Helper()
	c := &clock{t: testNow}
	st.Now = c.now
	key := make([]byte, collect.SecretKeySize)
	rand.Read(key)
	sealer, err := collect.NewSealer(key)
	if err != nil {
		tb.Fatal(err)
	}
	return &collect.Service{
		Store:  st,
		Sealer: sealer,
		Connectors: map[string]collect.Factory{
			"aws": collect.JSONFactory(func(c aws.Config) (connector.Connector, error) { return aws.New(c, aws.Options{}) }),
			"github": collect.JSONFactory(func(c github.Config) (connector.Connector, error) {
				return github.New(c, github.Options{})
			}),
			"okta":   collect.JSONFactory(func(c okta.Config) (connector.Connector, error) { return okta.New(c, okta.Options{}) }),
			"google": collect.JSONFactory(func(c google.Config) (connector.Connector, error) { return google.New(c, google.Options{}) }),
		},
		Now:    c.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, c
}

func seedMonitored(tb testing.TB, st *store.Store, svc *collect.Service) *Result {
	tb.Helper()
	res, err := Seed(context.Background(), st, catalog.Default(), Options{Now: testNow, PasswordHash: testHash, Monitoring: svc})
	if err != nil {
		tb.Fatalf("Seed: %v", err)
	}
	return res
}

// allResources returns every resource of the inventory, gone ones included.
func allResources(tb testing.TB, st *store.Store, orgID int64) []domain.Resource {
	tb.Helper()
	var out []domain.Resource
	f := domain.ResourceFilter{IncludeGone: true, Limit: 500}
	for {
		page, err := st.Resources(context.Background(), orgID, f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

// demoResources is everything the seed reports in a run, connectors and roster.
func demoResources(run int) []monitor.Resource {
	inv := newInventory(testNow)
	var out []monitor.Resource
	for _, p := range connectionPlans {
		out = append(out, p.resources(inv, run)...)
	}
	return append(out, inv.roster()...)
}

// TestDemoInventory judges the demonstration's inventory without a store: every resource
// is what its type's schema says, and the library fails exactly the planned tests.
func TestDemoInventory(t *testing.T) {
	for _, run := range []int{1, 2} {
		rs := demoResources(run)
		seen := map[string]bool{}
		types := map[string]bool{}
		ptrs := make([]*monitor.Resource, len(rs))
		for i := range rs {
			r := &rs[i]
			// Through JSON, as the store keeps them.
			b, err := json.Marshal(r.Attributes)
			if err != nil {
				t.Fatal(err)
			}
			back := monitor.Resource{Type: r.Type, ExternalID: r.ExternalID, Name: r.Name}
			if err := json.Unmarshal(b, &back.Attributes); err != nil {
				t.Fatal(err)
			}
			for _, v := range []*monitor.Resource{r, &back} {
				if err := monitor.ValidateResource(v); err != nil {
					t.Errorf("run %d: %s %s: %v", run, r.Type, r.ExternalID, err)
				}
			}
			key := r.Type + " " + r.ExternalID
			if seen[key] {
				t.Errorf("run %d: %s appears twice", run, key)
			}
			seen[key] = true
			types[r.Type] = true
			ptrs[i] = &back
		}
		for _, s := range monitor.Schemas() {
			if want := s.Source != "scanner" && s.Source != "push"; types[s.Type] != want {
				t.Errorf("run %d: the inventory has %s: %v; want %v", run, s.Type, types[s.Type], want)
			}
		}
		for _, r := range ptrs {
			if err := monitor.Normalize(r); err != nil {
				t.Fatal(err)
			}
		}
		res, err := monitor.Evaluate(context.Background(), monitor.LibraryPrograms(), monitor.NewMemoryInventory(ptrs), testNow)
		if err != nil {
			t.Fatal(err)
		}
		failing := map[string][]string{}
		for _, tr := range res.Tests {
			if tr.Errors > 0 || tr.Err != "" {
				t.Errorf("run %d: %s reports errors: %+v", run, tr.TestID, tr)
			}
			for _, rr := range tr.Resources {
				if rr.Status == monitor.StatusFail {
					failing[tr.TestID] = append(failing[tr.TestID], rr.ExternalID)
				}
			}
		}
		want := map[string][]string{ExceptedTest: {ExceptedResource}}
		for id, ext := range FailingTests {
			want[id] = ext
		}
		if run == 1 {
			want[RecoveredTest] = []string{awsAccount + "/us-west-2"}
		}
		if diff := cmp.Diff(want, failing); diff != "" {
			t.Errorf("run %d: failing tests and resources (-want +got):\n%s", run, diff)
		}
	}
}

func TestSeedMonitoring(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc, clk := monitoringService(t, st)
		res := seedMonitored(t, st, svc)
		orgID := res.Org.ID

		// Four paused connections, each with two successful runs.
		conns, err := st.Connections(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]string{}
		for _, c := range conns {
			kinds[c.Name] = c.Kind
			if c.Enabled {
				t.Errorf("connection %q is enabled; want it paused", c.Name)
			}
			if c.LastRun == nil || c.LastRun.Status != domain.RunSucceeded || len(c.LastRun.Counts) == 0 {
				t.Errorf("connection %q last run = %+v; want a successful run with resources", c.Name, c.LastRun)
			}
			runs, err := st.ConnectionRuns(ctx, orgID, domain.RunFilter{ConnectionID: c.ID})
			if err != nil || len(runs) != 2 {
				t.Errorf("connection %q has %d runs (%v); want 2", c.Name, len(runs), err)
			}
		}
		wantKinds := map[string]string{AWSConnection: "aws", GitHubConnection: "github", OktaConnection: "okta", GoogleConnection: "google"}
		if diff := cmp.Diff(wantKinds, kinds); diff != "" {
			t.Errorf("connections (-want +got):\n%s", diff)
		}

		// The stored inventory is what the schemas say.
		types := map[string]int{}
		for _, r := range allResources(t, st, orgID) {
			if r.GoneAt != nil {
				t.Errorf("%s %s is gone", r.Type, r.ExternalID)
			}
			mr := monitor.Resource{Type: r.Type, ExternalID: r.ExternalID, Name: r.Name}
			if err := json.Unmarshal(r.Attributes, &mr.Attributes); err != nil {
				t.Fatal(err)
			}
			if err := monitor.ValidateResource(&mr); err != nil {
				t.Errorf("stored %s %s: %v", r.Type, r.ExternalID, err)
			}
			types[r.Type]++
		}
		if types["hr.person"] != len(roster) || types["okta.user"] == 0 || types["aws.iam.user"] == 0 || types["github.pull_request"] == 0 {
			t.Errorf("inventory types = %v; want every connector's and the roster", types)
		}

		// The outcome of each test as the pages show it after the seed: the planned
		// failures, the exception, no data for the types no connection reports, and
		// everything else passing.
		now := clk.now()
		sums, err := st.TestSummaries(ctx, orgID, now)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]domain.ResultStatus{}
		passing := 0
		for _, s := range sums {
			if s.Status == domain.ResultPass {
				passing++
				continue
			}
			got[s.TestID] = s.Status
		}
		want := map[string]domain.ResultStatus{ExceptedTest: domain.ResultExcepted}
		for id := range FailingTests {
			want[id] = domain.ResultFail
		}
		for _, tt := range monitor.Library() {
			if tt.Type == "device" || tt.Type == "finding" {
				want[tt.ID] = domain.ResultNoData
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tests not passing (-want +got):\n%s", diff)
		}
		if passing+len(want) != len(monitor.Library()) || passing < len(monitor.Library())*3/4 {
			t.Errorf("%d of %d tests pass; want all but the %d above, most of the library", passing, len(monitor.Library()), len(want))
		}
		for id, ext := range FailingTests {
			vs, err := st.TestVerdicts(ctx, orgID, id, now, domain.VerdictFilter{Status: domain.ResultFail})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, v := range vs {
				ids = append(ids, v.ExternalID)
			}
			if diff := cmp.Diff(ext, ids); diff != "" {
				t.Errorf("%s fails on (-want +got):\n%s", id, diff)
			}
		}

		// An alert of each kind: every failing test raised one in the first run; the fixed
		// test and the excepted one recovered in the second.
		alerts, err := st.Alerts(ctx, orgID, domain.AlertFilter{})
		if err != nil {
			t.Fatal(err)
		}
		byState := map[domain.AlertState][]string{}
		for _, a := range alerts {
			byState[a.State] = append(byState[a.State], a.TestID)
		}
		for _, ids := range byState {
			sort.Strings(ids)
		}
		wantFailing := []string{RecoveredTest, ExceptedTest}
		for id := range FailingTests {
			wantFailing = append(wantFailing, id)
		}
		sort.Strings(wantFailing)
		wantRecovered := []string{RecoveredTest, ExceptedTest}
		sort.Strings(wantRecovered)
		if diff := cmp.Diff(map[domain.AlertState][]string{domain.AlertFailing: wantFailing, domain.AlertRecovered: wantRecovered}, byState); diff != "" {
			t.Errorf("alerts (-want +got):\n%s", diff)
		}
		tasks, err := st.Tasks(ctx, orgID, domain.TaskFilter{})
		if err != nil {
			t.Fatal(err)
		}
		open := map[string]bool{}
		for _, task := range tasks {
			open[task.TestID] = true
			if task.AssigneeID == nil {
				t.Errorf("task %q has no assignee", task.Title)
			}
		}
		for id := range FailingTests {
			if !open[id] {
				t.Errorf("no open task for the failing test %s", id)
			}
		}
		if open[RecoveredTest] || open[ExceptedTest] {
			t.Errorf("open tasks %v include a recovered test's", open)
		}

		// The exception: approved by the IT lead, justified, and in force.
		excs, err := st.Exceptions(ctx, orgID, domain.ExceptionFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(excs) != 1 {
			t.Fatalf("%d exceptions; want 1", len(excs))
		}
		e := excs[0]
		if e.TestID != ExceptedTest || e.ExternalID != ExceptedResource || e.ApproverName != "Priya Raman" ||
			e.Justification == "" || !e.Active(now) || e.ExpiresAt.Before(testNow.AddDate(0, 5, 0)) {
			t.Errorf("exception = %+v; want the service account's, approved by Priya Raman for six months", e)
		}

		// The scheduler never runs the demonstration's connections, even once they are due.
		clk.advance(7 * time.Hour)
		ran, err := (&collect.Scheduler{Service: svc, Workers: 1}).RunDue(ctx)
		if err != nil || ran != 0 {
			t.Errorf("RunDue = %d, %v; want no run", ran, err)
		}
	})
}

// TestDemoConnectionsStayLocal checks that every address in the connections' sealed
// configurations is the closed local port, so that not even a run asked for by hand
// leaves the machine.
func TestDemoConnectionsStayLocal(t *testing.T) {
	st := storetest.SQLite(t)
	svc, _ := monitoringService(t, st)
	res := seedMonitored(t, st, svc)
	ctx := context.Background()
	conns, err := st.Connections(ctx, res.Org.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		sec, err := st.ConnectionSecret(ctx, res.Org.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := svc.Sealer.Open(res.Org.ID, c.Kind, *sec)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		addrs := 0
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case string:
				if strings.HasPrefix(x, "{") {
					var inner any
					if json.Unmarshal([]byte(x), &inner) == nil {
						walk(inner)
						return
					}
				}
				if u, err := url.Parse(x); err == nil && u.Scheme != "" && u.Host != "" {
					addrs++
					if u.Host != "127.0.0.1:9" {
						t.Errorf("connection %q points at %s; want the closed local port", c.Name, x)
					}
				}
			}
		}
		walk(cfg)
		if addrs == 0 {
			t.Errorf("connection %q has no address; the connector would reach its vendor", c.Name)
		}
	}
}

func TestSeedMonitoringIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc, _ := monitoringService(t, st)
		first := seedMonitored(t, st, svc)
		events, err := st.Events(ctx, first.Org.ID, domain.EventFilter{Limit: 1})
		if err != nil || len(events) != 1 {
			t.Fatalf("Events = %v, %v", events, err)
		}
		before := monitoringState(t, st, first.Org.ID)

		second := seedMonitored(t, st, svc)
		after, err := st.Events(ctx, first.Org.ID, domain.EventFilter{Limit: 1})
		if err != nil || len(after) != 1 {
			t.Fatalf("Events = %v, %v", after, err)
		}
		if after[0].Index != events[0].Index || second.Org.ID != first.Org.ID {
			t.Errorf("the second seed recorded events up to index %d (was %d); want none", after[0].Index, events[0].Index)
		}
		if diff := cmp.Diff(before, monitoringState(t, st, first.Org.ID)); diff != "" {
			t.Errorf("monitoring changed on the second seed (-first +second):\n%s", diff)
		}
	})
}

// monitoringState counts what the seed records, comparable across seeds.
func monitoringState(tb testing.TB, st *store.Store, orgID int64) map[string]int {
	tb.Helper()
	ctx := context.Background()
	out := map[string]int{}
	conns, err := st.Connections(ctx, orgID)
	if err != nil {
		tb.Fatal(err)
	}
	out["connections"] = len(conns)
	runs, err := st.ConnectionRuns(ctx, orgID, domain.RunFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	out["connection runs"] = len(runs)
	tests, err := st.TestRuns(ctx, orgID, domain.TestRunFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	out["test runs"] = len(tests)
	alerts, err := st.Alerts(ctx, orgID, domain.AlertFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	out["alerts"] = len(alerts)
	excs, err := st.Exceptions(ctx, orgID, domain.ExceptionFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	out["exceptions"] = len(excs)
	out["resources"] = len(allResources(tb, st, orgID))
	return out
}

// TestSeedMonitoringFinishesAnInterruptedSeed stops a seed after the first run and checks
// that the next one records the exception and the second run, and nothing twice.
func TestSeedMonitoringFinishesAnInterruptedSeed(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	svc, _ := monitoringService(t, st)
	res := seed(t, st) // the organization, without monitoring
	ids := map[string]int64{}
	for _, p := range People {
		u, err := st.UserByEmail(ctx, p.Email)
		if err != nil {
			t.Fatal(err)
		}
		ids[p.Email] = u.ID
	}
	conns, err := seedConnections(ctx, svc, res.Org.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	inv := newInventory(testNow)
	if err := recordRuns(ctx, svc, res.Org.ID, conns, inv, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.PushResources(ctx, domain.Actor{UserID: ids[lena], Email: lena}, res.Org.ID, HRSource, inv.roster(), true); err != nil {
		t.Fatal(err)
	}

	seedMonitored(t, st, svc)
	got := monitoringState(t, st, res.Org.ID)
	fresh := storetest.SQLite(t)
	freshSvc, _ := monitoringService(t, fresh)
	want := monitoringState(t, fresh, seedMonitored(t, fresh, freshSvc).Org.ID)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("finished seed differs from a whole one (-whole +finished):\n%s", diff)
	}
}

// TestSeedMonitoringGaps checks that readiness reports each failing test as a gap of the
// controls it supports, and not the excepted one.
func TestSeedMonitoringGaps(t *testing.T) {
	st := storetest.SQLite(t)
	svc, clk := monitoringService(t, st)
	res := seedMonitored(t, st, svc)
	rep, err := readiness.Compute(context.Background(), st, catalog.Default(), res.Org.ID, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	gaps := map[string][]string{}
	for _, g := range rep.Gaps {
		if g.Kind != readiness.GapTestFailing {
			continue
		}
		id := strings.Fields(strings.TrimPrefix(g.Detail, "The automated test "))[0]
		gaps[id] = append(gaps[id], g.ControlRef)
	}
	for id := range FailingTests {
		if len(gaps[id]) == 0 {
			t.Errorf("no readiness gap for the failing test %s", id)
		}
	}
	for _, id := range []string{ExceptedTest, RecoveredTest} {
		if len(gaps[id]) != 0 {
			t.Errorf("readiness reports %s as a gap of %v; want none", id, gaps[id])
		}
	}
	if len(gaps) != len(FailingTests) {
		t.Errorf("gaps for tests %v; want only the failing ones", gaps)
	}
	if rep.Score <= 0 || rep.Score >= 100 {
		t.Errorf("score = %v; want a program part way through readiness", rep.Score)
	}
}
