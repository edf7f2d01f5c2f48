// Package web serves Evident's HTML pages and its JSON API over the same services.
//
// Pages (ui*.go) and the API (api*.go) share one Server. Both find out who is asking through
// the same two doors: a browser's session cookie, read by [Server.sessionPrincipal], and a
// bearer token for /api/v1. Handlers behind either door read the result with principalFrom.
// Cookies are named and flagged by [Server.secureRequest]; client addresses come from
// [Server.clientIP], which honours X-Forwarded-For only when Config.TrustProxy is set.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
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

	// Evidence adds, supersedes and retracts evidence and opens its content. Without it
	// evidence can be read and proved but not added or downloaded.
	Evidence *evidence.Service
	// Publisher signs checkpoints of a ledger on demand: for the "publish now" button, for
	// proofs of entries newer than the latest checkpoint, and before an export.
	Publisher CheckpointPublisher
	// LedgerKey is the public key that verifies the checkpoints (ledger.Signer.VerifierKey),
	// shown on the ledger page and served with every proof.
	LedgerKey string
	// MaxUpload is the largest evidence file accepted, in bytes; 0 means
	// blob.DefaultLimit (100 MiB).
	MaxUpload int64
	// BundleSource returns what an export of the organization's evidence reads: its
	// evidence, ledger and latest checkpoint. Without it exports are refused.
	BundleSource func(ctx context.Context, org domain.Organization) (bundle.Source, error)
	// Collect stores pushed resources and runs the tests. Without it resources cannot be
	// pushed.
	Collect *collect.Service
	// Monitoring reads the inventory and the tests' current outcomes. Without it the
	// inventory and test listings are refused.
	Monitoring MonitoringStore
	Notifier   *collect.Notifier // adds, changes and tests alert targets; without it they can only be listed
}

// MonitoringStore is what the monitoring pages and routes read and change. *store.Store
// satisfies it; each part is declared beside the routes that use it.
type MonitoringStore interface {
	MonitoringReader
	connectionStore // ui_connections.go
	testStore       // ui_tests.go
	alertStore      // ui_alerts.go
}

// MonitoringReader reads what continuous monitoring keeps. *store.Store satisfies it.
type MonitoringReader interface {
	// Resources lists the organization's resources, filtered and paged.
	Resources(ctx context.Context, orgID int64, f domain.ResourceFilter) ([]domain.Resource, error)
	// TestSummaries returns each test's current outcome, from its latest run.
	TestSummaries(ctx context.Context, orgID int64, now time.Time) ([]domain.TestSummary, error)
}

// Server is the HTTP handler for pages, the API and health checks.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler
	views   map[string]*template.Template // page name → layout plus page, parsed once
	assets  map[string]string             // static file name → content hash, for cache busting
	kept    viewCache                     // computed readiness and dashboards (readiness_cache.go)
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
	cop.SetDenyHandler(http.HandlerFunc(s.denyCrossOrigin))
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

	// memberships are every organization the user belongs to, when already loaded.
	memberships []domain.Membership
}

// Actor is the principal as the author of a change.
func (p *principal) Actor() domain.Actor {
	return domain.Actor{UserID: p.User.ID, Email: p.User.Email}
}

// The session cookie's names. Over TLS the __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain, so a sibling subdomain cannot plant or overwrite it.
const (
	sessionCookie       = "evident_session"
	secureSessionCookie = "__Host-evident_session"
)

// secureRequest reports whether the browser reached us over TLS: directly, through a proxy
// we trust to say so, or because the operator declared it with Config.SecureCookies.
func (s *Server) secureRequest(r *http.Request) bool {
	if s.cfg.SecureCookies || r.TLS != nil {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// sessionCookieName is the name of the session cookie for this request.
func (s *Server) sessionCookieName(r *http.Request) string {
	if s.secureRequest(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

// sessionToken returns the session token the browser sent, or "".
func (s *Server) sessionToken(r *http.Request) string {
	if c, err := r.Cookie(s.sessionCookieName(r)); err == nil && c.Value != "" {
		return c.Value
	}
	return ""
}

// sessionPrincipal returns who is signed in with the request's session cookie, in the
// session's organization. Without a cookie, or with one that is unknown, expired or revoked,
// or whose user is no longer a member of the organization, the error is KindUnauthorized.
// Other errors are internal. The API uses it to accept browser sessions on /api/v1 as well.
func (s *Server) sessionPrincipal(r *http.Request) (*principal, error) {
	token := s.sessionToken(r)
	if token == "" {
		return nil, domain.Errorf(domain.KindUnauthorized, "not signed in")
	}
	ctx := r.Context()
	sess, err := s.cfg.Auth.Authenticate(ctx, token)
	if err != nil {
		if k := domain.KindOf(err); k == domain.KindUnauthorized || k == domain.KindNotFound {
			return nil, domain.Errorf(domain.KindUnauthorized, "not signed in")
		}
		return nil, fmt.Errorf("authenticate session: %w", err)
	}
	m, err := s.cfg.Store.Member(ctx, sess.OrgID, sess.UserID)
	if err != nil {
		if domain.IsNotFound(err) {
			return nil, domain.Errorf(domain.KindUnauthorized, "no longer a member of this organization")
		}
		return nil, fmt.Errorf("load member: %w", err)
	}
	// The memberships name the organization and feed the pages' organization switcher.
	ms, err := s.cfg.Store.Memberships(ctx, sess.UserID)
	if err != nil {
		return nil, fmt.Errorf("load memberships: %w", err)
	}
	for _, ms1 := range ms {
		if ms1.Organization.ID == sess.OrgID {
			return &principal{User: m.User, Org: ms1.Organization, Role: m.Role, Session: sess, memberships: ms}, nil
		}
	}
	return nil, domain.Errorf(domain.KindUnauthorized, "no longer a member of this organization")
}

// clientIP is the address of the client: the first X-Forwarded-For entry when the proxy is
// trusted, else the connection's remote address.
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := strings.TrimSpace(first); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
