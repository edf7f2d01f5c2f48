package store_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

const vendorTest = `id: vendor-reviewed
title: Vendors are reviewed
description: Every vendor has a security review.
type: custom.vendor
expression: resource.reviewed == true
severity: high
remediation: Review the vendor.
controls: [AC-01, CM-01]
`

func TestCustomTests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		withClock(s)
		org := newOrg(t, s, "acme")
		ct, err := s.CreateCustomTest(ctx, admin, org.ID, vendorTest)
		must(t, "CreateCustomTest", err)
		want := domain.CustomTest{
			OrgID: org.ID, TestID: "vendor-reviewed", Title: "Vendors are reviewed", Type: "custom.vendor", Severity: "high",
			Controls: []string{"AC-01", "CM-01"}, Definition: vendorTest, Enabled: true, CreatedAt: monitorStart, UpdatedAt: monitorStart,
		}
		if diff := cmp.Diff(want, *ct); diff != "" {
			t.Errorf("created test mismatch (-want +got):\n%s", diff)
		}
		e := lastEvent(t, s, org.ID)
		if e.Type != domain.EventTestCreated || e.Subject != "test:vendor-reviewed" || eventData(t, e)["definition"] != vendorTest {
			t.Errorf("event = %s %s %s; want test.created with the definition", e.Type, e.Subject, e.Data)
		}
		_, err = s.CreateCustomTest(ctx, admin, org.ID, vendorTest)
		wantKind(t, "CreateCustomTest(same ID)", err, domain.KindConflict)
		lib := monitor.Library()[0]
		_, err = s.CreateCustomTest(ctx, admin, org.ID, strings.Replace(vendorTest, "vendor-reviewed", lib.ID, 1))
		wantKind(t, "CreateCustomTest(library ID)", err, domain.KindConflict)

		for _, tc := range []struct {
			name, def, field, contains string
		}{
			{"empty", " ", "definition", "required"},
			{"bad expression", strings.Replace(vendorTest, "resource.reviewed == true", "resource.reviewed ==", 1), "expression", "1:"},
			{"not bool", strings.Replace(vendorTest, "resource.reviewed == true", "resource.name", 1), "expression", "bool"},
			{"bad severity", strings.Replace(vendorTest, "severity: high", "severity: dire", 1), "severity", "line 6"},
			{"unknown field", vendorTest + "colour: red\n", "definition", "line 9"},
			{"not yaml", "id: [", "definition", "line"},
			{"two tests", "tests:\n  - " + strings.ReplaceAll(strings.TrimSpace(vendorTest), "\n", "\n    ") + "\n  - " +
				strings.ReplaceAll(strings.TrimSpace(strings.Replace(vendorTest, "vendor-reviewed", "other", 1)), "\n", "\n    ") + "\n",
				"definition", "exactly one"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.CreateCustomTest(ctx, admin, org.ID, tc.def)
				wantInvalid(t, "CreateCustomTest", err, tc.field)
				if !strings.Contains(domain.MessageOf(err), tc.contains) {
					t.Errorf("CreateCustomTest = %q; want it to mention %q", domain.MessageOf(err), tc.contains)
				}
			})
		}

		changed := strings.Replace(vendorTest, "severity: high", "severity: low", 1)
		up, err := s.UpdateCustomTest(ctx, admin, org.ID, "vendor-reviewed", changed)
		must(t, "UpdateCustomTest", err)
		if up.Severity != "low" || up.Definition != changed {
			t.Errorf("UpdateCustomTest = %+v; want severity low", up)
		}
		_, err = s.UpdateCustomTest(ctx, admin, org.ID, "vendor-reviewed", strings.Replace(vendorTest, "vendor-reviewed", "renamed", 1))
		wantInvalid(t, "UpdateCustomTest(new ID)", err, "id")
		_, err = s.UpdateCustomTest(ctx, admin, newOrg(t, s, "other").ID, "vendor-reviewed", changed)
		wantKind(t, "UpdateCustomTest(other org)", err, domain.KindNotFound)

		must(t, "SetTestEnabled(library, off)", s.SetTestEnabled(ctx, admin, org.ID, lib.ID, false))
		must(t, "SetTestEnabled(custom, off)", s.SetTestEnabled(ctx, admin, org.ID, "vendor-reviewed", false))
		n := len(trail(t, s, org.ID))
		must(t, "SetTestEnabled(again)", s.SetTestEnabled(ctx, admin, org.ID, lib.ID, false))
		if got := len(trail(t, s, org.ID)); got != n {
			t.Errorf("disabling a disabled test appended %d events; want none", got-n)
		}
		wantKind(t, "SetTestEnabled(unknown)", s.SetTestEnabled(ctx, admin, org.ID, "nope", false), domain.KindNotFound)
		disabled, err := s.DisabledTests(ctx, org.ID)
		must(t, "DisabledTests", err)
		wantDisabled := []string{lib.ID, "vendor-reviewed"}
		sort.Strings(wantDisabled)
		if diff := cmp.Diff(wantDisabled, disabled); diff != "" {
			t.Errorf("DisabledTests mismatch (-want +got):\n%s", diff)
		}
		ct, err = s.CustomTest(ctx, org.ID, "vendor-reviewed")
		must(t, "CustomTest", err)
		if ct.Enabled {
			t.Errorf("custom test enabled after SetTestEnabled(false)")
		}
		must(t, "SetTestEnabled(library, on)", s.SetTestEnabled(ctx, admin, org.ID, lib.ID, true))
		wantEvent(t, lastEvent(t, s, org.ID), domain.EventTestEnabled, "test:"+lib.ID, map[string]any{"test_id": lib.ID, "title": lib.Title})

		must(t, "DeleteCustomTest", s.DeleteCustomTest(ctx, admin, org.ID, "vendor-reviewed"))
		list, err := s.CustomTests(ctx, org.ID)
		must(t, "CustomTests", err)
		if len(list) != 0 {
			t.Errorf("CustomTests after delete = %d; want 0", len(list))
		}
		disabled, err = s.DisabledTests(ctx, org.ID)
		must(t, "DisabledTests", err)
		if len(disabled) != 0 {
			t.Errorf("DisabledTests after delete and enable = %v; want none", disabled)
		}
	})
}

// fixture is an organization with two owners of its controls, for test results.
type fixture struct {
	s          *store.Store
	clk        *clock
	org        *domain.Organization
	ann, ben   *domain.User
	ac01, cm01 *domain.Control
	test       monitor.Test
}

func newFixture(tb testing.TB, s *store.Store) *fixture {
	tb.Helper()
	f := &fixture{s: s, clk: withClock(s)}
	f.org = newOrg(tb, s, "acme")
	f.ann = newMember(tb, s, f.org.ID, "ann@acme.example", domain.RoleMember)
	f.ben = newMember(tb, s, f.org.ID, "ben@acme.example", domain.RoleAdmin)
	f.ac01 = controlByRef(tb, s, f.org.ID, "AC-01")
	f.cm01 = controlByRef(tb, s, f.org.ID, "CM-01")
	for _, c := range []struct {
		id    int64
		owner int64
	}{{f.ac01.ID, f.ann.ID}, {f.cm01.ID, f.ben.ID}} {
		owner := ptr(c.owner)
		if _, err := s.UpdateControl(ctx, admin, f.org.ID, c.id, domain.ControlChange{OwnerID: &owner}); err != nil {
			tb.Fatalf("UpdateControl = %v", err)
		}
	}
	f.test = monitor.Test{ID: "vendor-reviewed", Title: "Vendors are reviewed", Type: "custom.vendor",
		Severity: monitor.SeverityHigh, Remediation: "Review the vendor.", Controls: []string{"AC-01", "CM-01", "XX-99"}}
	_, err := s.UpsertResources(ctx, admin, f.org.ID, "sync", []monitor.Resource{
		res("custom.vendor", "v1", "Mail", nil), res("custom.vendor", "v2", "Pay", nil), res("custom.vendor", "v3", "Chat", nil),
	})
	must(tb, "UpsertResources", err)
	return f
}

// record records a run of the fixture's test with the verdicts given as "id=status".
func (f *fixture) record(tb testing.TB, verdicts ...string) (*domain.TestRun, []domain.Alert) {
	tb.Helper()
	tr := monitor.TestResult{TestID: f.test.ID, Type: f.test.Type, Resources: []monitor.ResourceResult{}}
	for _, v := range verdicts {
		id, status, _ := strings.Cut(v, "=")
		var st monitor.Status
		must(tb, "status", st.UnmarshalText([]byte(status)))
		msg := ""
		if st == monitor.StatusFail {
			msg = id + " is not reviewed"
		}
		tr.Resources = append(tr.Resources, monitor.ResourceResult{ExternalID: id, Status: st, Message: msg})
	}
	run, alerts, err := f.s.RecordTestRun(ctx, f.org.ID, domain.TriggerSchedule, nil, []monitor.Test{f.test},
		monitor.Results{At: f.clk.t, Tests: []monitor.TestResult{tr}})
	if err != nil {
		tb.Fatalf("RecordTestRun = %v", err)
	}
	return run, alerts
}

func (f *fixture) summary(tb testing.TB) domain.TestSummary {
	tb.Helper()
	sum, err := f.s.TestSummary(ctx, f.org.ID, f.test.ID, f.clk.t)
	must(tb, "TestSummary", err)
	return *sum
}

// tasks lists the organization's tasks matching filter, and checks that CountTasks
// counts as many.
func (f *fixture) tasks(tb testing.TB, filter domain.TaskFilter) []domain.Task {
	tb.Helper()
	ts, err := f.s.Tasks(ctx, f.org.ID, filter)
	must(tb, "Tasks", err)
	if n, err := f.s.CountTasks(ctx, f.org.ID, filter); err != nil || n != len(ts) {
		tb.Errorf("CountTasks(%+v) = %d, %v; want %d, as Tasks lists", filter, n, err, len(ts))
	}
	return ts
}

func TestTestResultsAlertsAndTasks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		run1, alerts := f.record(t, "v1=pass", "v2=pass")
		if len(alerts) != 0 || run1.Passing != 1 || run1.Tests != 1 {
			t.Errorf("first run = %+v with %d alerts; want 1 passing test and no alert", run1, len(alerts))
		}
		sum := f.summary(t)
		if sum.Status != domain.ResultPass || sum.Passed != 2 || !sum.Since.Equal(monitorStart) {
			t.Errorf("summary = %+v; want pass on 2 since the first run", sum)
		}

		f.clk.advance(time.Hour)
		run2, alerts := f.record(t, "v1=pass", "v2=fail", "v3=fail")
		if len(alerts) != 1 {
			t.Fatalf("alerts when the test starts failing = %d; want 1", len(alerts))
		}
		a := alerts[0]
		want := domain.Alert{
			ID: a.ID, OrgID: f.org.ID, TestID: f.test.ID, TestTitle: f.test.Title, Severity: "high", State: domain.AlertFailing,
			Failing: 2, ControlIDs: sortedIDs(f.ac01.ID, f.cm01.ID), OwnerIDs: sortedIDs(f.ann.ID, f.ben.ID), TestRunID: run2.ID,
			CreatedAt: f.clk.t,
		}
		if diff := cmp.Diff(want, a); diff != "" {
			t.Errorf("alert mismatch (-want +got):\n%s", diff)
		}
		e := lastEvent(t, s, f.org.ID)
		if e.Type != domain.EventTestFailing || e.Subject != "test:vendor-reviewed" || e.Actor != "system" {
			t.Errorf("last event = %s %s by %s; want test.failing by the system", e.Type, e.Subject, e.Actor)
		}
		annTasks := f.tasks(t, domain.TaskFilter{AssigneeID: f.ann.ID})
		if len(annTasks) != 1 || annTasks[0].Kind != domain.TaskFixTest || annTasks[0].AlertID != a.ID ||
			annTasks[0].AssigneeName != "ann" || !strings.Contains(annTasks[0].Detail, "fails on 2 resources") {
			t.Errorf("ann's tasks = %+v; want one task to fix the test", annTasks)
		}
		if got := f.tasks(t, domain.TaskFilter{}); len(got) != 2 {
			t.Errorf("open tasks = %d; want one per owner", len(got))
		}
		for _, tc := range []struct {
			filter domain.TaskFilter
			want   int
		}{
			{domain.TaskFilter{TestID: f.test.ID}, 2},
			{domain.TaskFilter{TestID: "another-test"}, 0},
			{domain.TaskFilter{AssigneeID: -1}, 0},
			{domain.TaskFilter{AssigneeID: f.ben.ID, TestID: f.test.ID}, 1},
			{domain.TaskFilter{ID: annTasks[0].ID}, 1},
			{domain.TaskFilter{ID: annTasks[0].ID, AssigneeID: f.ann.ID}, 1},
			{domain.TaskFilter{ID: annTasks[0].ID, AssigneeID: f.ben.ID}, 0},
		} {
			if got := f.tasks(t, tc.filter); len(got) != tc.want {
				t.Errorf("Tasks(%+v) = %d tasks; want %d", tc.filter, len(got), tc.want)
			}
		}
		sum = f.summary(t)
		if sum.Status != domain.ResultFail || sum.Failed != 2 || sum.Passed != 1 || !sum.Since.Equal(f.clk.t) || sum.LastRunID != run2.ID {
			t.Errorf("summary = %+v; want fail on 2 since now", sum)
		}
		failingSince := f.clk.t

		// Still failing: no new alert, no new task; the verdicts keep their since.
		f.clk.advance(time.Hour)
		_, alerts = f.record(t, "v1=pass", "v2=fail", "v3=fail")
		if len(alerts) != 0 || len(f.tasks(t, domain.TaskFilter{})) != 2 {
			t.Errorf("a test still failing raised %d alerts; want none and the same 2 tasks", len(alerts))
		}
		verdicts, err := s.TestVerdicts(ctx, f.org.ID, f.test.ID, f.clk.t, domain.VerdictFilter{})
		must(t, "TestVerdicts", err)
		wantVerdicts := []domain.Verdict{
			{TestID: f.test.ID, ExternalID: "v2", Name: "Pay", Status: domain.ResultFail, Message: "v2 is not reviewed", Since: failingSince},
			{TestID: f.test.ID, ExternalID: "v3", Name: "Chat", Status: domain.ResultFail, Message: "v3 is not reviewed", Since: failingSince},
			{TestID: f.test.ID, ExternalID: "v1", Name: "Mail", Status: domain.ResultPass, Since: monitorStart},
		}
		if diff := cmp.Diff(wantVerdicts, verdicts); diff != "" {
			t.Errorf("TestVerdicts mismatch (-want +got):\n%s", diff)
		}

		// An exception for v2 leaves v3 failing; with both excepted the test counts as recovered.
		exc := &domain.Exception{OrgID: f.org.ID, TestID: f.test.ID, ExternalID: "v2", Justification: "Retiring next month",
			ApproverID: f.ben.ID, ExpiresAt: f.clk.t.Add(30 * 24 * time.Hour)}
		must(t, "CreateException", s.CreateException(ctx, admin, exc))
		failing, err := s.FailingTests(ctx, f.org.ID, f.clk.t)
		must(t, "FailingTests", err)
		wantFailing := []domain.FailingTest{{TestID: f.test.ID, Title: f.test.Title, Type: f.test.Type, Severity: "high",
			Remediation: "Review the vendor.", Controls: []string{"AC-01", "CM-01", "XX-99"}, Failing: 1}}
		if diff := cmp.Diff(wantFailing, failing); diff != "" {
			t.Errorf("FailingTests mismatch (-want +got):\n%s", diff)
		}
		excepted, err := s.TestVerdicts(ctx, f.org.ID, f.test.ID, f.clk.t, domain.VerdictFilter{Status: domain.ResultExcepted})
		must(t, "TestVerdicts(excepted)", err)
		if len(excepted) != 1 || excepted[0].ExternalID != "v2" || excepted[0].ExceptionID == nil || *excepted[0].ExceptionID != exc.ID {
			t.Errorf("excepted verdicts = %+v; want v2 under exception %d", excepted, exc.ID)
		}
		// After expiry v2 fails again.
		if failing, _ := s.FailingTests(ctx, f.org.ID, exc.ExpiresAt); len(failing) != 1 || failing[0].Failing != 2 {
			t.Errorf("FailingTests at the exception's expiry = %+v; want 2 failing", failing)
		}

		f.clk.advance(time.Hour)
		v3 := &domain.Exception{OrgID: f.org.ID, TestID: f.test.ID, ExternalID: "v3", Justification: "Accepted risk",
			ApproverID: f.ann.ID, ExpiresAt: f.clk.t.Add(24 * time.Hour)}
		must(t, "CreateException(v3)", s.CreateException(ctx, admin, v3))
		if sum := f.summary(t); sum.Status != domain.ResultExcepted || sum.Excepted != 2 {
			t.Errorf("summary with every failure excepted = %+v; want excepted 2", sum)
		}
		run4, alerts := f.record(t, "v1=pass", "v2=fail", "v3=fail")
		if len(alerts) != 1 || alerts[0].State != domain.AlertRecovered {
			t.Fatalf("alerts once every failure is excepted = %+v; want one recovered", alerts)
		}
		if run4.Passing != 1 || run4.Failing != 0 {
			t.Errorf("run with every failure excepted = %+v; want the test counted passing", run4)
		}
		if got := f.tasks(t, domain.TaskFilter{}); len(got) != 0 {
			t.Errorf("open tasks after recovery = %d; want 0", len(got))
		}
		closed := f.tasks(t, domain.TaskFilter{IncludeClosed: true})
		if len(closed) != 2 || closed[0].Resolution != "recovered" || closed[0].ClosedAt == nil {
			t.Errorf("tasks after recovery = %+v; want 2 closed as recovered", closed)
		}

		// The past run's verdicts show the exceptions in force then: none at run 2.
		past, err := s.RunVerdicts(ctx, f.org.ID, run2.ID, f.test.ID)
		must(t, "RunVerdicts", err)
		if len(past) != 3 || past[0].Status != domain.ResultFail || past[1].Status != domain.ResultFail || past[0].Since != (time.Time{}) {
			t.Errorf("RunVerdicts(run 2) = %+v; want two failures without exception", past)
		}
		history, err := s.TestHistory(ctx, f.org.ID, f.test.ID, 0)
		must(t, "TestHistory", err)
		var got []string
		for _, p := range history {
			got = append(got, fmt.Sprintf("%s/%d/%d", p.Status, p.Failed, p.Excepted))
		}
		if diff := cmp.Diff([]string{"fail/2/2", "fail/2/0", "fail/2/0", "pass/0/0"}, got); diff != "" {
			t.Errorf("TestHistory (status/failed/excepted) mismatch (-want +got):\n%s", diff)
		}

		// A run recorded late (judged before the latest) is history only.
		late, _, err := s.RecordTestRun(ctx, f.org.ID, domain.TriggerSchedule, nil, []monitor.Test{f.test},
			monitor.Results{At: monitorStart, Tests: []monitor.TestResult{{TestID: f.test.ID, Type: f.test.Type,
				Resources: []monitor.ResourceResult{{ExternalID: "v1", Status: monitor.StatusFail}}}}})
		must(t, "RecordTestRun(late)", err)
		if sum := f.summary(t); sum.LastRunID != run4.ID {
			t.Errorf("summary after a late run = run %d; want run %d (the late run %d is history only)", sum.LastRunID, run4.ID, late.ID)
		}

		// Disabling the test drops its current results.
		must(t, "SetTestEnabled", s.SetTestEnabled(ctx, admin, f.org.ID, monitor.Library()[0].ID, false))
		_, _, err = s.RecordTestRun(ctx, f.org.ID, domain.TriggerManual, nil, nil, monitor.Results{At: f.clk.t.Add(time.Minute)})
		must(t, "RecordTestRun(no tests)", err)
		_, err = s.TestSummary(ctx, f.org.ID, f.test.ID, f.clk.t)
		wantKind(t, "TestSummary(no longer judged)", err, domain.KindNotFound)
		runs, err := s.TestRuns(ctx, f.org.ID, domain.TestRunFilter{})
		must(t, "TestRuns", err)
		if len(runs) != 6 {
			t.Errorf("TestRuns = %d; want 6", len(runs))
		}
		_, err = s.TestRun(ctx, newOrg(t, s, "other").ID, run2.ID)
		wantKind(t, "TestRun(other org)", err, domain.KindNotFound)
	})
}

func sortedIDs(ids ...int64) []int64 {
	slices.Sort(ids)
	return ids
}

func TestExceptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		f.record(t, "v1=pass", "v2=fail")
		outsider := newUser(t, s, "out@else.example")
		viewer := newMember(t, s, f.org.ID, "vic@acme.example", domain.RoleViewer)
		base := domain.Exception{OrgID: f.org.ID, TestID: f.test.ID, ExternalID: "v2", Justification: "Compensating control",
			ApproverID: f.ann.ID, ExpiresAt: f.clk.t.Add(90 * 24 * time.Hour)}
		for _, tc := range []struct {
			name  string
			edit  func(e *domain.Exception)
			field string
		}{
			{"no justification", func(e *domain.Exception) { e.Justification = " " }, "justification"},
			{"no approver", func(e *domain.Exception) { e.ApproverID = 0 }, "approver_id"},
			{"approver not a member", func(e *domain.Exception) { e.ApproverID = outsider.ID }, "approver_id"},
			{"approver a viewer", func(e *domain.Exception) { e.ApproverID = viewer.ID }, "approver_id"},
			{"expired", func(e *domain.Exception) { e.ExpiresAt = f.clk.t }, "expires_at"},
			{"too long", func(e *domain.Exception) { e.ExpiresAt = f.clk.t.Add(400 * 24 * time.Hour) }, "expires_at"},
			{"passing resource", func(e *domain.Exception) { e.ExternalID = "v1" }, "external_id"},
			{"unknown resource", func(e *domain.Exception) { e.ExternalID = "v9" }, "external_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := base
				tc.edit(&e)
				wantInvalid(t, "CreateException", s.CreateException(ctx, admin, &e), tc.field)
			})
		}
		// Nobody approves their own exception while someone else may.
		self := base
		self.ApproverID = f.ann.ID
		annActor := domain.Actor{UserID: f.ann.ID, Email: "ann@acme.example"}
		wantInvalid(t, "CreateException(approved by the requester)", s.CreateException(ctx, annActor, &self), "approver_id")
		e := base
		must(t, "CreateException", s.CreateException(ctx, admin, &e))
		if e.ID == 0 || e.ApproverName != "ann" || !e.CreatedAt.Equal(f.clk.t) || e.RevokedAt != nil {
			t.Errorf("created exception = %+v; want stored with the approver's name", e)
		}
		wantEvent(t, lastEvent(t, s, f.org.ID), domain.EventExceptionCreated, subject("exception", e.ID), map[string]any{
			"exception_id": num(e.ID), "test_id": f.test.ID, "external_id": "v2", "justification": "Compensating control",
			"approver_id": num(f.ann.ID), "approver": "ann@acme.example", "expires_at": base.ExpiresAt.Format(time.RFC3339),
		})
		dup := base
		wantKind(t, "CreateException(again)", s.CreateException(ctx, admin, &dup), domain.KindConflict)

		active, err := s.Exceptions(ctx, f.org.ID, domain.ExceptionFilter{ActiveAt: &f.clk.t})
		must(t, "Exceptions", err)
		if len(active) != 1 || active[0].ID != e.ID {
			t.Errorf("active exceptions = %+v; want the one", active)
		}
		f.clk.advance(time.Hour)
		wantKind(t, "RevokeException(other org)", s.RevokeException(ctx, admin, newOrg(t, s, "other").ID, e.ID), domain.KindNotFound)
		must(t, "RevokeException", s.RevokeException(ctx, admin, f.org.ID, e.ID))
		wantEvent(t, lastEvent(t, s, f.org.ID), domain.EventExceptionRevoked, subject("exception", e.ID), map[string]any{
			"exception_id": num(e.ID), "test_id": f.test.ID, "external_id": "v2",
		})
		wantKind(t, "RevokeException(again)", s.RevokeException(ctx, admin, f.org.ID, e.ID), domain.KindConflict)
		active, err = s.Exceptions(ctx, f.org.ID, domain.ExceptionFilter{ActiveAt: &f.clk.t})
		must(t, "Exceptions", err)
		if len(active) != 0 {
			t.Errorf("active exceptions after revocation = %d; want 0", len(active))
		}
		if sum := f.summary(t); sum.Status != domain.ResultFail || sum.Excepted != 0 {
			t.Errorf("summary after revocation = %+v; want failing, nothing excepted", sum)
		}
		again := base
		again.ExpiresAt = f.clk.t.Add(24 * time.Hour)
		must(t, "CreateException(after revocation)", s.CreateException(ctx, admin, &again))
	})
}

func TestPendingAlerts(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		f := newFixture(t, a)
		b.Now = f.clk.now
		f.record(t, "v1=fail")
		f.clk.advance(time.Hour)
		f.record(t, "v1=pass")
		all, err := a.Alerts(ctx, f.org.ID, domain.AlertFilter{})
		must(t, "Alerts", err)
		if len(all) != 2 || all[0].State != domain.AlertRecovered || all[1].State != domain.AlertFailing {
			t.Fatalf("Alerts = %+v; want recovered then failing, newest first", all)
		}

		got, err := a.PendingAlerts(ctx, "notifier-a", time.Minute, 1)
		must(t, "PendingAlerts(a)", err)
		if len(got) != 1 || got[0].ID != all[1].ID {
			t.Fatalf("PendingAlerts(a, 1) = %+v; want the oldest alert", got)
		}
		got2, err := b.PendingAlerts(ctx, "notifier-b", time.Minute, 10)
		must(t, "PendingAlerts(b)", err)
		if len(got2) != 1 || got2[0].ID != all[0].ID {
			t.Fatalf("PendingAlerts(b) = %+v; want only the alert a has not claimed", got2)
		}
		must(t, "MarkDelivered(b)", b.MarkDelivered(ctx, "notifier-b", got2[0].ID))
		wantKind(t, "MarkDelivered(twice)", b.MarkDelivered(ctx, "notifier-b", got2[0].ID), domain.KindConflict)
		wantKind(t, "MarkDelivered(unknown)", b.MarkDelivered(ctx, "notifier-b", 999999), domain.KindNotFound)

		// notifier-a dies; after its lease notifier-b claims the alert and delivers it.
		f.clk.advance(2 * time.Minute)
		got2, err = b.PendingAlerts(ctx, "notifier-b", time.Minute, 10)
		must(t, "PendingAlerts(b, after the lease)", err)
		if len(got2) != 1 || got2[0].ID != got[0].ID {
			t.Fatalf("PendingAlerts after a's lease = %+v; want a's alert", got2)
		}
		wantKind(t, "MarkDelivered(lost claim)", a.MarkDelivered(ctx, "notifier-a", got[0].ID), domain.KindConflict)
		must(t, "MarkDelivered", b.MarkDelivered(ctx, "notifier-b", got[0].ID))
		left, err := a.PendingAlerts(ctx, "notifier-a", time.Minute, 10)
		must(t, "PendingAlerts(none left)", err)
		if len(left) != 0 {
			t.Errorf("PendingAlerts after delivery = %+v; want none", left)
		}
		all, err = a.Alerts(ctx, f.org.ID, domain.AlertFilter{})
		must(t, "Alerts", err)
		for _, al := range all {
			if al.DeliveredAt == nil {
				t.Errorf("alert %d not delivered", al.ID)
			}
		}
	})
}

func TestCloseTask(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		f.record(t, "v1=fail")
		tasks := f.tasks(t, domain.TaskFilter{AssigneeID: f.ben.ID})
		if len(tasks) != 1 {
			t.Fatalf("ben's tasks = %d; want 1", len(tasks))
		}
		must(t, "CloseTask", s.CloseTask(ctx, admin, f.org.ID, tasks[0].ID))
		wantEvent(t, lastEvent(t, s, f.org.ID), domain.EventTaskClosed, subject("task", tasks[0].ID), map[string]any{
			"task_id": num(tasks[0].ID), "test_id": f.test.ID, "title": tasks[0].Title,
		})
		wantKind(t, "CloseTask(again)", s.CloseTask(ctx, admin, f.org.ID, tasks[0].ID), domain.KindConflict)
		if got := f.tasks(t, domain.TaskFilter{AssigneeID: f.ben.ID}); len(got) != 0 {
			t.Errorf("ben's open tasks after closing = %d; want 0", len(got))
		}
		// A test failing on without recovering opens no new task for its dismissed owner.
		f.clk.advance(time.Hour)
		f.record(t, "v1=fail")
		if got := f.tasks(t, domain.TaskFilter{AssigneeID: f.ben.ID}); len(got) != 0 {
			t.Errorf("ben's open tasks while the test keeps failing = %d; want 0", len(got))
		}
	})
}
