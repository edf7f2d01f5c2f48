package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/domain"
)

// personRow is one member on the people page.
type personRow struct {
	domain.Member
	Controls int  // active controls they own
	Self     bool // the signed-in person
	// Manageable: the signed-in person may change this member's role or remove them.
	Manageable bool
}

// peopleView is the data of the people page.
type peopleView struct {
	People []personRow
	Roles  []domain.Role
	// AssignableRoles are the roles the signed-in person may give.
	AssignableRoles []domain.Role
	ByRole          map[string]int
}

// mayManage reports whether the actor may change or remove the target member: nobody
// changes their own role (another admin must), and only owners touch owners.
func mayManage(p *principal, target domain.Member) bool {
	if !p.Role.CanAdmin() || target.User.ID == p.User.ID {
		return false
	}
	return target.Role != domain.RoleOwner || p.Role == domain.RoleOwner
}

// assignableRoles are the roles the actor may give: owners give any, admins all but owner.
func assignableRoles(p *principal) []domain.Role {
	if p.Role == domain.RoleOwner {
		return domain.Roles
	}
	var out []domain.Role
	for _, r := range domain.Roles {
		if r != domain.RoleOwner {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) peoplePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(nil)
	f.Values.Set("role", string(domain.RoleMember))
	return s.renderPeople(w, r, p, f, http.StatusOK)
}

func (s *Server) renderPeople(w http.ResponseWriter, r *http.Request, p *principal, f *form, status int) error {
	ctx := r.Context()
	members, err := s.cfg.Store.Members(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	controls, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{})
	if err != nil {
		return err
	}
	owned := map[int64]int{}
	for _, c := range controls {
		if c.OwnerID != nil && !c.Retired() {
			owned[*c.OwnerID]++
		}
	}
	v := peopleView{Roles: domain.Roles, AssignableRoles: assignableRoles(p), ByRole: map[string]int{}}
	for _, m := range members {
		v.ByRole[string(m.Role)]++
		v.People = append(v.People, personRow{
			Member: m, Controls: owned[m.User.ID], Self: m.User.ID == p.User.ID, Manageable: mayManage(p, m),
		})
	}
	pg := s.newPage(w, r, p, "People", "people")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "people", pg)
}

// personAddedView is the data of the page that shows a new user's password, once.
type personAddedView struct {
	Member   *domain.Member
	Password string
}

func roleFromForm(p *principal, f *form) (domain.Role, error) {
	role := domain.Role(f.Get("role"))
	if !role.Valid() || role == domain.RoleAuditor {
		return "", domain.Invalid("role", "must be one of owner, admin, member, viewer")
	}
	if role == domain.RoleOwner && p.Role != domain.RoleOwner {
		return "", domain.Invalid("role", "cannot be owner: only an owner can make someone an owner")
	}
	return role, nil
}

func (s *Server) addPerson(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	var (
		m         *domain.Member
		generated string
	)
	err = func() error {
		role, err := roleFromForm(p, f)
		if err != nil {
			return err
		}
		m, generated, err = s.cfg.Auth.AddMember(r.Context(), p.Actor(), p.Org.ID, auth.NewMember{
			Email: f.Get("email"), Name: f.Get("name"), Role: role,
		})
		return err
	}()
	if err != nil {
		if !f.fail(err, "email", "name", "role") {
			return err
		}
		if domain.KindOf(err) == domain.KindConflict && f.Err("email") == "" {
			f.Error = ""
			f.Errors["email"] = "This person is already a member of " + p.Org.Name + "."
		}
		return s.renderPeople(w, r, p, f, statusOf(err))
	}
	if generated == "" {
		return s.redirect(w, r, "/people", "Added "+m.User.Name+" as "+string(m.Role)+". They sign in with the password they already have.")
	}
	// The password exists only in this response: it is shown here once and never stored.
	pg := s.newPage(w, r, p, "Person added", "people")
	pg.Data = personAddedView{Member: m, Password: generated}
	return s.render(w, http.StatusOK, "person_added", pg)
}

// loadMember reads the member named in the path, in the principal's organization only.
func (s *Server) loadMember(r *http.Request, p *principal) (*domain.Member, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, domain.NotFound("member")
	}
	return s.cfg.Store.Member(r.Context(), p.Org.ID, id)
}

func (s *Server) changeRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := s.loadMember(r, p)
	if err != nil {
		return err
	}
	if !mayManage(p, *m) {
		return domain.Errorf(domain.KindForbidden, "you cannot change this person's role")
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	role, err := roleFromForm(p, f)
	if err == nil {
		err = s.cfg.Store.SetRole(r.Context(), p.Actor(), p.Org.ID, m.User.ID, role)
	}
	if err != nil {
		if k := domain.KindOf(err); k != domain.KindInvalid && k != domain.KindConflict {
			return err
		}
		pf := newForm(nil)
		pf.Values.Set("role", string(domain.RoleMember))
		pf.Error = m.User.Name + ": " + errorText(err)
		return s.renderPeople(w, r, p, pf, statusOf(err))
	}
	return s.redirect(w, r, "/people", m.User.Name+" is now "+string(role)+".")
}

func (s *Server) removePerson(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := s.loadMember(r, p)
	if err != nil {
		return err
	}
	if !mayManage(p, *m) {
		return domain.Errorf(domain.KindForbidden, "you cannot remove this person")
	}
	if err := s.cfg.Store.RemoveMember(r.Context(), p.Actor(), p.Org.ID, m.User.ID); err != nil {
		if domain.KindOf(err) != domain.KindConflict {
			return err
		}
		pf := newForm(nil)
		pf.Values.Set("role", string(domain.RoleMember))
		pf.Error = m.User.Name + ": " + errorText(err)
		return s.renderPeople(w, r, p, pf, statusOf(err))
	}
	return s.redirect(w, r, "/people", "Removed "+m.User.Name+" from "+p.Org.Name+". Their controls and systems no longer have an owner.")
}

// accountView is the data of the account page.
type accountView struct {
	Memberships []domain.Membership
	Owned       []domain.Control
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderAccount(w, r, p, newForm(nil), http.StatusOK)
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, p *principal, f *form, status int) error {
	ctx := r.Context()
	ms, err := s.cfg.Store.Memberships(ctx, p.User.ID)
	if err != nil {
		return err
	}
	owned, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{OwnerID: p.User.ID})
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, p, "My account", "account")
	pg.Form = f
	pg.Data = accountView{Memberships: ms, Owned: owned}
	return s.render(w, status, "account", pg)
}

// changePassword checks the current password, sets the new one, ends every session of the
// user (other browsers included) and signs this browser in again with a fresh session.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	current, next := f.Get("current_password"), f.Get("new_password")
	f.Values.Del("current_password")
	f.Values.Del("new_password")
	u, err := s.cfg.Store.User(r.Context(), p.User.ID)
	if err != nil {
		return err
	}
	ok, err := auth.VerifyPassword(u.PasswordHash, current)
	if err != nil {
		// A stored hash that cannot be read (or none at all) matches no password; the
		// operator can set one from the command line.
		s.log.Warn("unreadable password hash", "user", u.ID, "err", err)
		ok = false
	}
	switch {
	case current == "":
		f.Errors["current_password"] = "Enter your current password."
	case !ok:
		f.Errors["current_password"] = "This is not your current password."
	case next == current:
		f.Errors["new_password"] = "Choose a password different from the current one."
	}
	if err := auth.CheckPassword(next); err != nil && f.Err("current_password") == "" {
		var de *domain.Error
		if errors.As(err, &de) {
			f.Errors["new_password"] = "New password " + de.Message + "."
		} else {
			return err
		}
	}
	if f.Invalid() {
		return s.renderAccount(w, r, p, f, http.StatusBadRequest)
	}
	if err := s.cfg.Auth.SetPassword(r.Context(), p.User.ID, next); err != nil {
		return err
	}
	token, sess, err := s.cfg.Auth.SignIn(r.Context(), u.Email, next, s.clientIP(r), r.UserAgent(), p.Org.Slug)
	if err != nil {
		s.clearSessionCookie(w, r)
		return s.redirect(w, r, "/signin", "Your password has been changed. Sign in with the new one.")
	}
	s.setSessionCookie(w, r, token, sess)
	return s.redirect(w, r, "/account", "Your password has been changed and your other sessions have been signed out.")
}
