package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// apiTestRoutes are the tests routes of /api/v1: a test's definition and outcome, the
// organization's own tests, runs, and exceptions. GET /tests is in api_monitoring.go.
func (s *Server) apiTestRoutes() []apiRoute {
	return []apiRoute{
		{"POST", "/tests", accessEdit, s.apiCreateTest},
		{"GET", "/tests/{id}", accessRead, s.apiTest},
		{"PUT", "/tests/{id}", accessEdit, s.apiReplaceTest},
		{"PATCH", "/tests/{id}", accessEdit, s.apiPatchTest},
		{"DELETE", "/tests/{id}", accessEdit, s.apiDeleteTest},
		{"POST", "/tests/{id}/enable", accessEdit, s.apiEnableTest},
		{"POST", "/tests/{id}/disable", accessEdit, s.apiDisableTest},
		{"GET", "/tests/{id}/failures", accessRead, s.apiTestFailures},
		{"GET", "/tests/{id}/history", accessRead, s.apiTestHistory},
		{"POST", "/test-runs", accessEdit, s.apiRunTests},
		{"GET", "/test-runs/{id}", accessRead, s.apiGetTestRun},
		{"GET", "/exceptions", accessRead, s.apiExceptions},
		{"POST", "/exceptions", accessEdit, s.apiCreateException},
		{"GET", "/exceptions/{id}", accessRead, s.apiException},
		{"POST", "/exceptions/{id}/revoke", accessEdit, s.apiRevokeException},
	}
}

// toAPITest is a test as GET /tests lists it.
func toAPITest(e *testEntry) apiTest {
	controls := e.Test.Controls
	if controls == nil {
		controls = []string{}
	}
	a := apiTest{ID: e.Test.ID, Title: e.Test.Title, Type: e.Test.Type, Severity: string(e.Test.Severity),
		Controls: controls, Remediation: e.Test.Remediation, Custom: e.Custom, Enabled: e.Enabled, Error: e.Err, State: e.State()}
	if sm := e.Summary; sm != nil {
		status := string(sm.Status)
		at := sm.LastRunAt
		a.Status, a.Passed, a.Failed, a.Errors, a.Excepted, a.LastRunAt = &status, sm.Passed, sm.Failed, sm.Errors, sm.Excepted, &at
	}
	return a
}

// apiTestDetail is one test: its whole definition, its state and its outcome.
type apiTestDetail struct {
	apiTest
	Description        string         `json:"description"`
	Where              string         `json:"where"`
	Expression         string         `json:"expression"`
	Message            string         `json:"message"`
	RemediationSnippet string         `json:"remediation_snippet"`
	Params             map[string]any `json:"params"`
	// Since is when the outcome last changed; LastRunID the run that judged it last.
	Since     *time.Time `json:"since"`
	LastRunID *int64     `json:"last_run_id"`
	// RunError says why the test could not run at its latest run.
	RunError string `json:"run_error,omitempty"`
}

func toAPITestDetail(e *testEntry) apiTestDetail {
	d := apiTestDetail{apiTest: toAPITest(e), Description: e.Test.Description, Where: e.Test.Where, Expression: e.Test.Expression,
		Message: e.Test.Message, RemediationSnippet: e.Test.RemediationSnippet, Params: e.Test.Params}
	if d.Params == nil {
		d.Params = map[string]any{}
	}
	if sm := e.Summary; sm != nil {
		since, run := sm.Since, sm.LastRunID
		d.Since, d.LastRunID, d.RunError = &since, &run, sm.Err
	}
	return d
}

// apiTestInput is a test's definition as the API takes it: the library's format, in JSON.
type apiTestInput struct {
	ID                 string         `json:"id"`
	Title              string         `json:"title"`
	Description        string         `json:"description"`
	Type               string         `json:"type"`
	Where              string         `json:"where"`
	Expression         string         `json:"expression"`
	Message            string         `json:"message"`
	Severity           string         `json:"severity"`
	Remediation        string         `json:"remediation"`
	RemediationSnippet string         `json:"remediation_snippet"`
	Controls           []string       `json:"controls"`
	Params             map[string]any `json:"params"`
}

func (in *apiTestInput) test() monitor.Test {
	return monitor.Test{ID: strings.TrimSpace(in.ID), Title: strings.TrimSpace(in.Title), Description: strings.TrimSpace(in.Description),
		Type: strings.TrimSpace(in.Type), Where: in.Where, Expression: in.Expression, Message: in.Message,
		Severity: monitor.Severity(in.Severity), Remediation: strings.TrimSpace(in.Remediation),
		RemediationSnippet: in.RemediationSnippet, Controls: in.Controls, Params: in.Params}
}

// saveTest stores a test as saveCustomTest does and reads it back with its outcome.
func (s *Server) saveTest(r *http.Request, p *principal, t monitor.Test, replace bool) (*testEntry, error) {
	if _, err := s.saveCustomTest(r.Context(), p, t, replace); err != nil {
		return nil, err
	}
	return s.loadTest(r.Context(), p.Org.ID, t.ID)
}

func (s *Server) apiTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.loadTest(r.Context(), p.Org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITestDetail(e))
	return nil
}

func (s *Server) apiCreateTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in apiTestInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	e, err := s.saveTest(r, p, in.test(), false)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+testURL(e.Test.ID))
	writeJSON(w, http.StatusCreated, toAPITestDetail(e))
	return nil
}

// apiCustomTest reads the test named in the path, which must be one of the organization's
// own to be changed.
func (s *Server) apiCustomTest(r *http.Request, p *principal) (*testEntry, error) {
	e, err := s.loadTest(r.Context(), p.Org.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !e.Custom {
		return nil, domain.Errorf(domain.KindConflict, "the test %s is part of the shipped library, which cannot be changed or deleted; disable it, or create a test of your own from its definition", e.Test.ID)
	}
	return e, nil
}

func (s *Server) apiReplaceTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.apiCustomTest(r, p)
	if err != nil {
		return err
	}
	var in apiTestInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if id := strings.TrimSpace(in.ID); id != "" && id != e.Test.ID {
		return domain.Invalid("id", "cannot change from %q; create a new test instead", e.Test.ID)
	}
	t := in.test()
	t.ID = e.Test.ID
	if e, err = s.saveTest(r, p, t, true); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITestDetail(e))
	return nil
}

// apiTestPatch changes some of a test's fields; absent fields stay as they are.
type apiTestPatch struct {
	Title              *string                  `json:"title"`
	Description        *string                  `json:"description"`
	Type               *string                  `json:"type"`
	Where              *string                  `json:"where"`
	Expression         *string                  `json:"expression"`
	Message            *string                  `json:"message"`
	Severity           *string                  `json:"severity"`
	Remediation        *string                  `json:"remediation"`
	RemediationSnippet *string                  `json:"remediation_snippet"`
	Controls           *[]string                `json:"controls"`
	Params             optional[map[string]any] `json:"params"`
	Enabled            *bool                    `json:"enabled"`
}

// apply changes t and reports whether the patch changes the definition at all.
func (pt *apiTestPatch) apply(t *monitor.Test) bool {
	changed := false
	set := func(dst *string, v *string) {
		if v != nil {
			*dst, changed = *v, true
		}
	}
	set(&t.Title, pt.Title)
	set(&t.Description, pt.Description)
	set(&t.Type, pt.Type)
	set(&t.Where, pt.Where)
	set(&t.Expression, pt.Expression)
	set(&t.Message, pt.Message)
	set(&t.Remediation, pt.Remediation)
	set(&t.RemediationSnippet, pt.RemediationSnippet)
	if pt.Severity != nil {
		t.Severity, changed = monitor.Severity(*pt.Severity), true
	}
	if pt.Controls != nil {
		t.Controls, changed = *pt.Controls, true
	}
	if pt.Params.Set {
		t.Params, changed = nil, true
		if pt.Params.Value != nil {
			t.Params = *pt.Params.Value
		}
	}
	return changed
}

func (s *Server) apiPatchTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	e, err := s.loadTest(ctx, p.Org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var in apiTestPatch
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	t := e.Test
	t.Controls = append([]string(nil), t.Controls...)
	if in.apply(&t) {
		if !e.Custom {
			return domain.Errorf(domain.KindConflict, "the test %s is part of the shipped library: only enabled can change", e.Test.ID)
		}
		if e, err = s.saveTest(r, p, t, true); err != nil {
			return err
		}
	}
	if in.Enabled != nil && *in.Enabled != e.Enabled {
		if err := mon.SetTestEnabled(ctx, p.Actor(), p.Org.ID, e.Test.ID, *in.Enabled); err != nil {
			return err
		}
		if e, err = s.loadTest(ctx, p.Org.ID, e.Test.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, toAPITestDetail(e))
	return nil
}

func (s *Server) apiDeleteTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	e, err := s.apiCustomTest(r, p)
	if err != nil {
		return err
	}
	if err := mon.DeleteCustomTest(r.Context(), p.Actor(), p.Org.ID, e.Test.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiEnableTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.apiSetTestEnabled(w, r, p, true)
}

func (s *Server) apiDisableTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.apiSetTestEnabled(w, r, p, false)
}

func (s *Server) apiSetTestEnabled(w http.ResponseWriter, r *http.Request, p *principal, enabled bool) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if err := mon.SetTestEnabled(ctx, p.Actor(), p.Org.ID, id, enabled); err != nil {
		return err
	}
	e, err := s.loadTest(ctx, p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITestDetail(e))
	return nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, domain.Invalid(name, "must be a number from 0")
	}
	return n, nil
}

// apiLimit reads the limit parameter: 1 to 1000, 100 when absent.
func apiLimit(r *http.Request) (int, error) {
	n, err := queryInt(r, "limit", 100)
	if err != nil || n < 1 || n > 1000 {
		return 0, domain.Invalid("limit", "must be a number from 1 to 1000")
	}
	return n, nil
}

// apiFailure is a resource failing a test now.
type apiFailure struct {
	ExternalID string    `json:"external_id"`
	Name       string    `json:"name"`
	ResourceID *int64    `json:"resource_id"`
	Status     string    `json:"status"`
	Message    string    `json:"message"`
	Since      time.Time `json:"since"`
	// ExceptionID is the exception that accepts the failure, when status is excepted.
	ExceptionID *int64 `json:"exception_id"`
}

func (s *Server) apiTestFailures(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	e, err := s.loadTest(ctx, p.Org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	statuses := []domain.ResultStatus{domain.ResultFail, domain.ResultExcepted}
	switch st := r.URL.Query().Get("status"); st {
	case "":
	case string(domain.ResultFail), string(domain.ResultExcepted):
		statuses = []domain.ResultStatus{domain.ResultStatus(st)}
	default:
		return domain.Invalid("status", "must be fail or excepted")
	}
	offset, err := queryInt(r, "offset", 0)
	if err != nil {
		return err
	}
	limit, err := apiLimit(r)
	if err != nil {
		return err
	}
	var all []domain.Verdict
	now := s.now()
	for _, st := range statuses {
		vs, err := mon.TestVerdicts(ctx, p.Org.ID, e.Test.ID, now, domain.VerdictFilter{Status: st})
		if err != nil {
			return err
		}
		all = append(all, vs...)
	}
	from := min(offset, len(all))
	rows, err := s.failureRows(ctx, p.Org.ID, e.Test.Type, all[from:min(from+limit, len(all))])
	if err != nil {
		return err
	}
	out := make([]apiFailure, len(rows))
	for i, f := range rows {
		out[i] = apiFailure{ExternalID: f.ExternalID, Name: f.Name, Status: string(f.Status), Message: f.Message, Since: f.Since,
			ExceptionID: f.ExceptionID}
		if f.ResourceID != 0 {
			id := f.ResourceID
			out[i].ResourceID = &id
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"failures": out, "total": len(all)})
	return nil
}

// apiHistoryPoint is a test's outcome in one run.
type apiHistoryPoint struct {
	RunID    int64     `json:"run_id"`
	At       time.Time `json:"at"`
	Status   string    `json:"status"`
	Passed   int       `json:"passed"`
	Failed   int       `json:"failed"`
	Errors   int       `json:"errors"`
	Excepted int       `json:"excepted"`
}

func (s *Server) apiTestHistory(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	ctx := r.Context()
	e, err := s.loadTest(ctx, p.Org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	before, err := beforeID(r.URL.Query().Get("before"))
	if err != nil {
		return err
	}
	limit, err := apiLimit(r)
	if err != nil {
		return err
	}
	points, err := mon.TestHistoryBefore(ctx, p.Org.ID, e.Test.ID, before, limit)
	if err != nil {
		return err
	}
	out := make([]apiHistoryPoint, len(points))
	for i, pt := range points {
		out[i] = apiHistoryPoint{RunID: pt.RunID, At: pt.At, Status: string(pt.Status), Passed: pt.Passed, Failed: pt.Failed,
			Errors: pt.Errors, Excepted: pt.Excepted}
	}
	var next *int64
	if len(points) == limit {
		id := points[len(points)-1].RunID
		next = &id
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": out, "next_before": next})
	return nil
}

// toAPITestRun is a test run's counts as the API shows them.
func toAPITestRun(run *domain.TestRun) apiTestRun {
	return apiTestRun{ID: run.ID, At: run.At, Tests: run.Tests, Passing: run.Passing, Failing: run.Failing,
		Erroring: run.Erroring, NoData: run.NoData}
}

func (s *Server) apiRunTests(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, _, err := s.testService()
	if err != nil {
		return err
	}
	run, err := svc.RunTests(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/test-runs/"+strconv.FormatInt(run.ID, 10))
	writeJSON(w, http.StatusCreated, toAPITestRun(run))
	return nil
}

func (s *Server) apiGetTestRun(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "test run")
	if err != nil {
		return err
	}
	run, err := mon.TestRun(r.Context(), p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITestRun(run))
	return nil
}

// apiException is an exception with its state, the people involved and its ledger
// entries.
type apiException struct {
	ID            int64      `json:"id"`
	TestID        string     `json:"test_id"`
	TestTitle     string     `json:"test_title"`
	ExternalID    string     `json:"external_id"`
	ResourceID    *int64     `json:"resource_id"`
	Justification string     `json:"justification"`
	ApproverID    int64      `json:"approver_id"`
	ApproverName  string     `json:"approver_name"`
	RequestedByID int64      `json:"requested_by_id"`
	RequestedBy   string     `json:"requested_by"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	State         string     `json:"state"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedBy     *string    `json:"revoked_by"`
	RevokeReason  *string    `json:"revoke_reason"`
	// LedgerIndex and RevokeLedgerIndex are the entries that record the exception and its
	// revocation.
	LedgerIndex       *int64 `json:"ledger_index"`
	RevokeLedgerIndex *int64 `json:"revoke_ledger_index"`
}

func toAPIException(x *exceptionRow) apiException {
	a := apiException{ID: x.ID, TestID: x.TestID, TestTitle: x.TestTitle, ExternalID: x.ExternalID, Justification: x.Justification,
		ApproverID: x.ApproverID, ApproverName: x.ApproverName, RequestedByID: x.CreatedBy, RequestedBy: x.RequestedBy,
		CreatedAt: x.CreatedAt, ExpiresAt: x.ExpiresAt, State: x.State, RevokedAt: x.RevokedAt}
	if x.ResourceID != 0 {
		id := x.ResourceID
		a.ResourceID = &id
	}
	if x.RevokedAt != nil {
		by, reason := x.RevokedBy, x.RevokeReason
		a.RevokedBy, a.RevokeReason = &by, &reason
	}
	if x.LedgerIndex >= 0 {
		i := x.LedgerIndex
		a.LedgerIndex = &i
	}
	if x.RevokeIndex >= 0 {
		i := x.RevokeIndex
		a.RevokeLedgerIndex = &i
	}
	return a
}

func (s *Server) apiExceptions(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	before, err := beforeID(q.Get("before"))
	if err != nil {
		return err
	}
	limit, err := apiLimit(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	es, err := mon.ExceptionsInState(ctx, p.Org.ID, q.Get("state"), s.now(), before,
		domain.ExceptionFilter{TestID: q.Get("test_id"), ExternalID: q.Get("external_id"), Limit: limit})
	if err != nil {
		return err
	}
	rows, err := s.exceptionRows(ctx, p.Org.ID, es, nil)
	if err != nil {
		return err
	}
	out := make([]apiException, len(rows))
	for i := range rows {
		out[i] = toAPIException(&rows[i])
	}
	var next *int64
	if len(es) == limit {
		id := es[len(es)-1].ID
		next = &id
	}
	writeJSON(w, http.StatusOK, map[string]any{"exceptions": out, "next_before": next})
	return nil
}

// apiExceptionInput is the body of POST /exceptions.
type apiExceptionInput struct {
	TestID        string `json:"test_id"`
	ExternalID    string `json:"external_id"`
	Justification string `json:"justification"`
	ApproverID    int64  `json:"approver_id"`
	ExpiresAt     string `json:"expires_at"`
}

func (s *Server) apiCreateException(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in apiExceptionInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	if strings.TrimSpace(in.TestID) == "" {
		return domain.Invalid("test_id", "is required")
	}
	e, err := s.loadTest(ctx, p.Org.ID, strings.TrimSpace(in.TestID))
	if domain.IsNotFound(err) {
		return domain.Invalid("test_id", "is not one of this organization's tests")
	}
	if err != nil {
		return err
	}
	if strings.TrimSpace(in.ExternalID) == "" {
		return domain.Invalid("external_id", "is required")
	}
	req := &exceptionRequest{Exception: domain.Exception{ExternalID: in.ExternalID, Justification: in.Justification, ApproverID: in.ApproverID}}
	if in.ExpiresAt != "" {
		if req.ExpiresAt, err = time.Parse(time.RFC3339, in.ExpiresAt); err != nil {
			req.badExpiry = domain.Invalid("expires_at", "must be an RFC 3339 time such as 2027-01-31T00:00:00Z")
		}
	}
	row, err := s.createException(ctx, p, e, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/exceptions/"+strconv.FormatInt(row.ID, 10))
	writeJSON(w, http.StatusCreated, toAPIException(row))
	return nil
}

func (s *Server) apiException(w http.ResponseWriter, r *http.Request, p *principal) error {
	row, err := s.loadExceptionRow(r.Context(), r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIException(row))
	return nil
}

// apiRevokeInput is the body of POST /exceptions/{id}/revoke.
type apiRevokeInput struct {
	Reason string `json:"reason"`
}

func (s *Server) apiRevokeException(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "exception")
	if err != nil {
		return err
	}
	var in apiRevokeInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	// A missing exception is not found before a missing reason is invalid.
	if _, err := mon.Exception(ctx, p.Org.ID, id); err != nil {
		return err
	}
	if err := mon.RevokeExceptionWithReason(ctx, p.Actor(), p.Org.ID, id, in.Reason); err != nil {
		return err
	}
	row, err := s.loadExceptionRow(ctx, r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIException(row))
	return nil
}
