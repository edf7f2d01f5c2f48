package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// scopeView is the data of the scope page.
type scopeView struct {
	Scope       *domain.Scope
	Categories  []domain.Category
	Criteria    map[domain.Category]int // criteria per category
	Systems     []domain.System
	Members     []domain.Member
	Kinds       []string
	Classes     []domain.DataClassification
	SystemForm  *form // the add-system form
	PeriodDays  int
	DaysToAudit int
	HasTarget   bool
}

// scopeForm is the scope form filled from the stored scope.
func scopeForm(sc *domain.Scope) *form {
	f := newForm(nil)
	for _, c := range sc.Categories {
		f.Values.Add("categories", string(c))
	}
	f.Values.Set("report_type", string(sc.ReportType))
	f.Values.Set("target_date", dateValue(sc.TargetDate))
	f.Values.Set("period_start", dateValue(sc.PeriodStart))
	f.Values.Set("period_end", dateValue(sc.PeriodEnd))
	f.Values.Set("out_of_scope", sc.OutOfScope)
	return f
}

func dateValue(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format("2006-01-02")
}

func (s *Server) scopePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := s.cfg.Store.Scope(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	return s.renderScope(w, r, p, scopeForm(sc), newSystemForm(), http.StatusOK)
}

// newSystemForm is the add-system form with its starting values.
func newSystemForm() *form {
	return newForm(map[string][]string{"kind": {"application"}, "classification": {string(domain.DataConfidential)}})
}

func (s *Server) renderScope(w http.ResponseWriter, r *http.Request, p *principal, f, sysForm *form, status int) error {
	ctx := r.Context()
	sc, err := s.cfg.Store.Scope(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	systems, err := s.cfg.Store.Systems(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := scopeView{
		Scope: sc, Categories: domain.Categories, Systems: systems, Members: members,
		Kinds: domain.SystemKinds, Classes: domain.DataClassifications, SystemForm: sysForm,
		Criteria: map[domain.Category]int{},
	}
	for _, cr := range s.cfg.Catalog.Criteria {
		v.Criteria[cr.Category]++
	}
	if sc.PeriodStart != nil && sc.PeriodEnd != nil {
		v.PeriodDays = int(sc.PeriodEnd.Sub(*sc.PeriodStart).Hours()/24) + 1
	}
	if sc.TargetDate != nil {
		v.HasTarget = true
		v.DaysToAudit = daysUntil(s.now(), *sc.TargetDate)
	}
	pg := s.newPage(w, r, p, "Scope", "scope")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "scope", pg)
}

// formDate reads an optional YYYY-MM-DD field.
func formDate(f *form, field string) (*time.Time, error) {
	raw := strings.TrimSpace(f.Get(field))
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", raw)
	if err != nil {
		return nil, domain.Invalid(field, "must be a date such as 2026-03-31")
	}
	return &t, nil
}

// scopeFields are the scope form's fields, for placing error messages.
var scopeFields = []string{"categories", "report_type", "target_date", "period_start", "period_end", "out_of_scope"}

func (s *Server) updateScope(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	sc := &domain.Scope{OrgID: p.Org.ID, ReportType: domain.ReportType(f.Get("report_type")), OutOfScope: f.Get("out_of_scope")}
	for _, c := range f.Values["categories"] {
		sc.Categories = append(sc.Categories, domain.Category(c))
	}
	err = func() error {
		if sc.TargetDate, err = formDate(f, "target_date"); err != nil {
			return err
		}
		if sc.PeriodStart, err = formDate(f, "period_start"); err != nil {
			return err
		}
		if sc.PeriodEnd, err = formDate(f, "period_end"); err != nil {
			return err
		}
		if err := domain.ValidateScope(sc); err != nil {
			return err
		}
		return s.cfg.Store.UpdateScope(r.Context(), p.Actor(), sc)
	}()
	if err != nil {
		if !f.fail(err, scopeFields...) {
			return err
		}
		return s.renderScope(w, r, p, f, newSystemForm(), statusOf(err))
	}
	return s.redirect(w, r, "/scope", "Saved the scope.")
}

// systemFields are the system form's fields, for placing error messages.
var systemFields = []string{"name", "description", "kind", "classification", "owner_id"}

// systemFromForm fills a system from a submitted form.
func (s *Server) systemFromForm(r *http.Request, p *principal, f *form, sys *domain.System) error {
	members, err := s.cfg.Store.Members(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	sys.Name = f.Get("name")
	sys.Description = strings.TrimSpace(f.Get("description"))
	sys.Kind = f.Get("kind")
	sys.Classification = domain.DataClassification(f.Get("classification"))
	if sys.OwnerID, err = ownerFromForm(f, members); err != nil {
		return err
	}
	if len(sys.Description) > 5000 {
		return domain.Invalid("description", "must be at most 5000 characters")
	}
	return domain.ValidateSystem(sys)
}

func (s *Server) createSystem(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	sys := &domain.System{OrgID: p.Org.ID}
	err = s.systemFromForm(r, p, f, sys)
	if err == nil {
		err = s.cfg.Store.CreateSystem(r.Context(), p.Actor(), sys)
	}
	if err != nil {
		if !f.fail(err, systemFields...) {
			return err
		}
		sc, serr := s.cfg.Store.Scope(r.Context(), p.Org.ID)
		if serr != nil {
			return serr
		}
		return s.renderScope(w, r, p, scopeForm(sc), f, statusOf(err))
	}
	return s.redirect(w, r, "/scope#systems", "Added "+sys.Name+" to the systems in scope.")
}

// loadSystem reads the system named in the path, in the principal's organization only.
func (s *Server) loadSystem(r *http.Request, p *principal) (*domain.System, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, domain.NotFound("system")
	}
	return s.cfg.Store.System(r.Context(), p.Org.ID, id)
}

// systemView is the data of a system's page.
type systemView struct {
	System  *domain.System
	Members []domain.Member
	Kinds   []string
	Classes []domain.DataClassification
	Events  []eventView
	Now     time.Time
}

func (s *Server) systemPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	sys, err := s.loadSystem(r, p)
	if err != nil {
		return err
	}
	f := newForm(nil)
	f.Values.Set("name", sys.Name)
	f.Values.Set("description", sys.Description)
	f.Values.Set("kind", sys.Kind)
	f.Values.Set("classification", string(sys.Classification))
	if sys.OwnerID != nil {
		f.Values.Set("owner_id", strconv.FormatInt(*sys.OwnerID, 10))
	}
	return s.renderSystem(w, r, p, sys, f, http.StatusOK)
}

func (s *Server) renderSystem(w http.ResponseWriter, r *http.Request, p *principal, sys *domain.System, f *form, status int) error {
	members, err := s.cfg.Store.Members(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	v := systemView{System: sys, Members: members, Kinds: domain.SystemKinds, Classes: domain.DataClassifications, Now: s.now()}
	if v.Events, err = s.events(r, p, domain.EventFilter{Subject: "system:" + strconv.FormatInt(sys.ID, 10), Limit: 20}); err != nil {
		return err
	}
	pg := s.newPage(w, r, p, sys.Name, "scope")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "system", pg)
}

func (s *Server) updateSystem(w http.ResponseWriter, r *http.Request, p *principal) error {
	sys, err := s.loadSystem(r, p)
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	err = s.systemFromForm(r, p, f, sys)
	if err == nil {
		err = s.cfg.Store.UpdateSystem(r.Context(), p.Actor(), sys)
	}
	if err != nil {
		if !f.fail(err, systemFields...) {
			return err
		}
		orig, lerr := s.loadSystem(r, p)
		if lerr != nil {
			return lerr
		}
		return s.renderSystem(w, r, p, orig, f, statusOf(err))
	}
	return s.redirect(w, r, "/scope#systems", "Saved "+sys.Name+".")
}

func (s *Server) deleteSystem(w http.ResponseWriter, r *http.Request, p *principal) error {
	sys, err := s.loadSystem(r, p)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteSystem(r.Context(), p.Actor(), p.Org.ID, sys.ID); err != nil {
		return err
	}
	return s.redirect(w, r, "/scope#systems", "Removed "+sys.Name+" from the systems in scope.")
}
