package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/domain"
)

// apiUser is a member of the organization as the API shows them. Password hashes never
// leave the server.
type apiUser struct {
	ID        int64       `json:"id"`
	Email     string      `json:"email"`
	Name      string      `json:"name"`
	Role      domain.Role `json:"role"`
	CreatedAt time.Time   `json:"created_at"`
}

func toAPIUser(m *domain.Member) apiUser {
	return apiUser{ID: m.ID, Email: m.Email, Name: m.Name, Role: m.Role, CreatedAt: m.CreatedAt}
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	ms, err := s.cfg.Store.Members(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	out := make([]apiUser, len(ms))
	for i := range ms {
		out[i] = toAPIUser(&ms[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

// The API applies the same rules on people as the pages, with mayManage and
// assignableRoles: only owners grant the owner role or touch owners, and nobody changes
// their own membership.

// errOwnerOnly refuses an admin what only an owner may do.
var errOwnerOnly = domain.Errorf(domain.KindForbidden, "only an owner can grant the owner role or change an owner")

// checkAssignable refuses a role the caller may not give.
func checkAssignable(p *principal, role domain.Role) error {
	if oneOf(role, domain.Roles) && !oneOf(role, assignableRoles(p)) {
		return errOwnerOnly
	}
	return nil
}

// checkManage refuses a change to a member the caller may not manage.
func checkManage(p *principal, target *domain.Member) error {
	if mayManage(p, *target) {
		return nil
	}
	if target.ID == p.User.ID {
		return domain.Errorf(domain.KindForbidden, "you cannot change or remove your own membership; ask another owner or admin")
	}
	return errOwnerOnly
}

// addUserRequest is the body of POST /users.
type addUserRequest struct {
	Email string      `json:"email"`
	Name  string      `json:"name"`
	Role  domain.Role `json:"role"`
}

// apiAddUser adds a person to the organization, creating their account when the email is
// new. A new account's generated password is in the answer, once.
func (s *Server) apiAddUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req addUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkAssignable(p, req.Role); err != nil {
		return err
	}
	m, password, err := s.cfg.Auth.AddMember(r.Context(), p.Actor(), p.Org.ID, auth.NewMember{
		Email: req.Email, Name: req.Name, Role: req.Role,
	})
	if err != nil {
		return err
	}
	body := map[string]any{"user": toAPIUser(m), "created": password != ""}
	if password != "" {
		body["password"] = password
	}
	w.Header().Set("Location", apiPrefix+"/users/"+strconv.FormatInt(m.ID, 10))
	writeJSON(w, http.StatusCreated, body)
	return nil
}

// updateUserRequest is the body of PATCH /users/{id}.
type updateUserRequest struct {
	Role *domain.Role `json:"role"`
}

func (s *Server) apiUpdateUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "user")
	if err != nil {
		return err
	}
	ctx := r.Context()
	target, err := s.cfg.Store.Member(ctx, p.Org.ID, id)
	if err != nil {
		return userNotFound(err)
	}
	var req updateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Role == nil {
		return domain.Invalid("role", "is required")
	}
	if !oneOf(*req.Role, domain.Roles) {
		return domain.Invalid("role", "must be one of owner, admin, member, viewer")
	}
	if err := checkManage(p, target); err != nil {
		return err
	}
	if err := checkAssignable(p, *req.Role); err != nil {
		return err
	}
	if err := s.cfg.Store.SetRole(ctx, p.Actor(), p.Org.ID, id, *req.Role); err != nil {
		return userNotFound(err)
	}
	m, err := s.cfg.Store.Member(ctx, p.Org.ID, id)
	if err != nil {
		return userNotFound(err)
	}
	writeJSON(w, http.StatusOK, toAPIUser(m))
	return nil
}

func (s *Server) apiRemoveUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "user")
	if err != nil {
		return err
	}
	ctx := r.Context()
	target, err := s.cfg.Store.Member(ctx, p.Org.ID, id)
	if err != nil {
		return userNotFound(err)
	}
	if err := checkManage(p, target); err != nil {
		return err
	}
	if err := s.cfg.Store.RemoveMember(ctx, p.Actor(), p.Org.ID, id); err != nil {
		return userNotFound(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// userNotFound says "user not found" for a person who is not a member of the caller's
// organization, whatever the store called it.
func userNotFound(err error) error {
	if domain.IsNotFound(err) {
		return domain.NotFound("user")
	}
	return err
}

// apiToken is an API token as the API shows it: never its secret or hash.
type apiToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	UserID     int64      `json:"user_id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func toAPIToken(t *domain.APIToken) apiToken {
	return apiToken{
		ID: t.ID, Name: t.Name, Prefix: t.Prefix, UserID: t.UserID,
		CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt,
	}
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	ts, err := s.cfg.Store.APITokens(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	out := make([]apiToken, len(ts))
	for i := range ts {
		out[i] = toAPIToken(&ts[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

// createTokenRequest is the body of POST /tokens.
type createTokenRequest struct {
	Name string `json:"name"`
}

// apiCreateToken creates a token acting as the caller: nobody can mint a token that acts
// as someone else. Its secret is in the answer, once.
func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req createTokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	secret, t, err := s.cfg.Auth.CreateAPIToken(r.Context(), p.Actor(), p.Org.ID, p.User.ID, req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/tokens/"+strconv.FormatInt(t.ID, 10))
	writeJSON(w, http.StatusCreated, map[string]any{"token": toAPIToken(t), "secret": secret})
	return nil
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id", "token")
	if err != nil {
		return err
	}
	if err := s.cfg.Auth.RevokeAPIToken(r.Context(), p.Actor(), p.Org.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiEvent is one entry of the audit trail.
type apiEvent struct {
	Index   int64           `json:"index"`
	At      time.Time       `json:"at"`
	ActorID int64           `json:"actor_id"`
	Actor   string          `json:"actor"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// The number of events one page of GET /events holds, by default and at most.
const (
	defaultEvents = 100
	maxEvents     = 500
)

// eventFilter reads the query parameters of GET /events.
func eventFilter(r *http.Request) (domain.EventFilter, error) {
	q := r.URL.Query()
	f := domain.EventFilter{Type: strings.TrimSpace(q.Get("type")), Subject: strings.TrimSpace(q.Get("subject")), Limit: defaultEvents}
	ints := []struct {
		name string
		dst  *int64
	}{{"actor", &f.ActorID}, {"before", &f.Before}}
	for _, p := range ints {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, domain.Invalid(p.name, "must be a non-negative whole number")
			}
			*p.dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEvents {
			return f, domain.Invalid("limit", "must be a whole number from 1 to %d", maxEvents)
		}
		f.Limit = n
	}
	times := []struct {
		name string
		dst  **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}}
	for _, p := range times {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, domain.Invalid(p.name, "must be a time such as 2026-03-01T09:00:00Z")
			}
			*p.dst = &t
		}
	}
	return f, nil
}

// apiEvents lists the audit trail, newest first. When the page is full, next_before is the
// value of "before" for the next, older page.
func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	es, err := s.cfg.Store.Events(r.Context(), p.Org.ID, f)
	if err != nil {
		return err
	}
	out := make([]apiEvent, len(es))
	for i, e := range es {
		data := e.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		out[i] = apiEvent{Index: e.Index, At: e.At, ActorID: e.ActorID, Actor: e.Actor, Type: e.Type, Subject: e.Subject, Data: data}
	}
	var next *int64
	if n := len(es); n == f.Limit && es[n-1].Index > 0 {
		idx := es[n-1].Index
		next = &idx
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_before": next})
	return nil
}
