package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
}

// The defaults.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultDataDir         = "./evident-data"
	DefaultShutdownTimeout = 15 * time.Second
	sqliteFileName         = "evident.db"
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
)

// defaultConfig returns the built-in defaults overridden by the environment.
func defaultConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:            DefaultAddr,
		DataDir:         DefaultDataDir,
		LogLevel:        slog.LevelInfo,
		ShutdownTimeout: DefaultShutdownTimeout,
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

// validate checks what flags cannot check alone.
func (c *Config) validate() error {
	if c.DataDir == "" {
		return errors.New("--data: must not be empty")
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("--shutdown-timeout: must be positive")
	}
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
