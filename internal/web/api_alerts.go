package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
)

// apiAlertRoutes are the alerts routes of /api/v1: the alerts raised, where they go, and
// the caller's tasks.
func (s *Server) apiAlertRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/alerts", accessRead, s.apiAlerts},
		{"GET", "/alert-targets", accessRead, s.apiAlertTargets},
		{"POST", "/alert-targets", accessAdmin, s.apiCreateAlertTarget},
		{"GET", "/alert-targets/{id}", accessRead, s.apiAlertTarget},
		{"PATCH", "/alert-targets/{id}", accessAdmin, s.apiUpdateAlertTarget},
		{"DELETE", "/alert-targets/{id}", accessAdmin, s.apiDeleteAlertTarget},
		{"POST", "/alert-targets/{id}/test", accessAdmin, s.apiTestAlertTarget},
		{"GET", "/tasks", accessRead, s.apiTasks},
	}
}

// apiAlertResource is a resource an alert names.
type apiAlertResource struct {
	Type       string `json:"type"`
	ExternalID string `json:"id"`
	Name       string `json:"name"`
}

// apiDelivery is an alert's delivery to one target.
type apiDelivery struct {
	TargetID      *int64     `json:"target_id"`
	TargetName    string     `json:"target_name"`
	TargetKind    string     `json:"target_kind"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

// apiAlert is an alert as the API shows it.
type apiAlert struct {
	ID          int64              `json:"id"`
	TestID      string             `json:"test_id"`
	TestTitle   string             `json:"test_title"`
	Severity    string             `json:"severity"`
	State       string             `json:"state"`
	Failing     int                `json:"failing"`
	Resources   []apiAlertResource `json:"resources"`
	ControlIDs  []int64            `json:"control_ids"`
	CreatedAt   time.Time          `json:"created_at"`
	DeliveredAt *time.Time         `json:"delivered_at"`
	Deliveries  []apiDelivery      `json:"deliveries"`
}

func toAPIAlert(d domain.AlertDetail) apiAlert {
	a := apiAlert{ID: d.ID, TestID: d.TestID, TestTitle: d.TestTitle, Severity: d.Severity, State: string(d.State),
		Failing: d.Failing, Resources: []apiAlertResource{}, ControlIDs: d.ControlIDs, CreatedAt: d.CreatedAt,
		DeliveredAt: d.DeliveredAt, Deliveries: []apiDelivery{}}
	if a.ControlIDs == nil {
		a.ControlIDs = []int64{}
	}
	for _, r := range d.Resources {
		a.Resources = append(a.Resources, apiAlertResource{Type: r.Type, ExternalID: r.ExternalID, Name: r.Name})
	}
	for _, x := range d.Deliveries {
		a.Deliveries = append(a.Deliveries, apiDelivery{TargetID: x.TargetID, TargetName: x.TargetName, TargetKind: string(x.TargetKind),
			Status: string(x.Status), Attempts: x.Attempts, LastError: x.LastError, NextAttemptAt: x.NextAttemptAt, DeliveredAt: x.DeliveredAt})
	}
	return a
}

func (s *Server) apiAlerts(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := domain.AlertFilter{TestID: q.Get("test_id")}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before <= 0 {
			return domain.Invalid("before", "must be an alert ID")
		}
	}
	f.Limit = 100
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			return domain.Invalid("limit", "must be a positive number")
		}
		// The store returns no more than 1000: a full page is 1000 long.
		f.Limit = min(f.Limit, 1000)
	}
	details, err := st.AlertDetails(r.Context(), p.Org.ID, f)
	if err != nil {
		return err
	}
	out := make([]apiAlert, len(details))
	for i, d := range details {
		out[i] = toAPIAlert(d)
	}
	var next *int64
	if n := len(details); n > 0 && n == f.Limit {
		id := details[n-1].ID
		next = &id
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out, "next_before": next})
	return nil
}

// apiTarget is an alert target as the API shows it: never its URL's path or its secret.
type apiTarget struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name"`
	Recipients  []string  `json:"recipients"`
	Destination string    `json:"destination"`
	Events      []string  `json:"events"`
	MinSeverity string    `json:"min_severity"`
	Enabled     bool      `json:"enabled"`
	CreatedBy   int64     `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toAPITarget(t *domain.AlertTarget) apiTarget {
	out := apiTarget{ID: t.ID, Kind: string(t.Kind), Name: t.Name, Recipients: t.Recipients, Destination: t.Destination,
		Events: []string{}, MinSeverity: t.MinSeverity, Enabled: t.Enabled, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt,
		UpdatedAt: t.UpdatedAt}
	if out.Recipients == nil {
		out.Recipients = []string{}
	}
	if t.OnFailing {
		out.Events = append(out.Events, string(domain.AlertFailing))
	}
	if t.OnRecovered {
		out.Events = append(out.Events, string(domain.AlertRecovered))
	}
	return out
}

// apiEvents reads a target's events, failing and recovered.
func apiEvents(events []string) (failing, recovered bool, err error) {
	for _, e := range events {
		switch domain.AlertState(e) {
		case domain.AlertFailing:
			failing = true
		case domain.AlertRecovered:
			recovered = true
		default:
			return false, false, domain.Invalid("events", "%q is not an event; use failing and recovered", e)
		}
	}
	return failing, recovered, nil
}

func (s *Server) apiAlertTargets(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	ts, err := st.AlertTargets(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	out := make([]apiTarget, len(ts))
	for i := range ts {
		out[i] = toAPITarget(&ts[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"targets": out})
	return nil
}

func (s *Server) apiAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "alert target")
	if err != nil {
		return err
	}
	t, err := st.AlertTarget(r.Context(), p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPITarget(t))
	return nil
}

// apiNewTarget is the body of POST /alert-targets.
type apiNewTarget struct {
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Recipients  []string `json:"recipients"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	MinSeverity string   `json:"min_severity"`
	Enabled     *bool    `json:"enabled"`
}

// apiTargetSaved is the answer to a change of a target, with a webhook's new signing
// secret when there is one: shown this once.
type apiTargetSaved struct {
	Target apiTarget `json:"target"`
	Secret string    `json:"secret,omitempty"`
}

func (s *Server) apiCreateAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	var in apiNewTarget
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Events == nil {
		in.Events = []string{string(domain.AlertFailing), string(domain.AlertRecovered)}
	}
	ti := collect.TargetInput{Kind: domain.AlertTargetKind(in.Kind), Name: in.Name, Recipients: in.Recipients, URL: in.URL,
		MinSeverity: in.MinSeverity, Enabled: in.Enabled == nil || *in.Enabled}
	if ti.OnFailing, ti.OnRecovered, err = apiEvents(in.Events); err != nil {
		return err
	}
	t, secret, err := n.CreateTarget(r.Context(), p.Actor(), p.Org.ID, ti)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/alert-targets/"+strconv.FormatInt(t.ID, 10))
	writeJSON(w, http.StatusCreated, apiTargetSaved{Target: toAPITarget(t), Secret: secret})
	return nil
}

// apiTargetPatch is the body of PATCH /alert-targets/{id}: absent fields stay as they are.
type apiTargetPatch struct {
	Name         *string   `json:"name"`
	Recipients   *[]string `json:"recipients"`
	URL          *string   `json:"url"`
	Events       *[]string `json:"events"`
	MinSeverity  *string   `json:"min_severity"`
	Enabled      *bool     `json:"enabled"`
	RotateSecret bool      `json:"rotate_secret"`
}

func (s *Server) apiUpdateAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "alert target")
	if err != nil {
		return err
	}
	var in apiTargetPatch
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	up := collect.TargetUpdate{Name: in.Name, Recipients: in.Recipients, URL: in.URL, MinSeverity: in.MinSeverity,
		Enabled: in.Enabled, RotateSecret: in.RotateSecret}
	if in.Events != nil {
		failing, recovered, err := apiEvents(*in.Events)
		if err != nil {
			return err
		}
		up.OnFailing, up.OnRecovered = &failing, &recovered
	}
	t, secret, err := n.UpdateTarget(r.Context(), p.Actor(), p.Org.ID, id, up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiTargetSaved{Target: toAPITarget(t), Secret: secret})
	return nil
}

func (s *Server) apiDeleteAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "alert target")
	if err != nil {
		return err
	}
	if err := st.DeleteAlertTarget(r.Context(), p.Actor(), p.Org.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiTestResult is how a test alert went.
type apiTestResult struct {
	Delivered bool   `json:"delivered"`
	Attempts  int    `json:"attempts"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (s *Server) apiTestAlertTarget(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "alert target")
	if err != nil {
		return err
	}
	res, err := n.SendTest(r.Context(), p.Actor(), p.Org.ID, id)
	if err != nil {
		return err
	}
	out := apiTestResult{Delivered: res.Delivered(), Attempts: res.Attempts, Status: res.Status}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiMonitoringTask is a task a failing test opened.
type apiMonitoringTask struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	TestID    string    `json:"test_id"`
	AlertID   int64     `json:"alert_id"`
	Title     string    `json:"title"`
	Detail    string    `json:"detail"`
	CreatedAt time.Time `json:"created_at"`
}

// apiEvidenceTask is a control of the caller's whose evidence is due, overdue or missing.
type apiEvidenceTask struct {
	ControlID    int64      `json:"control_id"`
	ControlRef   string     `json:"control_ref"`
	ControlTitle string     `json:"control_title"`
	State        string     `json:"state"`
	Needed       string     `json:"needed"`
	DueBy        *time.Time `json:"due_by"`
}

// apiTasks lists the caller's open tasks: fixes for failing tests supporting their
// controls, and evidence their controls need.
func (s *Server) apiTasks(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.alertsStore()
	if err != nil {
		return err
	}
	ctx := r.Context()
	tasks, err := st.Tasks(ctx, p.Org.ID, domain.TaskFilter{AssigneeID: p.User.ID, Limit: 1000})
	if err != nil {
		return err
	}
	mon := make([]apiMonitoringTask, len(tasks))
	for i, t := range tasks {
		mon[i] = apiMonitoringTask{ID: t.ID, Kind: string(t.Kind), TestID: t.TestID, AlertID: t.AlertID, Title: t.Title,
			Detail: t.Detail, CreatedAt: t.CreatedAt}
	}
	now := s.now()
	mine, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{OwnerID: p.User.ID})
	if err != nil {
		return err
	}
	due, _, err := s.evidenceTasks(ctx, p.Org.ID, mine, now)
	if err != nil {
		return err
	}
	ev := make([]apiEvidenceTask, len(due))
	for i, t := range due {
		ev[i] = apiEvidenceTask{ControlID: t.Control.ID, ControlRef: t.Control.Ref, ControlTitle: t.Control.Title,
			State: string(t.Freshness.State), Needed: t.Freshness.Needed}
		if !t.Freshness.Due.IsZero() {
			d := t.Freshness.Due
			ev[i].DueBy = &d
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"monitoring": mon, "evidence": ev})
	return nil
}
