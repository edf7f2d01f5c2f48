package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evidenthq/evident/internal/domain"
)

// Page sizes of a test's page.
const (
	failurePageSize = 50
	historyPageSize = 30
)

// failureRow is a resource failing a test, with its resource in the inventory when it is
// still there.
type failureRow struct {
	domain.Verdict
	ResourceID int64 // 0: no current resource of the test's type has this external ID
}

// ResourceURL is the resource's page, or "".
func (f failureRow) ResourceURL() string {
	if f.ResourceID == 0 {
		return ""
	}
	return resourceURL(f.ResourceID)
}

// DisplayName is what the resource is called, its external ID when it has no name.
func (f failureRow) DisplayName() string {
	if f.Name != "" {
		return f.Name
	}
	return f.ExternalID
}

// testPageView is the data of a test's page.
type testPageView struct {
	Entry      *testEntry
	Controls   []controlLink
	Params     string // the params as YAML, "" when the test has none
	Definition string // a custom test's definition as stored

	Failures  []failureRow
	FailTotal int
	FailFrom  int    // the 1-based position of the first failure shown
	FailPrev  string // links to the neighbouring pages of failures, or ""
	FailNext  string

	Exceptions []exceptionRow // in force now
	History    historyView
	Now        time.Time
}

func (s *Server) testPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	e, err := s.loadTest(ctx, p.Org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	fpage, err := pageNumber(q.Get("failures"), "failures")
	if err != nil {
		return err
	}
	before, err := beforeID(q.Get("before"))
	if err != nil {
		return err
	}
	now := s.now()
	v := testPageView{Entry: e, Now: now}
	byRef, err := s.controlsByRef(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v.Controls = controlLinks(e.Test.Controls, byRef)
	if len(e.Test.Params) > 0 {
		b, err := yaml.Marshal(e.Test.Params)
		if err != nil {
			return fmt.Errorf("show params of test %s: %w", e.Test.ID, err)
		}
		v.Params = strings.TrimSpace(string(b))
	}
	if e.Custom {
		ct, err := mon.CustomTest(ctx, p.Org.ID, e.Test.ID)
		if err != nil {
			return err
		}
		v.Definition = ct.Definition
	}

	failing, err := mon.TestVerdicts(ctx, p.Org.ID, e.Test.ID, now, domain.VerdictFilter{Status: domain.ResultFail})
	if err != nil {
		return err
	}
	v.FailTotal = len(failing)
	from := min((fpage-1)*failurePageSize, len(failing))
	shown := failing[from:min(from+failurePageSize, len(failing))]
	v.FailFrom = from + 1
	if fpage > 1 {
		v.FailPrev = testPageURL(e, fpage-1, before, "failures")
	}
	if from+failurePageSize < len(failing) {
		v.FailNext = testPageURL(e, fpage+1, before, "failures")
	}
	if v.Failures, err = s.failureRows(ctx, p.Org.ID, e.Test.Type, shown); err != nil {
		return err
	}

	active, err := mon.ExceptionsInState(ctx, p.Org.ID, exceptionActive, now, 0, domain.ExceptionFilter{TestID: e.Test.ID, Limit: 1000})
	if err != nil {
		return err
	}
	if v.Exceptions, err = s.exceptionRows(ctx, p.Org.ID, active, map[string]*testEntry{e.Test.ID: e}); err != nil {
		return err
	}

	points, err := mon.TestHistoryBefore(ctx, p.Org.ID, e.Test.ID, before, historyPageSize)
	if err != nil {
		return err
	}
	v.History = newHistoryView(points)
	if len(points) == historyPageSize {
		v.History.Older = testPageURL(e, fpage, points[len(points)-1].RunID, "history")
	}
	if before > 0 {
		v.History.Newest = testPageURL(e, 1, 0, "history")
	}

	pg := s.newPage(w, r, p, e.Test.Title, "tests")
	pg.Data = v
	return s.render(w, http.StatusOK, "test", pg)
}

// testPageURL is a test's page showing the page of failures fpage and the runs before the
// run before (0: the latest), scrolled to the section anchor.
func testPageURL(e *testEntry, fpage int, before int64, anchor string) string {
	u := url.Values{}
	if fpage > 1 {
		u.Set("failures", strconv.Itoa(fpage))
	}
	if before > 0 {
		u.Set("before", strconv.FormatInt(before, 10))
	}
	if enc := u.Encode(); enc != "" {
		return e.URL() + "?" + enc + "#" + anchor
	}
	return e.URL() + "#" + anchor
}

// failureRows joins verdicts with the resources they judge.
func (s *Server) failureRows(ctx context.Context, orgID int64, typ string, vs []domain.Verdict) ([]failureRow, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	_, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ExternalID
	}
	found, err := mon.ResourcesByExternalID(ctx, orgID, typ, ids)
	if err != nil {
		return nil, err
	}
	out := make([]failureRow, len(vs))
	for i, v := range vs {
		out[i] = failureRow{Verdict: v}
		if res, ok := found[v.ExternalID]; ok {
			out[i].ResourceID = res.ID
			if out[i].Name == "" {
				out[i].Name = res.Name
			}
		}
	}
	return out, nil
}

// pageNumber reads a 1-based page number; empty is the first page.
func pageNumber(v, name string) (int, error) {
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, domain.Invalid(name, "must be a page number from 1")
	}
	return n, nil
}

// beforeID reads the "before" parameter of a list paged by ID; empty is the newest page.
func beforeID(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, domain.Invalid("before", "must be a positive number")
	}
	return n, nil
}

// historyView is a test's outcome over its latest runs: a chart and a table.
type historyView struct {
	Points []historyPoint // newest first, for the table
	Bars   []historyBar   // oldest first, for the chart
	Width  int            // of the chart's view box
	Max    int            // the most resources judged in one run shown
	Older  string         // the next page of older runs, or ""
	Newest string         // back to the latest runs, or ""
}

// historyPoint is a test's outcome in one run, for the history table.
type historyPoint struct {
	domain.TestHistoryPoint
}

// Failing counts the failing resources without an exception in the run.
func (h historyPoint) Failing() int { return h.Failed - h.Excepted }

// Badge is the run's outcome as a badge, in the words of the tests list.
func (h historyPoint) Badge() template.HTML {
	switch h.Status {
	case domain.ResultFail:
		if h.Failing() == 0 {
			return testStateBadge(testExcepted)
		}
		return testStateBadge(testFailing)
	case domain.ResultError:
		return testStateBadge(testErroring)
	case domain.ResultPass:
		return testStateBadge(testPassing)
	}
	return testStateBadge(testNoData)
}

// historyBar is one run in the chart: its resources stacked by verdict.
type historyBar struct {
	X     float64
	Parts []historyPart
	Label string // the run's counts in words, the bar's title
}

// historyPart is one verdict's share of a bar.
type historyPart struct {
	Class        string
	X, Y, Height float64
}

// historyAttrs are a part's x, y and height as the SVG writes them.
type historyAttrs struct{ X, Y, Height string }

// Attrs are the part's coordinates formatted for the chart's attributes.
func (p historyPart) Attrs() historyAttrs {
	return historyAttrs{X: strconv.FormatFloat(p.X, 'f', 2, 64), Y: strconv.FormatFloat(p.Y, 'f', 3, 64),
		Height: strconv.FormatFloat(p.Height, 'f', 3, 64)}
}

// historyChartHeight is the height of the chart's view box.
const historyChartHeight = 100

// newHistoryView lays out the chart of points, newest first as the store returns them.
func newHistoryView(points []domain.TestHistoryPoint) historyView {
	v := historyView{Width: max(len(points), 1) * 10}
	for _, pt := range points {
		v.Points = append(v.Points, historyPoint{pt})
		v.Max = max(v.Max, pt.Passed+pt.Failed+pt.Errors)
	}
	for i := range points {
		pt := points[len(points)-1-i]
		bar := historyBar{X: float64(i*10) + 1.5, Label: fmt.Sprintf("Run %d, %s: %d passed, %d failing, %d excepted, %d errors",
			pt.RunID, pt.At.UTC().Format("2 Jan 2006 15:04 UTC"), pt.Passed, pt.Failed-pt.Excepted, pt.Excepted, pt.Errors)}
		if v.Max > 0 {
			y := float64(historyChartHeight)
			for _, part := range []struct {
				class string
				n     int
			}{{"fill-fail", pt.Failed - pt.Excepted}, {"fill-excepted", pt.Excepted}, {"fill-error", pt.Errors}, {"fill-pass", pt.Passed}} {
				if part.n <= 0 {
					continue
				}
				h := float64(part.n) * historyChartHeight / float64(v.Max)
				y -= h
				bar.Parts = append(bar.Parts, historyPart{Class: part.class, X: bar.X, Y: y, Height: h})
			}
		}
		v.Bars = append(v.Bars, bar)
	}
	return v
}
