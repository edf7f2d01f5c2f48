package web

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/readiness"
)

// testQuery is the tests list's filter and order as the GET form submits them.
type testQuery struct {
	Q        string
	Status   string // a test state
	Severity string
	Origin   string // "library" or "custom"
	Sort     string // "", "severity", "title", "failing" or "last_run"
}

// testSorts are the list's orders, for the sort select.
var testSorts = []struct{ Key, Label string }{
	{"", "Needs attention first"},
	{"severity", "Severity"},
	{"failing", "Most failing resources"},
	{"title", "Title"},
	{"last_run", "Last run"},
}

// parseTestQuery reads the list's filter. Unknown values are KindInvalid naming the
// parameter, so that a mistyped link says so instead of showing everything.
func parseTestQuery(v url.Values) (testQuery, error) {
	q := testQuery{
		Q: strings.TrimSpace(v.Get("q")), Status: v.Get("status"), Severity: v.Get("severity"),
		Origin: v.Get("origin"), Sort: v.Get("sort"),
	}
	switch {
	case q.Status != "" && !slices.Contains(testStates, q.Status):
		return q, domain.Invalid("status", "must be one of %s", strings.Join(testStates, ", "))
	case q.Severity != "" && !monitor.Severity(q.Severity).Valid():
		return q, domain.Invalid("severity", "must be one of critical, high, medium, low")
	case q.Origin != "" && q.Origin != "library" && q.Origin != "custom":
		return q, domain.Invalid("origin", "must be library or custom")
	}
	if !slices.ContainsFunc(testSorts, func(o struct{ Key, Label string }) bool { return o.Key == q.Sort }) {
		return q, domain.Invalid("sort", "must be severity, failing, title or last_run")
	}
	return q, nil
}

// Encode is the filter as a query string, for the CSV link.
func (q testQuery) Encode() string {
	v := url.Values{}
	for k, x := range map[string]string{"q": q.Q, "status": q.Status, "severity": q.Severity, "origin": q.Origin, "sort": q.Sort} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v.Encode()
}

// Active reports whether any filter is set (the order is not a filter).
func (q testQuery) Active() bool {
	return q.Q != "" || q.Status != "" || q.Severity != "" || q.Origin != ""
}

// match reports whether a test passes the filter.
func (q testQuery) match(e *testEntry) bool {
	switch {
	case q.Status != "" && e.State() != q.Status:
		return false
	case q.Severity != "" && string(e.Test.Severity) != q.Severity:
		return false
	case q.Origin == "library" && e.Custom, q.Origin == "custom" && !e.Custom:
		return false
	}
	if q.Q == "" {
		return true
	}
	needle := strings.ToLower(q.Q)
	for _, hay := range append([]string{e.Test.ID, e.Test.Title, e.Test.Description, e.Test.Type}, e.Test.Controls...) {
		if strings.Contains(strings.ToLower(hay), needle) {
			return true
		}
	}
	return false
}

// filterTests returns the tests that pass the filter, in the query's order.
func filterTests(all []testEntry, q testQuery) []testEntry {
	var out []testEntry
	for i := range all {
		if q.match(&all[i]) {
			out = append(out, all[i])
		}
	}
	sortTests(out, q.Sort)
	return out
}

// stateCount is one state's count, for the pills above the list.
type stateCount struct {
	State string
	Count int
}

// Badge is the state's badge.
func (c stateCount) Badge() template.HTML { return testStateBadge(c.State) }

// Label is the state in words.
func (c stateCount) Label() string { return testStateLabel(c.State) }

// testRow is a test as the list shows it. Its fields are computed once, so that a list
// of every test does not have the template look each of them up through the entry.
type testRow struct {
	ID, Title, Type, URL string
	Err                  string // why one of the organization's own tests no longer compiles
	Custom, Enabled      bool
	State                string
	Badge                template.HTML
	Failing, Excepted    int
	Severity             readiness.Severity
	Controls             []controlLink
	LastRunAt            time.Time
}

func newTestRow(e *testEntry, byRef map[string]controlLink) testRow {
	r := testRow{ID: e.Test.ID, Title: e.Test.Title, Type: e.Test.Type, URL: e.URL(), Err: e.Err, Custom: e.Custom,
		Enabled: e.Enabled, State: e.State(), Failing: e.Failing(), Severity: e.Severity(),
		Controls: controlLinks(e.Test.Controls, byRef), LastRunAt: e.LastRunAt()}
	r.Badge = testStateBadge(r.State)
	if e.Summary != nil && e.Enabled {
		r.Excepted = e.Summary.Excepted
	}
	return r
}

// testsView is the data of the tests list.
type testsView struct {
	Query      testQuery
	Tests      []testRow
	Total      int
	Severities []readiness.Severity
	States     []stateCount
	Sorts      any
	Export     string
	LastRun    time.Time
	Now        time.Time
}

func (s *Server) testsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	q, err := parseTestQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	all, err := s.loadTests(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	byRef, err := s.controlsByRef(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := testsView{Query: q, Total: len(all), Sorts: testSorts, Now: s.now(), Export: "/tests.csv"}
	if enc := q.Encode(); enc != "" {
		v.Export += "?" + enc
	}
	counts := map[string]int{}
	for i := range all {
		counts[all[i].State()]++
		if t := all[i].LastRunAt(); t.After(v.LastRun) {
			v.LastRun = t
		}
	}
	for _, st := range testStates {
		v.States = append(v.States, stateCount{State: st, Count: counts[st]})
	}
	for _, sev := range monitor.Severities {
		v.Severities = append(v.Severities, readiness.Severity(sev))
	}
	for _, e := range filterTests(all, q) {
		v.Tests = append(v.Tests, newTestRow(&e, byRef))
	}
	pg := s.newPage(w, r, p, "Tests", "tests")
	pg.Data = v
	return s.render(w, http.StatusOK, "tests", pg)
}

// testsCSV exports the filtered list, each cell made safe for spreadsheets.
func (s *Server) testsCSV(w http.ResponseWriter, r *http.Request, p *principal) error {
	q, err := parseTestQuery(r.URL.Query())
	if err != nil {
		return err
	}
	all, err := s.loadTests(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="evident-tests-%s-%s.csv"`, p.Org.Slug, s.now().UTC().Format("2006-01-02")))
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "title", "origin", "state", "severity", "failing", "excepted", "passed", "errors", "type", "controls", "last_run_at", "url"})
	for _, e := range filterTests(all, q) {
		var excepted, passed, errs, lastRun string
		if e.Summary != nil {
			excepted, passed, errs = strconv.Itoa(e.Summary.Excepted), strconv.Itoa(e.Summary.Passed), strconv.Itoa(e.Summary.Errors)
			lastRun = e.Summary.LastRunAt.UTC().Format(time.RFC3339)
		}
		row := []string{
			e.Test.ID, e.Test.Title, strings.ToLower(e.Origin()), e.State(), string(e.Test.Severity), strconv.Itoa(e.Failing()),
			excepted, passed, errs, e.Test.Type, strings.Join(e.Test.Controls, " "), lastRun, e.URL(),
		}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return nil // the client went away
		}
	}
	cw.Flush()
	return nil
}

// returnPath reads a form's "return" field: a path on this site to go back to after an
// action, else def.
func returnPath(f *form, def string) string {
	if to := f.Get("return"); to != "" {
		if p := localPath(to); p != "/" || to == "/" {
			return p
		}
	}
	return def
}

// runTestsNow judges the inventory with the organization's enabled tests now.
func (s *Server) runTestsNow(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, _, err := s.testService()
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	run, err := svc.RunTests(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	return s.redirect(w, r, returnPath(f, "/tests"), runSummary(run))
}

func (s *Server) enableTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setTestEnabled(w, r, p, true)
}

func (s *Server) disableTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setTestEnabled(w, r, p, false)
}

func (s *Server) setTestEnabled(w http.ResponseWriter, r *http.Request, p *principal, enabled bool) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := mon.SetTestEnabled(r.Context(), p.Actor(), p.Org.ID, id, enabled); err != nil {
		return err
	}
	msg := "Enabled " + id + ". It judges the inventory from the next test run."
	if !enabled {
		msg = "Disabled " + id + ". It is no longer judged, and its failures are no longer gaps."
	}
	return s.redirect(w, r, returnPath(f, testURL(id)), msg)
}
