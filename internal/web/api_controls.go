package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// apiControl is a control as the API shows it.
type apiControl struct {
	ID               int64                `json:"id"`
	Ref              string               `json:"ref"`
	Title            string               `json:"title"`
	Description      string               `json:"description"`
	Domain           string               `json:"domain"`
	Frequency        domain.Frequency     `json:"frequency"`
	EvidenceExpected string               `json:"evidence_expected"`
	Criteria         []string             `json:"criteria"`
	OwnerID          *int64               `json:"owner_id"`
	OwnerName        string               `json:"owner_name"`
	Status           domain.ControlStatus `json:"status"`
	Justification    string               `json:"justification"`
	FromLibrary      bool                 `json:"from_library"`
	Retired          bool                 `json:"retired"`
	RetiredAt        *time.Time           `json:"retired_at"`
	CreatedAt        time.Time            `json:"created_at"`
	UpdatedAt        time.Time            `json:"updated_at"`
}

func toAPIControl(c *domain.Control) apiControl {
	crit := c.Criteria
	if crit == nil {
		crit = []string{}
	}
	return apiControl{
		ID: c.ID, Ref: c.Ref, Title: c.Title, Description: c.Description, Domain: c.Domain,
		Frequency: c.Frequency, EvidenceExpected: c.EvidenceExpected, Criteria: crit,
		OwnerID: c.OwnerID, OwnerName: c.OwnerName, Status: c.Status, Justification: c.Justification,
		FromLibrary: c.FromLibrary, Retired: c.Retired(), RetiredAt: c.RetiredAt,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func toAPIControls(cs []domain.Control) []apiControl {
	out := make([]apiControl, len(cs))
	for i := range cs {
		out[i] = toAPIControl(&cs[i])
	}
	return out
}

// controlFilter reads the query parameters of GET /controls. The store checks the status;
// an unknown criterion is refused here rather than matching nothing.
func (s *Server) controlFilter(r *http.Request) (domain.ControlFilter, error) {
	q := r.URL.Query()
	f := domain.ControlFilter{
		Query:     strings.TrimSpace(q.Get("q")),
		Status:    domain.ControlStatus(q.Get("status")),
		Criterion: strings.TrimSpace(q.Get("criterion")),
		Domain:    strings.TrimSpace(q.Get("domain")),
	}
	if f.Criterion != "" {
		if _, ok := s.cfg.Catalog.Criterion(f.Criterion); !ok {
			return f, domain.Invalid("criterion", "unknown criterion %q", f.Criterion)
		}
	}
	switch owner := q.Get("owner"); owner {
	case "":
	case "none":
		f.OwnerID = -1
	default:
		id, err := strconv.ParseInt(owner, 10, 64)
		if err != nil || id <= 0 {
			return f, domain.Invalid("owner", `must be a user ID or "none"`)
		}
		f.OwnerID = id
	}
	var err error
	f.IncludeRetired, err = queryBool(r, "include_retired")
	return f, err
}

func (s *Server) apiControls(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := s.controlFilter(r)
	if err != nil {
		return err
	}
	cs, err := s.cfg.Store.Controls(r.Context(), p.Org.ID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"controls": toAPIControls(cs)})
	return nil
}

func (s *Server) apiControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "control")
	if err != nil {
		return err
	}
	c, err := s.cfg.Store.Control(r.Context(), p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIControl(c))
	return nil
}

// newControlRequest is the body of POST /controls.
type newControlRequest struct {
	Ref              string               `json:"ref"`
	Title            string               `json:"title"`
	Description      string               `json:"description"`
	Domain           string               `json:"domain"`
	Frequency        domain.Frequency     `json:"frequency"`
	EvidenceExpected string               `json:"evidence_expected"`
	Criteria         []string             `json:"criteria"`
	OwnerID          *int64               `json:"owner_id"`
	Status           domain.ControlStatus `json:"status"`
	Justification    string               `json:"justification"`
}

func (s *Server) apiCreateControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req newControlRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Status == "" {
		req.Status = domain.StatusNotStarted
	}
	c := &domain.Control{
		OrgID: p.Org.ID, Ref: req.Ref, Title: req.Title, Description: req.Description,
		Domain: req.Domain, Frequency: req.Frequency, EvidenceExpected: req.EvidenceExpected,
		Criteria: req.Criteria, OwnerID: req.OwnerID, Status: req.Status, Justification: req.Justification,
	}
	if err := s.cfg.Store.CreateControl(r.Context(), p.Actor(), c); err != nil {
		return err
	}
	// Read it back for the owner's name.
	created, err := s.cfg.Store.Control(r.Context(), p.Org.ID, c.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/controls/"+strconv.FormatInt(c.ID, 10))
	writeJSON(w, http.StatusCreated, toAPIControl(created))
	return nil
}

// controlPatch is the body of PATCH /controls/{id}: absent fields stay as they are;
// owner_id null removes the owner.
type controlPatch struct {
	Title            *string               `json:"title"`
	Description      *string               `json:"description"`
	Domain           *string               `json:"domain"`
	Frequency        *domain.Frequency     `json:"frequency"`
	EvidenceExpected *string               `json:"evidence_expected"`
	Status           *domain.ControlStatus `json:"status"`
	Justification    *string               `json:"justification"`
	OwnerID          optional[int64]       `json:"owner_id"`
	Retired          *bool                 `json:"retired"`
}

func (s *Server) apiUpdateControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "control")
	if err != nil {
		return err
	}
	// A control of another organization is 404 whatever the body says.
	if _, err := s.cfg.Store.Control(r.Context(), p.Org.ID, id); err != nil {
		return err
	}
	var req controlPatch
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ch := domain.ControlChange{
		Title: req.Title, Description: req.Description, Domain: req.Domain, Frequency: req.Frequency,
		EvidenceExpected: req.EvidenceExpected, Status: req.Status, Justification: req.Justification,
		Retired: req.Retired,
	}
	if req.OwnerID.Set {
		ch.OwnerID = &req.OwnerID.Value
	}
	c, err := s.cfg.Store.UpdateControl(r.Context(), p.Actor(), p.Org.ID, id, ch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIControl(c))
	return nil
}

// apiMapControl maps a control to a criterion. Mapping twice is not an error: PUT is
// idempotent.
func (s *Server) apiMapControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "control")
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = s.cfg.Store.MapControl(ctx, p.Actor(), p.Org.ID, id, r.PathValue("criterion"))
	if err != nil && domain.KindOf(err) != domain.KindConflict {
		return err
	}
	c, err := s.cfg.Store.Control(ctx, p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIControl(c))
	return nil
}

func (s *Server) apiUnmapControl(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "control")
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.cfg.Store.UnmapControl(ctx, p.Actor(), p.Org.ID, id, r.PathValue("criterion")); err != nil {
		return err
	}
	c, err := s.cfg.Store.Control(ctx, p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIControl(c))
	return nil
}
