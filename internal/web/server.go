// Package web serves Evident's HTML pages and its JSON API over the same services.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
)

// Config is what the server needs. Store, Catalog and Auth are required.
type Config struct {
	Store   domain.Store
	Catalog *catalog.Catalog
	Auth    *auth.Service
	Logger  *slog.Logger
	Now     func() time.Time
	// SecureCookies marks cookies Secure with the __Host- prefix: set when serving TLS or
	// behind a TLS-terminating proxy.
	SecureCookies bool
	// TrustProxy takes the client address from X-Forwarded-For and TLS from
	// X-Forwarded-Proto, for deployments behind a reverse proxy.
	TrustProxy bool
	Version    string
}

// Server is the HTTP handler for pages, the API and health checks.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Auth == nil {
		return nil, errors.New("web: Store, Catalog and Auth are required")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	mux := http.NewServeMux()
	if err := s.routesUI(mux); err != nil {
		return nil, err
	}
	s.routesAPI(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := s.cfg.Store.Ping(ctx); err != nil {
			s.log.Error("readiness probe", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	// Every state-changing request must come from our own origin.
	cop := http.NewCrossOriginProtection()
	s.handler = securityHeaders(cop.Handler(mux))
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// principal is who is making a request, in which organization.
type principal struct {
	User    domain.User
	Org     domain.Organization
	Role    domain.Role
	Session *domain.Session  // set for browser requests
	Token   *domain.APIToken // set for API token requests
}

// Actor is the principal as the author of a change.
func (p *principal) Actor() domain.Actor {
	return domain.Actor{UserID: p.User.ID, Email: p.User.Email}
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p *principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the request's principal; routes behind the auth middleware always have one.
func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// statusOf maps an error kind to an HTTP status. It is the only such mapping.
func statusOf(err error) int {
	switch domain.KindOf(err) {
	case domain.KindNotFound:
		return http.StatusNotFound
	case domain.KindInvalid:
		return http.StatusBadRequest
	case domain.KindConflict:
		return http.StatusConflict
	case domain.KindUnauthorized:
		return http.StatusUnauthorized
	case domain.KindForbidden:
		return http.StatusForbidden
	case domain.KindRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// logError logs internal errors only; the others are the caller's to fix and say so.
func (s *Server) logError(r *http.Request, err error) {
	if domain.KindOf(err) == domain.KindInternal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}
