package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
)

// seriesTitles are the AICPA's names for each series of criteria.
var seriesTitles = map[string]string{
	"CC1": "Control environment",
	"CC2": "Communication and information",
	"CC3": "Risk assessment",
	"CC4": "Monitoring activities",
	"CC5": "Control activities",
	"CC6": "Logical and physical access controls",
	"CC7": "System operations",
	"CC8": "Change management",
	"CC9": "Risk mitigation",
	"A1":  "Additional criteria for availability",
	"C1":  "Additional criteria for confidentiality",
	"PI1": "Additional criteria for processing integrity",
	"P1":  "Notice and communication of objectives",
	"P2":  "Choice and consent",
	"P3":  "Collection",
	"P4":  "Use, retention and disposal",
	"P5":  "Access",
	"P6":  "Disclosure and notification",
	"P7":  "Quality",
	"P8":  "Monitoring and enforcement",
}

// criterionRow is one criterion in the browser, with this organization's coverage.
type criterionRow struct {
	Criterion domain.Criterion
	InScope   bool
	Controls  int // active controls mapped to it
	Ready     int // of which ready, when in scope
	Covered   bool
	AllReady  bool
}

// seriesView is a series of criteria, such as CC6.
type seriesView struct {
	ID       string
	Title    string
	Criteria []criterionRow
}

// categoryView is one Trust Services Category in the browser.
type categoryView struct {
	Category domain.Category
	InScope  bool
	Series   []seriesView
	Total    int
	Covered  int
	Ready    int
}

// criteriaView is the data of the criteria browser.
type criteriaView struct {
	Categories []categoryView
}

func (s *Server) criteriaPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	rep, err := s.currentReadiness(ctx, p.Org.ID, s.now())
	if err != nil {
		return err
	}
	controls, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{})
	if err != nil {
		return err
	}
	mapped := map[string]int{}
	for _, c := range controls {
		if c.Retired() {
			continue
		}
		for _, id := range c.Criteria {
			mapped[id]++
		}
	}
	inScope := map[string]readiness.CriterionReadiness{}
	for _, cr := range rep.Criteria {
		inScope[cr.Criterion.ID] = cr
	}
	var v criteriaView
	for _, cat := range domain.Categories {
		cv := categoryView{Category: cat}
		for _, c := range rep.Categories {
			cv.InScope = cv.InScope || c == cat
		}
		for _, cr := range s.cfg.Catalog.InScope([]domain.Category{cat}) {
			row := criterionRow{Criterion: cr, Controls: mapped[cr.ID], Covered: mapped[cr.ID] > 0}
			if rd, ok := inScope[cr.ID]; ok {
				row.InScope, row.Ready, row.AllReady = true, rd.ReadyControls, rd.Ready
			}
			cv.Total++
			if row.Covered {
				cv.Covered++
			}
			if row.AllReady {
				cv.Ready++
			}
			if n := len(cv.Series); n == 0 || cv.Series[n-1].ID != cr.Series {
				cv.Series = append(cv.Series, seriesView{ID: cr.Series, Title: seriesTitles[cr.Series]})
			}
			last := &cv.Series[len(cv.Series)-1]
			last.Criteria = append(last.Criteria, row)
		}
		v.Categories = append(v.Categories, cv)
	}
	pg := s.newPage(w, r, p, "Criteria", "criteria")
	pg.Data = v
	return s.render(w, http.StatusOK, "criteria", pg)
}

// criterionView is the data of one criterion's page.
type criterionView struct {
	Criterion   domain.Criterion
	SeriesTitle string
	InScope     bool
	Readiness   *readiness.CriterionReadiness
	Controls    []domain.Control
	Others      []domain.Control // active controls not mapped to it, for the map form
	Gaps        []readiness.Gap
	Urgent      []gapView // the gaps above low severity
	NoEvidence  int       // the low gaps: controls without evidence, summarized
}

func (s *Server) criterionPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	cr, err := s.pathCriterion(w, r)
	if err != nil || cr == nil {
		return err
	}
	return s.renderCriterion(w, r, p, *cr, newForm(nil), http.StatusOK)
}

// pathCriterion reads the criterion named in the path. A lower-case ID is redirected to
// the canonical URL, and the criterion returned is nil.
func (s *Server) pathCriterion(w http.ResponseWriter, r *http.Request) (*domain.Criterion, error) {
	raw := r.PathValue("id")
	id := strings.ToUpper(raw)
	cr, ok := s.cfg.Catalog.Criterion(id)
	if !ok {
		return nil, domain.NotFound("criterion")
	}
	if id != raw && r.Method == http.MethodGet {
		http.Redirect(w, r, "/criteria/"+id, http.StatusMovedPermanently)
		return nil, nil
	}
	return &cr, nil
}

func (s *Server) renderCriterion(w http.ResponseWriter, r *http.Request, p *principal, cr domain.Criterion, f *form, status int) error {
	ctx := r.Context()
	rep, err := s.currentReadiness(ctx, p.Org.ID, s.now())
	if err != nil {
		return err
	}
	all, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{})
	if err != nil {
		return err
	}
	v := criterionView{Criterion: cr, SeriesTitle: seriesTitles[cr.Series]}
	for i := range rep.Criteria {
		if rep.Criteria[i].Criterion.ID == cr.ID {
			v.InScope, v.Readiness = true, &rep.Criteria[i]
		}
	}
	for _, c := range all {
		if c.Retired() {
			continue
		}
		if hasString(c.Criteria, cr.ID) {
			v.Controls = append(v.Controls, c)
		} else {
			v.Others = append(v.Others, c)
		}
	}
	for _, g := range rep.Gaps {
		if !hasString(g.Criteria, cr.ID) {
			continue
		}
		v.Gaps = append(v.Gaps, g)
		if g.Kind == readiness.GapNoEvidence {
			v.NoEvidence++
		} else {
			v.Urgent = append(v.Urgent, gapView{Gap: g, Link: gapLink(g)})
		}
	}
	pg := s.newPage(w, r, p, cr.ID+" "+cr.Title, "criteria")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "criterion", pg)
}

// mapToCriterion maps a control, chosen on the criterion's page, to the criterion.
func (s *Server) mapToCriterion(w http.ResponseWriter, r *http.Request, p *principal) error {
	cr, err := s.pathCriterion(w, r)
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	id, perr := strconv.ParseInt(f.Get("control_id"), 10, 64)
	if perr != nil || id <= 0 {
		f.Errors["control_id"] = "Choose a control to map."
		return s.renderCriterion(w, r, p, *cr, f, http.StatusBadRequest)
	}
	c, err := s.cfg.Store.Control(r.Context(), p.Org.ID, id)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.MapControl(r.Context(), p.Actor(), p.Org.ID, c.ID, cr.ID); err != nil {
		if !f.fail(err, "control_id") {
			return err
		}
		return s.renderCriterion(w, r, p, *cr, f, statusOf(err))
	}
	return s.redirect(w, r, "/criteria/"+cr.ID, "Mapped "+c.Ref+" to "+cr.ID+".")
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
