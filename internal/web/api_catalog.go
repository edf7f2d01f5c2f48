package web

import (
	_ "embed"
	"net/http"

	"github.com/evidenthq/evident/internal/domain"
)

// openAPIDoc is the OpenAPI 3.1 description of /api/v1.
//
//go:embed openapi.json
var openAPIDoc []byte

// apiOpenAPI serves the OpenAPI description. It describes the API, not any organization's
// data, so it needs no sign-in.
func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request, _ *principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(openAPIDoc)
	return nil
}

// apiOrg is an organization as the API shows it.
type apiOrg struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// apiMembership is one organization the caller belongs to.
type apiMembership struct {
	apiOrg
	Role domain.Role `json:"role"`
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, p *principal) error {
	ms, err := s.cfg.Store.Memberships(r.Context(), p.User.ID)
	if err != nil {
		return err
	}
	orgs := make([]apiMembership, len(ms))
	for i, m := range ms {
		o := m.Organization
		orgs[i] = apiMembership{apiOrg{o.ID, o.Slug, o.Name}, m.Role}
	}
	via := "session"
	if p.Token != nil {
		via = "token"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user":          map[string]any{"id": p.User.ID, "email": p.User.Email, "name": p.User.Name},
		"organization":  apiOrg{p.Org.ID, p.Org.Slug, p.Org.Name},
		"role":          p.Role,
		"authenticated": via,
		"organizations": orgs,
	})
	return nil
}

// apiCriterion is a criterion of the catalog and whether the caller's scope includes it.
type apiCriterion struct {
	domain.Criterion
	InScope bool `json:"in_scope"`
}

func (s *Server) apiCriteria(w http.ResponseWriter, r *http.Request, p *principal) error {
	cat := domain.Category(r.URL.Query().Get("category"))
	if cat != "" && !cat.Valid() {
		return domain.Invalid("category", "must be one of security, availability, confidentiality, processing_integrity, privacy")
	}
	scope, err := s.cfg.Store.Scope(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	out := []apiCriterion{}
	for _, cr := range s.cfg.Catalog.Criteria {
		if cat == "" || cr.Category == cat {
			out = append(out, apiCriterion{cr, scope.InScope(cr.Category)})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"criteria": out})
	return nil
}

func (s *Server) apiCriterion(w http.ResponseWriter, r *http.Request, p *principal) error {
	cr, ok := s.cfg.Catalog.Criterion(r.PathValue("id"))
	if !ok {
		return domain.NotFound("criterion")
	}
	ctx := r.Context()
	scope, err := s.cfg.Store.Scope(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	cs, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{Criterion: cr.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		apiCriterion
		Controls []apiControl `json:"controls"`
	}{apiCriterion{cr, scope.InScope(cr.Category)}, toAPIControls(cs)})
	return nil
}

func (s *Server) apiReadiness(w http.ResponseWriter, r *http.Request, p *principal) error {
	rep, err := s.currentReadiness(r.Context(), p.Org.ID, s.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
