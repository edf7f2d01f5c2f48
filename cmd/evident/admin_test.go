package main

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
)

// openStore opens the database a cli's commands use, closed when the test ends.
func (c *cli) openStore() *store.Store {
	c.tb.Helper()
	dsn := c.env[envDatabase]
	if dsn == "" {
		dsn = filepath.Join(c.data, sqliteFileName)
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		c.tb.Fatalf("open store: %v", err)
	}
	c.tb.Cleanup(func() { st.Close() })
	return st
}

// wantFailure runs a command line that must fail with status 1 and say want.
func (c *cli) wantFailure(stdin *strings.Reader, want string, args ...string) {
	c.tb.Helper()
	var o outcome
	if stdin == nil {
		o = c.run(nil, args...)
	} else {
		o = c.run(stdin, args...)
	}
	if o.code != 1 || !strings.Contains(o.stderr, want) {
		c.tb.Errorf("evident %s: exit %d, stderr %q; want 1 and %q", strings.Join(args, " "), o.code, o.stderr, want)
	}
}

func TestMigrate(t *testing.T) {
	c := newCLI(t)
	out := c.ok(nil, "migrate")
	if !regexp.MustCompile(`^Database schema is at version \d+ \(sqlite .*evident\.db\)\.\n$`).MatchString(out) {
		t.Errorf("evident migrate = %q; want the schema version and the database", out)
	}
	if again := c.ok(nil, "migrate"); again != out {
		t.Errorf("second evident migrate = %q; want %q", again, out)
	}
	if err := c.openStore().CheckSchema(context.Background()); err != nil {
		t.Errorf("CheckSchema after migrate: %v", err)
	}
}

func TestCommandsNeedADatabase(t *testing.T) {
	for _, args := range [][]string{
		{"org", "list"},
		{"org", "create", "acme", "--name", "Acme"},
		{"readiness", "--org", "acme"},
		{"token", "create", "--email", "a@b.example"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c := newCLI(t)
			c.wantFailure(nil, "no database at "+filepath.Join(c.data, "evident.db")+": start Evident once with 'evident serve' or run 'evident migrate'", args...)
			if _, err := os.Stat(c.data); err == nil {
				t.Errorf("evident %s created the data directory", strings.Join(args, " "))
			}
		})
	}
}

func TestCommandsRefusePendingMigrations(t *testing.T) {
	c := newCLI(t)
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.data, sqliteFileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.wantFailure(nil, "pending; run evident migrate", "org", "list")
	c.ok(nil, "migrate")
	c.ok(nil, "org", "list")
}

// makeSchemaNewer records a migration newer than any this binary knows.
func makeSchemaNewer(tb testing.TB, dbPath string) {
	tb.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (99999, ?)`, time.Now().UTC().Format(time.RFC3339)); err != nil {
		tb.Fatalf("record a newer migration: %v", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	c := newCLI(t)
	c.ok(nil, "migrate")
	makeSchemaNewer(t, filepath.Join(c.data, sqliteFileName))
	for _, args := range [][]string{
		{"migrate"},
		{"serve", "--addr", "127.0.0.1:0"},
		{"demo", "--addr", "127.0.0.1:0"},
		{"org", "list"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c.wantFailure(nil, "database schema is newer than this binary (version 99999", args...)
		})
	}
}

func TestOrgCreateAndList(t *testing.T) {
	c := newCLI(t)
	c.ok(nil, "migrate")
	if out := c.ok(nil, "org", "list"); !strings.Contains(out, "No organizations yet") {
		t.Errorf("evident org list on an empty database = %q; want a hint", out)
	}
	out := c.ok(nil, "org", "create", "beta", "--name", "Beta Corp")
	n := len(catalog.Default().Library)
	if !strings.Contains(out, "Created organization beta (Beta Corp) with "+plural(n, "control", "controls")+" from the library.") ||
		!strings.Contains(out, "evident user create --org beta --email EMAIL --role owner --name NAME") {
		t.Errorf("evident org create = %q; want what was created and the next step", out)
	}
	c.ok(nil, "org", "create", "--name=Alpha Labs", "alpha")
	c.wantFailure(nil, `an organization with slug "beta" already exists; list them with 'evident org list'`, "org", "create", "beta", "--name", "Beta Again")

	list := c.ok(nil, "org", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SLUG") || !strings.HasPrefix(lines[1], "alpha") || !strings.HasPrefix(lines[2], "beta") {
		t.Errorf("evident org list = %q; want a header, alpha, then beta", list)
	}

	st := c.openStore()
	o, err := st.OrganizationBySlug(context.Background(), "beta")
	if err != nil {
		t.Fatalf("OrganizationBySlug: %v", err)
	}
	cs, err := st.Controls(context.Background(), o.ID, domain.ControlFilter{})
	if err != nil || len(cs) != n {
		t.Errorf("beta has %d controls (err %v); want the %d of the library", len(cs), err, n)
	}
}

var generatedPassword = regexp.MustCompile(`Password: ([a-z2-9]{5}(?:-[a-z2-9]{5}){3})\n`)

func TestUserCreate(t *testing.T) {
	c := newCLI(t)
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "beta", "--name", "Beta Corp")
	c.ok(nil, "org", "create", "gamma", "--name", "Gamma GmbH")

	out := c.ok(nil, "user", "create", "--org", "beta", "--email", "Ana@Beta.example", "--role", "owner", "--name", "Ana Silva")
	m := generatedPassword.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "Created ana@beta.example (Ana Silva) in beta as owner.") || !strings.Contains(out, "shown only this once") {
		t.Fatalf("evident user create = %q; want the new user and a generated password", out)
	}
	c.assertPassword("ana@beta.example", m[1])

	out = c.ok(strings.NewReader("correct horse battery\n"), "user", "create", "--org", "beta", "--email", "bo@beta.example", "--role", "viewer", "--name", "Bo")
	if !strings.Contains(out, "Created bo@beta.example (Bo) in beta as viewer with the password from standard input.") || generatedPassword.MatchString(out) {
		t.Errorf("evident user create with a piped password = %q", out)
	}
	c.assertPassword("bo@beta.example", "correct horse battery")

	o := c.run(strings.NewReader("another password\n"), "user", "create", "--org", "gamma", "--email", "bo@beta.example", "--role", "admin")
	if o.code != 0 || !strings.Contains(o.stdout, "Added bo@beta.example (Bo) to gamma as admin. They already had an account and keep their password.") ||
		!strings.Contains(o.stderr, "the password on standard input was not used") {
		t.Errorf("evident user create for an existing user: exit %d\nstdout %q\nstderr %q", o.code, o.stdout, o.stderr)
	}
	c.assertPassword("bo@beta.example", "correct horse battery")

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"already a member", "", []string{"--org", "beta", "--email", "ana@beta.example", "--role", "admin"}, "ana@beta.example is already a member of beta"},
		{"unknown organization", "", []string{"--org", "nope", "--email", "x@beta.example", "--role", "admin", "--name", "X"}, `no organization with slug "nope"; list them with 'evident org list'`},
		{"new user without name", "", []string{"--org", "beta", "--email", "x@beta.example", "--role", "admin"}, "--name: is required for a new user"},
		{"bad email", "", []string{"--org", "beta", "--email", "not-an-email", "--role", "admin", "--name", "X"}, "--email: is not a valid email address"},
		{"short password", "short\n", []string{"--org", "beta", "--email", "x@beta.example", "--role", "admin", "--name", "X"}, "the password on standard input must be at least 8 characters"},
		{"empty standard input", "", []string{"--org", "beta", "--email", "x@beta.example", "--role", "admin", "--name", "X"}, "standard input is piped but holds no password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"user", "create"}, tt.args...)
			var stdin *strings.Reader
			if tt.stdin != "" || strings.Contains(tt.name, "standard input") {
				stdin = strings.NewReader(tt.stdin)
			}
			c.wantFailure(stdin, tt.want, args...)
		})
	}
}

// assertPassword checks that the user signs in with the password.
func (c *cli) assertPassword(email, password string) {
	c.tb.Helper()
	u, err := c.openStore().UserByEmail(context.Background(), email)
	if err != nil {
		c.tb.Fatalf("UserByEmail(%q): %v", email, err)
	}
	ok, err := auth.VerifyPassword(u.PasswordHash, password)
	if err != nil || !ok {
		c.tb.Errorf("password %q for %s: ok %v, err %v; want it to match", password, email, ok, err)
	}
}

func TestTokenCreate(t *testing.T) {
	c := newCLI(t)
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "beta", "--name", "Beta Corp")
	c.ok(nil, "org", "create", "gamma", "--name", "Gamma GmbH")
	c.ok(nil, "user", "create", "--org", "beta", "--email", "ana@beta.example", "--role", "admin", "--name", "Ana")
	c.ok(nil, "user", "create", "--org", "beta", "--email", "bo@beta.example", "--role", "member", "--name", "Bo")
	c.ok(nil, "user", "create", "--org", "gamma", "--email", "bo@beta.example", "--role", "viewer")

	o := c.run(nil, "token", "create", "--email", "ana@beta.example", "--name", "CI uploader")
	if o.code != 0 {
		t.Fatalf("evident token create: exit %d: %s", o.code, o.stderr)
	}
	secret := strings.TrimSuffix(o.stdout, "\n")
	if !strings.HasPrefix(secret, auth.TokenPrefix) || strings.Contains(secret, "\n") {
		t.Fatalf("evident token create printed %q; want the token alone", o.stdout)
	}
	if !strings.Contains(o.stderr, `Created API token "CI uploader"`) || !strings.Contains(o.stderr, "for ana@beta.example in beta") {
		t.Errorf("evident token create said %q; want what it created", o.stderr)
	}
	st := c.openStore()
	a := auth.New(st, auth.Options{})
	tok, err := a.AuthenticateToken(context.Background(), secret)
	if err != nil {
		t.Fatalf("AuthenticateToken: %v", err)
	}
	beta, err := st.OrganizationBySlug(context.Background(), "beta")
	if err != nil {
		t.Fatal(err)
	}
	if tok.OrgID != beta.ID || tok.Name != "CI uploader" {
		t.Errorf("token = %+v; want one named CI uploader in beta", tok)
	}

	out := c.ok(nil, "token", "create", "--email", "bo@beta.example", "--org", "gamma")
	tok, err = a.AuthenticateToken(context.Background(), strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("AuthenticateToken: %v", err)
	}
	gamma, _ := st.OrganizationBySlug(context.Background(), "gamma")
	if tok.OrgID != gamma.ID || tok.Name != "command line" {
		t.Errorf("token = %+v; want one named \"command line\" in gamma", tok)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown user", []string{"--email", "zed@beta.example"}, "no user with email zed@beta.example; add one with 'evident user create"},
		{"several organizations", []string{"--email", "bo@beta.example"}, "bo@beta.example belongs to several organizations (beta, gamma); choose one with --org"},
		{"not a member", []string{"--email", "ana@beta.example", "--org", "gamma"}, "ana@beta.example is not a member of gamma"},
		{"unknown organization", []string{"--email", "ana@beta.example", "--org", "nope"}, `no organization with slug "nope"`},
		{"bad email", []string{"--email", "nobody"}, "--email: is not a valid email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.wantFailure(nil, tt.want, append([]string{"token", "create"}, tt.args...)...)
		})
	}
}

func TestCommandsOnPostgres(t *testing.T) {
	c := newCLI(t)
	c.env[envDatabase] = postgresURL(t)
	out := c.ok(nil, "migrate")
	if !strings.Contains(out, "(postgres postgres://") {
		t.Errorf("evident migrate = %q; want the PostgreSQL database named", out)
	}
	c.ok(nil, "org", "create", "beta", "--name", "Beta Corp")
	c.ok(nil, "user", "create", "--org", "beta", "--email", "ana@beta.example", "--role", "owner", "--name", "Ana")
	if out := c.ok(nil, "readiness", "--org", "beta"); !strings.Contains(out, "Score: 0.0 / 100") {
		t.Errorf("evident readiness on a new organization = %q; want a score of 0", out)
	}
	m := c.main("serve", "--addr", "127.0.0.1:0")
	if status, _ := get(t, http.DefaultClient, m.URL()+"/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz on PostgreSQL = %d; want 200", status)
	}
}

func TestOpenDataDirectoryWarns(t *testing.T) {
	c := newCLI(t)
	if err := os.MkdirAll(c.data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.data, 0o755); err != nil {
		t.Fatal(err)
	}
	o := c.run(nil, "migrate")
	if o.code != 0 || !strings.Contains(o.stderr, "other users can reach the data directory") || !strings.Contains(o.stderr, "chmod 700 "+c.data) {
		t.Errorf("evident migrate on a 0755 data directory: exit %d, stderr %q; want a warning with the fix", o.code, o.stderr)
	}
	if err := os.Chmod(c.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if o := c.run(nil, "migrate"); o.stderr != "" {
		t.Errorf("evident migrate on a 0700 data directory warned: %q", o.stderr)
	}
}
