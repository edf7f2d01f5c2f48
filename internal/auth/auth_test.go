package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

const password = "correct horse battery"

// fixture is a store with two organizations, acme and globex, and Alice, a member of both
// (acme first), plus Bob, a member of acme only.
type fixture struct {
	ctx          context.Context
	st           *store.Store
	clk          *clock
	svc          *auth.Service
	acme, globex *domain.Organization
	alice, bob   *domain.User
}

func newFixture(tb testing.TB, opts auth.Options) *fixture {
	tb.Helper()
	f := &fixture{ctx: context.Background(), st: storetest.SQLite(tb), clk: &clock{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}
	f.st.Now = f.clk.Now
	opts.Now = f.clk.Now
	f.svc = auth.New(f.st, opts)
	f.acme = f.org(tb, "acme")
	f.globex = f.org(tb, "globex")
	f.alice = f.user(tb, "alice@example.com", password)
	f.bob = f.user(tb, "bob@example.com", password)
	f.member(tb, f.acme, f.alice, domain.RoleOwner)
	f.member(tb, f.globex, f.alice, domain.RoleViewer)
	f.member(tb, f.acme, f.bob, domain.RoleMember)
	return f
}

func (f *fixture) org(tb testing.TB, slug string) *domain.Organization {
	tb.Helper()
	o := &domain.Organization{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:]}
	if err := f.st.CreateOrganization(f.ctx, domain.SystemActor, o, nil, nil); err != nil {
		tb.Fatalf("CreateOrganization(%s): %v", slug, err)
	}
	return o
}

func (f *fixture) user(tb testing.TB, email, pw string) *domain.User {
	tb.Helper()
	hash, err := auth.HashPassword(pw)
	if err != nil {
		tb.Fatal(err)
	}
	u := &domain.User{Email: email, Name: strings.Split(email, "@")[0], PasswordHash: hash}
	if err := f.st.CreateUser(f.ctx, u); err != nil {
		tb.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

func (f *fixture) member(tb testing.TB, o *domain.Organization, u *domain.User, role domain.Role) {
	tb.Helper()
	if err := f.st.AddMember(f.ctx, domain.SystemActor, o.ID, u.ID, role); err != nil {
		tb.Fatalf("AddMember(%s, %s): %v", o.Slug, u.Email, err)
	}
}

func (f *fixture) signIn(tb testing.TB, email, pw, ip string) string {
	tb.Helper()
	token, _, err := f.svc.SignIn(f.ctx, email, pw, ip, "test-agent", "")
	if err != nil {
		tb.Fatalf("SignIn(%s) error: %v", email, err)
	}
	return token
}

func wantKind(tb testing.TB, what string, err error, kind domain.Kind) {
	tb.Helper()
	if got := domain.KindOf(err); err == nil || got != kind {
		tb.Fatalf("%s error = %v (kind %s); want kind %s", what, err, got, kind)
	}
}

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestSignIn(t *testing.T) {
	f := newFixture(t, auth.Options{})
	token, sess, err := f.svc.SignIn(f.ctx, "  Alice@Example.COM ", password, "192.0.2.1", "Firefox", "")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(token) {
		t.Errorf("token = %q; want 32 random bytes in base64url", token)
	}
	want := domain.Session{
		TokenHash: sum(token), UserID: f.alice.ID, OrgID: f.acme.ID,
		CreatedAt: f.clk.t, LastSeenAt: f.clk.t, ExpiresAt: f.clk.t.Add(7 * 24 * time.Hour),
		IP: "192.0.2.1", UserAgent: "Firefox",
	}
	if diff := cmp.Diff(want, *sess); diff != "" {
		t.Errorf("SignIn session mismatch (-want +got):\n%s", diff)
	}
	// The store keeps the token's hash, never the token.
	if _, err := f.st.Session(f.ctx, []byte(token)); !domain.IsNotFound(err) {
		t.Errorf("Session(token itself) error = %v; want not found", err)
	}
	got, err := f.svc.Authenticate(f.ctx, token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if got.UserID != f.alice.ID || got.OrgID != f.acme.ID {
		t.Errorf("Authenticate = user %d org %d; want %d, %d", got.UserID, got.OrgID, f.alice.ID, f.acme.ID)
	}
}

func TestSignInNewTokenEachTime(t *testing.T) {
	f := newFixture(t, auth.Options{})
	a := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	b := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	if a == b {
		t.Fatalf("two sign-ins gave the same token %q", a)
	}
	for _, tok := range []string{a, b} {
		if _, err := f.svc.Authenticate(f.ctx, tok); err != nil {
			t.Errorf("Authenticate(%q...) = %v; want both sessions live", tok[:6], err)
		}
	}
}

func TestSignInRefused(t *testing.T) {
	f := newFixture(t, auth.Options{})
	tests := []struct {
		name, email, pw string
		kind            domain.Kind
	}{
		{"wrong password", "alice@example.com", "not the password", domain.KindUnauthorized},
		{"unknown email", "nobody@example.com", password, domain.KindUnauthorized},
		{"password of another account", "bob@example.com", "bob's other password", domain.KindUnauthorized},
		{"empty password", "alice@example.com", "", domain.KindUnauthorized},
		{"overlong password", "alice@example.com", strings.Repeat("x", 10000), domain.KindUnauthorized},
		{"malformed email", "alice", password, domain.KindInvalid},
	}
	var messages []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, sess, err := f.svc.SignIn(f.ctx, tt.email, tt.pw, "192.0.2.1", "", "")
			wantKind(t, "SignIn", err, tt.kind)
			if token != "" || sess != nil {
				t.Errorf("SignIn = %q, %v; want no token and no session", token, sess)
			}
			if tt.kind == domain.KindUnauthorized {
				messages = append(messages, err.Error())
			}
		})
	}
	// Wrong email and wrong password are indistinguishable.
	for _, m := range messages {
		if m != "email or password is incorrect" {
			t.Errorf("SignIn refusal %q; want %q", m, "email or password is incorrect")
		}
	}
}

func TestSignInOrganization(t *testing.T) {
	f := newFixture(t, auth.Options{})
	loner := f.user(t, "carol@example.com", password)
	tests := []struct {
		name    string
		email   string
		slug    string
		wantOrg int64
		kind    domain.Kind
	}{
		{"first membership by default", "alice@example.com", "", f.acme.ID, ""},
		{"named organization", "alice@example.com", "globex", f.globex.ID, ""},
		{"organization of which not a member", "bob@example.com", "globex", f.acme.ID, ""},
		{"unknown organization", "alice@example.com", "initech", f.acme.ID, ""},
		{"no organization at all", loner.Email, "", 0, domain.KindForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sess, err := f.svc.SignIn(f.ctx, tt.email, password, "192.0.2.1", "", tt.slug)
			if tt.kind != "" {
				wantKind(t, "SignIn", err, tt.kind)
				return
			}
			if err != nil {
				t.Fatalf("SignIn: %v", err)
			}
			if sess.OrgID != tt.wantOrg {
				t.Errorf("SignIn(%s, %q) organization = %d; want %d", tt.email, tt.slug, sess.OrgID, tt.wantOrg)
			}
		})
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	f := newFixture(t, auth.Options{})
	token := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	f.clk.Advance(12*time.Hour - time.Second)
	if _, err := f.svc.Authenticate(f.ctx, token); err != nil {
		t.Fatalf("Authenticate just before the idle timeout: %v", err)
	}
	// Use resets the idle clock.
	f.clk.Advance(12*time.Hour - time.Second)
	if _, err := f.svc.Authenticate(f.ctx, token); err != nil {
		t.Fatalf("Authenticate within the idle timeout of the last use: %v", err)
	}
	f.clk.Advance(12 * time.Hour)
	_, err := f.svc.Authenticate(f.ctx, token)
	wantKind(t, "Authenticate after 12 idle hours", err, domain.KindUnauthorized)
	if _, err := f.st.Session(f.ctx, sum(token)); !domain.IsNotFound(err) {
		t.Errorf("expired session still stored: Session error = %v; want not found", err)
	}
}

func TestSessionAbsoluteTimeout(t *testing.T) {
	f := newFixture(t, auth.Options{IdleTimeout: 2 * time.Hour, AbsoluteTimeout: 24 * time.Hour})
	token := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	for range 23 {
		f.clk.Advance(time.Hour)
		if _, err := f.svc.Authenticate(f.ctx, token); err != nil {
			t.Fatalf("Authenticate at %v while in use: %v", f.clk.t, err)
		}
	}
	f.clk.Advance(time.Hour)
	_, err := f.svc.Authenticate(f.ctx, token)
	wantKind(t, "Authenticate at the absolute timeout", err, domain.KindUnauthorized)
}

func TestSessionTouchedAtMostOnceAMinute(t *testing.T) {
	f := newFixture(t, auth.Options{})
	token := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	start := f.clk.t
	tests := []struct {
		advance  time.Duration
		wantSeen time.Time
	}{
		{30 * time.Second, start},
		{29 * time.Second, start},
		{time.Second, start.Add(time.Minute)},
		{59 * time.Second, start.Add(time.Minute)},
		{2 * time.Minute, start.Add(time.Minute + 59*time.Second + 2*time.Minute)},
	}
	for _, tt := range tests {
		f.clk.Advance(tt.advance)
		if _, err := f.svc.Authenticate(f.ctx, token); err != nil {
			t.Fatal(err)
		}
		stored, err := f.st.Session(f.ctx, sum(token))
		if err != nil {
			t.Fatal(err)
		}
		if !stored.LastSeenAt.Equal(tt.wantSeen) {
			t.Errorf("at %v: stored LastSeenAt = %v; want %v", f.clk.t.Sub(start), stored.LastSeenAt, tt.wantSeen)
		}
	}
}

func TestSignOut(t *testing.T) {
	f := newFixture(t, auth.Options{})
	token := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	other := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	if err := f.svc.SignOut(f.ctx, token); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	_, err := f.svc.Authenticate(f.ctx, token)
	wantKind(t, "Authenticate after sign-out", err, domain.KindUnauthorized)
	if _, err := f.svc.Authenticate(f.ctx, other); err != nil {
		t.Errorf("Authenticate(other session) = %v; want it untouched by the sign-out", err)
	}
	if err := f.svc.SignOut(f.ctx, token); err != nil {
		t.Errorf("SignOut twice = %v; want nil", err)
	}
	for _, bad := range []string{"", "not-a-token"} {
		_, err := f.svc.Authenticate(f.ctx, bad)
		wantKind(t, "Authenticate("+bad+")", err, domain.KindUnauthorized)
	}
}

func TestSwitchOrganization(t *testing.T) {
	f := newFixture(t, auth.Options{})
	_, first, err := f.svc.SignIn(f.ctx, "alice@example.com", password, "192.0.2.1", "ua", "")
	if err != nil {
		t.Fatal(err)
	}
	token := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	f.clk.Advance(time.Hour)
	next, err := f.svc.SwitchOrganization(f.ctx, token, f.globex.ID)
	if err != nil {
		t.Fatalf("SwitchOrganization: %v", err)
	}
	if next == token {
		t.Fatal("SwitchOrganization kept the token; want a new one")
	}
	_, err = f.svc.Authenticate(f.ctx, token)
	wantKind(t, "Authenticate(old token)", err, domain.KindUnauthorized)
	sess, err := f.svc.Authenticate(f.ctx, next)
	if err != nil {
		t.Fatalf("Authenticate(new token): %v", err)
	}
	if sess.OrgID != f.globex.ID || sess.UserID != f.alice.ID {
		t.Errorf("new session = org %d user %d; want org %d user %d", sess.OrgID, sess.UserID, f.globex.ID, f.alice.ID)
	}
	if !sess.ExpiresAt.Equal(first.ExpiresAt) {
		t.Errorf("new session expires %v; want the sign-in's limit %v", sess.ExpiresAt, first.ExpiresAt)
	}

	bobToken := f.signIn(t, "bob@example.com", password, "192.0.2.1")
	_, err = f.svc.SwitchOrganization(f.ctx, bobToken, f.globex.ID)
	wantKind(t, "SwitchOrganization to an organization of which not a member", err, domain.KindNotFound)
	if _, err := f.svc.Authenticate(f.ctx, bobToken); err != nil {
		t.Errorf("a refused switch ended the session: %v", err)
	}
}

func TestThrottlePerAccount(t *testing.T) {
	f := newFixture(t, auth.Options{})
	// Failures from many addresses still count against the account.
	for i := range 5 {
		_, _, err := f.svc.SignIn(f.ctx, "alice@example.com", "wrong password", "198.51.100."+string(rune('1'+i)), "", "")
		wantKind(t, "SignIn with a wrong password", err, domain.KindUnauthorized)
	}
	_, _, err := f.svc.SignIn(f.ctx, "alice@example.com", password, "192.0.2.1", "", "")
	wantKind(t, "SignIn after 5 failures", err, domain.KindRateLimited)
	if !strings.Contains(err.Error(), "try again in 15 minutes") {
		t.Errorf("rate-limit message %q does not say when to try again", err)
	}
	// Other accounts are not affected.
	f.signIn(t, "bob@example.com", password, "192.0.2.1")

	f.clk.Advance(14 * time.Minute)
	_, _, err = f.svc.SignIn(f.ctx, "alice@example.com", password, "192.0.2.1", "", "")
	wantKind(t, "SignIn 14 minutes later", err, domain.KindRateLimited)
	f.clk.Advance(time.Minute + time.Second)
	f.signIn(t, "alice@example.com", password, "192.0.2.1")
}

func TestThrottleClearedBySuccess(t *testing.T) {
	f := newFixture(t, auth.Options{})
	fail := func(n int) {
		for range n {
			_, _, err := f.svc.SignIn(f.ctx, "alice@example.com", "wrong password", "192.0.2.1", "", "")
			wantKind(t, "SignIn with a wrong password", err, domain.KindUnauthorized)
		}
	}
	fail(4)
	f.signIn(t, "alice@example.com", password, "192.0.2.1")
	fail(4)
	f.signIn(t, "alice@example.com", password, "192.0.2.1")
}

func TestThrottlePerAddress(t *testing.T) {
	f := newFixture(t, auth.Options{})
	// Twenty failures spread over accounts, known and unknown, from one address.
	for i := range 20 {
		email := "nobody" + strings.Repeat("x", i) + "@example.com"
		if i%5 == 0 {
			email = "bob@example.com"
		}
		_, _, err := f.svc.SignIn(f.ctx, email, "wrong password", "203.0.113.9", "", "")
		wantKind(t, "SignIn with a wrong password", err, domain.KindUnauthorized)
	}
	_, _, err := f.svc.SignIn(f.ctx, "alice@example.com", password, "203.0.113.9", "", "")
	wantKind(t, "SignIn from the address after 20 failures", err, domain.KindRateLimited)
	// Another address is not affected.
	f.signIn(t, "alice@example.com", password, "192.0.2.1")
	f.clk.Advance(15*time.Minute + time.Second)
	f.signIn(t, "alice@example.com", password, "203.0.113.9")
}

func TestCleanupSessions(t *testing.T) {
	f := newFixture(t, auth.Options{IdleTimeout: time.Hour, AbsoluteTimeout: 3 * time.Hour})
	idle := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	old := f.signIn(t, "bob@example.com", password, "192.0.2.1")
	f.clk.Advance(45 * time.Minute)
	fresh := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	for range 3 { // old stays in use, so only its absolute limit ends it
		if _, err := f.svc.Authenticate(f.ctx, old); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(f.ctx, fresh); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(45 * time.Minute)
	}
	// Now 181 minutes after the first sign-ins: idle has been idle since, old is past its 3
	// hours, fresh was last used 46 minutes ago.
	f.clk.Advance(time.Minute)
	n, err := f.svc.CleanupSessions(f.ctx)
	if err != nil {
		t.Fatalf("CleanupSessions: %v", err)
	}
	if n != 2 {
		t.Errorf("CleanupSessions = %d; want 2", n)
	}
	for tok, live := range map[string]bool{idle: false, old: false, fresh: true} {
		_, err := f.st.Session(f.ctx, sum(tok))
		if (err == nil) != live {
			t.Errorf("session stored = %v (err %v); want %v", err == nil, err, live)
		}
	}
}

func TestSetPasswordEndsSessions(t *testing.T) {
	f := newFixture(t, auth.Options{})
	token := f.signIn(t, "alice@example.com", password, "192.0.2.1")
	err := f.svc.SetPassword(f.ctx, f.alice.ID, "short")
	wantKind(t, "SetPassword(short)", err, domain.KindInvalid)
	if err := f.svc.SetPassword(f.ctx, f.alice.ID, "a brand new password"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	_, err = f.svc.Authenticate(f.ctx, token)
	wantKind(t, "Authenticate after a password change", err, domain.KindUnauthorized)
	_, _, err = f.svc.SignIn(f.ctx, "alice@example.com", password, "192.0.2.1", "", "")
	wantKind(t, "SignIn with the old password", err, domain.KindUnauthorized)
	f.signIn(t, "alice@example.com", "a brand new password", "192.0.2.1")
}

func TestAddMember(t *testing.T) {
	f := newFixture(t, auth.Options{})
	m, pw, err := f.svc.AddMember(f.ctx, domain.SystemActor, f.acme.ID, auth.NewMember{Email: " Dana@Example.com", Name: "Dana", Role: domain.RoleViewer})
	if err != nil {
		t.Fatalf("AddMember(new user): %v", err)
	}
	if m.Email != "dana@example.com" || m.Role != domain.RoleViewer || m.OrgID != f.acme.ID || pw == "" {
		t.Errorf("AddMember = %+v, password %q; want dana@example.com as viewer of acme with a generated password", m, pw)
	}
	f.signIn(t, "dana@example.com", pw, "192.0.2.1")

	// An existing user keeps their password, whatever the caller says.
	m, pw, err = f.svc.AddMember(f.ctx, domain.SystemActor, f.globex.ID, auth.NewMember{Email: "bob@example.com", Role: domain.RoleMember, Password: "chosen by globex"})
	if err != nil {
		t.Fatalf("AddMember(existing user): %v", err)
	}
	if m.ID != f.bob.ID || pw != "" {
		t.Errorf("AddMember(existing) = user %d, password %q; want user %d and no password", m.ID, pw, f.bob.ID)
	}
	f.signIn(t, "bob@example.com", password, "192.0.2.1")

	tests := []struct {
		name  string
		nm    auth.NewMember
		kind  domain.Kind
		field string
	}{
		{"already a member", auth.NewMember{Email: "bob@example.com", Role: domain.RoleMember}, domain.KindConflict, ""},
		{"bad email", auth.NewMember{Email: "bob", Name: "Bob", Role: domain.RoleMember}, domain.KindInvalid, "email"},
		{"bad role", auth.NewMember{Email: "erin@example.com", Name: "Erin", Role: "root"}, domain.KindInvalid, "role"},
		{"new user without name", auth.NewMember{Email: "erin@example.com", Role: domain.RoleMember}, domain.KindInvalid, "name"},
		{"new user with short password", auth.NewMember{Email: "erin@example.com", Name: "Erin", Role: domain.RoleMember, Password: "short"}, domain.KindInvalid, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.svc.AddMember(f.ctx, domain.SystemActor, f.acme.ID, tt.nm)
			wantKind(t, "AddMember", err, tt.kind)
			if domain.FieldOf(err) != tt.field {
				t.Errorf("AddMember error field = %q; want %q", domain.FieldOf(err), tt.field)
			}
		})
	}
}

func TestAPITokens(t *testing.T) {
	f := newFixture(t, auth.Options{})
	actor := domain.Actor{UserID: f.alice.ID, Email: f.alice.Email}
	secret, tok, err := f.svc.CreateAPIToken(f.ctx, actor, f.acme.ID, f.alice.ID, "  CI pipeline ")
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	if !regexp.MustCompile(`^evd_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Errorf("secret = %q; want evd_ and 32 random bytes in base64url", secret)
	}
	if tok.Prefix != secret[:12] || tok.Name != "CI pipeline" || !bytes.Equal(tok.Hash, sum(secret)) {
		t.Errorf("token = prefix %q name %q; want prefix %q, name %q and the secret's SHA-256", tok.Prefix, tok.Name, secret[:12], "CI pipeline")
	}
	// Shown once: nothing the store keeps holds the secret.
	stored, err := f.st.APITokens(f.ctx, f.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stored {
		if s.Prefix == secret || string(s.Hash) == secret || strings.Contains(s.Name, secret) {
			t.Errorf("stored token %+v holds the secret", s)
		}
	}

	got, err := f.svc.AuthenticateToken(f.ctx, secret)
	if err != nil {
		t.Fatalf("AuthenticateToken: %v", err)
	}
	if got.ID != tok.ID || got.OrgID != f.acme.ID || got.UserID != f.alice.ID {
		t.Errorf("AuthenticateToken = %+v; want token %d of alice in acme", got, tok.ID)
	}
	for _, bad := range []string{"", secret[4:], "evd_" + strings.Repeat("A", 43), strings.ToUpper(secret), secret + "x"} {
		_, err := f.svc.AuthenticateToken(f.ctx, bad)
		wantKind(t, "AuthenticateToken(bad)", err, domain.KindUnauthorized)
	}

	if err := f.svc.RevokeAPIToken(f.ctx, actor, f.globex.ID, tok.ID); !domain.IsNotFound(err) {
		t.Errorf("RevokeAPIToken from another organization = %v; want not found", err)
	}
	if err := f.svc.RevokeAPIToken(f.ctx, actor, f.acme.ID, tok.ID); err != nil {
		t.Fatalf("RevokeAPIToken: %v", err)
	}
	_, err = f.svc.AuthenticateToken(f.ctx, secret)
	wantKind(t, "AuthenticateToken after revocation", err, domain.KindUnauthorized)
}

func TestCreateAPITokenRefused(t *testing.T) {
	f := newFixture(t, auth.Options{})
	tests := []struct {
		name  string
		org   int64
		user  int64
		tname string
		kind  domain.Kind
		field string
	}{
		{"no name", f.acme.ID, f.alice.ID, "  ", domain.KindInvalid, "name"},
		{"long name", f.acme.ID, f.alice.ID, strings.Repeat("n", 101), domain.KindInvalid, "name"},
		{"user not a member", f.globex.ID, f.bob.ID, "ci", domain.KindInvalid, "user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.svc.CreateAPIToken(f.ctx, domain.SystemActor, tt.org, tt.user, tt.tname)
			wantKind(t, "CreateAPIToken", err, tt.kind)
			if domain.FieldOf(err) != tt.field {
				t.Errorf("CreateAPIToken error field = %q; want %q", domain.FieldOf(err), tt.field)
			}
		})
	}
}

func TestAPITokenTouchedAtMostOnceAMinute(t *testing.T) {
	f := newFixture(t, auth.Options{})
	secret, tok, err := f.svc.CreateAPIToken(f.ctx, domain.SystemActor, f.acme.ID, f.alice.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() *time.Time {
		t.Helper()
		ts, err := f.st.APITokens(f.ctx, f.acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			if x.ID == tok.ID {
				return x.LastUsedAt
			}
		}
		t.Fatal("token not listed")
		return nil
	}
	if lastUsed() != nil {
		t.Fatal("a new token has a last-used time")
	}
	first := f.clk.t
	steps := []struct {
		advance time.Duration
		want    time.Time
	}{
		{0, first},
		{59 * time.Second, first},
		{time.Second, first.Add(time.Minute)},
	}
	for _, s := range steps {
		f.clk.Advance(s.advance)
		if _, err := f.svc.AuthenticateToken(f.ctx, secret); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); got == nil || !got.Equal(s.want) {
			t.Errorf("at +%v LastUsedAt = %v; want %v", f.clk.t.Sub(first), got, s.want)
		}
	}
}
