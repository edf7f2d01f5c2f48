package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

// signInView is the data of the sign-in page.
type signInView struct {
	Next string
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if p, err := s.sessionPrincipal(r); err == nil && p != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	f := newForm(nil)
	f.Values.Set("organization", r.URL.Query().Get("organization"))
	s.renderSignIn(w, r, http.StatusOK, f, next)
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, f *form, next string) {
	pg := &page{Title: "Sign in", Version: s.cfg.Version, Assets: s.asset, Form: f, Data: signInView{Next: next}}
	pg.Flash = s.takeFlash(w, r)
	if err := s.render(w, status, "signin", pg); err != nil {
		s.fail(w, r, nil, err)
	}
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	f, err := parseForm(w, r)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	next := localPath(f.Get("next"))
	email := strings.TrimSpace(f.Get("email"))
	password := f.Get("password")
	org := strings.ToLower(strings.TrimSpace(f.Get("organization")))
	f.Values.Del("password") // never echoed back
	switch {
	case email == "":
		f.Errors["email"] = "Enter your email address."
	case password == "":
		f.Errors["password"] = "Enter your password."
	}
	if f.Invalid() {
		s.renderSignIn(w, r, http.StatusBadRequest, f, next)
		return
	}
	token, sess, err := s.cfg.Auth.SignIn(r.Context(), email, password, s.clientIP(r), r.UserAgent(), org)
	if err != nil {
		status := statusOf(err)
		switch domain.KindOf(err) {
		case domain.KindUnauthorized, domain.KindNotFound:
			status = http.StatusUnauthorized
			f.Error = "The email, password or organization is not right. Check them and try again."
		case domain.KindRateLimited:
			f.Error = "Too many failed attempts. Wait a few minutes before trying again."
		case domain.KindInvalid:
			f.fail(err, "email", "password", "organization")
		case domain.KindForbidden:
			status = http.StatusForbidden
			f.Error = errorText(err)
		default:
			s.fail(w, r, nil, err)
			return
		}
		s.renderSignIn(w, r, status, f, next)
		return
	}
	s.setSessionCookie(w, r, token, sess)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if token := s.sessionToken(r); token != "" {
		if err := s.cfg.Auth.SignOut(r.Context(), token); err != nil && domain.KindOf(err) == domain.KindInternal {
			s.fail(w, r, nil, err)
			return
		}
	}
	s.clearSessionCookie(w, r)
	s.setFlash(w, r, "You have signed out.")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// switchOrganization moves the session to another organization the user belongs to. The
// session gets a new token, as at sign-in.
func (s *Server) switchOrganization(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	orgID, err := strconv.ParseInt(f.Get("org_id"), 10, 64)
	if err != nil {
		return domain.Invalid("org_id", "must name an organization")
	}
	token, err := s.cfg.Auth.SwitchOrganization(r.Context(), s.sessionToken(r), orgID)
	if err != nil {
		if k := domain.KindOf(err); k == domain.KindForbidden || k == domain.KindNotFound {
			return domain.NotFound("organization")
		}
		return err
	}
	org, err := s.cfg.Store.Organization(r.Context(), orgID)
	if err != nil {
		return err
	}
	sess := *p.Session
	s.setSessionCookie(w, r, token, &sess)
	return s.redirect(w, r, "/", "You are now working in "+org.Name+".")
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, sess *domain.Session) {
	c := &http.Cookie{
		Name: s.sessionCookieName(r), Value: token, Path: "/",
		HttpOnly: true, Secure: s.secureRequest(r), SameSite: http.SameSiteLaxMode,
	}
	if sess != nil && !sess.ExpiresAt.IsZero() {
		c.Expires = sess.ExpiresAt
	}
	http.SetCookie(w, c)
}

func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(s.sessionCookieName(r)); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.sessionCookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}
