// Package auth signs people in: argon2id passwords, server-side sessions, API tokens and sign-in throttling.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// Options tunes a Service. Zero values take the defaults.
type Options struct {
	// IdleTimeout ends a session nobody has used for this long. Default 12 hours.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, used or not. Default 7 days.
	AbsoluteTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// AccountLimit is how many failed sign-ins one account may have within ThrottleWindow
	// before further attempts are refused. Default 5.
	AccountLimit int
	// AddressLimit is the same for one client address. Default 20.
	AddressLimit int
	// ThrottleWindow is how far back failed sign-ins count. Default 15 minutes.
	ThrottleWindow time.Duration
}

// The defaults for Options.
const (
	DefaultIdleTimeout     = 12 * time.Hour
	DefaultAbsoluteTimeout = 7 * 24 * time.Hour
	DefaultAccountLimit    = 5
	DefaultAddressLimit    = 20
	DefaultThrottleWindow  = 15 * time.Minute
)

// touchInterval is how stale a session's or token's last-use time may get before it is
// written again, so that a busy client does not cost a write per request.
const touchInterval = time.Minute

// TokenPrefix starts every API token secret, so that leaked secrets are easy to recognize.
const TokenPrefix = "evd_"

// tokenPrefixLen is how many characters of a secret are kept to tell tokens apart.
const tokenPrefixLen = 12

// errBadCredentials is the one answer to a wrong email or a wrong password.
var errBadCredentials = domain.Errorf(domain.KindUnauthorized, "email or password is incorrect")

// Service signs people in and out and authenticates API tokens.
type Service struct {
	store domain.Store
	opts  Options
	// hashing bounds how many argon2 computations run at once: each takes 19 MiB, and a
	// burst of sign-ins must not exhaust memory.
	hashing chan struct{}

	dummyOnce sync.Once
	dummy     string
}

// New returns a Service over the store.
func New(store domain.Store, opts Options) *Service {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.AbsoluteTimeout <= 0 {
		opts.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccountLimit <= 0 {
		opts.AccountLimit = DefaultAccountLimit
	}
	if opts.AddressLimit <= 0 {
		opts.AddressLimit = DefaultAddressLimit
	}
	if opts.ThrottleWindow <= 0 {
		opts.ThrottleWindow = DefaultThrottleWindow
	}
	return &Service{
		store:   store,
		opts:    opts,
		hashing: make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
	}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// SignIn checks an email and password and starts a session in the organization named by
// orgSlug when the user belongs to it, otherwise in the user's first organization. It
// returns the session token, which only the client keeps: the store holds its SHA-256.
// A wrong email and a wrong password get the same answer in about the same time. Too many
// recent failures for the account or the address are KindRateLimited.
func (s *Service) SignIn(ctx context.Context, email, password, ip, userAgent, orgSlug string) (string, *domain.Session, error) {
	email, err := domain.NormalizeEmail(email)
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	since := now.Add(-s.opts.ThrottleWindow)
	accountKey, addressKey := "account:"+email, "address:"+ip
	if err := s.checkThrottle(ctx, accountKey, s.opts.AccountLimit, since, "for this account"); err != nil {
		return "", nil, err
	}
	if err := s.checkThrottle(ctx, addressKey, s.opts.AddressLimit, since, "from this address"); err != nil {
		return "", nil, err
	}

	u, err := s.store.UserByEmail(ctx, email)
	if err != nil && !domain.IsNotFound(err) {
		return "", nil, fmt.Errorf("sign in: %w", err)
	}
	// A user without a password (one who has never set one) cannot sign in with any; the
	// check still costs a verification so that timing says nothing.
	hasPassword := u != nil && u.PasswordHash != ""
	encoded := s.dummyHash()
	if hasPassword {
		encoded = u.PasswordHash
	}
	ok, err := s.verify(ctx, encoded, password)
	if err != nil {
		return "", nil, fmt.Errorf("sign in: %w", err)
	}
	if !hasPassword || !ok {
		for _, key := range []string{accountKey, addressKey} {
			if _, err := s.store.RecordFailure(ctx, key, now, since); err != nil {
				return "", nil, fmt.Errorf("sign in: %w", err)
			}
		}
		return "", nil, errBadCredentials
	}
	if err := s.store.ClearFailures(ctx, accountKey); err != nil {
		return "", nil, fmt.Errorf("sign in: %w", err)
	}

	org, err := s.pickOrganization(ctx, u.ID, orgSlug)
	if err != nil {
		return "", nil, err
	}
	sess := &domain.Session{
		UserID:    u.ID,
		OrgID:     org,
		CreatedAt: now,
		ExpiresAt: now.Add(s.opts.AbsoluteTimeout),
		IP:        ip,
		UserAgent: userAgent,
	}
	token, err := s.startSession(ctx, sess)
	if err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// checkThrottle refuses when key has reached limit failures since `since`. Refused
// attempts are not counted, so the wait ends at most one window after the last failure.
func (s *Service) checkThrottle(ctx context.Context, key string, limit int, since time.Time, what string) error {
	n, err := s.store.Failures(ctx, key, since)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	if n >= limit {
		wait := "1 minute"
		if m := int((s.opts.ThrottleWindow + time.Minute - 1) / time.Minute); m > 1 {
			wait = fmt.Sprintf("%d minutes", m)
		}
		return domain.Errorf(domain.KindRateLimited, "too many failed sign-in attempts %s; try again in %s", what, wait)
	}
	return nil
}

// verify runs VerifyPassword, waiting its turn when many verifications are under way.
func (s *Service) verify(ctx context.Context, encoded, password string) (bool, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashing }()
	return VerifyPassword(encoded, password)
}

// dummyHash is a valid hash of a password nobody knows, verified against when the email
// belongs to nobody so that the answer takes as long as for a real account.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword(GeneratePassword())
		if err != nil {
			panic("auth: hashing a generated password: " + err.Error())
		}
		s.dummy = h
	})
	return s.dummy
}

// pickOrganization returns the ID of the organization named by slug when the user belongs
// to it, otherwise of the user's first organization.
func (s *Service) pickOrganization(ctx context.Context, userID int64, slug string) (int64, error) {
	ms, err := s.store.Memberships(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("sign in: %w", err)
	}
	if len(ms) == 0 {
		return 0, domain.Errorf(domain.KindForbidden, "this account does not belong to any organization; ask an administrator to add it")
	}
	for _, m := range ms {
		if slug != "" && m.Organization.Slug == slug {
			return m.Organization.ID, nil
		}
	}
	return ms[0].Organization.ID, nil
}

// startSession fills the session's token hash and last-seen time, stores it and returns
// the token.
func (s *Service) startSession(ctx context.Context, sess *domain.Session) (string, error) {
	token := randomToken()
	sess.TokenHash = hashSecret(token)
	sess.LastSeenAt = sess.CreatedAt
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	return token, nil
}

// errNoSession is the answer for a token that names no live session.
var errNoSession = domain.Errorf(domain.KindUnauthorized, "not signed in, or the session has expired; sign in again")

// Authenticate returns the live session for a token. A session unused for longer than the
// idle timeout, or older than the absolute timeout, is deleted and the answer is
// KindUnauthorized. The session's last-seen time is written at most once a minute.
func (s *Service) Authenticate(ctx context.Context, token string) (*domain.Session, error) {
	if token == "" {
		return nil, errNoSession
	}
	hash := hashSecret(token)
	sess, err := s.store.Session(ctx, hash)
	if domain.IsNotFound(err) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.opts.IdleTimeout {
		if err := s.store.DeleteSession(ctx, hash); err != nil && !domain.IsNotFound(err) {
			return nil, fmt.Errorf("authenticate: end expired session: %w", err)
		}
		return nil, errNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchInterval {
		if err := s.store.TouchSession(ctx, hash, now); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// SwitchOrganization ends the session of token and starts one in another organization the
// same user belongs to, returning its token. The new session keeps the old one's absolute
// limit: switching does not extend how long a sign-in lasts. An organization the user does
// not belong to is KindNotFound.
func (s *Service) SwitchOrganization(ctx context.Context, token string, orgID int64) (string, error) {
	old, err := s.Authenticate(ctx, token)
	if err != nil {
		return "", err
	}
	if _, err := s.store.Member(ctx, orgID, old.UserID); err != nil {
		if domain.IsNotFound(err) {
			return "", domain.NotFound("organization")
		}
		return "", fmt.Errorf("switch organization: %w", err)
	}
	if err := s.store.DeleteSession(ctx, old.TokenHash); err != nil && !domain.IsNotFound(err) {
		return "", fmt.Errorf("switch organization: %w", err)
	}
	sess := &domain.Session{
		UserID:    old.UserID,
		OrgID:     orgID,
		CreatedAt: s.now(),
		ExpiresAt: old.ExpiresAt,
		IP:        old.IP,
		UserAgent: old.UserAgent,
	}
	return s.startSession(ctx, sess)
}

// SignOut ends the session of token. Signing out of a session that has already ended is
// not an error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := s.store.DeleteSession(ctx, hashSecret(token)); err != nil && !domain.IsNotFound(err) {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// CleanupSessions deletes the sessions past their idle or absolute timeout and reports
// how many it deleted.
func (s *Service) CleanupSessions(ctx context.Context) (int64, error) {
	now := s.now()
	n, err := s.store.DeleteExpiredSessions(ctx, now.Add(-s.opts.IdleTimeout), now)
	if err != nil {
		return 0, fmt.Errorf("clean up sessions: %w", err)
	}
	return n, nil
}

// SetPassword sets a user's password and ends all of the user's sessions.
func (s *Service) SetPassword(ctx context.Context, userID int64, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	if err := s.store.SetPasswordHash(ctx, userID, hash); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := s.store.DeleteUserSessions(ctx, userID); err != nil {
		return fmt.Errorf("set password: end sessions: %w", err)
	}
	return nil
}

// NewMember describes a person to add to an organization.
type NewMember struct {
	Email string
	// Name is required when the email belongs to nobody yet; otherwise it is ignored.
	Name string
	Role domain.Role
	// Password is the new user's password. Empty: one is generated. Ignored when the
	// email already belongs to a user: one organization cannot change another's sign-in.
	Password string
}

// AddMember adds a person to an organization with a role, creating the user when the
// email is new. It returns the member and, when it generated the new user's password,
// that password: it is never available again. A person already in the organization is
// KindConflict.
func (s *Service) AddMember(ctx context.Context, actor domain.Actor, orgID int64, nm NewMember) (*domain.Member, string, error) {
	email, err := domain.NormalizeEmail(nm.Email)
	if err != nil {
		return nil, "", err
	}
	if !nm.Role.Valid() || nm.Role == domain.RoleAuditor {
		return nil, "", domain.Invalid("role", "must be one of owner, admin, member, viewer")
	}
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil && !domain.IsNotFound(err) {
		return nil, "", fmt.Errorf("add member: %w", err)
	}
	generated := ""
	if u == nil {
		name := strings.TrimSpace(nm.Name)
		if name == "" {
			return nil, "", domain.Invalid("name", "is required for a new user")
		}
		pw := nm.Password
		if pw == "" {
			pw = GeneratePassword()
			generated = pw
		}
		hash, err := HashPassword(pw)
		if err != nil {
			return nil, "", err
		}
		u = &domain.User{Email: email, Name: name, PasswordHash: hash}
		if err := s.store.CreateUser(ctx, u); err != nil {
			return nil, "", fmt.Errorf("add member: %w", err)
		}
	}
	if err := s.store.AddMember(ctx, actor, orgID, u.ID, nm.Role); err != nil {
		return nil, "", fmt.Errorf("add member: %w", err)
	}
	m, err := s.store.Member(ctx, orgID, u.ID)
	if err != nil {
		return nil, "", fmt.Errorf("add member: %w", err)
	}
	return m, generated, nil
}

// CreateAPIToken creates an API token for a member of the organization and returns its
// secret, which is shown once: the store keeps only its SHA-256. The store checks the name
// (1 to 100 characters, trimmed) and that the user is a member.
func (s *Service) CreateAPIToken(ctx context.Context, actor domain.Actor, orgID, userID int64, name string) (string, *domain.APIToken, error) {
	secret := TokenPrefix + randomToken()
	t := &domain.APIToken{
		OrgID:     orgID,
		UserID:    userID,
		Name:      name,
		Prefix:    secret[:tokenPrefixLen],
		Hash:      hashSecret(secret),
		CreatedAt: s.now(),
	}
	if err := s.store.CreateAPIToken(ctx, actor, t); err != nil {
		return "", nil, fmt.Errorf("create API token: %w", err)
	}
	return secret, t, nil
}

// errBadToken is the one answer to a token that is unknown, malformed or revoked.
var errBadToken = domain.Errorf(domain.KindUnauthorized, "the API token is invalid or has been revoked")

// AuthenticateToken returns the live API token for a secret. Unknown and revoked tokens
// are KindUnauthorized. The token's last-used time is written at most once a minute.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*domain.APIToken, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, errBadToken
	}
	t, err := s.store.APITokenByHash(ctx, hashSecret(secret))
	if domain.IsNotFound(err) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate token: %w", err)
	}
	if t.RevokedAt != nil {
		return nil, errBadToken
	}
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchInterval {
		if err := s.store.TouchAPIToken(ctx, t.ID, now); err != nil {
			return nil, fmt.Errorf("authenticate token: %w", err)
		}
		t.LastUsedAt = &now
	}
	return t, nil
}

// RevokeAPIToken revokes an organization's API token; it stops working at once.
func (s *Service) RevokeAPIToken(ctx context.Context, actor domain.Actor, orgID, id int64) error {
	if err := s.store.RevokeAPIToken(ctx, actor, orgID, id, s.now()); err != nil {
		return fmt.Errorf("revoke API token: %w", err)
	}
	return nil
}

// randomToken returns 32 random bytes in unpadded base64url.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashSecret is the SHA-256 under which a session token or API token secret is stored.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
