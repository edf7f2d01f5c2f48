package web

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// freshnessView is a control's evidence judged against its frequency, ready to show: the
// state in a word, the period the control needs evidence for now and when it is due.
type freshnessView struct {
	State domain.Freshness
	// Needed names the period the evidence must reach, such as "Q1 2026".
	Needed      string
	NeededStart time.Time
	NeededEnd   time.Time
	// Due is the last day on which evidence for Needed is on time; zero for controls that
	// operate per event, which need evidence within the last twelve months instead.
	Due time.Time
	// Reaches is the last day the control's current evidence speaks for; zero when it
	// has none.
	Reaches time.Time
	// Frequency is the control's, for the sentence that explains the state.
	Frequency domain.Frequency
}

// Label is the state in a word, shown beside its colour.
func (f freshnessView) Label() string { return freshnessLabel(f.State) }

// Pending reports whether the control needs evidence: due, overdue or none at all.
func (f freshnessView) Pending() bool { return f.State != domain.FreshCurrent }

// freshnessLabel names a freshness state for people.
func freshnessLabel(s domain.Freshness) string {
	switch s {
	case domain.FreshCurrent:
		return "Current"
	case domain.FreshDue:
		return "Due"
	case domain.FreshOverdue:
		return "Overdue"
	}
	return "No evidence"
}

// freshnessOf judges a control of frequency f whose current evidence reaches latestEnd
// (zero if it has none) at now.
func freshnessOf(f domain.Frequency, latestEnd, now time.Time) freshnessView {
	start, end, due := domain.RequiredPeriod(f, now)
	fv := freshnessView{
		State:       domain.FreshnessOf(f, latestEnd, now),
		Needed:      domain.PeriodLabel(f, start, end),
		NeededStart: start,
		NeededEnd:   end,
		Reaches:     latestEnd,
		Frequency:   f,
	}
	if f != domain.FrequencyPerEvent {
		// RequiredPeriod's due is the first moment the evidence is late.
		fv.Due = due.AddDate(0, 0, -1)
	}
	return fv
}

// needsEvidence reports whether a control is expected to have evidence at all: retired
// and not-applicable controls are not.
func needsEvidence(c *domain.Control) bool {
	return !c.Retired() && c.Status != domain.StatusNotApplicable
}

// scopeCriteria returns the IDs of the criteria in the organization's scope.
func (s *Server) scopeCriteria(ctx context.Context, orgID int64) (map[string]bool, error) {
	sc, err := s.cfg.Store.Scope(ctx, orgID)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, cr := range s.cfg.Catalog.InScope(sc.Categories) {
		in[cr.ID] = true
	}
	return in, nil
}

// inScope reports whether a control maps to a criterion in scope, as readiness counts it.
func inScope(c *domain.Control, criteria map[string]bool) bool {
	for _, id := range c.Criteria {
		if criteria[id] {
			return true
		}
	}
	return false
}

// evidenceTask is a control whose evidence is due, overdue or missing.
type evidenceTask struct {
	Control   domain.Control
	Freshness freshnessView
}

// freshnessRank orders tasks: overdue first, then missing, then due.
func freshnessRank(s domain.Freshness) int {
	switch s {
	case domain.FreshOverdue:
		return 0
	case domain.FreshNone:
		return 1
	case domain.FreshDue:
		return 2
	}
	return 3
}

// evidenceTasks judges the freshness of every control in the list that needs evidence and
// is in scope, and returns those that are not current, most urgent first, and the count
// per state.
func (s *Server) evidenceTasks(ctx context.Context, orgID int64, controls []domain.Control, now time.Time) ([]evidenceTask, map[domain.Freshness]int, error) {
	latest, err := s.cfg.Store.LatestEvidence(ctx, orgID)
	if err != nil {
		return nil, nil, err
	}
	criteria, err := s.scopeCriteria(ctx, orgID)
	if err != nil {
		return nil, nil, err
	}
	counts := map[domain.Freshness]int{}
	var tasks []evidenceTask
	for _, c := range controls {
		if !needsEvidence(&c) || !inScope(&c, criteria) {
			continue
		}
		fv := freshnessOf(c.Frequency, latest[c.ID], now)
		counts[fv.State]++
		if fv.Pending() {
			tasks = append(tasks, evidenceTask{Control: c, Freshness: fv})
		}
	}
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := tasks[i].Freshness, tasks[j].Freshness
		if ra, rb := freshnessRank(a.State), freshnessRank(b.State); ra != rb {
			return ra < rb
		}
		if !a.Due.Equal(b.Due) {
			return a.Due.Before(b.Due)
		}
		return tasks[i].Control.Ref < tasks[j].Control.Ref
	})
	return tasks, counts, nil
}

// tasksView is the data of the "My tasks" page.
type tasksView struct {
	// Monitoring are the person's open tasks for failing tests; Unassigned, shown to
	// those who may edit, the open tasks of tests whose controls have no owner.
	Monitoring     []domain.Task
	Unassigned     []domain.Task
	Evidence       []evidenceTask
	NotImplemented []domain.Control
	Owned          int // active controls the person owns, in scope or not
	Now            time.Time
}

// tasksPage lists the signed-in person's work: fixes for failing tests supporting their
// controls, their controls whose evidence is due, overdue or missing, and their controls
// not implemented yet.
func (s *Server) tasksPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	now := s.now()
	mine, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{OwnerID: p.User.ID})
	if err != nil {
		return err
	}
	tasks, _, err := s.evidenceTasks(ctx, p.Org.ID, mine, now)
	if err != nil {
		return err
	}
	v := tasksView{Evidence: tasks, Now: now}
	if st := s.cfg.Monitoring; st != nil {
		if v.Monitoring, err = st.Tasks(ctx, p.Org.ID, domain.TaskFilter{AssigneeID: p.User.ID}); err != nil {
			return err
		}
		if p.Role.CanEdit() {
			if v.Unassigned, err = st.Tasks(ctx, p.Org.ID, domain.TaskFilter{AssigneeID: -1}); err != nil {
				return err
			}
		}
	}
	for _, c := range mine {
		if !c.Retired() {
			v.Owned++
		}
		if c.Status == domain.StatusNotStarted || c.Status == domain.StatusInProgress {
			v.NotImplemented = append(v.NotImplemented, c)
		}
	}
	pg := s.newPage(w, r, p, "My tasks", "tasks")
	pg.Data = v
	return s.render(w, http.StatusOK, "tasks", pg)
}

// evidenceDueCard is the dashboard's card of evidence due and overdue across the
// organization.
type evidenceDueCard struct {
	Tasks   []evidenceTask // overdue and due, most urgent first, at most dueCardSize
	More    int            // overdue and due beyond Tasks
	Overdue int
	Due     int
	None    int
	Current int
}

// dueCardSize is how many controls the dashboard's evidence card lists.
const dueCardSize = 8

// evidenceDue fills the dashboard's evidence card. Controls with no evidence at all are
// counted but not listed: before the first upload every control is one of them, and the
// readiness gaps already list them.
func (s *Server) evidenceDue(ctx context.Context, orgID int64, now time.Time) (*evidenceDueCard, error) {
	controls, err := s.cfg.Store.Controls(ctx, orgID, domain.ControlFilter{})
	if err != nil {
		return nil, err
	}
	tasks, counts, err := s.evidenceTasks(ctx, orgID, controls, now)
	if err != nil {
		return nil, err
	}
	card := &evidenceDueCard{
		Overdue: counts[domain.FreshOverdue], Due: counts[domain.FreshDue],
		None: counts[domain.FreshNone], Current: counts[domain.FreshCurrent],
	}
	for _, t := range tasks {
		if t.Freshness.State == domain.FreshNone {
			continue
		}
		if len(card.Tasks) == dueCardSize {
			card.More++
			continue
		}
		card.Tasks = append(card.Tasks, t)
	}
	return card, nil
}
