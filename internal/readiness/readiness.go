// Package readiness computes an organization's SOC 2 readiness — its score and its gaps —
// in one place, for the UI, the API, the command line and the exports alike.
package readiness

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
)

// Source is what readiness reads. *store.Store satisfies it.
type Source interface {
	Scope(ctx context.Context, orgID int64) (*domain.Scope, error)
	Controls(ctx context.Context, orgID int64, f domain.ControlFilter) ([]domain.Control, error)
	// LatestEvidence returns, per control, the latest end of the effective periods of its
	// current evidence; controls without any are absent.
	LatestEvidence(ctx context.Context, orgID int64) (map[int64]time.Time, error)
}

// Severity is how urgent a gap is.
type Severity string

// The severities, most urgent first.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Severities lists the severities, most urgent first.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}

// rank orders severities: lower is more urgent.
func (s Severity) rank() int {
	for i, v := range Severities {
		if s == v {
			return i
		}
	}
	return len(Severities)
}

// Label is the severity as people write it.
func (s Severity) Label() string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// GapKind says what is missing.
type GapKind string

// The gap kinds.
const (
	// GapUncovered: no active control maps to a criterion in scope.
	GapUncovered GapKind = "criterion_not_covered"
	// GapNotImplemented: a control is not started or still in progress.
	GapNotImplemented GapKind = "control_not_implemented"
	// GapNoOwner: nobody is responsible for a control.
	GapNoOwner GapKind = "control_without_owner"
	// GapUnjustified: a control is marked not applicable without saying why.
	GapUnjustified GapKind = "not_applicable_without_justification"
	// GapNoEvidence: a control has no current evidence that it operates.
	GapNoEvidence GapKind = "control_without_evidence"
	// GapTestFailing: an automated test supporting a control fails on resources without
	// an exception.
	GapTestFailing GapKind = "test_failing"
)

// Gap is one thing standing between the organization and its report.
type Gap struct {
	Kind     GapKind  `json:"kind"`
	Severity Severity `json:"severity"`
	// Criteria are the in-scope criteria the gap affects, in catalog order: the one
	// uncovered criterion, or every in-scope criterion the control maps to.
	Criteria []string `json:"criteria"`
	// ControlID and ControlRef name the control for control gaps; zero for criterion gaps.
	ControlID  int64  `json:"control_id,omitempty"`
	ControlRef string `json:"control_ref,omitempty"`
	Title      string `json:"title"`
	Detail     string `json:"detail"`
	NextStep   string `json:"next_step"`
}

// ControlState is a control as readiness sees it.
type ControlState struct {
	ID        int64                `json:"id"`
	Ref       string               `json:"ref"`
	Title     string               `json:"title"`
	Status    domain.ControlStatus `json:"status"`
	OwnerID   *int64               `json:"owner_id"`
	OwnerName string               `json:"owner_name,omitempty"`
	// Ready: implemented, or not applicable with a justification, and owned.
	Ready bool `json:"ready"`
}

// CriterionReadiness is one in-scope criterion and the controls that cover it.
type CriterionReadiness struct {
	Criterion domain.Criterion `json:"criterion"`
	Controls  []ControlState   `json:"controls"` // active controls mapped to it, by ref
	// Covered: at least one active control maps to the criterion.
	Covered bool `json:"covered"`
	// ReadyControls counts the ready controls among Controls.
	ReadyControls int `json:"ready_controls"`
	// Ready: covered, and every control covering it is ready.
	Ready bool `json:"ready"`
	// Score is the share of ready controls, 0 to 100 with one decimal; 0 when uncovered.
	Score float64 `json:"score"`
}

// StatusCount is how many controls have a status.
type StatusCount struct {
	Status domain.ControlStatus `json:"status"`
	Count  int                  `json:"count"`
}

// OwnerCount is how many controls a person owns. OwnerID nil counts the controls without owner.
type OwnerCount struct {
	OwnerID *int64 `json:"owner_id"`
	Name    string `json:"name"`
	Count   int    `json:"count"`
}

// SeverityCount is how many gaps have a severity.
type SeverityCount struct {
	Severity Severity `json:"severity"`
	Count    int      `json:"count"`
}

// Report is an organization's readiness at one moment.
type Report struct {
	OrgID       int64             `json:"org_id"`
	GeneratedAt time.Time         `json:"generated_at"`
	Categories  []domain.Category `json:"categories"` // in scope, catalog order
	ReportType  domain.ReportType `json:"report_type"`
	TargetDate  *time.Time        `json:"target_date"`
	// Score is the readiness score, 0 to 100 with one decimal: the average over the
	// criteria in scope of each criterion's share of ready controls, an uncovered criterion
	// counting 0. A control is ready when it is implemented, or not applicable with a
	// justification, and has an owner.
	Score float64 `json:"score"`
	// Criteria lists the criteria in scope, in catalog order.
	Criteria        []CriterionReadiness `json:"criteria"`
	CriteriaCovered int                  `json:"criteria_covered"`
	CriteriaReady   int                  `json:"criteria_ready"`
	// Gaps are sorted by severity, then by the first criterion they affect in catalog
	// order, then by control ref.
	Gaps []Gap `json:"gaps"`
	// Controls counts the active controls mapped to at least one criterion in scope; the
	// counts below are over them.
	Controls         int             `json:"controls"`
	ControlsByStatus []StatusCount   `json:"controls_by_status"` // every status, workflow order
	ControlsByOwner  []OwnerCount    `json:"controls_by_owner"`  // most controls first, "no owner" last
	GapsBySeverity   []SeverityCount `json:"gaps_by_severity"`   // every severity, most urgent first
	// ControlsOutOfScope counts the active controls that map to no criterion in scope.
	ControlsOutOfScope int `json:"controls_out_of_scope"`
}

// Compute reads an organization's scope and controls from src and returns its readiness
// against the catalog's criteria as of now. Retired controls are ignored. When src is
// also a TestSource, each automated test failing now is a gap for each control it supports.
func Compute(ctx context.Context, src Source, cat *catalog.Catalog, orgID int64, now time.Time) (*Report, error) {
	scope, err := src.Scope(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("readiness: scope: %w", err)
	}
	controls, err := src.Controls(ctx, orgID, domain.ControlFilter{})
	if err != nil {
		return nil, fmt.Errorf("readiness: controls: %w", err)
	}
	latest, err := src.LatestEvidence(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("readiness: evidence: %w", err)
	}
	r := &Report{
		OrgID:       orgID,
		GeneratedAt: now.UTC(),
		ReportType:  scope.ReportType,
		TargetDate:  scope.TargetDate,
	}
	for _, c := range domain.Categories {
		if scope.InScope(c) {
			r.Categories = append(r.Categories, c)
		}
	}
	criteria := cat.InScope(r.Categories)
	order := make(map[string]int, len(criteria)) // criterion ID → position in r.Criteria
	r.Criteria = make([]CriterionReadiness, len(criteria))
	for i, cr := range criteria {
		order[cr.ID] = i
		r.Criteria[i] = CriterionReadiness{Criterion: cr, Controls: []ControlState{}}
	}

	active := map[string]activeControl{} // by ref: the controls failing tests make gaps for
	byStatus := map[domain.ControlStatus]int{}
	owners := map[int64]*OwnerCount{}
	noOwner := OwnerCount{Name: "No owner"}
	for i := range controls {
		c := &controls[i]
		if c.Retired() {
			continue
		}
		affected := inScopeCriteria(c, order)
		if len(affected) == 0 {
			r.ControlsOutOfScope++
			continue
		}
		active[c.Ref] = activeControl{control: c, criteria: affected}
		state := ControlState{
			ID: c.ID, Ref: c.Ref, Title: c.Title, Status: c.Status,
			OwnerID: c.OwnerID, OwnerName: c.OwnerName, Ready: ready(c),
		}
		for _, id := range affected {
			cr := &r.Criteria[order[id]]
			cr.Controls = append(cr.Controls, state)
			if state.Ready {
				cr.ReadyControls++
			}
		}
		r.Controls++
		byStatus[c.Status]++
		if c.OwnerID == nil {
			noOwner.Count++
		} else if oc, ok := owners[*c.OwnerID]; ok {
			oc.Count++
		} else {
			owners[*c.OwnerID] = &OwnerCount{OwnerID: c.OwnerID, Name: c.OwnerName, Count: 1}
		}
		r.Gaps = append(r.Gaps, controlGaps(c, affected, cat, latest[c.ID], now)...)
	}
	if ts, ok := src.(TestSource); ok {
		failing, err := ts.FailingTests(ctx, orgID, now)
		if err != nil {
			return nil, fmt.Errorf("readiness: failing tests: %w", err)
		}
		r.Gaps = append(r.Gaps, testGaps(failing, active)...)
	}

	var sum float64
	for i := range r.Criteria {
		cr := &r.Criteria[i]
		sort.Slice(cr.Controls, func(a, b int) bool { return cr.Controls[a].Ref < cr.Controls[b].Ref })
		cr.Covered = len(cr.Controls) > 0
		if !cr.Covered {
			r.Gaps = append(r.Gaps, uncoveredGap(cr.Criterion))
			continue
		}
		share := float64(cr.ReadyControls) / float64(len(cr.Controls))
		cr.Score = oneDecimal(100 * share)
		cr.Ready = cr.ReadyControls == len(cr.Controls)
		r.CriteriaCovered++
		if cr.Ready {
			r.CriteriaReady++
		}
		sum += share
	}
	if len(r.Criteria) > 0 {
		r.Score = oneDecimal(100 * sum / float64(len(r.Criteria)))
	}

	sortGaps(r.Gaps, order)
	if r.Gaps == nil {
		r.Gaps = []Gap{}
	}
	for _, s := range domain.Statuses {
		r.ControlsByStatus = append(r.ControlsByStatus, StatusCount{Status: s, Count: byStatus[s]})
	}
	r.ControlsByOwner = make([]OwnerCount, 0, len(owners)+1)
	for _, oc := range owners {
		r.ControlsByOwner = append(r.ControlsByOwner, *oc)
	}
	sort.Slice(r.ControlsByOwner, func(a, b int) bool {
		x, y := r.ControlsByOwner[a], r.ControlsByOwner[b]
		if x.Count != y.Count {
			return x.Count > y.Count
		}
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		return *x.OwnerID < *y.OwnerID
	})
	if noOwner.Count > 0 {
		r.ControlsByOwner = append(r.ControlsByOwner, noOwner)
	}
	bySeverity := map[Severity]int{}
	for _, g := range r.Gaps {
		bySeverity[g.Severity]++
	}
	for _, s := range Severities {
		r.GapsBySeverity = append(r.GapsBySeverity, SeverityCount{Severity: s, Count: bySeverity[s]})
	}
	return r, nil
}

// inScopeCriteria returns the criteria in scope that c maps to, in catalog order.
func inScopeCriteria(c *domain.Control, order map[string]int) []string {
	var ids []string
	for _, id := range c.Criteria {
		if _, ok := order[id]; ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool { return order[ids[a]] < order[ids[b]] })
	return ids
}

// justified reports whether a not-applicable control says why.
func justified(c *domain.Control) bool { return strings.TrimSpace(c.Justification) != "" }

// ready reports whether a control counts towards the score: implemented, or not
// applicable with a justification, and owned.
func ready(c *domain.Control) bool {
	if c.OwnerID == nil {
		return false
	}
	return c.Status == domain.StatusImplemented || (c.Status == domain.StatusNotApplicable && justified(c))
}

// controlGaps returns the gaps of one active control that maps to the given in-scope criteria.
func controlGaps(c *domain.Control, criteria []string, cat *catalog.Catalog, latestEvidence, now time.Time) []Gap {
	name := c.Ref + " " + c.Title
	mapped := "It maps to " + strings.Join(criteria, ", ") + "."
	gap := func(kind GapKind, sev Severity, title, detail, next string) Gap {
		return Gap{
			Kind: kind, Severity: sev, Criteria: criteria, ControlID: c.ID, ControlRef: c.Ref,
			Title: title, Detail: detail, NextStep: next,
		}
	}
	var gaps []Gap
	switch c.Status {
	case domain.StatusNotStarted, domain.StatusInProgress:
		title := name + " is not implemented"
		if lc, ok := cat.LibraryControl(c.Ref); ok && c.FromLibrary {
			title = lc.Finding
		}
		sev, detail, next := SeverityHigh,
			name+" has not been started. "+mapped,
			"Agree with the owner how the control will operate, then set its status to In progress."
		if c.Status == domain.StatusInProgress {
			sev, detail, next = SeverityMedium,
				name+" is in progress. "+mapped,
				"Finish putting the control in place, then set its status to Implemented."
		}
		if e := strings.TrimSpace(c.EvidenceExpected); e != "" {
			next += " An auditor will expect: " + e
		}
		gaps = append(gaps, gap(GapNotImplemented, sev, title, detail, next))
	case domain.StatusNotApplicable:
		if !justified(c) {
			gaps = append(gaps, gap(GapUnjustified, SeverityHigh,
				name+" is marked not applicable without a justification",
				"An auditor accepts a control as not applicable only with a reason. "+mapped,
				"Write why the control does not apply to your system, or change its status."))
		}
	}
	if c.OwnerID == nil {
		gaps = append(gaps, gap(GapNoOwner, SeverityMedium,
			name+" has no owner",
			"Nobody is responsible for operating the control and providing its evidence. "+mapped,
			"Assign an owner."))
	}
	if g, ok := evidenceGap(c, criteria, latestEvidence, now); ok {
		gaps = append(gaps, g)
	}
	return gaps
}

// evidenceGap is the one rule for a control's evidence: its freshness
// (domain.FreshnessOf) against the control's frequency, from latestEnd, the latest end of
// the effective periods of its current evidence (zero for none). A control marked not
// applicable needs none. No evidence at all is a medium gap; evidence for the period just
// ended that is still within its grace is a low one; evidence missing past its grace is
// a high one.
func evidenceGap(c *domain.Control, criteria []string, latestEnd, now time.Time) (Gap, bool) {
	if c.Status == domain.StatusNotApplicable {
		return Gap{}, false
	}
	fresh := domain.FreshnessOf(c.Frequency, latestEnd, now)
	if fresh == domain.FreshCurrent {
		return Gap{}, false
	}
	name := c.Ref + " " + c.Title
	mapped := " It maps to " + strings.Join(criteria, ", ") + "."
	next := "Collect evidence that the control operates"
	if e := strings.TrimSpace(c.EvidenceExpected); e != "" {
		next = "Collect the evidence an auditor expects: " + strings.TrimSuffix(e, ".")
	}
	start, end, due := domain.RequiredPeriod(c.Frequency, now)
	covered := ""
	if !latestEnd.IsZero() {
		covered = "Its current evidence reaches " + latestEnd.Format(time.DateOnly) + "."
	}
	g := Gap{Kind: GapNoEvidence, Criteria: criteria, ControlID: c.ID, ControlRef: c.Ref}
	switch fresh {
	case domain.FreshNone:
		g.Severity = SeverityMedium
		g.Title = name + ": no evidence collected"
		g.Detail = "No current evidence shows that the control operates." + mapped
		g.NextStep = next + "."
	case domain.FreshDue:
		period := domain.PeriodLabel(c.Frequency, start, end)
		// due is the first day late; people are told the last day on time.
		last := due.AddDate(0, 0, -1).Format(time.DateOnly)
		g.Severity = SeverityLow
		g.Title = name + ": evidence for " + period + " is due by " + last
		g.Detail = covered + " The " + strings.ToLower(c.Frequency.Label()) + " control needs evidence for " + period + "." + mapped
		g.NextStep = next + ", for " + period + ", by " + last + "."
	default: // overdue
		// Within the grace of the period just ended, the one before it is what is late.
		if now.Before(due) && c.Frequency != domain.FrequencyPerEvent {
			start, end, _ = domain.RequiredPeriod(c.Frequency, start)
		}
		period := domain.PeriodLabel(c.Frequency, start, end)
		g.Severity = SeverityHigh
		g.Title = name + ": evidence is overdue, nothing covers " + period
		g.Detail = covered + " The " + strings.ToLower(c.Frequency.Label()) + " control has no evidence for " + period + "." + mapped
		g.NextStep = next + ", for " + period + "."
	}
	g.Detail = strings.TrimSpace(g.Detail)
	return g, true
}

// uncoveredGap is the gap of a criterion in scope that no active control covers.
func uncoveredGap(cr domain.Criterion) Gap {
	return Gap{
		Kind: GapUncovered, Severity: SeverityCritical, Criteria: []string{cr.ID},
		Title:    cr.ID + " " + cr.Title + " is not covered by any control",
		Detail:   "The criterion is in scope, but no active control addresses it, so an auditor would find nothing to test.",
		NextStep: "Map an existing control to " + cr.ID + ", or add a control that addresses it.",
	}
}

// sortGaps orders gaps by severity, then first affected criterion in catalog order, then
// control ref, then kind. It sorts small keys rather than the gaps themselves, which are
// large to move around.
func sortGaps(gaps []Gap, order map[string]int) {
	type key struct {
		severity, criterion, i int
	}
	keys := make([]key, len(gaps))
	for i, g := range gaps {
		k := key{severity: g.Severity.rank(), criterion: len(order), i: i}
		if len(g.Criteria) > 0 {
			k.criterion = order[g.Criteria[0]]
		}
		keys[i] = k
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.severity, b.severity); c != 0 {
			return c
		}
		if c := cmp.Compare(a.criterion, b.criterion); c != 0 {
			return c
		}
		x, y := &gaps[a.i], &gaps[b.i]
		if c := strings.Compare(x.ControlRef, y.ControlRef); c != 0 {
			return c
		}
		if c := strings.Compare(string(x.Kind), string(y.Kind)); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	sorted := make([]Gap, len(gaps))
	for i, k := range keys {
		sorted[i] = gaps[k.i]
	}
	copy(gaps, sorted)
}

// oneDecimal rounds to one decimal place.
func oneDecimal(x float64) float64 { return math.Round(x*10) / 10 }
