package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/readiness"
)

// testStore is the part of the store the tests pages and routes use.
type testStore interface {
	// CreateCustomTest, UpdateCustomTest and DeleteCustomTest keep the organization's own
	// tests; the store validates and compiles each definition again.
	CreateCustomTest(ctx context.Context, actor domain.Actor, orgID int64, definition string) (*domain.CustomTest, error)
	UpdateCustomTest(ctx context.Context, actor domain.Actor, orgID int64, testID, definition string) (*domain.CustomTest, error)
	DeleteCustomTest(ctx context.Context, actor domain.Actor, orgID int64, testID string) error
	CustomTest(ctx context.Context, orgID int64, testID string) (*domain.CustomTest, error)
	// SetTestEnabled enables or disables a library or custom test.
	SetTestEnabled(ctx context.Context, actor domain.Actor, orgID int64, testID string, enabled bool) error
	// TestSummary is a test's current outcome; KindNotFound before its first run.
	TestSummary(ctx context.Context, orgID int64, testID string, now time.Time) (*domain.TestSummary, error)
	TestVerdicts(ctx context.Context, orgID int64, testID string, now time.Time, f domain.VerdictFilter) ([]domain.Verdict, error)
	TestHistoryBefore(ctx context.Context, orgID int64, testID string, before int64, limit int) ([]domain.TestHistoryPoint, error)
	TestRun(ctx context.Context, orgID, id int64) (*domain.TestRun, error)
	// ResourcesByExternalID finds the inventory's resources behind verdicts.
	ResourcesByExternalID(ctx context.Context, orgID int64, typ string, externalIDs []string) (map[string]domain.Resource, error)
	// Inventory is what a test being written is checked against, without saving it.
	Inventory(orgID int64) monitor.Inventory

	CreateException(ctx context.Context, actor domain.Actor, e *domain.Exception) error
	Exception(ctx context.Context, orgID, id int64) (*domain.Exception, error)
	// ExceptionsInState lists exceptions active, expired or revoked at a time; any other
	// state is KindInvalid for "state", so that the handlers need not check it again.
	ExceptionsInState(ctx context.Context, orgID int64, state string, at time.Time, before int64, f domain.ExceptionFilter) ([]domain.Exception, error)
	// ExceptionEvents returns the ledger entries of exceptions, oldest first.
	ExceptionEvents(ctx context.Context, orgID int64, ids []int64) ([]domain.Event, error)
	RevokeExceptionWithReason(ctx context.Context, actor domain.Actor, orgID, id int64, reason string) error
}

// routesTests registers the tests pages: the list, a page per test, custom tests,
// accepting a failure with an exception, and the exceptions.
//
// The form for a new test lives at /tests/custom/new and every other page of a test under
// /tests/{id}/…, so that no test ID, which may be any lower-case word, shadows a page.
func (s *Server) routesTests(mux *http.ServeMux) {
	mux.HandleFunc("GET /tests", s.signedIn(s.testsPage))
	mux.HandleFunc("GET /tests.csv", s.signedIn(s.testsCSV))
	mux.HandleFunc("POST /tests/run", s.editor(s.runTestsNow))
	mux.HandleFunc("GET /tests/custom/new", s.editor(s.newTestPage))
	mux.HandleFunc("POST /tests/custom/new", s.editor(s.createTest))
	mux.HandleFunc("GET /tests/{id}", s.signedIn(s.testPage))
	mux.HandleFunc("GET /tests/{id}/edit", s.editor(s.editTestPage))
	mux.HandleFunc("POST /tests/{id}/edit", s.editor(s.updateTest))
	mux.HandleFunc("POST /tests/{id}/delete", s.editor(s.deleteTest))
	mux.HandleFunc("POST /tests/{id}/enable", s.editor(s.enableTest))
	mux.HandleFunc("POST /tests/{id}/disable", s.editor(s.disableTest))
	mux.HandleFunc("GET /tests/{id}/accept", s.editor(s.acceptPage))
	mux.HandleFunc("POST /tests/{id}/accept", s.editor(s.acceptFailure))

	mux.HandleFunc("GET /exceptions", s.signedIn(s.exceptionsPage))
	mux.HandleFunc("GET /exceptions.csv", s.signedIn(s.exceptionsCSV))
	mux.HandleFunc("GET /exceptions/{id}/revoke", s.editor(s.revokeExceptionPage))
	mux.HandleFunc("POST /exceptions/{id}/revoke", s.editor(s.revokeException))
}

// testService returns the collect service and the monitoring store, or an error when the
// server has no continuous monitoring.
func (s *Server) testService() (*collect.Service, MonitoringStore, error) {
	if s.cfg.Collect == nil || s.cfg.Monitoring == nil {
		return nil, nil, errNoMonitoring
	}
	return s.cfg.Collect, s.cfg.Monitoring, nil
}

// The states of a test as the pages show it: its outcome at the latest run, or why it
// has none.
const (
	testFailing  = "failing"      // a failing resource has no exception
	testExcepted = "excepted"     // every failing resource has an exception
	testErroring = "error"        // the test could not judge a resource, or could not run
	testPassing  = "passing"      // every resource passes
	testNoData   = "no_resources" // the test selected no resource
	testNotRun   = "not_run"      // enabled, not judged yet
	testDisabled = "disabled"     // not judged at all
)

// testStates lists the states in the order the list sorts them: what needs attention first.
var testStates = []string{testFailing, testErroring, testExcepted, testPassing, testNoData, testNotRun, testDisabled}

// testStateLabel names a state for people.
func testStateLabel(state string) string {
	switch state {
	case testFailing:
		return "Failing"
	case testExcepted:
		return "Excepted"
	case testErroring:
		return "Error"
	case testPassing:
		return "Passing"
	case testNoData:
		return "No resources"
	case testNotRun:
		return "Not run"
	case testDisabled:
		return "Disabled"
	}
	return state
}

// testStateBadge is a state as a badge: its colour and its word.
func testStateBadge(state string) template.HTML {
	return template.HTML(`<span class="badge test-` + template.HTMLEscapeString(state) + `"><span class="dot" aria-hidden="true"></span>` +
		template.HTMLEscapeString(testStateLabel(state)) + `</span>`)
}

// testEntry is one of an organization's tests with its current outcome.
type testEntry struct {
	collect.TestInfo
	// Summary is the outcome at the latest run; nil before the first, and while disabled.
	Summary *domain.TestSummary
}

// State is the test's state: its outcome, or not run or disabled.
func (e *testEntry) State() string {
	switch {
	case !e.Enabled:
		return testDisabled
	case e.Summary == nil:
		return testNotRun
	}
	switch e.Summary.Status {
	case domain.ResultFail:
		return testFailing
	case domain.ResultExcepted:
		return testExcepted
	case domain.ResultError:
		return testErroring
	case domain.ResultPass:
		return testPassing
	}
	return testNoData
}

// StateBadge is the state as a badge.
func (e *testEntry) StateBadge() template.HTML { return testStateBadge(e.State()) }

// Failing counts the failing resources without an exception.
func (e *testEntry) Failing() int {
	if e.Summary == nil || !e.Enabled {
		return 0
	}
	return e.Summary.Failed - e.Summary.Excepted
}

// Severity is the test's severity as the severity badge shows it.
func (e *testEntry) Severity() readiness.Severity { return readiness.Severity(e.Test.Severity) }

// URL is the test's page.
func (e *testEntry) URL() string { return testURL(e.Test.ID) }

// LastRunAt is when the test was last judged, zero if never.
func (e *testEntry) LastRunAt() time.Time {
	if e.Summary == nil {
		return time.Time{}
	}
	return e.Summary.LastRunAt
}

// Origin says where the test comes from.
func (e *testEntry) Origin() string {
	if e.Custom {
		return "Custom"
	}
	return "Library"
}

func testURL(id string) string { return "/tests/" + id }

// resourceURL is the page of a resource of the inventory.
func resourceURL(id int64) string { return fmt.Sprintf("/inventory/resources/%d", id) }

// severityRank orders severities from most severe.
func severityRank(s monitor.Severity) int {
	if i := slices.Index(monitor.Severities, s); i >= 0 {
		return i
	}
	return len(monitor.Severities)
}

// stateRank orders states as testStates does.
func stateRank(state string) int {
	if i := slices.Index(testStates, state); i >= 0 {
		return i
	}
	return len(testStates)
}

// loadTests returns the organization's tests, the library's then its own, each with its
// current outcome.
func (s *Server) loadTests(ctx context.Context, orgID int64) ([]testEntry, error) {
	svc, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	infos, err := svc.Tests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	sums, err := mon.TestSummaries(ctx, orgID, s.now())
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*domain.TestSummary, len(sums))
	for i := range sums {
		byID[sums[i].TestID] = &sums[i]
	}
	out := make([]testEntry, len(infos))
	for i, info := range infos {
		out[i] = testEntry{TestInfo: info, Summary: byID[info.Test.ID]}
	}
	return out, nil
}

// testsByID indexes tests by ID.
func testsByID(ts []testEntry) map[string]*testEntry {
	out := make(map[string]*testEntry, len(ts))
	for i := range ts {
		out[ts[i].Test.ID] = &ts[i]
	}
	return out
}

// loadTest returns one of the organization's tests with its current outcome. A test the
// organization does not have, such as another organization's own, is KindNotFound.
func (s *Server) loadTest(ctx context.Context, orgID int64, id string) (*testEntry, error) {
	svc, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	infos, err := svc.Tests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		if info.Test.ID != id {
			continue
		}
		e := &testEntry{TestInfo: info}
		sum, err := mon.TestSummary(ctx, orgID, id, s.now())
		switch {
		case err == nil:
			e.Summary = sum
		case !domain.IsNotFound(err):
			return nil, err
		}
		return e, nil
	}
	return nil, domain.NotFound("test")
}

// controlLink is a control ref a test names, with the organization's control of that ref
// when it has one.
type controlLink struct {
	Ref     string
	Title   string
	ID      int64 // 0: the organization has no control with this ref
	Retired bool
	// URL is the control's page, or "" when the organization has no such control.
	URL string
}

// controlsByRef maps the refs of the organization's controls, retired ones included, to
// links to them.
func (s *Server) controlsByRef(ctx context.Context, orgID int64) (map[string]controlLink, error) {
	cs, err := s.cfg.Store.Controls(ctx, orgID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		return nil, err
	}
	out := make(map[string]controlLink, len(cs))
	for _, c := range cs {
		out[c.Ref] = controlLink{Ref: c.Ref, Title: c.Title, ID: c.ID, Retired: c.Retired(), URL: controlURL(&c)}
	}
	return out, nil
}

// controlLinks returns the links for a test's control refs.
func controlLinks(refs []string, byRef map[string]controlLink) []controlLink {
	out := make([]controlLink, 0, len(refs))
	for _, ref := range refs {
		if c, ok := byRef[ref]; ok {
			out = append(out, c)
			continue
		}
		out = append(out, controlLink{Ref: ref})
	}
	return out
}

// controlTests returns the tests that support the control with the given ref, failing
// ones first, for the control's page. Without continuous monitoring it returns none.
func (s *Server) controlTests(ctx context.Context, orgID int64, ref string) ([]testEntry, error) {
	if s.cfg.Collect == nil || s.cfg.Monitoring == nil {
		return nil, nil
	}
	all, err := s.loadTests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var out []testEntry
	for _, e := range all {
		if slices.Contains(e.Test.Controls, ref) {
			out = append(out, e)
		}
	}
	sortTests(out, "")
	return out, nil
}

// sortTests orders tests by the list's sort key. The default puts what needs attention
// first: failing tests, most severe and with the most failures first, then errors,
// excepted, passing, without resources, not run and disabled ones.
func sortTests(ts []testEntry, key string) {
	byTitle := func(a, b *testEntry) int {
		if c := strings.Compare(strings.ToLower(a.Test.Title), strings.ToLower(b.Test.Title)); c != 0 {
			return c
		}
		return strings.Compare(a.Test.ID, b.Test.ID)
	}
	bySeverity := func(a, b *testEntry) int { return severityRank(a.Test.Severity) - severityRank(b.Test.Severity) }
	byState := func(a, b *testEntry) int { return stateRank(a.State()) - stateRank(b.State()) }
	byFailing := func(a, b *testEntry) int { return b.Failing() - a.Failing() }
	chain := func(cmps ...func(a, b *testEntry) int) func(a, b testEntry) int {
		return func(a, b testEntry) int {
			for _, c := range cmps {
				if r := c(&a, &b); r != 0 {
					return r
				}
			}
			return 0
		}
	}
	switch key {
	case "severity":
		slices.SortStableFunc(ts, chain(bySeverity, byState, byFailing, byTitle))
	case "title":
		slices.SortStableFunc(ts, chain(byTitle))
	case "failing":
		slices.SortStableFunc(ts, chain(byFailing, bySeverity, byTitle))
	case "last_run":
		slices.SortStableFunc(ts, chain(func(a, b *testEntry) int { return b.LastRunAt().Compare(a.LastRunAt()) }, byTitle))
	default:
		slices.SortStableFunc(ts, chain(byState, bySeverity, byFailing, byTitle))
	}
}

// runSummary says what a test run found, for the flash after "Run tests now".
func runSummary(run *domain.TestRun) string {
	return fmt.Sprintf("Ran %s: %d failing, %d passing, %d with errors, %d without resources.",
		plural(run.Tests, "test"), run.Failing, run.Passing, run.Erroring, run.NoData)
}
