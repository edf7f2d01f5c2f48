package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// The states of an exception, as the store filters them.
const (
	exceptionActive  = "active"
	exceptionExpired = "expired"
	exceptionRevoked = "revoked"
)

// exceptionStates lists the states for the filter.
var exceptionStates = []string{exceptionActive, exceptionExpired, exceptionRevoked}

// exceptionState is an exception's state at now.
func exceptionState(e *domain.Exception, now time.Time) string {
	switch {
	case e.RevokedAt != nil && !e.RevokedAt.After(now):
		return exceptionRevoked
	case !now.Before(e.ExpiresAt):
		return exceptionExpired
	}
	return exceptionActive
}

// exceptionRow is an exception as the pages show it: with its test, its resource, the
// people involved by name and its ledger entries.
type exceptionRow struct {
	domain.Exception
	State       string
	TestTitle   string // the test's title, or its ID when the test no longer exists
	TestKnown   bool
	Resource    string // the resource's name, or its external ID
	ResourceID  int64  // 0 when the inventory no longer has it
	RequestedBy string
	RevokedBy   string
	// RevokeReason is why it was revoked, from its ledger entry.
	RevokeReason string
	// LedgerIndex and RevokeIndex are its ledger entries; -1 when not found.
	LedgerIndex int64
	RevokeIndex int64
}

// StateBadge is the exception's state as a badge.
func (x exceptionRow) StateBadge() template.HTML {
	label := map[string]string{exceptionActive: "Active", exceptionExpired: "Expired", exceptionRevoked: "Revoked"}[x.State]
	return template.HTML(`<span class="badge exception-` + x.State + `"><span class="dot" aria-hidden="true"></span>` + label + `</span>`)
}

// ResourceURL is the resource's page, or "".
func (x exceptionRow) ResourceURL() string {
	if x.ResourceID == 0 {
		return ""
	}
	return resourceURL(x.ResourceID)
}

// Active reports whether the exception is in force.
func (x exceptionRow) Active() bool { return x.State == exceptionActive }

// exceptionRows prepares exceptions for a page. tests maps test IDs to the organization's
// tests; nil loads them.
func (s *Server) exceptionRows(ctx context.Context, orgID int64, es []domain.Exception, tests map[string]*testEntry) ([]exceptionRow, error) {
	if len(es) == 0 {
		return nil, nil
	}
	_, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	if tests == nil {
		all, err := s.loadTests(ctx, orgID)
		if err != nil {
			return nil, err
		}
		tests = testsByID(all)
	}
	members, err := s.cfg.Store.Members(ctx, orgID)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, m := range members {
		names[m.User.ID] = m.User.Name
	}
	name := func(id int64) string {
		if n, ok := names[id]; ok {
			return n
		}
		if id == 0 {
			return "Evident"
		}
		return "a former member"
	}
	now := s.now()
	out := make([]exceptionRow, len(es))
	ids := make([]int64, len(es))
	byType := map[string][]string{} // resource type → external IDs
	for i, e := range es {
		row := exceptionRow{Exception: e, State: exceptionState(&es[i], now), TestTitle: e.TestID, Resource: e.ExternalID,
			RequestedBy: name(e.CreatedBy), LedgerIndex: -1, RevokeIndex: -1}
		if e.RevokedAt != nil {
			row.RevokedBy = name(e.RevokedBy)
		}
		if t, ok := tests[e.TestID]; ok {
			row.TestTitle, row.TestKnown = t.Test.Title, true
			byType[t.Test.Type] = append(byType[t.Test.Type], e.ExternalID)
		}
		if e.ApproverName == "" {
			row.ApproverName = "a former member"
		}
		out[i], ids[i] = row, e.ID
	}
	found := map[string]map[string]domain.Resource{}
	for typ, exts := range byType {
		slices.Sort(exts)
		if found[typ], err = mon.ResourcesByExternalID(ctx, orgID, typ, slices.Compact(exts)); err != nil {
			return nil, err
		}
	}
	evs, err := mon.ExceptionEvents(ctx, orgID, ids)
	if err != nil {
		return nil, err
	}
	type entries struct {
		created, revoked int64
		reason           string
	}
	ledger := map[string]*entries{}
	for _, ev := range evs {
		en := ledger[ev.Subject]
		if en == nil {
			en = &entries{created: -1, revoked: -1}
			ledger[ev.Subject] = en
		}
		switch ev.Type {
		case domain.EventExceptionCreated:
			en.created = ev.Index
		case domain.EventExceptionRevoked:
			en.revoked = ev.Index
			var data struct {
				Reason string `json:"reason"`
			}
			if json.Unmarshal(ev.Data, &data) == nil {
				en.reason = data.Reason
			}
		}
	}
	for i := range out {
		x := &out[i]
		if t, ok := tests[x.TestID]; ok {
			if res, ok := found[t.Test.Type][x.ExternalID]; ok {
				x.ResourceID = res.ID
				if res.Name != "" {
					x.Resource = res.Name
				}
			}
		}
		if en := ledger[fmt.Sprintf("exception:%d", x.ID)]; en != nil {
			x.LedgerIndex, x.RevokeIndex, x.RevokeReason = en.created, en.revoked, en.reason
		}
	}
	return out, nil
}

// exceptionsPageSize is how many exceptions the exceptions page shows at once.
const exceptionsPageSize = 50

// exceptionQuery is the exceptions list's filter.
type exceptionQuery struct {
	State  string
	TestID string
	Before int64
}

// parseExceptionQuery reads the exceptions list's filter. The store checks the state.
func parseExceptionQuery(v url.Values) (exceptionQuery, error) {
	q := exceptionQuery{State: v.Get("state"), TestID: strings.TrimSpace(v.Get("test"))}
	if len(q.TestID) > 64 {
		return q, domain.Invalid("test", "is not a test ID")
	}
	var err error
	q.Before, err = beforeID(v.Get("before"))
	return q, err
}

// url is path with the filter and, when before > 0, the page of the exceptions older
// than that ID.
func (q exceptionQuery) url(path string, before int64) string {
	v := url.Values{}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.TestID != "" {
		v.Set("test", q.TestID)
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	if enc := v.Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

// exceptionsView is the data of the exceptions page.
type exceptionsView struct {
	Query  exceptionQuery
	States []string
	Tests  []testEntry
	Rows   []exceptionRow
	Older  string
	Newest string
	Export string
	Now    time.Time
}

func (s *Server) exceptionsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	q, err := parseExceptionQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now()
	es, err := mon.ExceptionsInState(ctx, p.Org.ID, q.State, now, q.Before, domain.ExceptionFilter{TestID: q.TestID, Limit: exceptionsPageSize})
	if err != nil {
		return err
	}
	all, err := s.loadTests(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	tests := testsByID(all)
	v := exceptionsView{Query: q, States: exceptionStates, Now: now, Export: q.url("/exceptions.csv", 0)}
	v.Tests = slices.Clone(all)
	sortTests(v.Tests, "title")
	if v.Rows, err = s.exceptionRows(ctx, p.Org.ID, es, tests); err != nil {
		return err
	}
	if len(es) == exceptionsPageSize {
		v.Older = q.url("/exceptions", es[len(es)-1].ID)
	}
	if q.Before > 0 {
		v.Newest = q.url("/exceptions", 0)
	}
	pg := s.newPage(w, r, p, "Exceptions", "tests")
	pg.Data = v
	return s.render(w, http.StatusOK, "exceptions", pg)
}

// exceptionsCSV exports every exception matching the filter, for auditors.
func (s *Server) exceptionsCSV(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	q, err := parseExceptionQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now()
	all, err := s.loadTests(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	tests := testsByID(all)
	var rows []exceptionRow
	for before := q.Before; ; {
		es, err := mon.ExceptionsInState(ctx, p.Org.ID, q.State, now, before, domain.ExceptionFilter{TestID: q.TestID, Limit: 1000})
		if err != nil {
			return err
		}
		page, err := s.exceptionRows(ctx, p.Org.ID, es, tests)
		if err != nil {
			return err
		}
		rows = append(rows, page...)
		if len(es) < 1000 {
			break
		}
		before = es[len(es)-1].ID
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="evident-exceptions-%s-%s.csv"`, p.Org.Slug, now.UTC().Format("2006-01-02")))
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "state", "test_id", "test", "external_id", "resource", "justification", "approver", "requested_by",
		"created_at", "expires_at", "revoked_at", "revoked_by", "revoke_reason", "ledger_index", "revoke_ledger_index"})
	index := func(i int64) string {
		if i < 0 {
			return ""
		}
		return strconv.FormatInt(i, 10)
	}
	for _, x := range rows {
		revokedAt := ""
		if x.RevokedAt != nil {
			revokedAt = x.RevokedAt.UTC().Format(time.RFC3339)
		}
		row := []string{
			strconv.FormatInt(x.ID, 10), x.State, x.TestID, x.TestTitle, x.ExternalID, x.Resource, x.Justification, x.ApproverName,
			x.RequestedBy, x.CreatedAt.UTC().Format(time.RFC3339), x.ExpiresAt.UTC().Format(time.RFC3339), revokedAt, x.RevokedBy,
			x.RevokeReason, index(x.LedgerIndex), index(x.RevokeIndex),
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

// acceptView is the data of the form that accepts a failure with an exception.
type acceptView struct {
	Entry     *testEntry
	Failure   failureRow
	Approvers []domain.Member
	OnlySelf  bool
	MinDate   string
	MaxDate   string
}

// exceptionFields are the accept form's fields, for placing error messages.
var exceptionFields = []string{"justification", "approver_id", "expires_at"}

func (s *Server) acceptPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(nil)
	f.Values.Set("resource", r.URL.Query().Get("resource"))
	return s.renderAccept(w, r, p, f, http.StatusOK)
}

// failingVerdict returns the verdict of a resource failing the test now without an
// exception; anything else is KindInvalid for "resource".
func (s *Server) failingVerdict(ctx context.Context, orgID int64, e *testEntry, ext string) (*failureRow, error) {
	_, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	if ext == "" {
		return nil, domain.Invalid("resource", "is required: choose a failing resource on the test's page")
	}
	now := s.now()
	failing, err := mon.TestVerdicts(ctx, orgID, e.Test.ID, now, domain.VerdictFilter{Status: domain.ResultFail})
	if err != nil {
		return nil, err
	}
	for _, v := range failing {
		if v.ExternalID == ext {
			rows, err := s.failureRows(ctx, orgID, e.Test.Type, []domain.Verdict{v})
			if err != nil {
				return nil, err
			}
			return &rows[0], nil
		}
	}
	excepted, err := mon.TestVerdicts(ctx, orgID, e.Test.ID, now, domain.VerdictFilter{Status: domain.ResultExcepted})
	if err != nil {
		return nil, err
	}
	for _, v := range excepted {
		if v.ExternalID == ext {
			return nil, domain.Errorf(domain.KindConflict, "%q already has an exception to this test", ext)
		}
	}
	return nil, domain.Invalid("resource", "%q is not failing this test now", ext)
}

func (s *Server) renderAccept(w http.ResponseWriter, r *http.Request, p *principal, f *form, status int) error {
	ctx := r.Context()
	e, err := s.loadTest(ctx, p.Org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	failure, err := s.failingVerdict(ctx, p.Org.ID, e, f.Get("resource"))
	if err != nil {
		return err
	}
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	v := acceptView{Entry: e, Failure: *failure,
		MinDate: now.AddDate(0, 0, 1).Format(time.DateOnly), MaxDate: now.AddDate(1, 0, 0).Format(time.DateOnly)}
	v.Approvers, v.OnlySelf = domain.ExceptionApprovers(members, p.User.ID)
	pg := s.newPage(w, r, p, "Accept a failure of "+e.Test.Title, "tests")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "exception_new", pg)
}

// exceptionRequest is an exception asked for through the form or the API, as read: the
// exception, and why its approver or its expiry could not be read when they could not.
// Those errors wait their turn in createException, so that both paths report the first
// bad field in the same order.
type exceptionRequest struct {
	domain.Exception
	badApprover, badExpiry error
}

// createException checks an exception asked for one of the organization's tests, e: a
// justification, an approver among approvers and an expiry within a year. It stores the
// exception with its ledger entry and returns it as the pages show it.
func (s *Server) createException(ctx context.Context, p *principal, e *testEntry, req *exceptionRequest) (*exceptionRow, error) {
	_, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	ex := &req.Exception
	ex.OrgID, ex.TestID = p.Org.ID, e.Test.ID
	if strings.TrimSpace(ex.Justification) == "" {
		return nil, domain.Invalid("justification", "is required: say why the failure is accepted")
	}
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return nil, err
	}
	if req.badApprover != nil {
		return nil, req.badApprover
	}
	if err := domain.CheckExceptionApprover(members, p.User.ID, ex.ApproverID); err != nil {
		return nil, err
	}
	if req.badExpiry != nil {
		return nil, req.badExpiry
	}
	if err := domain.CheckExceptionExpiry(ex.ExpiresAt, s.now()); err != nil {
		return nil, err
	}
	if err := mon.CreateException(ctx, p.Actor(), ex); err != nil {
		return nil, err
	}
	rows, err := s.exceptionRows(ctx, p.Org.ID, []domain.Exception{*ex}, map[string]*testEntry{e.Test.ID: e})
	if err != nil {
		return nil, err
	}
	return &rows[0], nil
}

func (s *Server) acceptFailure(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	e, err := s.loadTest(r.Context(), p.Org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	req := &exceptionRequest{Exception: domain.Exception{ExternalID: f.Get("resource"), Justification: f.Get("justification")}}
	if raw := f.Get("approver_id"); raw != "" {
		if req.ApproverID, err = strconv.ParseInt(raw, 10, 64); err != nil {
			req.badApprover = domain.Invalid("approver_id", "must be chosen from the list")
		}
	}
	if raw := f.Get("expires_at"); raw != "" {
		if req.ExpiresAt, err = time.ParseInLocation(time.DateOnly, raw, time.UTC); err != nil {
			req.badExpiry = domain.Invalid("expires_at", "must be a date")
		}
	}
	row, err := s.createException(r.Context(), p, e, req)
	if err != nil {
		if !f.fail(err, exceptionFields...) {
			return err
		}
		if domain.FieldOf(err) == "external_id" || domain.KindOf(err) == domain.KindConflict {
			// The resource no longer fails, or was accepted meanwhile: the form cannot help.
			return err
		}
		return s.renderAccept(w, r, p, f, statusOf(err))
	}
	msg := "Accepted the failure of " + row.Resource + " until " + fmtDate(row.ExpiresAt) + "."
	if row.LedgerIndex >= 0 {
		msg += " Recorded in the ledger as entry #" + strconv.FormatInt(row.LedgerIndex, 10) + "."
	}
	return s.redirect(w, r, e.URL()+"#exceptions", msg)
}

// revokeView is the data of the form that revokes an exception.
type revokeView struct {
	Row    exceptionRow
	Return string
}

// loadExceptionRow reads the exception named in the path, of the principal's organization.
func (s *Server) loadExceptionRow(ctx context.Context, r *http.Request, p *principal) (*exceptionRow, error) {
	_, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id", "exception")
	if err != nil {
		return nil, err
	}
	e, err := mon.Exception(ctx, p.Org.ID, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.exceptionRows(ctx, p.Org.ID, []domain.Exception{*e}, nil)
	if err != nil {
		return nil, err
	}
	return &rows[0], nil
}

func (s *Server) revokeExceptionPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(nil)
	f.Values.Set("return", r.URL.Query().Get("return"))
	return s.renderRevoke(w, r, p, f, http.StatusOK)
}

func (s *Server) renderRevoke(w http.ResponseWriter, r *http.Request, p *principal, f *form, status int) error {
	row, err := s.loadExceptionRow(r.Context(), r, p)
	if err != nil {
		return err
	}
	if !row.Active() {
		return domain.Errorf(domain.KindConflict, "exception #%d is %s already", row.ID, row.State)
	}
	pg := s.newPage(w, r, p, fmt.Sprintf("Revoke exception #%d", row.ID), "tests")
	pg.Form = f
	pg.Data = revokeView{Row: *row, Return: returnPath(f, "/exceptions")}
	return s.render(w, status, "exception_revoke", pg)
}

func (s *Server) revokeException(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "exception")
	if err != nil {
		return err
	}
	if err := mon.RevokeExceptionWithReason(r.Context(), p.Actor(), p.Org.ID, id, f.Get("reason")); err != nil {
		if domain.FieldOf(err) != "reason" || !f.fail(err, "reason") {
			return err
		}
		return s.renderRevoke(w, r, p, f, statusOf(err))
	}
	return s.redirect(w, r, returnPath(f, "/exceptions"),
		fmt.Sprintf("Revoked exception #%d. The failure counts again, and the revocation is in the ledger.", id))
}
