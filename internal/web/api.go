package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

// The JSON API lives under /api/v1. Every endpoint answers JSON; errors have the shape
// {"error":{"code":"invalid","field":"status","message":"…"}} with the status statusOf
// gives their kind. Callers authenticate with "Authorization: Bearer evd_…" (an API token)
// or with the browser's session cookie, and act with their current role in the
// organization the token or session belongs to:
//
//   - read: every role, viewer included, may read everything but API tokens;
//   - edit: owners, admins and members may create and change controls and their mappings,
//     and add, supersede and retract evidence;
//   - admin: owners and admins manage scope, systems, people and API tokens, and publish
//     ledger checkpoints on demand. Only an owner may grant the owner role or change or
//     remove an owner, and nobody changes or removes their own membership (the same rules
//     as the people page).
//
// The description at /api/v1/openapi.json needs no sign-in.
//
// openapi.json describes every route; a test holds the two together.

// apiPrefix is where the API lives.
const apiPrefix = "/api/v1"

// maxBodyBytes bounds a request body.
const maxBodyBytes = 1 << 20

// access is who may call a route.
type access int

const (
	accessPublic access = iota // anyone, signed in or not
	accessRead                 // every member
	accessEdit                 // owners, admins and members
	accessAdmin                // owners and admins
)

// allows reports whether a role may call a route of this access.
func (a access) allows(r domain.Role) bool {
	switch a {
	case accessRead:
		return r.Valid()
	case accessEdit:
		return r.CanEdit()
	case accessAdmin:
		return r.CanAdmin()
	}
	return true
}

// apiHandler serves one API route for an authenticated principal (nil on public routes).
// It returns an error rather than writing one, so every failure has the same shape.
type apiHandler func(w http.ResponseWriter, r *http.Request, p *principal) error

// apiRoute is one method and path of the API.
type apiRoute struct {
	Method string
	Path   string // a ServeMux path pattern under apiPrefix, such as /controls/{id}
	Access access
	h      apiHandler
}

// apiRoutes lists every API route. The OpenAPI description must name exactly these.
func (s *Server) apiRoutes() []apiRoute {
	return append([]apiRoute{
		{"GET", "/openapi.json", accessPublic, s.apiOpenAPI},
		{"GET", "/me", accessRead, s.apiMe},

		{"GET", "/criteria", accessRead, s.apiCriteria},
		{"GET", "/criteria/{id}", accessRead, s.apiCriterion},

		{"GET", "/controls", accessRead, s.apiControls},
		{"POST", "/controls", accessEdit, s.apiCreateControl},
		{"GET", "/controls/{id}", accessRead, s.apiControl},
		{"PATCH", "/controls/{id}", accessEdit, s.apiUpdateControl},
		{"PUT", "/controls/{id}/criteria/{criterion}", accessEdit, s.apiMapControl},
		{"DELETE", "/controls/{id}/criteria/{criterion}", accessEdit, s.apiUnmapControl},

		{"GET", "/scope", accessRead, s.apiScope},
		{"PUT", "/scope", accessAdmin, s.apiUpdateScope},
		{"GET", "/systems", accessRead, s.apiSystems},
		{"POST", "/systems", accessAdmin, s.apiCreateSystem},
		{"GET", "/systems/{id}", accessRead, s.apiSystem},
		{"PUT", "/systems/{id}", accessAdmin, s.apiUpdateSystem},
		{"DELETE", "/systems/{id}", accessAdmin, s.apiDeleteSystem},

		{"GET", "/readiness", accessRead, s.apiReadiness},

		{"GET", "/users", accessRead, s.apiUsers},
		{"POST", "/users", accessAdmin, s.apiAddUser},
		{"PATCH", "/users/{id}", accessAdmin, s.apiUpdateUser},
		{"DELETE", "/users/{id}", accessAdmin, s.apiRemoveUser},

		{"GET", "/events", accessRead, s.apiEvents},

		{"GET", "/tokens", accessAdmin, s.apiTokens},
		{"POST", "/tokens", accessAdmin, s.apiCreateToken},
		{"DELETE", "/tokens/{id}", accessAdmin, s.apiRevokeToken},
	}, slices.Concat(s.apiEvidenceRoutes(), s.apiMonitoringRoutes(), s.apiConnectionRoutes(), s.apiTestRoutes(), s.apiAlertRoutes())...)
}

// routesAPI registers /api/v1: each route with its method, and for each path a fallback
// that answers other methods with 405 and the Allow header.
func (s *Server) routesAPI(mux *http.ServeMux) {
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.Method+" "+apiPrefix+rt.Path, s.apiServe(rt))
		if _, ok := allowed[rt.Path]; !ok {
			paths = append(paths, rt.Path)
		}
		allowed[rt.Path] = append(allowed[rt.Path], rt.Method)
		if rt.Method == http.MethodGet {
			allowed[rt.Path] = append(allowed[rt.Path], http.MethodHead)
		}
	}
	for _, path := range paths {
		allow := strings.Join(allowed[path], ", ")
		mux.HandleFunc(apiPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, apiErrorBody{Error: apiErrorDetail{
				Code:    "method_not_allowed",
				Message: r.Method + " is not allowed here; use " + allow,
			}})
		})
	}
}

// apiServe authenticates the request, checks the role and runs the route's handler.
func (s *Server) apiServe(rt apiRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var p *principal
		if rt.Access != accessPublic {
			var err error
			if p, err = s.apiPrincipal(r); err != nil {
				s.apiFail(w, r, err)
				return
			}
			if !rt.Access.allows(p.Role) {
				s.apiFail(w, r, domain.Errorf(domain.KindForbidden, "your role (%s) does not allow this", p.Role))
				return
			}
			r = r.WithContext(withPrincipal(r.Context(), p))
		}
		if err := rt.h(w, r, p); err != nil {
			s.apiFail(w, r, err)
		}
	})
}

// apiPrincipal finds out who is calling: an API token in the Authorization header, else
// the browser's session. A token whose user has left the organization is refused.
func (s *Server) apiPrincipal(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if s.sessionToken(r) == "" {
			return nil, domain.Errorf(domain.KindUnauthorized, `authentication required: send "Authorization: Bearer <API token>" or sign in`)
		}
		return s.sessionPrincipal(r)
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, domain.Errorf(domain.KindUnauthorized, `use the header "Authorization: Bearer <API token>"`)
	}
	ctx := r.Context()
	t, err := s.cfg.Auth.AuthenticateToken(ctx, strings.TrimSpace(secret))
	if err != nil {
		return nil, err
	}
	m, err := s.cfg.Store.Member(ctx, t.OrgID, t.UserID)
	if err != nil {
		if domain.IsNotFound(err) {
			return nil, domain.Errorf(domain.KindUnauthorized, "the API token's user is no longer a member of its organization")
		}
		return nil, fmt.Errorf("load token member: %w", err)
	}
	org, err := s.cfg.Store.Organization(ctx, t.OrgID)
	if err != nil {
		return nil, fmt.Errorf("load token organization: %w", err)
	}
	return &principal{User: m.User, Org: *org, Role: m.Role, Token: t}, nil
}

// apiErrorBody is the shape of every API error.
type apiErrorBody struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// apiFail answers an error as JSON. Internal errors are logged and never described.
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	s.logError(r, err)
	status := statusOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="evident"`)
	}
	writeJSON(w, status, apiErrorBody{Error: apiErrorDetail{
		Code:    string(domain.KindOf(err)),
		Field:   domain.FieldOf(err),
		Message: domain.MessageOf(err),
	}})
}

// writeJSON writes v as the JSON response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client hanging up is not our error
}

// decodeJSON reads the request body into v: application/json, at most maxBodyBytes, one
// value, no unknown fields. Its errors are KindInvalid and name the field at fault.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return domain.Invalid("body", "send JSON with Content-Type: application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.Invalid("body", "must hold exactly one JSON object")
	}
	return nil
}

// jsonError turns a decoding error into KindInvalid naming the field.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	var invalid *domain.Error
	switch {
	case errors.Is(err, io.EOF):
		return domain.Invalid("body", "is empty; send a JSON object")
	case errors.As(err, &tooBig):
		return domain.Invalid("body", "must be at most %d bytes", tooBig.Limit)
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Invalid("body", "is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return domain.Invalid("body", "must be a JSON object")
		}
		return domain.Invalid(typ.Field, "must be %s", jsonKind(typ.Type.Kind().String()))
	case errors.As(err, &invalid):
		return err
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return domain.Invalid(strings.Trim(name, `"`), "is not a known field")
	}
	return domain.Invalid("body", "could not be read as JSON")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "bool":
		return "true or false"
	case kind == "slice" || kind == "array":
		return "an array"
	case kind == "struct" || kind == "map":
		return "an object"
	}
	return "a string"
}

// optional is a JSON field that may be absent, null or a value: PATCH needs to tell
// "leave it" (absent) from "clear it" (null).
type optional[T any] struct {
	Set   bool
	Value *T // nil for null
}

// UnmarshalJSON records that the field was present.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// pathID reads a numeric ID from the path. Anything else cannot name an object, so it is
// KindNotFound for the named kind of object.
func pathID(r *http.Request, name, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.NotFound(what)
	}
	return id, nil
}

// queryBool reads an optional true/false query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, domain.Invalid(name, "must be true or false")
	}
	return b, nil
}

// oneOf reports whether v is among the allowed values.
func oneOf[T comparable](v T, allowed []T) bool { return slices.Contains(allowed, v) }
