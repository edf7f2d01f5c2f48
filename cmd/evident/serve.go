package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"time"

	"github.com/evidenthq/evident/internal/alert"
	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/notify"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/web"
)

// The HTTP server's limits. Pages and API answers are small; the write timeout leaves
// room for the largest reports and exports.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 120 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// sessionCleanupInterval is how often expired sessions are deleted.
const sessionCleanupInterval = 15 * time.Minute

// digestCheckInterval is how often the digest sender looks for digests to send. Each is
// claimed once a day, so checking often only makes a digest go out sooner after the
// hour, or after a mail server comes back.
const digestCheckInterval = 10 * time.Minute

func (m *Main) serveCommand() *command {
	c := newCommand("serve", "", "run the web interface and the API",
		`Runs Evident: the web interface, the JSON API under /api/v1 and the health checks
/healthz and /readyz. Applies pending schema migrations at start and refuses to run
against a schema newer than itself. Stops gracefully on SIGINT or SIGTERM: requests in
flight may finish within the shutdown timeout, then background work stops and the
database is closed. The data directory is created with mode 0700.

Evidence files go to the blob store (--blobs): the data directory by default, an
S3-compatible bucket for several replicas. Every ledger that grew gets a signed
checkpoint every --checkpoint-interval, and once more at shutdown, with the key in
--ledger-key (created at first start; replicas must share it). With --smtp-url and
--mail-from, owners of controls whose evidence is due, overdue or missing get a daily
digest by email from --digest-hour (UTC), each digest sent once across replicas.

Connections run on their schedules in the background; with several replicas each due
connection runs in one of them. Their credentials are sealed with the key in
--secret-key (created at first start; replicas must share it).

When a test starts failing or recovers, its alert goes to the organization's alert
targets (Alerts, then Alert targets): by email through --smtp-url, to Slack incoming
webhooks and to signed generic webhooks, each alert once across replicas, tried again
with growing waits when a receiver is down. Target URLs and signing secrets are sealed
with --secret-key. Alerts never reach loopback, private, link-local (cloud metadata) or
other special-purpose addresses unless --alerts-allow-private or --alerts-allow-networks
permits them.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindServer(c.flags)
	m.Config.bindEvidenceServer(c.flags)
	c.run = func(ctx context.Context, _ []string) error {
		if err := m.openStore(ctx, true); err != nil {
			return err
		}
		if err := m.openEvidence(ctx); err != nil {
			return err
		}
		return m.startServer(ctx)
	}
	return c
}

func (m *Main) migrateCommand() *command {
	c := newCommand("migrate", "", "apply database schema migrations and exit",
		`Applies the schema migrations the database has not seen yet, each in its own
transaction, and exits. Refuses a database whose schema is newer than this binary.
With PostgreSQL, replicas starting at the same time apply each migration once.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindLogLevel(c.flags)
	c.run = func(ctx context.Context, _ []string) error {
		if err := m.openStore(ctx, true); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "Database schema is at version %d (%s).\n", m.Store.SchemaVersion(), m.Config.DatabaseLabel())
		return nil
	}
	return c
}

// openStore opens the configured database. With migrate it prepares the data directory
// and applies pending migrations; without, the database must exist and be current.
func (m *Main) openStore(ctx context.Context, migrate bool) error {
	if migrate {
		if err := m.Config.prepareDataDir(); err != nil {
			return err
		}
		if fi, err := os.Stat(m.Config.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
			m.Logger.Warn("other users can reach the data directory; restrict it to Evident's user",
				"path", m.Config.DataDir, "mode", fi.Mode().Perm().String(), "fix", "chmod 700 "+m.Config.DataDir)
		}
	} else if p := m.Config.sqlitePath(); p != "" {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no database at %s: start Evident once with 'evident serve' or run 'evident migrate', or point --data or --database at an existing one", p)
		}
	}
	st, err := store.Open(ctx, m.Config.DSN())
	if err != nil {
		return fmt.Errorf("open database (%s): %w", m.Config.DatabaseLabel(), err)
	}
	st.Now = m.Now
	m.Store = st
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate database (%s): %w", m.Config.DatabaseLabel(), err)
		}
		m.Logger.Debug("database schema is current", "database", m.Config.DatabaseLabel(), "version", st.SchemaVersion())
		return nil
	}
	if err := st.CheckSchema(ctx); err != nil {
		return fmt.Errorf("check database (%s): %w", m.Config.DatabaseLabel(), err)
	}
	return nil
}

// newAuth returns the sign-in service over the open store.
func (m *Main) newAuth() *auth.Service {
	return auth.New(m.Store, auth.Options{Now: m.Now})
}

// openEvidence opens what the serving commands need for evidence besides the database:
// the blob store, the signing key (created at first start) and the checkpoint publisher.
func (m *Main) openEvidence(ctx context.Context) error {
	blobs, err := m.openBlobs(ctx)
	if err != nil {
		return err
	}
	key, err := m.loadLedgerKey(true)
	if err != nil {
		return err
	}
	m.Evidence = &evidence.Service{Store: m.Store, Blobs: blobs, Now: m.Now, MaxUpload: int64(m.Config.MaxUpload)}
	m.LedgerKey = key
	m.Publisher = m.newPublisher(key)
	if m.Collect, err = m.openCollect(m.Evidence); err != nil {
		return err
	}
	return nil
}

// bundleSource is what an export of the organization's evidence reads, for the web
// interface and the API.
func (m *Main) bundleSource(_ context.Context, org domain.Organization) (bundle.Source, error) {
	return evidence.NewBundleSource(m.Store, m.Evidence, org, m.LedgerKey.Public), nil
}

// mailServer returns the configured mail server and sender, for the digest and email
// alerts; a nil server when none is configured.
func (m *Main) mailServer() (*notify.SMTP, *mail.Address, error) {
	if m.Config.SMTPURL == "" {
		return nil, nil, nil
	}
	server, err := notify.ParseSMTPURL(string(m.Config.SMTPURL))
	if err != nil {
		return nil, nil, fmt.Errorf("--smtp-url: %w", err)
	}
	from, err := mail.ParseAddress(m.Config.MailFrom)
	if err != nil {
		return nil, nil, fmt.Errorf("--mail-from: %w", err)
	}
	return server, from, nil
}

// newDigestSender returns the email digest sender, or nil when no mail server is
// configured.
func (m *Main) newDigestSender() (*notify.Sender, error) {
	server, from, err := m.mailServer()
	if err != nil || server == nil {
		return nil, err
	}
	return &notify.Sender{
		Store:   m.Store,
		Mailer:  server,
		From:    *from,
		BaseURL: m.Config.BaseURL,
		Hour:    m.Config.DigestHour,
		Now:     m.Now,
		Logger:  m.Logger,
	}, nil
}

// newNotifier returns the alert notifier: it reaches Slack and webhooks through the
// outbound guard the configuration sets, email through the digest's mail server when
// there is one, and seals target URLs with the connections' key.
func (m *Main) newNotifier() (*collect.Notifier, error) {
	allow, err := alert.ParseAllowList("alerts-allow-networks", m.Config.AlertsAllowNetworks)
	if err != nil {
		return nil, fmt.Errorf("--%s", domain.MessageOf(err))
	}
	guard := &alert.Guard{AllowPrivate: m.Config.AlertsAllowPrivate, Allow: allow}
	server, from, err := m.mailServer()
	if err != nil {
		return nil, err
	}
	var email *alert.Email
	if server != nil {
		email = &alert.Email{Sender: server, From: *from}
	}
	d := alert.NewDispatcher(guard, email)
	d.Logger = m.Logger
	return &collect.Notifier{
		Store:      m.Store,
		Sealer:     m.Collect.Sealer,
		Dispatcher: d,
		Guard:      guard,
		BaseURL:    m.Config.BaseURL,
		Now:        m.Now,
		Logger:     m.Logger,
	}, nil
}

// startServer listens, serves in the background and starts the background workers. It
// returns once the server is listening.
func (m *Main) startServer(ctx context.Context) error {
	authSvc := m.newAuth()
	digests, err := m.newDigestSender()
	if err != nil {
		return err
	}
	notifier, err := m.newNotifier()
	if err != nil {
		return err
	}
	handler, err := web.New(web.Config{
		Store:         m.Store,
		Catalog:       catalog.Default(),
		Auth:          authSvc,
		Logger:        m.Logger,
		Now:           m.Now,
		SecureCookies: m.Config.SecureCookies,
		TrustProxy:    m.Config.TrustProxy,
		Version:       Version(),
		Evidence:      m.Evidence,
		Publisher:     m.Publisher,
		LedgerKey:     m.LedgerKey.Public,
		MaxUpload:     int64(m.Config.MaxUpload),
		BundleSource:  m.bundleSource,
		Collect:       m.Collect,
		Monitoring:    m.Store,
		Notifier:      notifier,
	})
	if err != nil {
		return fmt.Errorf("build web server: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another address with --addr or %s)", m.Config.Addr, err, envAddr)
	}
	m.listener = ln
	m.httpServer = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.serveErr = make(chan error, 1)
	go func() {
		if err := m.httpServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.serveErr <- err
		}
	}()

	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.stopWorkers = cancel
	m.workers.Go(func() { m.cleanSessions(wctx, authSvc, sessionCleanupInterval) })
	m.workers.Go(func() { m.Publisher.Run(wctx, m.Config.CheckpointInterval) })
	m.workers.Go(func() { _ = (&collect.Scheduler{Service: m.Collect}).Run(wctx) })
	m.workers.Go(func() { _ = notifier.Run(wctx) })
	m.Logger.Info("alert delivery on", "email", notifier.EmailEnabled(), "allow_private", notifier.Guard.AllowPrivate,
		"allow_networks", fmt.Sprint(notifier.Guard.Allow))
	if digests != nil {
		m.workers.Go(func() { digests.Run(wctx, digestCheckInterval) })
		if m.Config.BaseURL == "" {
			m.Logger.Warn("the evidence digest will not link to Evident: set --base-url (" + envBaseURL + ") to the address people reach it at")
		}
		m.Logger.Info("evidence digest on", "mail_server", fmt.Sprint(digests.Mailer), "from", digests.From.String(), "hour_utc", digests.Hour)
	} else {
		m.Logger.Info("evidence digest off: set --smtp-url and --mail-from to email owners a daily digest of the evidence due")
	}

	m.Logger.Info("evident is serving",
		"url", m.URL(), "version", Version(), "database", m.Config.DatabaseLabel(), "data", m.Config.DataDir,
		"blobs", m.Config.BlobsLabel(), "ledger_key", m.LedgerKey.Public, "checkpoint_interval", m.Config.CheckpointInterval)
	return nil
}

// cleanSessions deletes expired sessions at start and then at every interval until ctx
// is done. Several replicas may run it at once: the deletes do not conflict.
func (m *Main) cleanSessions(ctx context.Context, a *auth.Service, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := a.CleanupSessions(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			m.Logger.Warn("session cleanup failed", "err", err)
		case n > 0:
			m.Logger.Info("expired sessions deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
