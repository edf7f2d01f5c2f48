package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/alert"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/notify"
)

// Config is what every command can be told, by flag or by environment variable. A flag
// wins over its variable, and the variable over the default.
type Config struct {
	// Addr is where serve and demo listen.
	Addr string
	// DataDir holds the SQLite database (unless Database says otherwise) and, later,
	// evidence files. It is created with mode 0700.
	DataDir string
	// Database is a postgres:// URL or the path of an SQLite file. Empty: the file
	// evident.db in DataDir.
	Database string
	// SecureCookies marks session cookies Secure with the __Host- prefix.
	SecureCookies bool
	// TrustProxy believes X-Forwarded-For and X-Forwarded-Proto.
	TrustProxy bool
	// LogLevel is the least severe level logged.
	LogLevel slog.Level
	// ShutdownTimeout bounds how long in-flight requests may take to finish at shutdown.
	ShutdownTimeout time.Duration

	// Blobs is where evidence files are kept: "" for <DataDir>/blobs, a file:// URL, or an
	// s3:// URL for several replicas (see blob.Open). It may hold credentials.
	Blobs secret
	// MaxUpload is the largest evidence file accepted, in bytes.
	MaxUpload byteSize
	// LedgerKey is the file holding the key that signs ledger checkpoints. Empty: the
	// file ledger.key in DataDir, generated at first start. Replicas must share it.
	LedgerKey string
	// CheckpointInterval is how often the ledgers that grew get a signed checkpoint.
	CheckpointInterval time.Duration
	// SMTPURL is the outgoing mail server for the evidence digest (see
	// notify.ParseSMTPURL); empty turns email off. It may hold a password.
	SMTPURL secret
	// MailFrom is the digests' sender, such as "Evident <evident@example.com>".
	MailFrom string
	// BaseURL is the address people reach Evident at, for links in email.
	BaseURL string
	// DigestHour is the hour of the day, UTC, from which the daily digests are sent.
	DigestHour int
	// SecretKey is the file holding the key that seals connection credentials. Empty:
	// the file secret.key in DataDir, generated at first use. Replicas must share it.
	SecretKey string
	// AlertsAllowPrivate lets alerts reach Slack and webhook receivers on loopback,
	// private (RFC 1918, RFC 4193) and carrier-grade NAT addresses.
	AlertsAllowPrivate bool
	// AlertsAllowNetworks lists networks alerts may reach whatever their class, such as
	// "10.20.0.0/16, 192.168.1.10" (see alert.ParseAllowList).
	AlertsAllowNetworks string
}

// The defaults.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultDataDir         = "./evident-data"
	DefaultShutdownTimeout = 15 * time.Second
	sqliteFileName         = "evident.db"

	// DefaultMaxUpload is the default upload limit: 100 MiB.
	DefaultMaxUpload = 100 << 20
	// DefaultCheckpointInterval is how often, by default, grown ledgers are checkpointed.
	DefaultCheckpointInterval = time.Minute
	// DefaultDigestHour is the default hour, UTC, of the daily evidence digest.
	DefaultDigestHour = 7
	// ledgerKeyFileName is the signing key's file in the data directory.
	ledgerKeyFileName = "ledger.key"
	// secretKeyFileName is the credential sealing key's file in the data directory.
	secretKeyFileName = "secret.key"
	// minCheckpointInterval keeps the publisher from spinning.
	minCheckpointInterval = time.Second
)

// The environment variables, each standing for the flag of the same name.
const (
	envAddr            = "EVIDENT_ADDR"
	envData            = "EVIDENT_DATA"
	envDatabase        = "EVIDENT_DATABASE"
	envSecureCookies   = "EVIDENT_SECURE_COOKIES"
	envTrustProxy      = "EVIDENT_TRUST_PROXY"
	envLogLevel        = "EVIDENT_LOG_LEVEL"
	envShutdownTimeout = "EVIDENT_SHUTDOWN_TIMEOUT"

	envBlobs              = "EVIDENT_BLOBS"
	envMaxUpload          = "EVIDENT_MAX_UPLOAD"
	envLedgerKey          = "EVIDENT_LEDGER_KEY"
	envCheckpointInterval = "EVIDENT_CHECKPOINT_INTERVAL"
	envSMTPURL            = "EVIDENT_SMTP_URL"
	envMailFrom           = "EVIDENT_MAIL_FROM"
	envBaseURL            = "EVIDENT_BASE_URL"
	envDigestHour         = "EVIDENT_DIGEST_HOUR"
	envSecretKey          = "EVIDENT_SECRET_KEY"
	envAlertsAllowPrivate = "EVIDENT_ALERTS_ALLOW_PRIVATE"
	envAlertsAllowNets    = "EVIDENT_ALERTS_ALLOW_NETWORKS"
)

// defaultConfig returns the built-in defaults overridden by the environment.
func defaultConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:               DefaultAddr,
		DataDir:            DefaultDataDir,
		LogLevel:           slog.LevelInfo,
		ShutdownTimeout:    DefaultShutdownTimeout,
		MaxUpload:          DefaultMaxUpload,
		CheckpointInterval: DefaultCheckpointInterval,
		DigestHour:         DefaultDigestHour,
	}
	if v := getenv(envAddr); v != "" {
		c.Addr = v
	}
	if v := getenv(envData); v != "" {
		c.DataDir = v
	}
	if v := getenv(envDatabase); v != "" {
		c.Database = v
	}
	var err error
	if c.SecureCookies, err = envBool(getenv, envSecureCookies); err != nil {
		return c, err
	}
	if c.TrustProxy, err = envBool(getenv, envTrustProxy); err != nil {
		return c, err
	}
	if c.AlertsAllowPrivate, err = envBool(getenv, envAlertsAllowPrivate); err != nil {
		return c, err
	}
	c.AlertsAllowNetworks = getenv(envAlertsAllowNets)
	if v := getenv(envLogLevel); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("%s: %q is not a log level; use debug, info, warn or error", envLogLevel, v)
		}
	}
	if v := getenv(envShutdownTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%s: %q is not a positive duration such as 15s", envShutdownTimeout, v)
		}
		c.ShutdownTimeout = d
	}
	c.Blobs = secret(getenv(envBlobs))
	c.LedgerKey = getenv(envLedgerKey)
	c.SecretKey = getenv(envSecretKey)
	c.SMTPURL = secret(getenv(envSMTPURL))
	c.MailFrom = getenv(envMailFrom)
	c.BaseURL = getenv(envBaseURL)
	if v := getenv(envMaxUpload); v != "" {
		if err := c.MaxUpload.Set(v); err != nil {
			return c, fmt.Errorf("%s: %v", envMaxUpload, err)
		}
	}
	if v := getenv(envCheckpointInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%s: %q is not a positive duration such as 1m", envCheckpointInterval, v)
		}
		c.CheckpointInterval = d
	}
	if v := getenv(envDigestHour); v != "" {
		h, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("%s: %q is not an hour from 0 to 23", envDigestHour, v)
		}
		c.DigestHour = h
	}
	return c, nil
}

func envBool(getenv func(string) string, name string) (bool, error) {
	v := getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean; use true or false", name, v)
	}
	return b, nil
}

// bindStorage adds the flags every command that opens the database takes.
func (c *Config) bindStorage(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (env "+envData+")")
	fs.StringVar(&c.Database, "database", c.Database, "a postgres:// URL, or an SQLite file path (env "+envDatabase+"; default: evident.db in the data directory)")
}

// bindServer adds the flags of the commands that serve HTTP.
func (c *Config) bindServer(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on (env "+envAddr+")")
	fs.BoolVar(&c.SecureCookies, "secure-cookies", c.SecureCookies, "mark cookies Secure with the __Host- prefix; set when users reach Evident over HTTPS (env "+envSecureCookies+")")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", c.TrustProxy, "take the client address and scheme from X-Forwarded-For and X-Forwarded-Proto; set only behind a reverse proxy (env "+envTrustProxy+")")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may run on at shutdown (env "+envShutdownTimeout+")")
	c.bindLogLevel(fs)
}

// bindBlobs adds the flags of the commands that read or write evidence files.
func (c *Config) bindBlobs(fs *flag.FlagSet) {
	fs.Var(&c.Blobs, "blobs", "where evidence files are kept: file:///path, or s3://bucket/prefix?endpoint=URL&region=R&path_style=true for several replicas (env "+envBlobs+"; default: blobs in the data directory)")
}

// bindLedgerKey adds --ledger-key, for the commands that sign checkpoints.
func (c *Config) bindLedgerKey(fs *flag.FlagSet) {
	fs.StringVar(&c.LedgerKey, "ledger-key", c.LedgerKey, "file with the key that signs ledger checkpoints, which the server creates at first start with mode 0600; replicas must share it (env "+envLedgerKey+"; default: ledger.key in the data directory)")
}

// bindSecretKey adds --secret-key, for the commands that open connection credentials.
func (c *Config) bindSecretKey(fs *flag.FlagSet) {
	fs.StringVar(&c.SecretKey, "secret-key", c.SecretKey, "file with the key that seals connection credentials, created at first use with mode 0600; replicas must share it (env "+envSecretKey+"; default: secret.key in the data directory)")
}

// bindEvidenceServer adds the flags of the serving commands for evidence, checkpoints
// and the email digest.
func (c *Config) bindEvidenceServer(fs *flag.FlagSet) {
	c.bindBlobs(fs)
	c.bindLedgerKey(fs)
	c.bindSecretKey(fs)
	fs.Var(&c.MaxUpload, "max-upload", "largest evidence file accepted, such as 100MiB or 2GB (env "+envMaxUpload+")")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", c.CheckpointInterval, "how often ledgers that grew get a signed checkpoint (env "+envCheckpointInterval+")")
	fs.Var(&c.SMTPURL, "smtp-url", "mail server for the daily evidence digest and email alerts: smtp://user:password@host:587 (STARTTLS), smtps://… (TLS) or smtp://host:25?tls=none (env "+envSMTPURL+"; default: no email)")
	fs.StringVar(&c.MailFrom, "mail-from", c.MailFrom, "sender of the digest and email alerts, such as \"Evident <evident@example.com>\"; required with --smtp-url (env "+envMailFrom+")")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "the address people reach Evident at, such as https://evident.example.com, for links in email (env "+envBaseURL+")")
	fs.IntVar(&c.DigestHour, "digest-hour", c.DigestHour, "hour of the day, UTC, from which the daily evidence digest is sent (env "+envDigestHour+")")
	fs.BoolVar(&c.AlertsAllowPrivate, "alerts-allow-private", c.AlertsAllowPrivate, "let Slack and webhook alerts reach loopback, private and carrier-grade NAT addresses, for receivers inside your network (env "+envAlertsAllowPrivate+")")
	fs.StringVar(&c.AlertsAllowNetworks, "alerts-allow-networks", c.AlertsAllowNetworks, "networks Slack and webhook alerts may reach whatever their class, such as \"10.20.0.0/16, 192.168.1.10\" (env "+envAlertsAllowNets+")")
}

// bindLogLevel adds --log-level.
func (c *Config) bindLogLevel(fs *flag.FlagSet) {
	fs.TextVar(&c.LogLevel, "log-level", &c.LogLevel, "least severe level logged: debug, info, warn or error (env "+envLogLevel+")")
}

// IsPostgres reports whether the database is PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// DSN is what store.Open takes: the database URL, or the SQLite file path.
func (c *Config) DSN() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.DataDir, sqliteFileName)
}

// sqlitePath is the SQLite file, or "" for PostgreSQL.
func (c *Config) sqlitePath() string {
	if c.IsPostgres() {
		return ""
	}
	return strings.TrimPrefix(strings.TrimPrefix(c.DSN(), "sqlite:"), "file:")
}

// DatabaseLabel names the database for logs and messages, without a password.
func (c *Config) DatabaseLabel() string {
	if !c.IsPostgres() {
		return "sqlite " + c.sqlitePath()
	}
	u, err := url.Parse(c.Database)
	if err != nil {
		return "postgres (unparsable URL)"
	}
	return "postgres " + u.Redacted()
}

// validate checks what flags cannot check alone, for the flags the command takes: a
// variable in the environment for a flag the command does not take is not its concern.
func (c *Config) validate(fs *flag.FlagSet) error {
	takes := func(name string) bool { return fs.Lookup(name) != nil }
	if takes("data") && c.DataDir == "" {
		return errors.New("--data: must not be empty")
	}
	if takes("shutdown-timeout") && c.ShutdownTimeout <= 0 {
		return errors.New("--shutdown-timeout: must be positive")
	}
	if takes("checkpoint-interval") && c.CheckpointInterval < minCheckpointInterval {
		return fmt.Errorf("--checkpoint-interval: must be at least %s", minCheckpointInterval)
	}
	if takes("digest-hour") && (c.DigestHour < 0 || c.DigestHour > 23) {
		return fmt.Errorf("--digest-hour: %d is not an hour from 0 to 23", c.DigestHour)
	}
	if takes("smtp-url") {
		if err := c.validateMail(); err != nil {
			return err
		}
	}
	if takes("alerts-allow-networks") {
		if _, err := alert.ParseAllowList("alerts-allow-networks", c.AlertsAllowNetworks); err != nil {
			return fmt.Errorf("--%s", domain.MessageOf(err))
		}
	}
	if takes("base-url") && c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--base-url: %q is not an http or https address such as https://evident.example.com", c.BaseURL)
		}
	}
	return nil
}

// validateMail checks the email settings: a mail server URL that parses, and a sender
// when there is one.
func (c *Config) validateMail() error {
	if c.SMTPURL == "" {
		return nil
	}
	if _, err := notify.ParseSMTPURL(string(c.SMTPURL)); err != nil {
		return fmt.Errorf("--smtp-url: %v", err)
	}
	if strings.TrimSpace(c.MailFrom) == "" {
		return errors.New("--mail-from: is required with --smtp-url: the address the digest is sent from")
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return fmt.Errorf("--mail-from: %q is not an email address such as \"Evident <evident@example.com>\"", c.MailFrom)
	}
	return nil
}

// LedgerKeyPath is the signing key's file.
func (c *Config) LedgerKeyPath() string {
	if c.LedgerKey != "" {
		return c.LedgerKey
	}
	return filepath.Join(c.DataDir, ledgerKeyFileName)
}

// SecretKeyPath is the credential sealing key's file.
func (c *Config) SecretKeyPath() string {
	if c.SecretKey != "" {
		return c.SecretKey
	}
	return filepath.Join(c.DataDir, secretKeyFileName)
}

// BlobsLabel names the blob store for logs and messages, without credentials.
func (c *Config) BlobsLabel() string {
	raw := string(c.Blobs)
	if raw == "" || raw == "file://" {
		return "local " + filepath.Join(c.DataDir, "blobs")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.Scheme == "file" {
		return "local " + filepath.FromSlash(u.Path)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// secret is a configuration value that may hold credentials: a flag whose default, as
// the help shows it, is written without them.
type secret string

// String returns the value without credentials, for the help.
func (s *secret) String() string {
	if s == nil || *s == "" {
		return ""
	}
	u, err := url.Parse(string(*s))
	if err != nil {
		return "(set)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// Set sets the value.
func (s *secret) Set(v string) error { *s = secret(v); return nil }

// byteSize is a size in bytes, written as a number with an optional unit: B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type byteSize int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// String writes the size in the largest binary unit that divides it.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		name   string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.factor && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set parses a size such as 100MiB, 512k or 1048576.
func (b *byteSize) Set(v string) error {
	s := strings.ToLower(strings.TrimSpace(v))
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/factor {
		return fmt.Errorf("%q is not a positive size such as 100MiB, 512KiB or 1048576", v)
	}
	*b = byteSize(n * factor)
	return nil
}

// prepareDataDir creates the data directory, and the SQLite file's directory, readable by
// the owner only. An existing directory keeps its mode.
func (c *Config) prepareDataDir() error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if p := c.sqlitePath(); p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("create database directory: %w", err)
		}
	}
	return nil
}

// newLogger returns the text logger every command writes to stderr.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
