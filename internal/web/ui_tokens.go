package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// tokenRow is one API token on the tokens page.
type tokenRow struct {
	domain.APIToken
	Owner string // the name of the person the token acts as
}

// tokensView is the data of the tokens page.
type tokensView struct {
	Tokens  []tokenRow
	Active  int
	Now     time.Time
	Created *domain.APIToken // set on the page that shows a new secret
	Secret  string
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderTokens(w, r, p, newForm(nil), tokensView{}, http.StatusOK)
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, p *principal, f *form, v tokensView, status int) error {
	ctx := r.Context()
	tokens, err := s.cfg.Store.APITokens(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, m := range members {
		names[m.User.ID] = m.User.Name
	}
	v.Now = s.now()
	for _, t := range tokens {
		owner, ok := names[t.UserID]
		if !ok {
			owner = "Former member"
		}
		v.Tokens = append(v.Tokens, tokenRow{APIToken: t, Owner: owner})
		if t.RevokedAt == nil {
			v.Active++
		}
	}
	pg := s.newPage(w, r, p, "API tokens", "tokens")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "tokens", pg)
}

// createToken creates a token that acts as the signed-in person. Its secret is in this
// response only; the store keeps a hash.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	secret, t, err := s.cfg.Auth.CreateAPIToken(r.Context(), p.Actor(), p.Org.ID, p.User.ID, f.Get("name"))
	if err != nil {
		if !f.fail(err, "name") {
			return err
		}
		return s.renderTokens(w, r, p, f, tokensView{}, statusOf(err))
	}
	return s.renderTokens(w, r, p, newForm(nil), tokensView{Created: t, Secret: secret}, http.StatusOK)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return domain.NotFound("API token")
	}
	tokens, err := s.cfg.Store.APITokens(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	var found *domain.APIToken
	for i := range tokens {
		if tokens[i].ID == id {
			found = &tokens[i]
		}
	}
	if found == nil {
		return domain.NotFound("API token")
	}
	if found.RevokedAt != nil {
		return s.redirect(w, r, "/tokens", found.Name+" was already revoked.")
	}
	if err := s.cfg.Auth.RevokeAPIToken(r.Context(), p.Actor(), p.Org.ID, id); err != nil {
		return err
	}
	return s.redirect(w, r, "/tokens", "Revoked "+found.Name+". It stops working at once.")
}
