package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// dateLayout is how the API writes calendar dates.
const dateLayout = "2006-01-02"

// apiScope is an organization's scope as the API shows and takes it. Dates are calendar
// dates (2026-06-30).
type apiScope struct {
	Categories  []domain.Category `json:"categories"`
	ReportType  domain.ReportType `json:"report_type"`
	TargetDate  *string           `json:"target_date"`
	PeriodStart *string           `json:"period_start"`
	PeriodEnd   *string           `json:"period_end"`
	OutOfScope  string            `json:"out_of_scope"`
	UpdatedAt   *time.Time        `json:"updated_at,omitempty"`
}

func formatDate(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(dateLayout)
	return &s
}

// parseDate reads an optional calendar date, naming the field when it cannot.
func parseDate(field string, s *string) (*time.Time, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	t, err := time.Parse(dateLayout, *s)
	if err != nil {
		return nil, domain.Invalid(field, "must be a date such as 2026-06-30")
	}
	return &t, nil
}

func toAPIScope(sc *domain.Scope) apiScope {
	updated := sc.UpdatedAt
	return apiScope{
		Categories: sc.Categories, ReportType: sc.ReportType,
		TargetDate: formatDate(sc.TargetDate), PeriodStart: formatDate(sc.PeriodStart), PeriodEnd: formatDate(sc.PeriodEnd),
		OutOfScope: sc.OutOfScope, UpdatedAt: &updated,
	}
}

func (s *Server) apiScope(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := s.cfg.Store.Scope(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIScope(sc))
	return nil
}

// apiUpdateScope replaces the scope. Security is always in scope, listed or not.
func (s *Server) apiUpdateScope(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req apiScope
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.UpdatedAt != nil {
		return domain.Invalid("updated_at", "is set by Evident")
	}
	sc := &domain.Scope{OrgID: p.Org.ID, Categories: req.Categories, ReportType: req.ReportType, OutOfScope: req.OutOfScope}
	var err error
	if sc.TargetDate, err = parseDate("target_date", req.TargetDate); err != nil {
		return err
	}
	if sc.PeriodStart, err = parseDate("period_start", req.PeriodStart); err != nil {
		return err
	}
	if sc.PeriodEnd, err = parseDate("period_end", req.PeriodEnd); err != nil {
		return err
	}
	if err := s.cfg.Store.UpdateScope(r.Context(), p.Actor(), sc); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIScope(sc))
	return nil
}

// apiSystem is a system in scope as the API shows it.
type apiSystem struct {
	ID             int64                     `json:"id"`
	Name           string                    `json:"name"`
	Description    string                    `json:"description"`
	Kind           string                    `json:"kind"`
	Classification domain.DataClassification `json:"classification"`
	OwnerID        *int64                    `json:"owner_id"`
	OwnerName      string                    `json:"owner_name"`
	CreatedAt      time.Time                 `json:"created_at"`
	UpdatedAt      time.Time                 `json:"updated_at"`
}

func toAPISystem(sys *domain.System) apiSystem {
	return apiSystem{
		ID: sys.ID, Name: sys.Name, Description: sys.Description, Kind: sys.Kind,
		Classification: sys.Classification, OwnerID: sys.OwnerID, OwnerName: sys.OwnerName,
		CreatedAt: sys.CreatedAt, UpdatedAt: sys.UpdatedAt,
	}
}

// systemRequest is the body of POST /systems and PUT /systems/{id}.
type systemRequest struct {
	Name           string                    `json:"name"`
	Description    string                    `json:"description"`
	Kind           string                    `json:"kind"`
	Classification domain.DataClassification `json:"classification"`
	OwnerID        *int64                    `json:"owner_id"`
}

func (req *systemRequest) system(orgID, id int64) *domain.System {
	return &domain.System{
		ID: id, OrgID: orgID, Name: req.Name, Description: req.Description, Kind: req.Kind,
		Classification: req.Classification, OwnerID: req.OwnerID,
	}
}

func (s *Server) apiSystems(w http.ResponseWriter, r *http.Request, p *principal) error {
	list, err := s.cfg.Store.Systems(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	out := make([]apiSystem, len(list))
	for i := range list {
		out[i] = toAPISystem(&list[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"systems": out})
	return nil
}

func (s *Server) apiSystem(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "system")
	if err != nil {
		return err
	}
	sys, err := s.cfg.Store.System(r.Context(), p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPISystem(sys))
	return nil
}

func (s *Server) apiCreateSystem(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req systemRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	sys := req.system(p.Org.ID, 0)
	ctx := r.Context()
	if err := s.cfg.Store.CreateSystem(ctx, p.Actor(), sys); err != nil {
		return err
	}
	created, err := s.cfg.Store.System(ctx, p.Org.ID, sys.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/systems/"+strconv.FormatInt(sys.ID, 10))
	writeJSON(w, http.StatusCreated, toAPISystem(created))
	return nil
}

// apiUpdateSystem replaces a system's fields.
func (s *Server) apiUpdateSystem(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "system")
	if err != nil {
		return err
	}
	ctx := r.Context()
	// A system of another organization is 404 whatever the body says.
	if _, err := s.cfg.Store.System(ctx, p.Org.ID, id); err != nil {
		return err
	}
	var req systemRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.cfg.Store.UpdateSystem(ctx, p.Actor(), req.system(p.Org.ID, id)); err != nil {
		return err
	}
	updated, err := s.cfg.Store.System(ctx, p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPISystem(updated))
	return nil
}

func (s *Server) apiDeleteSystem(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "system")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteSystem(r.Context(), p.Actor(), p.Org.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
