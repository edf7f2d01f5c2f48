package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/store/storetest"
)

// cli runs command lines in-process, as the binary would, with a data directory of its
// own and only the environment it is given.
type cli struct {
	tb   testing.TB
	data string
	env  map[string]string
}

func newCLI(tb testing.TB) *cli {
	tb.Helper()
	data := filepath.Join(tb.TempDir(), "data")
	return &cli{tb: tb, data: data, env: map[string]string{envData: data}}
}

// outcome is what one command line did.
type outcome struct {
	code           int
	stdout, stderr string
}

func (c *cli) getenv(k string) string { return c.env[k] }

// run runs a command line with the given standard input (nil: a terminal).
func (c *cli) run(stdin io.Reader, args ...string) outcome {
	c.tb.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, stdin, &stdout, &stderr, c.getenv)
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs a command line that must succeed and returns its standard output.
func (c *cli) ok(stdin io.Reader, args ...string) string {
	c.tb.Helper()
	o := c.run(stdin, args...)
	if o.code != 0 {
		c.tb.Fatalf("evident %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), o.code, o.stdout, o.stderr)
	}
	return o.stdout
}

// main starts a Main for a serving command line and closes it when the test ends.
func (c *cli) main(args ...string) *Main {
	c.tb.Helper()
	m := NewMain()
	m.Stdin, m.Stdout, m.Stderr, m.Getenv = nil, io.Discard, io.Discard, c.getenv
	if err := m.ParseFlags(context.Background(), args); err != nil {
		c.tb.Fatalf("ParseFlags(%q): %v", args, err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		c.tb.Fatalf("Run(%q): %v", args, err)
	}
	c.tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			c.tb.Errorf("Close: %v", err)
		}
	})
	return m
}

// syncBuffer is a buffer safe to write from the server's goroutines while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// postgresURL returns the URL of a fresh database on the server EVIDENT_TEST_POSTGRES_URL
// names, dropped when the test ends; it skips the test when the variable is not set.
func postgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(storetest.PostgresEnv)
	if base == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s to a server URL where tests may create databases", storetest.PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", storetest.PostgresEnv, err)
	}
	tb.Cleanup(func() { admin.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "evident_cmd_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", storetest.PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// signIn signs in through the form, as a browser would, and returns a client that carries
// the session cookie.
func signIn(tb testing.TB, baseURL, email, password string) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := client.PostForm(baseURL+"/signin", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		tb.Fatalf("sign in: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		tb.Fatalf("sign in as %s: status %d at %s; want 200 at /\n%s", email, resp.StatusCode, resp.Request.URL, body)
	}
	return client
}

// get fetches a URL and returns the status and body.
func get(tb testing.TB, client *http.Client, u string) (int, string) {
	tb.Helper()
	resp, err := client.Get(u)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: read: %v", u, err)
	}
	return resp.StatusCode, string(b)
}

func TestHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"help", []string{"help"}, []string{"Usage:", "serve", "demo", "migrate", "org create", "user create", "token create",
			"evidence add", "evidence list", "ledger checkpoint", "export evidence", "verify", "catalog", "readiness", "version"}},
		{"dash h", []string{"-h"}, []string{"Usage:", "Commands:"}},
		{"double dash help", []string{"--help"}, []string{"Usage:", "Commands:"}},
		{"help serve", []string{"help", "serve"}, []string{"evident serve [flags]", "-addr", "EVIDENT_ADDR", "-data", "-database", "-secure-cookies", "-trust-proxy", "-log-level"}},
		{"serve dash h", []string{"serve", "-h"}, []string{"evident serve [flags]", "-shutdown-timeout"}},
		{"help org create", []string{"help", "org", "create"}, []string{"evident org create SLUG [flags]", "-name"}},
		{"user create help", []string{"user", "create", "--help"}, []string{"-email", "-role", "standard input"}},
		{"readiness help", []string{"help", "readiness"}, []string{"-format", "text, json or html"}},
		{"serve evidence flags", []string{"help", "serve"}, []string{"--blobs", "EVIDENT_BLOBS", "--max-upload", "(default 100MiB)", "--ledger-key", "replicas must share it",
			"--checkpoint-interval", "(default 1m0s)", "--smtp-url", "EVIDENT_SMTP_URL", "--mail-from", "--base-url", "--digest-hour", "(default 7)"}},
		{"evidence add help", []string{"help", "evidence", "add"}, []string{"evident evidence add [flags]", "--file", "--url", "--note", "--from", "--to", "--control", "effective period"}},
		{"evidence list help", []string{"evidence", "list", "-h"}, []string{"--org", "--control", "--json", "--all"}},
		{"ledger checkpoint help", []string{"help", "ledger", "checkpoint"}, []string{"--org", "--ledger-key", "for an auditor to save"}},
		{"export help", []string{"help", "export", "evidence"}, []string{"--out", "--control", "--from", "--to", "0600"}},
		{"verify help", []string{"help", "verify"}, []string{"evident verify FILE.zip [flags]", "--key", "--checkpoint", "no database and no network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newCLI(t).run(nil, tt.args...)
			if o.code != 0 || o.stderr != "" {
				t.Fatalf("evident %s: exit %d, stderr %q; want 0 and nothing", strings.Join(tt.args, " "), o.code, o.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(o.stdout, w) {
					t.Errorf("evident %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, o.stdout)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no command", nil, []string{"no command given", "Commands:"}},
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate"`, "Commands:"}},
		{"group without subcommand", []string{"org"}, []string{`"org" needs a subcommand: create, list`}},
		{"unknown subcommand", []string{"user", "delete"}, []string{`unknown command "user delete"`}},
		{"unknown help topic", []string{"help", "nothing"}, []string{`unknown command "nothing"`}},
		{"unknown flag", []string{"serve", "--bogus"}, []string{"flag provided but not defined: -bogus", "Run 'evident help serve' for usage."}},
		{"bad flag value", []string{"serve", "--log-level", "loud"}, []string{"invalid value \"loud\" for flag -log-level"}},
		{"missing argument", []string{"org", "create", "--name", "Acme"}, []string{"missing SLUG", "evident help org create"}},
		{"extra argument", []string{"org", "create", "acme", "beta", "--name", "Acme"}, []string{`unexpected argument "beta"`}},
		{"argument to a command without", []string{"version", "now"}, []string{`unexpected argument "now"`}},
		{"missing name", []string{"org", "create", "acme"}, []string{"--name is required"}},
		{"bad slug", []string{"org", "create", "Acme Cloud", "--name", "Acme"}, []string{`SLUG "Acme Cloud" must be 1 to 40 lower-case letters`}},
		{"user without email", []string{"user", "create", "--org", "acme", "--role", "admin"}, []string{"--email is required"}},
		{"user without role", []string{"user", "create", "--org", "acme", "--email", "a@b.example"}, []string{"--role is required"}},
		{"user with unknown role", []string{"user", "create", "--org", "acme", "--email", "a@b.example", "--role", "boss"}, []string{`--role: "boss" is not a role; use owner, admin, member or viewer`}},
		{"token without email", []string{"token", "create"}, []string{"--email is required"}},
		{"readiness without org", []string{"readiness"}, []string{"--org is required"}},
		{"readiness with unknown format", []string{"readiness", "--org", "acme", "--format", "pdf"}, []string{`--format: "pdf" is not a format; use text, json or html`}},
		{"empty data directory", []string{"migrate", "--data", ""}, []string{"--data: must not be empty"}},
		{"bad upload limit", []string{"serve", "--max-upload", "big"}, []string{`invalid value "big" for flag -max-upload`}},
		{"checkpoint interval too short", []string{"serve", "--checkpoint-interval", "10ms"}, []string{"--checkpoint-interval: must be at least 1s"}},
		{"digest hour out of range", []string{"serve", "--digest-hour", "24"}, []string{"--digest-hour: 24 is not an hour from 0 to 23"}},
		{"bad smtp url", []string{"serve", "--smtp-url", "mail.example.com", "--mail-from", "e@example.com"}, []string{"--smtp-url: smtp url mail.example.com: scheme must be smtp or smtps"}},
		{"smtp without sender", []string{"serve", "--smtp-url", "smtp://mail.example.com"}, []string{"--mail-from: is required with --smtp-url"}},
		{"bad sender", []string{"serve", "--smtp-url", "smtp://mail.example.com", "--mail-from", "evident"}, []string{`--mail-from: "evident" is not an email address`}},
		{"bad base url", []string{"serve", "--base-url", "evident.example.com"}, []string{`--base-url: "evident.example.com" is not an http or https address`}},
		{"evidence group", []string{"evidence"}, []string{`"evidence" needs a subcommand: add, list`}},
		{"verify without file", []string{"verify"}, []string{"missing FILE.zip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newCLI(t).run(nil, tt.args...)
			if o.code != 2 || o.stdout != "" {
				t.Fatalf("evident %s: exit %d, stdout %q; want 2 and nothing", strings.Join(tt.args, " "), o.code, o.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(o.stderr, w) {
					t.Errorf("evident %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), w, o.stderr)
				}
			}
		})
	}
}

func TestConfig(t *testing.T) {
	// defaults returns the built-in configuration changed by fn.
	defaults := func(fn func(c *Config)) Config {
		c := Config{Addr: DefaultAddr, DataDir: DefaultDataDir, LogLevel: slog.LevelInfo, ShutdownTimeout: DefaultShutdownTimeout,
			MaxUpload: DefaultMaxUpload, CheckpointInterval: DefaultCheckpointInterval, DigestHour: DefaultDigestHour}
		if fn != nil {
			fn(&c)
		}
		return c
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want Config
	}{
		{
			name: "defaults",
			args: []string{"serve"},
			want: defaults(nil),
		},
		{
			name: "environment",
			env: map[string]string{
				envAddr: ":9000", envData: "/srv/evident", envDatabase: "postgres://db/evident",
				envSecureCookies: "true", envTrustProxy: "1", envLogLevel: "debug", envShutdownTimeout: "30s",
				envBlobs: "s3://evidence/acme?region=eu-west-1", envMaxUpload: "2GiB", envLedgerKey: "/etc/evident/ledger.key",
				envCheckpointInterval: "30s", envSMTPURL: "smtp://mailer:pw@smtp.example.com:587", envMailFrom: "Evident <evident@example.com>",
				envBaseURL: "https://evident.example.com", envDigestHour: "6",
			},
			args: []string{"serve"},
			want: defaults(func(c *Config) {
				c.Addr, c.DataDir, c.Database, c.SecureCookies, c.TrustProxy = ":9000", "/srv/evident", "postgres://db/evident", true, true
				c.LogLevel, c.ShutdownTimeout = slog.LevelDebug, 30*time.Second
				c.Blobs, c.MaxUpload, c.LedgerKey, c.CheckpointInterval = "s3://evidence/acme?region=eu-west-1", 2<<30, "/etc/evident/ledger.key", 30*time.Second
				c.SMTPURL, c.MailFrom, c.BaseURL, c.DigestHour = "smtp://mailer:pw@smtp.example.com:587", "Evident <evident@example.com>", "https://evident.example.com", 6
			}),
		},
		{
			name: "flags over environment",
			env:  map[string]string{envAddr: ":9000", envData: "/srv/evident", envSecureCookies: "true", envMaxUpload: "1GiB", envDigestHour: "6"},
			args: []string{"serve", "--addr", "127.0.0.1:0", "--data=/tmp/x", "--secure-cookies=false", "--log-level", "warn", "--trust-proxy",
				"--max-upload", "50MB", "--digest-hour", "9", "--checkpoint-interval", "5m", "--blobs", "file:///srv/blobs", "--ledger-key", "/tmp/k"},
			want: defaults(func(c *Config) {
				c.Addr, c.DataDir, c.TrustProxy, c.LogLevel = "127.0.0.1:0", "/tmp/x", true, slog.LevelWarn
				c.MaxUpload, c.DigestHour, c.CheckpointInterval, c.Blobs, c.LedgerKey = 50_000_000, 9, 5*time.Minute, "file:///srv/blobs", "/tmp/k"
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			m.Getenv = func(k string) string { return tt.env[k] }
			if err := m.ParseFlags(context.Background(), tt.args); err != nil {
				t.Fatalf("ParseFlags(%q): %v", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, m.Config); diff != "" {
				t.Errorf("Config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		text string
	}{
		{"100MiB", 100 << 20, "100MiB"},
		{"100 mib", 100 << 20, "100MiB"},
		{"512k", 512 << 10, "512KiB"},
		{"2GB", 2_000_000_000, "1953125KiB"},
		{"1048576", 1 << 20, "1MiB"},
		{"1500", 1500, "1500"},
	}
	for _, tt := range tests {
		var b byteSize
		if err := b.Set(tt.in); err != nil || int64(b) != tt.want || b.String() != tt.text {
			t.Errorf("byteSize.Set(%q) = %d (%q), %v; want %d (%q)", tt.in, int64(b), b.String(), err, tt.want, tt.text)
		}
	}
	for _, bad := range []string{"", "lots", "-5MiB", "0", "1.5GiB", "99999999999GiB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("byteSize.Set(%q) = %d; want an error", bad, int64(b))
		}
	}
}

func TestConfigEnvironmentErrors(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"boolean", envSecureCookies, "maybe", `EVIDENT_SECURE_COOKIES: "maybe" is not a boolean; use true or false`},
		{"log level", envLogLevel, "loud", `EVIDENT_LOG_LEVEL: "loud" is not a log level`},
		{"duration", envShutdownTimeout, "soon", `EVIDENT_SHUTDOWN_TIMEOUT: "soon" is not a positive duration`},
		{"size", envMaxUpload, "huge", `EVIDENT_MAX_UPLOAD: "huge" is not a positive size such as 100MiB`},
		{"interval", envCheckpointInterval, "often", `EVIDENT_CHECKPOINT_INTERVAL: "often" is not a positive duration such as 1m`},
		{"hour", envDigestHour, "noon", `EVIDENT_DIGEST_HOUR: "noon" is not an hour from 0 to 23`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.env[tt.key] = tt.value
			o := c.run(nil, "serve")
			if o.code != 1 || !strings.Contains(o.stderr, tt.want) {
				t.Errorf("evident serve with %s=%q: exit %d, stderr %q; want 1 and %q", tt.key, tt.value, o.code, o.stderr, tt.want)
			}
			if o := c.run(nil, "help"); o.code != 0 {
				t.Errorf("evident help with %s=%q: exit %d, stderr %q; want the help", tt.key, tt.value, o.code, o.stderr)
			}
		})
	}
}

func TestDatabaseLocation(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		dsn       string
		label     string
		postgres  bool
		sqliteAt  string
		notInText string
	}{
		{"default sqlite", Config{DataDir: "/srv/evident"}, "/srv/evident/evident.db", "sqlite /srv/evident/evident.db", false, "/srv/evident/evident.db", ""},
		{"sqlite elsewhere", Config{DataDir: "/srv/evident", Database: "sqlite:/var/lib/e.db"}, "sqlite:/var/lib/e.db", "sqlite /var/lib/e.db", false, "/var/lib/e.db", ""},
		{"postgres", Config{DataDir: "/srv/evident", Database: "postgres://evident:s3cret@db:5432/evident"},
			"postgres://evident:s3cret@db:5432/evident", "postgres postgres://evident:xxxxx@db:5432/evident", true, "", "s3cret"},
		{"postgresql scheme", Config{Database: "postgresql://db/evident"}, "postgresql://db/evident", "postgres postgresql://db/evident", true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.DSN(); got != tt.dsn {
				t.Errorf("DSN() = %q; want %q", got, tt.dsn)
			}
			if got := tt.cfg.DatabaseLabel(); got != tt.label {
				t.Errorf("DatabaseLabel() = %q; want %q", got, tt.label)
			}
			if got := tt.cfg.IsPostgres(); got != tt.postgres {
				t.Errorf("IsPostgres() = %v; want %v", got, tt.postgres)
			}
			if got := tt.cfg.sqlitePath(); got != tt.sqliteAt {
				t.Errorf("sqlitePath() = %q; want %q", got, tt.sqliteAt)
			}
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantName string
		wantPos  []string
	}{
		{"flags after", []string{"acme", "--name", "Acme"}, "Acme", []string{"acme"}},
		{"flags before", []string{"--name=Acme", "acme"}, "Acme", []string{"acme"}},
		{"flags between", []string{"a", "--name", "Acme", "b"}, "Acme", []string{"a", "b"}},
		{"terminator", []string{"--name", "Acme", "--", "--not-a-flag"}, "Acme", []string{"--not-a-flag"}},
		{"none", nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			name := fs.String("name", "", "")
			pos, err := parseInterspersed(fs, tt.args)
			if err != nil {
				t.Fatalf("parseInterspersed(%q): %v", tt.args, err)
			}
			if *name != tt.wantName {
				t.Errorf("parseInterspersed(%q): name = %q; want %q", tt.args, *name, tt.wantName)
			}
			if diff := cmp.Diff(tt.wantPos, pos); diff != "" {
				t.Errorf("parseInterspersed(%q) positional (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out := newCLI(t).ok(nil, "version")
	if !strings.HasPrefix(out, "evident "+Version()+" (go") {
		t.Errorf("evident version = %q; want it to start with %q", out, "evident "+Version()+" (go")
	}
}

func TestServeAndClose(t *testing.T) {
	c := newCLI(t)
	var logs syncBuffer
	m := NewMain()
	m.Stdout, m.Stderr, m.Getenv = io.Discard, &logs, c.getenv
	if err := m.ParseFlags(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}); err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !m.Serving() || !strings.HasPrefix(m.URL(), "http://127.0.0.1:") {
		t.Fatalf("after Run: serving %v at %q; want a server on 127.0.0.1", m.Serving(), m.URL())
	}
	fi, err := os.Stat(c.data)
	if err != nil {
		t.Fatalf("data directory: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %v; want 0700", perm)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := get(t, http.DefaultClient, m.URL()+path); status != http.StatusOK || body != "ok\n" {
			t.Errorf("GET %s = %d %q; want 200 ok", path, status, body)
		}
	}
	base := m.URL()
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after Close")
	}
	if err := m.Store.Ping(context.Background()); err == nil {
		t.Error("the database still answers after Close")
	}
	assertShutdownOrder(t, logs.String())
}

// assertShutdownOrder checks that the log shows the HTTP server, the workers and the
// database stopping in that order.
func assertShutdownOrder(tb testing.TB, logs string) {
	tb.Helper()
	last := -1
	for _, msg := range []string{`msg="HTTP server stopped"`, `msg="background workers stopped"`, `msg="database closed"`} {
		i := strings.Index(logs, msg)
		if i < 0 {
			tb.Errorf("log lacks %s:\n%s", msg, logs)
			return
		}
		if i < last {
			tb.Errorf("log shows %s out of order:\n%s", msg, logs)
		}
		last = i
	}
}

func TestServeShutsDownOnSignal(t *testing.T) {
	c := newCLI(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, nil, &stdout, &stderr, c.getenv)
	}()
	waitFor(t, &stderr, `msg="evident is serving"`, done)
	cancel(errors.New("interrupt"))
	if code := <-done; code != 0 {
		t.Fatalf("run after the signal = %d; want 0\n%s", code, stderr.String())
	}
	logs := stderr.String()
	if !strings.Contains(logs, `msg="shutting down" reason=interrupt`) {
		t.Errorf("log lacks the shutdown with its reason:\n%s", logs)
	}
	assertShutdownOrder(t, logs)
}

// waitFor waits until the log shows want, failing if the command ends first.
func waitFor(tb testing.TB, logs *syncBuffer, want string, done <-chan int) {
	tb.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(logs.String(), want) {
		select {
		case code := <-done:
			tb.Fatalf("the command ended with %d before logging %s:\n%s", code, want, logs.String())
		case <-deadline:
			tb.Fatalf("no %s in the log after a minute:\n%s", want, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestServeAddressInUse(t *testing.T) {
	c := newCLI(t)
	m := c.main("serve", "--addr", "127.0.0.1:0")
	addr := strings.TrimPrefix(m.URL(), "http://")
	o := newCLI(t).run(nil, "serve", "--addr", addr)
	if o.code != 1 || !strings.Contains(o.stderr, "listen on "+addr) || !strings.Contains(o.stderr, "choose another address with --addr") {
		t.Errorf("serve on a busy address: exit %d, stderr %q; want 1 and advice", o.code, o.stderr)
	}
}

func TestPlural(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{0, "0 criteria"}, {1, "1 criterion"}, {61, "61 criteria"}}
	for _, tt := range tests {
		if got := plural(tt.n, "criterion", "criteria"); got != tt.want {
			t.Errorf("plural(%d, criterion, criteria) = %q; want %q", tt.n, got, tt.want)
		}
	}
}
