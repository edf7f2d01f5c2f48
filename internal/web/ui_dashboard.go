package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
)

// scoreRing is the geometry of the score's SVG ring, computed here so that the template
// only places numbers.
type scoreRing struct {
	Radius        float64
	Circumference float64
	Dash          string // stroke-dasharray: the filled arc, then the rest
	Band          string // low, mid or high, for the colour
}

func newScoreRing(score float64, radius float64) scoreRing {
	c := 2 * math.Pi * radius
	filled := c * math.Max(0, math.Min(100, score)) / 100
	return scoreRing{
		Radius:        radius,
		Circumference: c,
		Dash:          fmt.Sprintf("%.2f %.2f", filled, c-filled),
		Band:          scoreBand(score),
	}
}

// scoreBand is the colour band of a score: below 50 red, below 80 amber, else green.
func scoreBand(score float64) string {
	switch {
	case score >= 80:
		return "high"
	case score >= 50:
		return "mid"
	}
	return "low"
}

// barSegment is one part of a stacked SVG bar, in percent of its width.
type barSegment struct {
	Key   string // CSS class suffix
	Label string
	Count int
	X     float64
	Width float64
	Link  string
}

// stackedBar lays counts side by side over a width of 100.
func stackedBar(items []barSegment) []barSegment {
	total := 0
	for _, it := range items {
		total += it.Count
	}
	x := 0.0
	for i := range items {
		if total > 0 {
			items[i].Width = 100 * float64(items[i].Count) / float64(total)
		}
		items[i].X = x
		x += items[i].Width
	}
	return items
}

// ownerBar is one row of the controls-by-owner chart.
type ownerBar struct {
	Name  string
	Count int
	Width float64 // percent of the longest bar
	Link  string
	None  bool // the controls without an owner
}

// dashboardView is the data of the dashboard.
type dashboardView struct {
	Report        *readiness.Report
	Scope         *domain.Scope
	Ring          scoreRing
	ScoreText     string
	TopGaps       []gapView
	MoreGaps      int
	Severities    []severityTile
	StatusBar     []barSegment
	Owners        []ownerBar
	CriteriaTotal int
	DaysToTarget  int
	Systems       int
	Members       int
	Evidence      *evidenceDueCard
	// Monitoring is the card of failing tests, monitoring tasks and alerts; nil without
	// continuous monitoring. It is kept with the rest: test runs raise alerts, and closing
	// a task or excepting a failure writes to the ledger, so each changes the view's key.
	Monitoring *monitoringCard
	Now        time.Time
}

// severityTile is one severity's count of gaps.
type severityTile struct {
	Severity readiness.Severity
	Count    int
	Link     string
}

// gapView is a gap with the page it points to.
type gapView struct {
	readiness.Gap
	Link string
}

// gapLink is where a gap is fixed: its control, or its criterion.
func gapLink(g readiness.Gap) string {
	if g.ControlID != 0 {
		return "/controls/" + strconv.FormatInt(g.ControlID, 10)
	}
	if len(g.Criteria) > 0 {
		return "/criteria/" + g.Criteria[0]
	}
	return "/readiness"
}

func gapViews(gaps []readiness.Gap) []gapView {
	out := make([]gapView, len(gaps))
	for i, g := range gaps {
		out[i] = gapView{Gap: g, Link: gapLink(g)}
	}
	return out
}

// topGapCount is how many gaps the dashboard lists before linking to the rest.
const topGapCount = 8

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, p *principal) error {
	now := s.now()
	kept, err := s.dashboardOf(r.Context(), p.Org.ID, now)
	if err != nil {
		return err
	}
	// The kept view is shared between requests: copy it before adding this request's time.
	v := *kept
	v.Now = now
	if v.Scope.TargetDate != nil {
		v.DaysToTarget = daysUntil(now, *v.Scope.TargetDate)
	}
	pg := s.newPage(w, r, p, "Dashboard", "dashboard")
	pg.Data = &v
	return s.render(w, http.StatusOK, "dashboard", pg)
}

// dashboardOf returns the organization's dashboard as of now, without the parts that
// depend on the time of day (Now, DaysToTarget): built by buildDashboard, or kept from an
// earlier request of the same version and day (readiness_cache.go). Read it, never change it.
func (s *Server) dashboardOf(ctx context.Context, orgID int64, now time.Time) (*dashboardView, error) {
	key, err := s.viewKey(ctx, orgID, now)
	if err != nil {
		return nil, err
	}
	return s.kept.dashboards.get(ctx, orgID, key, func(ctx context.Context) (*dashboardView, error) {
		return s.buildDashboard(ctx, orgID, key, now)
	})
}

// buildDashboard reads and lays out everything the dashboard shows of the organization.
// Its readiness report is the one kept for key, computed if need be.
func (s *Server) buildDashboard(ctx context.Context, orgID int64, key viewKey, now time.Time) (*dashboardView, error) {
	sc, err := s.cfg.Store.Scope(ctx, orgID)
	if err != nil {
		return nil, err
	}
	rep, err := s.keptReport(ctx, orgID, key, now, scopeSource{s.cfg.Store, sc})
	if err != nil {
		return nil, err
	}
	systems, err := s.cfg.Store.Systems(ctx, orgID)
	if err != nil {
		return nil, err
	}
	members, err := s.cfg.Store.Members(ctx, orgID)
	if err != nil {
		return nil, err
	}
	v := &dashboardView{
		Report: rep, Scope: sc, Ring: newScoreRing(rep.Score, 52), ScoreText: scoreText(rep.Score),
		CriteriaTotal: len(rep.Criteria), Systems: len(systems), Members: len(members),
	}
	gaps := rep.Gaps
	if len(gaps) > topGapCount {
		v.MoreGaps = len(gaps) - topGapCount
		gaps = gaps[:topGapCount]
	}
	v.TopGaps = gapViews(gaps)
	for _, sc := range rep.GapsBySeverity {
		v.Severities = append(v.Severities, severityTile{Severity: sc.Severity, Count: sc.Count, Link: "/readiness?severity=" + string(sc.Severity)})
	}
	var segs []barSegment
	for _, st := range rep.ControlsByStatus {
		segs = append(segs, barSegment{Key: string(st.Status), Label: st.Status.Label(), Count: st.Count, Link: "/controls?status=" + string(st.Status)})
	}
	v.StatusBar = stackedBar(segs)
	most := 0
	for _, o := range rep.ControlsByOwner {
		most = max(most, o.Count)
	}
	for _, o := range rep.ControlsByOwner {
		link := "/controls?owner=none"
		if o.OwnerID != nil {
			link = "/controls?owner=" + strconv.FormatInt(*o.OwnerID, 10)
		}
		v.Owners = append(v.Owners, ownerBar{Name: o.Name, Count: o.Count, Width: 100 * float64(o.Count) / float64(max(most, 1)), Link: link, None: o.OwnerID == nil})
	}
	if v.Evidence, err = s.evidenceDue(ctx, orgID, now); err != nil {
		return nil, err
	}
	if v.Monitoring, err = s.monitoringCardOf(ctx, orgID, now); err != nil {
		return nil, err
	}
	return v, nil
}

// scopeSource is the store as readiness reads it, with the scope already loaded, so that a
// page that shows the scope too reads it once.
type scopeSource struct {
	domain.Store
	scope *domain.Scope
}

// Scope returns the loaded scope for its organization, and asks the store for any other.
func (s scopeSource) Scope(ctx context.Context, orgID int64) (*domain.Scope, error) {
	if s.scope != nil && s.scope.OrgID == orgID {
		return s.scope, nil
	}
	return s.Store.Scope(ctx, orgID)
}

// daysUntil counts the days from now until t, rounding a part day up, so that a date later
// today is "in 0 days" only once it has passed midnight.
func daysUntil(now, t time.Time) int {
	return int(math.Ceil(t.Sub(now).Hours() / 24))
}

// scoreText is a score as shown: one decimal, without a trailing ".0".
func scoreText(score float64) string {
	return strconv.FormatFloat(math.Round(score*10)/10, 'f', -1, 64)
}

// gapQuery is the readiness page's filter.
type gapQuery struct {
	Severity string
	Kind     string
	Q        string
}

// Encode is the query string of the filter.
func (q gapQuery) Encode() string {
	v := url.Values{}
	for k, x := range map[string]string{"severity": q.Severity, "kind": q.Kind, "q": q.Q} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v.Encode()
}

// gapKinds are the kinds of gap with their names, for the filter.
var gapKinds = []struct {
	Kind  readiness.GapKind
	Label string
}{
	{readiness.GapUncovered, "Criterion not covered"},
	{readiness.GapNotImplemented, "Control not implemented"},
	{readiness.GapNoOwner, "Control without owner"},
	{readiness.GapUnjustified, "Not applicable without justification"},
	{readiness.GapNoEvidence, "Control without evidence"},
}

func (s *Server) filteredGaps(r *http.Request, p *principal) (*readiness.Report, gapQuery, []readiness.Gap, error) {
	v := r.URL.Query()
	q := gapQuery{Severity: v.Get("severity"), Kind: v.Get("kind"), Q: strings.TrimSpace(v.Get("q"))}
	if q.Severity != "" {
		ok := false
		for _, sv := range readiness.Severities {
			ok = ok || string(sv) == q.Severity
		}
		if !ok {
			return nil, q, nil, domain.Invalid("severity", "must be one of critical, high, medium, low")
		}
	}
	if q.Kind != "" {
		ok := false
		for _, k := range gapKinds {
			ok = ok || string(k.Kind) == q.Kind
		}
		if !ok {
			return nil, q, nil, domain.Invalid("kind", "is not a kind of gap")
		}
	}
	rep, err := s.currentReadiness(r.Context(), p.Org.ID, s.now())
	if err != nil {
		return nil, q, nil, err
	}
	needle := strings.ToLower(q.Q)
	var out []readiness.Gap
	for _, g := range rep.Gaps {
		if q.Severity != "" && string(g.Severity) != q.Severity {
			continue
		}
		if q.Kind != "" && string(g.Kind) != q.Kind {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(g.Title+" "+g.Detail+" "+g.ControlRef+" "+strings.Join(g.Criteria, " ")), needle) {
			continue
		}
		out = append(out, g)
	}
	return rep, q, out, nil
}

// readinessView is the data of the readiness page.
type readinessView struct {
	Report    *readiness.Report
	Query     gapQuery
	Gaps      []gapView
	Kinds     any
	Ring      scoreRing
	ScoreText string
	Export    string
}

func (s *Server) readinessPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	rep, q, gaps, err := s.filteredGaps(r, p)
	if err != nil {
		return err
	}
	v := readinessView{Report: rep, Query: q, Gaps: gapViews(gaps), Kinds: gapKinds, Ring: newScoreRing(rep.Score, 30), ScoreText: scoreText(rep.Score)}
	v.Export = "/readiness/gaps.csv"
	if enc := q.Encode(); enc != "" {
		v.Export += "?" + enc
	}
	pg := s.newPage(w, r, p, "Readiness", "readiness")
	pg.Data = v
	return s.render(w, http.StatusOK, "readiness", pg)
}

func (s *Server) gapsCSV(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, _, gaps, err := s.filteredGaps(r, p)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="evident-gaps-%s-%s.csv"`, p.Org.Slug, s.now().UTC().Format("2006-01-02")))
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"rank", "severity", "kind", "title", "criteria", "control", "detail", "next_step"})
	for i, g := range gaps {
		row := []string{strconv.Itoa(i + 1), string(g.Severity), string(g.Kind), g.Title, strings.Join(g.Criteria, " "), g.ControlRef, g.Detail, g.NextStep}
		for j := range row {
			row[j] = csvCell(row[j])
		}
		if err := cw.Write(row); err != nil {
			return nil // the client went away
		}
	}
	cw.Flush()
	return nil
}

// monitoringCard is the dashboard's card of continuous monitoring: the tests failing now
// by severity, the most severe of them, the open monitoring tasks and the latest alerts.
type monitoringCard struct {
	Severities []failingSeverity
	Failing    int          // tests failing now
	Top        []failingRow // the most severe, at most monitoringTopCount
	OpenTasks  int
	Alerts     []alertRow // the latest, at most monitoringAlertCount
}

// failingSeverity is how many tests of a severity fail now.
type failingSeverity struct {
	Severity readiness.Severity
	Count    int
}

// failingRow is a failing test on the dashboard.
type failingRow struct {
	domain.FailingTest
}

// SeverityBadge is the test's severity for the "severity" template.
func (f failingRow) SeverityBadge() readiness.Severity { return readiness.Severity(f.Severity) }

// The monitoring card's lengths.
const (
	monitoringTopCount   = 5
	monitoringAlertCount = 5
)

// monitoringCardOf reads the dashboard's monitoring card, or returns nil when the server
// has no continuous monitoring.
func (s *Server) monitoringCardOf(ctx context.Context, orgID int64, now time.Time) (*monitoringCard, error) {
	if s.cfg.Monitoring == nil {
		return nil, nil
	}
	st := s.cfg.Monitoring
	failing, err := st.FailingTests(ctx, orgID, now)
	if err != nil {
		return nil, err
	}
	card := &monitoringCard{Failing: len(failing)}
	counts := map[string]int{}
	for _, f := range failing {
		counts[f.Severity]++
	}
	for i := len(domain.AlertSeverities) - 1; i >= 0; i-- {
		sev := domain.AlertSeverities[i]
		card.Severities = append(card.Severities, failingSeverity{Severity: readiness.Severity(sev), Count: counts[sev]})
	}
	slices.SortStableFunc(failing, func(a, b domain.FailingTest) int {
		if d := domain.SeverityRank(b.Severity) - domain.SeverityRank(a.Severity); d != 0 {
			return d
		}
		if d := b.Failing - a.Failing; d != 0 {
			return d
		}
		return strings.Compare(a.Title, b.Title)
	})
	for _, f := range failing[:min(len(failing), monitoringTopCount)] {
		card.Top = append(card.Top, failingRow{f})
	}
	if card.OpenTasks, err = st.CountTasks(ctx, orgID, domain.TaskFilter{}); err != nil {
		return nil, err
	}
	alerts, err := st.AlertDetails(ctx, orgID, domain.AlertFilter{Limit: monitoringAlertCount})
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		card.Alerts = append(card.Alerts, newAlertRow(a))
	}
	return card, nil
}
