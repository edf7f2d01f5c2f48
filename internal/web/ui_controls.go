package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
)

// controlQuery is the controls list's filter as the GET form submits it.
type controlQuery struct {
	Q         string
	Status    string
	Owner     string // "", "none" or a user ID
	Domain    string
	Criterion string
	Retired   bool
}

// parseControlQuery reads the list filter from the URL. Unknown values are KindInvalid
// naming the parameter, so a mistyped link says what is wrong instead of showing everything.
func (s *Server) parseControlQuery(v url.Values) (controlQuery, domain.ControlFilter, error) {
	q := controlQuery{
		Q:         strings.TrimSpace(v.Get("q")),
		Status:    v.Get("status"),
		Owner:     v.Get("owner"),
		Domain:    v.Get("domain"),
		Criterion: strings.ToUpper(strings.TrimSpace(v.Get("criterion"))),
		Retired:   v.Get("retired") == "1",
	}
	f := domain.ControlFilter{Query: q.Q, Domain: q.Domain, IncludeRetired: q.Retired}
	if q.Status != "" {
		st := domain.ControlStatus(q.Status)
		if !st.Valid() {
			return q, f, domain.Invalid("status", "must be one of not_started, in_progress, implemented, not_applicable")
		}
		f.Status = st
	}
	switch q.Owner {
	case "":
	case "none":
		f.OwnerID = -1
	default:
		id, err := strconv.ParseInt(q.Owner, 10, 64)
		if err != nil || id <= 0 {
			return q, f, domain.Invalid("owner", "must be a person's ID or none")
		}
		f.OwnerID = id
	}
	if q.Criterion != "" {
		if _, ok := s.cfg.Catalog.Criterion(q.Criterion); !ok {
			return q, f, domain.Invalid("criterion", "%q is not a SOC 2 criterion", q.Criterion)
		}
		f.Criterion = q.Criterion
	}
	return q, f, nil
}

// Encode is the query string of the filter, for links such as the CSV export.
func (q controlQuery) Encode() string {
	v := url.Values{}
	for k, x := range map[string]string{"q": q.Q, "status": q.Status, "owner": q.Owner, "domain": q.Domain, "criterion": q.Criterion} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if q.Retired {
		v.Set("retired", "1")
	}
	return v.Encode()
}

// Active reports whether any filter is set.
func (q controlQuery) Active() bool { return q.Encode() != "" }

// statusCount is one bar of a status chart.
type statusCount struct {
	Status domain.ControlStatus
	Count  int
}

// controlsView is the data of the controls list.
type controlsView struct {
	Query    controlQuery
	Controls []domain.Control
	ByStatus []statusCount
	Total    int // active controls in the organization, whatever the filter
	Members  []domain.Member
	Domains  []string
	Criteria []criterionGroup
	Export   string
}

// criterionGroup is a category's criteria, for grouped select options.
type criterionGroup struct {
	Category domain.Category
	Criteria []domain.Criterion
}

func (s *Server) criterionGroups(skip map[string]bool) []criterionGroup {
	var out []criterionGroup
	for _, cat := range domain.Categories {
		g := criterionGroup{Category: cat}
		for _, cr := range s.cfg.Catalog.InScope([]domain.Category{cat}) {
			if !skip[cr.ID] {
				g.Criteria = append(g.Criteria, cr)
			}
		}
		if len(g.Criteria) > 0 {
			out = append(out, g)
		}
	}
	return out
}

func (s *Server) controlsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	q, filter, err := s.parseControlQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	controls, err := s.cfg.Store.Controls(ctx, p.Org.ID, filter)
	if err != nil {
		return err
	}
	all, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		return err
	}
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := controlsView{Query: q, Controls: controls, Members: members, Criteria: s.criterionGroups(nil)}
	v.Export = "/controls.csv"
	if enc := q.Encode(); enc != "" {
		v.Export += "?" + enc
	}
	domains := map[string]bool{}
	for _, c := range all {
		if c.Domain != "" {
			domains[c.Domain] = true
		}
		if !c.Retired() {
			v.Total++
		}
	}
	for d := range domains {
		v.Domains = append(v.Domains, d)
	}
	sort.Strings(v.Domains)
	counts := map[domain.ControlStatus]int{}
	for _, c := range controls {
		counts[c.Status]++
	}
	for _, st := range domain.Statuses {
		v.ByStatus = append(v.ByStatus, statusCount{Status: st, Count: counts[st]})
	}
	pg := s.newPage(w, r, p, "Controls", "controls")
	pg.Data = v
	return s.render(w, http.StatusOK, "controls", pg)
}

// controlsCSV exports the filtered list. Every cell goes through csvCell, so a title such
// as "=HYPERLINK(…)" stays text in a spreadsheet.
func (s *Server) controlsCSV(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, filter, err := s.parseControlQuery(r.URL.Query())
	if err != nil {
		return err
	}
	controls, err := s.cfg.Store.Controls(r.Context(), p.Org.ID, filter)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="evident-controls-%s-%s.csv"`, p.Org.Slug, s.now().UTC().Format("2006-01-02")))
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"ref", "title", "status", "owner", "domain", "frequency", "criteria", "evidence_expected", "justification", "retired", "updated_at", "url"})
	for _, c := range controls {
		retired := ""
		if c.RetiredAt != nil {
			retired = c.RetiredAt.UTC().Format(time.RFC3339)
		}
		row := []string{
			c.Ref, c.Title, string(c.Status), c.OwnerName, c.Domain, string(c.Frequency),
			strings.Join(c.Criteria, " "), c.EvidenceExpected, c.Justification, retired,
			c.UpdatedAt.UTC().Format(time.RFC3339), "/controls/" + strconv.FormatInt(c.ID, 10),
		}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return nil // the client went away; nothing more to say to it
		}
	}
	cw.Flush()
	return nil
}

// csvCell neutralizes a cell that a spreadsheet would read as a formula by prefixing a
// single quote, the convention spreadsheets display as text.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '|', '%':
		return "'" + s
	}
	return s
}

// controlView is the data of a control's page.
type controlView struct {
	Control  *domain.Control
	Mapped   []domain.Criterion
	Unmapped []criterionGroup
	Members  []domain.Member
	Gaps     []readiness.Gap
	Events   []eventView
	Evidence *controlEvidence
	// Tests are the automated tests that support the control (ui_tests.go); Monitored
	// says whether the server runs tests at all.
	Tests     []testEntry
	Monitored bool
	Now       time.Time
}

// controlForm is the edit form filled from a control.
func controlForm(c *domain.Control) *form {
	f := newForm(nil)
	f.Values.Set("ref", c.Ref)
	f.Values.Set("title", c.Title)
	f.Values.Set("description", c.Description)
	f.Values.Set("domain", c.Domain)
	f.Values.Set("frequency", string(c.Frequency))
	f.Values.Set("evidence_expected", c.EvidenceExpected)
	f.Values.Set("status", string(c.Status))
	f.Values.Set("justification", c.Justification)
	if c.OwnerID != nil {
		f.Values.Set("owner_id", strconv.FormatInt(*c.OwnerID, 10))
	}
	return f
}

// loadControl reads the control named in the path, in the principal's organization only.
func (s *Server) loadControl(r *http.Request, p *principal) (*domain.Control, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, domain.NotFound("control")
	}
	return s.cfg.Store.Control(r.Context(), p.Org.ID, id)
}

func (s *Server) controlPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadControl(r, p)
	if err != nil {
		return err
	}
	return s.renderControl(w, r, p, c, controlForm(c), http.StatusOK)
}

func (s *Server) renderControl(w http.ResponseWriter, r *http.Request, p *principal, c *domain.Control, f *form, status int) error {
	ctx := r.Context()
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := controlView{Control: c, Members: members, Now: s.now()}
	mapped := map[string]bool{}
	for _, id := range c.Criteria {
		mapped[id] = true
		if cr, ok := s.cfg.Catalog.Criterion(id); ok {
			v.Mapped = append(v.Mapped, cr)
		} else {
			v.Mapped = append(v.Mapped, domain.Criterion{ID: id, Title: "Not in the current catalog"})
		}
	}
	v.Unmapped = s.criterionGroups(mapped)
	rep, err := s.currentReadiness(ctx, p.Org.ID, s.now())
	if err != nil {
		return err
	}
	for _, g := range rep.Gaps {
		if g.ControlID == c.ID {
			v.Gaps = append(v.Gaps, g)
		}
	}
	if v.Events, err = s.events(r, p, domain.EventFilter{Subject: "control:" + strconv.FormatInt(c.ID, 10), Limit: 20}); err != nil {
		return err
	}
	if v.Evidence, err = s.controlEvidenceCard(ctx, p, c); err != nil {
		return err
	}
	v.Monitored = s.cfg.Collect != nil && s.cfg.Monitoring != nil
	if v.Tests, err = s.controlTests(ctx, p.Org.ID, c.Ref); err != nil {
		return err
	}
	pg := s.newPage(w, r, p, c.Ref+" "+c.Title, "controls")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "control", pg)
}

// ownerFromForm reads owner_id: empty clears the owner; otherwise it must be a member.
func ownerFromForm(f *form, members []domain.Member) (*int64, error) {
	raw := f.Get("owner_id")
	if raw == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err == nil {
		for _, m := range members {
			if m.User.ID == id {
				return &id, nil
			}
		}
	}
	return nil, domain.Invalid("owner_id", "must be a member of this organization")
}

func frequencyFromForm(f *form) (domain.Frequency, error) {
	fr := domain.Frequency(f.Get("frequency"))
	if !fr.Valid() {
		return "", domain.Invalid("frequency", "must be chosen from the list")
	}
	return fr, nil
}

func statusFromForm(f *form) (domain.ControlStatus, error) {
	st := domain.ControlStatus(f.Get("status"))
	if !st.Valid() {
		return "", domain.Invalid("status", "must be chosen from the list")
	}
	return st, nil
}

// controlFields are the edit form's fields, for placing error messages.
var controlFields = []string{"ref", "title", "description", "domain", "frequency", "evidence_expected", "status", "justification", "owner_id", "criterion"}

func (s *Server) updateControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadControl(r, p)
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	members, err := s.cfg.Store.Members(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	title, desc, dom := f.Get("title"), f.Get("description"), strings.TrimSpace(f.Get("domain"))
	evidence, just := f.Get("evidence_expected"), f.Get("justification")
	ch := domain.ControlChange{Title: &title, Description: &desc, Domain: &dom, EvidenceExpected: &evidence, Justification: &just}
	err = func() error {
		fr, err := frequencyFromForm(f)
		if err != nil {
			return err
		}
		st, err := statusFromForm(f)
		if err != nil {
			return err
		}
		owner, err := ownerFromForm(f, members)
		if err != nil {
			return err
		}
		ch.Frequency, ch.Status, ch.OwnerID = &fr, &st, &owner
		updated, err := s.cfg.Store.UpdateControl(r.Context(), p.Actor(), p.Org.ID, c.ID, ch)
		if err == nil {
			c = updated
		}
		return err
	}()
	if err != nil {
		if !f.fail(err, controlFields...) {
			return err
		}
		f.Values.Set("ref", c.Ref)
		return s.renderControl(w, r, p, c, f, statusOf(err))
	}
	return s.redirect(w, r, controlURL(c), "Saved "+c.Ref+".")
}

func controlURL(c *domain.Control) string { return "/controls/" + strconv.FormatInt(c.ID, 10) }

func (s *Server) mapControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.changeMapping(w, r, p, true)
}

func (s *Server) unmapControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.changeMapping(w, r, p, false)
}

func (s *Server) changeMapping(w http.ResponseWriter, r *http.Request, p *principal, mapIt bool) error {
	c, err := s.loadControl(r, p)
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	id := strings.ToUpper(strings.TrimSpace(f.Get("criterion")))
	if _, ok := s.cfg.Catalog.Criterion(id); !ok && mapIt {
		err = domain.Invalid("criterion", "must be chosen from the list")
	} else if mapIt {
		err = s.cfg.Store.MapControl(r.Context(), p.Actor(), p.Org.ID, c.ID, id)
	} else {
		err = s.cfg.Store.UnmapControl(r.Context(), p.Actor(), p.Org.ID, c.ID, id)
	}
	if err != nil {
		ef := controlForm(c)
		if !ef.fail(err, "criterion") {
			return err
		}
		return s.renderControl(w, r, p, c, ef, statusOf(err))
	}
	if mapIt {
		return s.redirect(w, r, controlURL(c)+"#criteria", "Mapped "+c.Ref+" to "+id+".")
	}
	return s.redirect(w, r, controlURL(c)+"#criteria", "Unmapped "+c.Ref+" from "+id+".")
}

func (s *Server) retireControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setRetired(w, r, p, true)
}

func (s *Server) restoreControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setRetired(w, r, p, false)
}

func (s *Server) setRetired(w http.ResponseWriter, r *http.Request, p *principal, retired bool) error {
	c, err := s.loadControl(r, p)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Store.UpdateControl(r.Context(), p.Actor(), p.Org.ID, c.ID, domain.ControlChange{Retired: &retired}); err != nil {
		return err
	}
	if retired {
		return s.redirect(w, r, controlURL(c), "Retired "+c.Ref+". It no longer covers any criterion.")
	}
	return s.redirect(w, r, controlURL(c), "Restored "+c.Ref+".")
}

// newControlView is the data of the new-control form.
type newControlView struct {
	Members  []domain.Member
	Criteria []criterionGroup
}

func (s *Server) newControlPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(nil)
	f.Values.Set("frequency", string(domain.FrequencyQuarterly))
	f.Values.Set("status", string(domain.StatusNotStarted))
	f.Values.Set("criterion", strings.ToUpper(r.URL.Query().Get("criterion")))
	return s.renderNewControl(w, r, p, f, http.StatusOK)
}

func (s *Server) renderNewControl(w http.ResponseWriter, r *http.Request, p *principal, f *form, status int) error {
	members, err := s.cfg.Store.Members(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, p, "New control", "controls")
	pg.Form = f
	pg.Data = newControlView{Members: members, Criteria: s.criterionGroups(nil)}
	return s.render(w, status, "control_new", pg)
}

func (s *Server) createControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	members, err := s.cfg.Store.Members(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	c := &domain.Control{
		OrgID:            p.Org.ID,
		Ref:              f.Get("ref"),
		Title:            f.Get("title"),
		Description:      f.Get("description"),
		Domain:           strings.TrimSpace(f.Get("domain")),
		EvidenceExpected: f.Get("evidence_expected"),
		Justification:    f.Get("justification"),
	}
	err = func() error {
		if c.Frequency, err = frequencyFromForm(f); err != nil {
			return err
		}
		if c.Status, err = statusFromForm(f); err != nil {
			return err
		}
		if c.OwnerID, err = ownerFromForm(f, members); err != nil {
			return err
		}
		if id := strings.ToUpper(strings.TrimSpace(f.Get("criterion"))); id != "" {
			if _, ok := s.cfg.Catalog.Criterion(id); !ok {
				return domain.Invalid("criterion", "%q is not a SOC 2 criterion", id)
			}
			c.Criteria = []string{id}
		}
		if err := domain.ValidateControl(c); err != nil {
			return err
		}
		return s.cfg.Store.CreateControl(r.Context(), p.Actor(), c)
	}()
	if err != nil {
		if !f.fail(err, controlFields...) {
			return err
		}
		if domain.KindOf(err) == domain.KindConflict && f.Err("ref") == "" {
			f.Error = ""
			f.Errors["ref"] = "Another control already uses this reference."
		}
		return s.renderNewControl(w, r, p, f, statusOf(err))
	}
	return s.redirect(w, r, controlURL(c), "Created "+c.Ref+".")
}
