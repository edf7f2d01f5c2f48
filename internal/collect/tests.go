package collect

import (
	"context"
	"fmt"
	"slices"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// TestInfo is a test as an organization has it: from the library or its own, enabled or not.
type TestInfo struct {
	Test    monitor.Test
	Custom  bool
	Enabled bool
	// Err says why one of the organization's own tests no longer compiles (the resource
	// schemas changed since it was written); such a test reports an error when run.
	Err string
}

// compileCustom parses and compiles one of the organization's own tests. A test that no
// longer parses keeps the fields the store read from it.
func compileCustom(ct domain.CustomTest) (monitor.Test, *monitor.Program, error) {
	fallback := monitor.Test{
		ID: ct.TestID, Title: ct.Title, Type: ct.Type, Severity: monitor.Severity(ct.Severity),
		Controls: slices.Clone(ct.Controls), Remediation: "Correct the test's definition.",
	}
	tests, err := monitor.ParseTests(ct.TestID, []byte(ct.Definition))
	if err != nil {
		return fallback, nil, err
	}
	if len(tests) != 1 {
		return fallback, nil, fmt.Errorf("the definition holds %d tests", len(tests))
	}
	p, err := monitor.Compile(tests[0])
	if err != nil {
		return tests[0], nil, err
	}
	return tests[0], p, nil
}

// Tests lists the organization's tests: the library's, then its own, each with whether it
// is enabled.
func (s *Service) Tests(ctx context.Context, orgID int64) ([]TestInfo, error) {
	disabled, err := s.disabled(ctx, orgID)
	if err != nil {
		return nil, err
	}
	custom, err := s.Store.CustomTests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var out []TestInfo
	for _, t := range monitor.Library() {
		out = append(out, TestInfo{Test: t, Enabled: !disabled[t.ID]})
	}
	for _, ct := range custom {
		t, _, err := compileCustom(ct)
		info := TestInfo{Test: t, Custom: true, Enabled: ct.Enabled}
		if err != nil {
			info.Err = err.Error()
		}
		out = append(out, info)
	}
	return out, nil
}

func (s *Service) disabled(ctx context.Context, orgID int64) (map[string]bool, error) {
	ids, err := s.Store.DisabledTests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// enabledTests returns the definitions of the organization's enabled tests.
func (s *Service) enabledTests(ctx context.Context, orgID int64) ([]monitor.Test, error) {
	all, err := s.Tests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var out []monitor.Test
	for _, t := range all {
		if t.Enabled {
			out = append(out, t.Test)
		}
	}
	return out, nil
}

// RunTests judges the organization's inventory with its enabled tests now, records the
// results and raises the alerts of the tests whose outcome changed.
func (s *Service) RunTests(ctx context.Context, orgID int64) (*domain.TestRun, error) {
	return s.runTests(ctx, orgID, domain.TriggerManual, nil)
}

// runTests evaluates and records a test run.
func (s *Service) runTests(ctx context.Context, orgID int64, trigger domain.RunTrigger, connectionRunID *int64) (*domain.TestRun, error) {
	disabled, err := s.disabled(ctx, orgID)
	if err != nil {
		return nil, err
	}
	custom, err := s.Store.CustomTests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var tests []monitor.Test
	var programs []*monitor.Program
	for _, p := range monitor.LibraryPrograms() {
		if t := p.Test(); !disabled[t.ID] {
			tests = append(tests, t)
			programs = append(programs, p)
		}
	}
	broken := map[string]string{}
	var brokenTests []monitor.Test
	for _, ct := range custom {
		if !ct.Enabled {
			continue
		}
		t, p, err := compileCustom(ct)
		if err != nil {
			broken[t.ID] = "the test does not compile: " + err.Error()
			brokenTests = append(brokenTests, t)
			continue
		}
		tests = append(tests, t)
		programs = append(programs, p)
	}
	now := s.now()
	res, err := monitor.Evaluate(ctx, programs, s.Store.Inventory(orgID), now)
	if err != nil {
		return nil, fmt.Errorf("evaluate tests: %w", err)
	}
	for _, t := range brokenTests {
		tests = append(tests, t)
		res.Tests = append(res.Tests, monitor.TestResult{
			TestID: t.ID, Type: t.Type, Status: monitor.StatusError, Resources: []monitor.ResourceResult{}, Err: broken[t.ID],
		})
	}
	run, alerts, err := s.Store.RecordTestRun(ctx, orgID, trigger, connectionRunID, tests, res)
	if err != nil {
		return nil, err
	}
	s.logger().Info("tests run", "org_id", orgID, "test_run_id", run.ID, "tests", run.Tests, "failing", run.Failing,
		"alerts", len(alerts))
	return run, nil
}

// PushResources stores resources sent through the push API or an import, under the
// source given (the client's or import's name), all or nothing, then judges the
// organization's inventory. With replace, resources of the source that are not sent are
// marked gone (a scanner's full report); without, they are left as they are. It returns
// what changed and the test run; when the resources were stored but the tests could not
// be run, it returns the summary with a *TestsNotRunError.
func (s *Service) PushResources(ctx context.Context, actor domain.Actor, orgID int64, source string, rs []monitor.Resource, replace bool) (domain.UpsertSummary, *domain.TestRun, error) {
	store := s.Store.UpsertResources
	if replace {
		store = s.Store.ReplaceResources
	}
	sum, err := store(ctx, actor, orgID, source, rs)
	if err != nil {
		return domain.UpsertSummary{}, nil, err
	}
	run, err := s.runTests(ctx, orgID, domain.TriggerPush, nil)
	if err != nil {
		return sum, nil, &TestsNotRunError{Err: err}
	}
	return sum, run, nil
}

// TestsNotRunError is PushResources' error when the resources were stored but the tests
// could not be run over them: the push or import itself succeeded.
type TestsNotRunError struct{ Err error }

func (e *TestsNotRunError) Error() string {
	return "run tests after storing resources: " + e.Err.Error()
}
func (e *TestsNotRunError) Unwrap() error { return e.Err }
