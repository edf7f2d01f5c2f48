package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"sync"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
)

// reportTemplate is the readiness report, parsed once. It stands alone: its styles are
// inline and it loads nothing, so it can be mailed or archived as one file.
var reportTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("report.html").Funcs(templateFuncs).ParseFS(templateFS, "templates/report.html")
})

// reportView is the data of the readiness report.
type reportView struct {
	Org        domain.Organization
	Report     *readiness.Report
	Ring       scoreRing
	ScoreText  string
	Severities []readiness.SeverityCount
	StatusBar  []barSegment
	ByCategory []reportCategory
	// Gaps are the gaps to act on, in priority order; NoEvidence lists, in the same order,
	// the refs of the controls whose only gap is missing evidence, which would otherwise
	// bury the rest in a long tail of identical rows.
	Gaps       []readiness.Gap
	NoEvidence []string
}

// reportCategory is one category's line in the report summary.
type reportCategory struct {
	Category domain.Category
	Criteria int
	Covered  int
	Ready    int
}

// WriteReadinessReport writes an organization's readiness report as one self-contained
// HTML document: inline styles, an inline SVG chart, no scripts and no external requests.
// The web UI serves it at /readiness/report.html and `evident readiness --format html`
// prints it.
func WriteReadinessReport(w io.Writer, org domain.Organization, r *readiness.Report) error {
	if r == nil {
		return fmt.Errorf("readiness report: no report")
	}
	t, err := reportTemplate()
	if err != nil {
		return fmt.Errorf("readiness report: parse template: %w", err)
	}
	v := reportView{Org: org, Report: r, Ring: newScoreRing(r.Score, 54), ScoreText: scoreText(r.Score), Severities: r.GapsBySeverity}
	var segs []barSegment
	for _, st := range r.ControlsByStatus {
		segs = append(segs, barSegment{Key: string(st.Status), Label: st.Status.Label(), Count: st.Count})
	}
	v.StatusBar = stackedBar(segs)
	for _, cat := range r.Categories {
		rc := reportCategory{Category: cat}
		for _, cr := range r.Criteria {
			if cr.Criterion.Category != cat {
				continue
			}
			rc.Criteria++
			if cr.Covered {
				rc.Covered++
			}
			if cr.Ready {
				rc.Ready++
			}
		}
		v.ByCategory = append(v.ByCategory, rc)
	}
	for _, g := range r.Gaps {
		if g.Kind == readiness.GapNoEvidence {
			v.NoEvidence = append(v.NoEvidence, g.ControlRef)
		} else {
			v.Gaps = append(v.Gaps, g)
		}
	}
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("readiness report: %w", err)
	}
	return nil
}

// readinessReport serves the report for the signed-in organization. Its own
// Content-Security-Policy allows the inline styles and nothing else.
func (s *Server) readinessReport(w http.ResponseWriter, r *http.Request, p *principal) error {
	rep, err := s.currentReadiness(r.Context(), p.Org.ID, s.now())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteReadinessReport(&buf, p.Org, rep); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Cache-Control", "no-store")
	if r.URL.Query().Get("download") == "1" {
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="evident-readiness-%s-%s.html"`, p.Org.Slug, rep.GeneratedAt.Format("2006-01-02")))
	}
	_, _ = buf.WriteTo(w)
	return nil
}
