package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// apiMonitoringRoutes are the routes of continuous monitoring: the resource inventory,
// resources pushed by clients without a connector, and the tests.
func (s *Server) apiMonitoringRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/resources", accessRead, s.apiResources},
		{"POST", "/resources", accessEdit, s.apiPushResources},
		{"GET", "/tests", accessRead, s.apiTests},
	}
}

// apiResource is a resource of the inventory as the API shows it.
type apiResource struct {
	ID         int64           `json:"id"`
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	ExternalID string          `json:"external_id"`
	Name       string          `json:"name"`
	Attributes json.RawMessage `json:"attributes"`
	Version    int             `json:"version"`
	FirstSeen  time.Time       `json:"first_seen"`
	LastSeen   time.Time       `json:"last_seen"`
	ChangedAt  time.Time       `json:"changed_at"`
	GoneAt     *time.Time      `json:"gone_at"`
}

func toAPIResource(r domain.Resource) apiResource {
	attrs := r.Attributes
	if len(attrs) == 0 {
		attrs = json.RawMessage("{}")
	}
	return apiResource{ID: r.ID, Source: r.Source, Type: r.Type, ExternalID: r.ExternalID, Name: r.Name, Attributes: attrs,
		Version: r.Version, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, ChangedAt: r.ChangedAt, GoneAt: r.GoneAt}
}

// errNoMonitoring is a server built without continuous monitoring: a configuration error.
var errNoMonitoring = errors.New("monitoring: no collect service or monitoring reader configured")

// monitoring returns the inventory reader, or an error when the server has none.
func (s *Server) monitoring() (MonitoringReader, error) {
	if s.cfg.Monitoring == nil {
		return nil, errNoMonitoring
	}
	return s.cfg.Monitoring, nil
}

func (s *Server) apiResources(w http.ResponseWriter, r *http.Request, p *principal) error {
	mon, err := s.monitoring()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := domain.ResourceFilter{Type: q.Get("type"), Source: q.Get("source"), Query: q.Get("q")}
	if f.IncludeGone, err = queryBool(r, "include_gone"); err != nil {
		return err
	}
	if v := q.Get("after"); v != "" {
		if f.After, err = strconv.ParseInt(v, 10, 64); err != nil || f.After < 0 {
			return domain.Invalid("after", "must be a resource ID")
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			return domain.Invalid("limit", "must be a positive number")
		}
	}
	rs, err := mon.Resources(r.Context(), p.Org.ID, f)
	if err != nil {
		return err
	}
	out := make([]apiResource, len(rs))
	for i, res := range rs {
		out[i] = toAPIResource(res)
	}
	// Pages follow each other by ID, which is the order of a listing of one type or of
	// one that starts after an ID.
	var next *int64
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	if n := len(rs); n > 0 && n == limit && (f.Type != "" || f.After > 0) {
		id := rs[n-1].ID
		next = &id
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": out, "next_after": next})
	return nil
}

// apiPushRequest is the body of POST /resources.
type apiPushRequest struct {
	Source    string             `json:"source"`
	Replace   bool               `json:"replace"`
	Resources []monitor.Resource `json:"resources"`
}

// apiTestRun is a test run's counts.
type apiTestRun struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Tests    int       `json:"tests"`
	Passing  int       `json:"passing"`
	Failing  int       `json:"failing"`
	Erroring int       `json:"erroring"`
	NoData   int       `json:"no_data"`
}

func (s *Server) apiPushResources(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.cfg.Collect == nil {
		return errNoMonitoring
	}
	var in apiPushRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Resources == nil {
		return domain.Invalid("resources", "is required: an array of resources, empty to send none")
	}
	for i := range in.Resources {
		in.Resources[i].Connection = in.Source
	}
	sum, run, err := s.cfg.Collect.PushResources(r.Context(), p.Actor(), p.Org.ID, in.Source, in.Resources, in.Replace)
	if run == nil && err != nil && sum == (domain.UpsertSummary{}) {
		return err
	}
	if err != nil {
		// The resources are stored; the tests will judge them at the next run.
		s.logError(r, err)
	}
	out := map[string]any{
		"added": sum.Added, "changed": sum.Changed, "unchanged": sum.Unchanged, "gone": sum.Gone, "test_run": nil,
	}
	if run != nil {
		out["test_run"] = apiTestRun{ID: run.ID, At: run.At, Tests: run.Tests, Passing: run.Passing, Failing: run.Failing,
			Erroring: run.Erroring, NoData: run.NoData}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiTest is a test as the API lists it: its definition, whether it is enabled, and its
// current outcome.
type apiTest struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	Severity    string   `json:"severity"`
	Controls    []string `json:"controls"`
	Remediation string   `json:"remediation"`
	Custom      bool     `json:"custom"`
	Enabled     bool     `json:"enabled"`
	// Error says why one of the organization's own tests no longer compiles.
	Error     string     `json:"error,omitempty"`
	Status    *string    `json:"status"`
	Passed    int        `json:"passed"`
	Failed    int        `json:"failed"`
	Errors    int        `json:"errors"`
	Excepted  int        `json:"excepted"`
	LastRunAt *time.Time `json:"last_run_at"`
}

func (s *Server) apiTests(w http.ResponseWriter, r *http.Request, p *principal) error {
	mon, err := s.monitoring()
	if err != nil {
		return err
	}
	if s.cfg.Collect == nil {
		return errNoMonitoring
	}
	ctx := r.Context()
	tests, err := s.cfg.Collect.Tests(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	sums, err := mon.TestSummaries(ctx, p.Org.ID, s.now())
	if err != nil {
		return err
	}
	byID := make(map[string]domain.TestSummary, len(sums))
	for _, sm := range sums {
		byID[sm.TestID] = sm
	}
	out := make([]apiTest, len(tests))
	for i, t := range tests {
		controls := t.Test.Controls
		if controls == nil {
			controls = []string{}
		}
		a := apiTest{ID: t.Test.ID, Title: t.Test.Title, Type: t.Test.Type, Severity: string(t.Test.Severity),
			Controls: controls, Remediation: t.Test.Remediation, Custom: t.Custom, Enabled: t.Enabled, Error: t.Err}
		if sm, ok := byID[t.Test.ID]; ok {
			status := string(sm.Status)
			at := sm.LastRunAt
			a.Status, a.Passed, a.Failed, a.Errors, a.Excepted, a.LastRunAt = &status, sm.Passed, sm.Failed, sm.Errors, sm.Excepted, &at
		}
		out[i] = a
	}
	writeJSON(w, http.StatusOK, map[string]any{"tests": out})
	return nil
}
