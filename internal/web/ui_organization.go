package web

import (
	"net/http"

	"github.com/evidenthq/evident/internal/domain"
)

// organizationView is the data of the organization page.
type organizationView struct {
	Scope    *domain.Scope
	Members  int
	Controls int
	Systems  int
	Tokens   int
	ByRole   map[string]int
}

func (s *Server) organizationPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	sc, err := s.cfg.Store.Scope(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	controls, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{})
	if err != nil {
		return err
	}
	systems, err := s.cfg.Store.Systems(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	tokens, err := s.cfg.Store.APITokens(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := organizationView{Scope: sc, Members: len(members), Controls: len(controls), Systems: len(systems), ByRole: map[string]int{}}
	for _, m := range members {
		v.ByRole[string(m.Role)]++
	}
	for _, t := range tokens {
		if t.RevokedAt == nil {
			v.Tokens++
		}
	}
	pg := s.newPage(w, r, p, "Organization", "organization")
	pg.Data = v
	return s.render(w, http.StatusOK, "organization", pg)
}
