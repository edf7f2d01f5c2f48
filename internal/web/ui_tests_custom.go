package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// An organization's own tests are written in the same format as the shipped library's.
// The form and the API build a monitor.Test from their fields, compile it (so that a bad
// expression is reported next to its field, with its line and column, and nothing is
// saved), and store it as its YAML definition, which the store parses and compiles again.

// testFields are the custom test form's fields, for placing error messages.
var testFields = []string{"id", "title", "description", "type", "where", "expression", "message", "severity",
	"remediation", "remediation_snippet", "controls", "params"}

// previewTimeout bounds a check of a test being written against the inventory.
const previewTimeout = 30 * time.Second

// previewSamples is how many failing resources a check lists.
const previewSamples = 10

// saveCustomTest compiles a test, so that a bad expression is refused with its field and
// position and nothing is saved, and stores it as one of the organization's own tests: a
// new one, or in place of the one with its ID (replace).
func (s *Server) saveCustomTest(ctx context.Context, p *principal, t monitor.Test, replace bool) (*domain.CustomTest, error) {
	_, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	if _, err := monitor.Compile(t); err != nil {
		return nil, err
	}
	def, err := testDefinition(t)
	if err != nil {
		return nil, err
	}
	if replace {
		return mon.UpdateCustomTest(ctx, p.Actor(), p.Org.ID, t.ID, def)
	}
	return mon.CreateCustomTest(ctx, p.Actor(), p.Org.ID, def)
}

// testDefinition is a test's definition as the store keeps it: the library's YAML format.
func testDefinition(t monitor.Test) (string, error) {
	b, err := yaml.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("encode test %s: %w", t.ID, err)
	}
	return string(b), nil
}

// formText reads a multi-line field as the store and CEL positions expect it: browsers
// send line breaks as CRLF.
func formText(f *form, name string) string {
	return strings.ReplaceAll(f.Get(name), "\r\n", "\n")
}

// splitControls reads control refs separated by commas or spaces.
func splitControls(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// parseParams reads a test's params: a YAML mapping of names to values, or nothing.
func parseParams(text string) (map[string]any, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var params map[string]any
	if err := yaml.Unmarshal([]byte(text), &params); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, domain.Invalid("params", "must be a YAML mapping such as \"max_age_days: 90\": %s", msg)
	}
	return params, nil
}

// testFromForm reads the test the form describes.
func testFromForm(f *form) (monitor.Test, error) {
	t := monitor.Test{
		ID:                 strings.TrimSpace(f.Get("id")),
		Title:              strings.TrimSpace(f.Get("title")),
		Description:        strings.TrimSpace(formText(f, "description")),
		Type:               strings.TrimSpace(f.Get("type")),
		Where:              strings.TrimSpace(formText(f, "where")),
		Expression:         strings.TrimSpace(formText(f, "expression")),
		Message:            strings.TrimSpace(formText(f, "message")),
		Severity:           monitor.Severity(f.Get("severity")),
		Remediation:        strings.TrimSpace(formText(f, "remediation")),
		RemediationSnippet: strings.TrimSpace(formText(f, "remediation_snippet")),
		Controls:           splitControls(f.Get("controls")),
	}
	// The form shows again what was compiled, so that the line and column of an error
	// point into the text on the page.
	for k, v := range map[string]string{"id": t.ID, "title": t.Title, "description": t.Description, "type": t.Type,
		"where": t.Where, "expression": t.Expression, "message": t.Message, "remediation": t.Remediation,
		"remediation_snippet": t.RemediationSnippet} {
		f.Values.Set(k, v)
	}
	params, err := parseParams(formText(f, "params"))
	t.Params = params
	return t, err
}

// testForm is the form filled from a test.
func testForm(t monitor.Test) *form {
	f := newForm(nil)
	for k, v := range map[string]string{
		"id": t.ID, "title": t.Title, "description": t.Description, "type": t.Type, "where": t.Where,
		"expression": t.Expression, "message": t.Message, "severity": string(t.Severity), "remediation": t.Remediation,
		"remediation_snippet": t.RemediationSnippet, "controls": strings.Join(t.Controls, ", "),
	} {
		f.Values.Set(k, v)
	}
	if len(t.Params) > 0 {
		if b, err := yaml.Marshal(t.Params); err == nil {
			f.Values.Set("params", strings.TrimSpace(string(b)))
		}
	}
	return f
}

// celMessage is a CEL error as a sentence: where, then what.
func celMessage(ce *monitor.CompileError) string {
	msg := upperFirst(ce.Msg)
	if ce.Line > 0 {
		msg = fmt.Sprintf("Line %d, column %d: %s", ce.Line, ce.Column, ce.Msg)
	}
	switch {
	case ce.More == 1:
		msg += " (and 1 more error)"
	case ce.More > 1:
		msg += fmt.Sprintf(" (and %d more errors)", ce.More)
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// celContext shows the line of src an error points at with a caret under its column.
func celContext(src string, line, column int) string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) || column < 1 {
		return ""
	}
	text := lines[line-1]
	col := min(column, utf8.RuneCountInString(text)+1)
	return text + "\n" + strings.Repeat(" ", col-1) + "^"
}

// testFormView is the data of the custom test form.
type testFormView struct {
	Editing *testEntry // nil for a new test
	CopyOf  string     // the test a new one starts from, if any
	Action  string
	Types   []string
	// Severities are the choices of severity.
	Severities []monitor.Severity
	// CELContext shows, per field, the line a CEL error points at.
	CELContext map[string]string
	Preview    *testPreview
}

// testPreview is how a test being written judges the inventory now.
type testPreview struct {
	At                             time.Time
	Status                         string // a test state
	Selected, Passed, Failed, Errs int
	Err                            string // why the test could not run
	Samples                        []failureRow
}

// StateBadge is the outcome as a badge.
func (p *testPreview) StateBadge() template.HTML { return testStateBadge(p.Status) }

func (s *Server) newTestPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(nil)
	f.Values.Set("severity", string(monitor.SeverityMedium))
	v := testFormView{Action: "/tests/custom/new"}
	if from := r.URL.Query().Get("from"); from != "" {
		e, err := s.loadTest(r.Context(), p.Org.ID, from)
		if err != nil {
			return err
		}
		f = testForm(e.Test)
		f.Values.Set("id", "")
		if id := e.Test.ID + "-custom"; len(id) <= 64 {
			f.Values.Set("id", id)
		}
		v.CopyOf = e.Test.ID
	}
	return s.renderTestForm(w, r, p, f, v, http.StatusOK)
}

func (s *Server) editTestPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.loadCustomTest(r.Context(), r, p)
	if err != nil {
		return err
	}
	return s.renderTestForm(w, r, p, testForm(e.Test), testFormView{Editing: e, Action: e.URL() + "/edit"}, http.StatusOK)
}

// loadCustomTest reads the test named in the path, which must be one of the
// organization's own: library tests can be disabled or copied, not changed.
func (s *Server) loadCustomTest(ctx context.Context, r *http.Request, p *principal) (*testEntry, error) {
	e, err := s.loadTest(ctx, p.Org.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !e.Custom {
		return nil, domain.Errorf(domain.KindConflict, "the test %s is part of the shipped library, which cannot be changed or deleted; disable it, or copy it to a custom test", e.Test.ID)
	}
	return e, nil
}

func (s *Server) renderTestForm(w http.ResponseWriter, r *http.Request, p *principal, f *form, v testFormView, status int) error {
	v.Severities = monitor.Severities
	for _, sc := range monitor.Schemas() {
		if !sc.Open {
			v.Types = append(v.Types, sc.Type)
		}
	}
	title := "New test"
	if v.Editing != nil {
		title = "Edit " + v.Editing.Test.ID
	}
	pg := s.newPage(w, r, p, title, "tests")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "test_form", pg)
}

func (s *Server) createTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.saveTestForm(w, r, p, nil)
}

func (s *Server) updateTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.loadCustomTest(r.Context(), r, p)
	if err != nil {
		return err
	}
	return s.saveTestForm(w, r, p, e)
}

// saveTestForm checks the submitted test and, unless only a check against the inventory
// was asked for, saves it. Nothing is saved when the test does not compile.
func (s *Server) saveTestForm(w http.ResponseWriter, r *http.Request, p *principal, editing *testEntry) error {
	if _, _, err := s.testService(); err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	v := testFormView{Editing: editing, Action: "/tests/custom/new", CopyOf: f.Get("copy_of")}
	if editing != nil {
		f.Values.Set("id", editing.Test.ID)
		v.Action = editing.URL() + "/edit"
	}
	ctx := r.Context()
	t, err := testFromForm(f)
	if err == nil && f.Get("action") == "preview" {
		var prog *monitor.Program
		if prog, err = monitor.Compile(t); err == nil {
			if v.Preview, err = s.previewTest(ctx, p.Org.ID, prog); err != nil {
				return err
			}
			return s.renderTestForm(w, r, p, f, v, http.StatusOK)
		}
	}
	var saved *domain.CustomTest
	if err == nil {
		saved, err = s.saveCustomTest(ctx, p, t, editing != nil)
	}
	if err != nil {
		if !failTestForm(f, &v, err) {
			return err
		}
		return s.renderTestForm(w, r, p, f, v, statusOf(err))
	}
	if editing == nil {
		return s.redirect(w, r, testURL(saved.TestID), "Created "+saved.TestID+". Run the tests to judge the inventory with it.")
	}
	return s.redirect(w, r, testURL(saved.TestID), "Saved "+saved.TestID+". Its results change with the next test run.")
}

// failTestForm records an error of the test form next to its field: a CEL error with its
// position and the line it points at, an ID in use next to the ID. It returns false for
// errors a form cannot show.
func failTestForm(f *form, v *testFormView, err error) bool {
	var ce *monitor.CompileError
	if errors.As(err, &ce) {
		field := ce.Field
		if field == "" {
			field = "expression"
		}
		f.Errors[field] = celMessage(ce)
		if ctx := celContext(formText(f, field), ce.Line, ce.Column); ctx != "" {
			v.CELContext = map[string]string{field: ctx}
		}
		return true
	}
	if domain.KindOf(err) == domain.KindConflict {
		f.Errors["id"] = errorText(err)
		return true
	}
	return f.fail(err, testFields...)
}

// previewTest judges the inventory with a compiled test now, without saving anything.
func (s *Server) previewTest(ctx context.Context, orgID int64, prog *monitor.Program) (*testPreview, error) {
	_, mon, err := s.testService()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, previewTimeout)
	defer cancel()
	now := s.now()
	res, err := monitor.Evaluate(ctx, []*monitor.Program{prog}, mon.Inventory(orgID), now)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &testPreview{At: now, Status: testErroring, Err: "The check took longer than " + previewTimeout.String() + " and was stopped."}, nil
		}
		return nil, fmt.Errorf("check test against the inventory: %w", err)
	}
	tr := res.Tests[0]
	pv := &testPreview{At: now, Passed: tr.Passed, Failed: tr.Failed, Errs: tr.Errors, Selected: len(tr.Resources), Err: tr.Err}
	switch tr.Status {
	case monitor.StatusFail:
		pv.Status = testFailing
	case monitor.StatusError:
		pv.Status = testErroring
	case monitor.StatusPass:
		pv.Status = testPassing
	default:
		pv.Status = testNoData
	}
	var samples []domain.Verdict
	for _, rr := range tr.Resources {
		if len(samples) == previewSamples {
			break
		}
		switch rr.Status {
		case monitor.StatusFail:
			samples = append(samples, domain.Verdict{ExternalID: rr.ExternalID, Status: domain.ResultFail, Message: rr.Message})
		case monitor.StatusError:
			samples = append(samples, domain.Verdict{ExternalID: rr.ExternalID, Status: domain.ResultError, Message: rr.Message})
		}
	}
	if pv.Samples, err = s.failureRows(ctx, orgID, prog.Test().Type, samples); err != nil {
		return nil, err
	}
	return pv, nil
}

func (s *Server) deleteTest(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, mon, err := s.testService()
	if err != nil {
		return err
	}
	e, err := s.loadCustomTest(r.Context(), r, p)
	if err != nil {
		return err
	}
	if err := mon.DeleteCustomTest(r.Context(), p.Actor(), p.Org.ID, e.Test.ID); err != nil {
		return err
	}
	return s.redirect(w, r, "/tests", "Deleted "+e.Test.ID+". Its past results stay in the history of test runs.")
}
