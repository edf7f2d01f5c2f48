// Command evident is the Evident server and its administration tool: one binary that
// serves the web interface and the API, seeds a demonstration, applies schema migrations,
// creates organizations, people and API tokens, and prints the catalog and readiness.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/store"
)

// version is set at build time with -ldflags "-X main.version=…"; see the Makefile.
var version string

func main() {
	ctx, stop := signalContext()
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// signalContext returns a context that ends at the first SIGINT or SIGTERM. After the
// first signal, a second one ends the process at once.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// run executes one command line and returns the exit status. A serving command runs until
// ctx is done or the server fails, then shuts down in order.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	m := NewMain()
	m.Stdin, m.Stdout, m.Stderr, m.Getenv = stdin, stdout, stderr, getenv
	if err := m.ParseFlags(ctx, args); err != nil {
		return m.report(err)
	}
	err := m.Run(ctx)
	if err == nil && m.Serving() {
		err = m.Wait(ctx)
	}
	if cerr := m.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return m.report(err)
}

// Main is one run of the binary: the parsed command line, and for the serving commands
// the running server and what it holds, so that Close can release it in order.
type Main struct {
	// The process's standard streams and environment; tests replace them.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Now is the clock for the server, the store and the demonstration's dates.
	Now func() time.Time

	// Config is filled by ParseFlags from the environment and the flags.
	Config Config
	// Logger writes to Stderr; set by ParseFlags.
	Logger *slog.Logger
	// Store is open after Run for every command that uses the database.
	Store *store.Store
	// Demo is the demonstration's sign-in, set by Run for the demo command.
	Demo *DemoLogin
	// Evidence, Publisher and LedgerKey are open after Run for the serving commands.
	Evidence  *evidence.Service
	Publisher *evidence.Publisher
	LedgerKey *ledgerKey
	// Collect runs connections and tests, for the serving commands; its scheduler runs
	// due connections in the background.
	Collect *collect.Service

	cmd     *command
	cmdArgs []string

	httpServer  *http.Server
	listener    net.Listener
	serveErr    chan error
	stopWorkers context.CancelFunc
	workers     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main on the process's streams and environment.
func NewMain() *Main {
	return &Main{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		Now:    time.Now,
	}
}

// ParseFlags reads the command line: the command, its flags and arguments, over the
// defaults and the environment. For help requests it prints the help to Stdout and
// returns flag.ErrHelp.
func (m *Main) ParseFlags(ctx context.Context, args []string) error {
	// A broken environment variable must not keep anyone from reading the help.
	cfg, envErr := defaultConfig(m.Getenv)
	m.Config = cfg
	if len(args) == 0 {
		return usageError{msg: "no command given"}
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return m.help(args[1:])
	}
	if envErr != nil {
		return envErr
	}
	cmd, rest, err := m.findCommand(args)
	if err != nil {
		return err
	}
	m.cmd = cmd
	pos, err := parseInterspersed(cmd.flags, rest)
	if errors.Is(err, flag.ErrHelp) {
		m.printCommandHelp(m.Stdout, cmd)
		return flag.ErrHelp
	}
	if err != nil {
		return usageError{cmd: cmd.name, msg: err.Error()}
	}
	if err := cmd.checkArgs(pos); err != nil {
		return err
	}
	m.cmdArgs = pos
	if err := m.Config.validate(cmd.flags); err != nil {
		return usageError{cmd: cmd.name, msg: err.Error()}
	}
	m.Logger = newLogger(m.Stderr, m.Config.LogLevel)
	return nil
}

// Run executes the parsed command. A serving command returns once it is listening; call
// Wait, then Close.
func (m *Main) Run(ctx context.Context) error {
	if m.cmd == nil {
		return errors.New("no command parsed")
	}
	return m.cmd.run(ctx, m.cmdArgs)
}

// Serving reports whether the command runs a server that is now listening.
func (m *Main) Serving() bool { return m.httpServer != nil }

// Wait blocks until ctx is done (a signal, in the binary) or the server fails.
func (m *Main) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		m.Logger.Info("shutting down", "reason", context.Cause(ctx))
		return nil
	case err := <-m.serveErr:
		return fmt.Errorf("http server: %w", err)
	}
}

// URL is where the server listens, for the serving commands.
func (m *Main) URL() string {
	if m.listener == nil {
		return ""
	}
	return "http://" + displayAddr(m.listener.Addr())
}

// Close shuts down in order: the HTTP server (letting requests finish up to the shutdown
// timeout), then the background workers (the connection scheduler recording runs it
// stopped, the checkpoint publisher signing a last checkpoint of every ledger that
// grew), then the database. It is safe to call more
// than once and for every command.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.shutdown() })
	return m.closeErr
}

func (m *Main) shutdown() error {
	var errs []error
	serving := m.httpServer != nil
	if serving {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		err := m.httpServer.Shutdown(ctx)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("stop HTTP server: %w", err))
			_ = m.httpServer.Close()
		}
		m.Logger.Info("HTTP server stopped")
	}
	if m.stopWorkers != nil {
		m.stopWorkers()
		m.workers.Wait()
		m.Logger.Info("background workers stopped")
	}

	if m.Store != nil {
		if err := m.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close database: %w", err))
		}
		if serving {
			m.Logger.Info("database closed")
		}
	}
	return errors.Join(errs...)
}

// usageError is a command line Evident cannot make sense of. It exits with status 2 and
// points at the help.
type usageError struct {
	cmd string // the command whose help to point at; "" for the list of commands
	msg string
}

func (e usageError) Error() string { return e.msg }

// report prints err, if any, to Stderr and returns the exit status.
func (m *Main) report(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		if ue.cmd == "" {
			fmt.Fprintf(m.Stderr, "evident: %s\n\n", ue.msg)
			m.printUsage(m.Stderr)
		} else {
			fmt.Fprintf(m.Stderr, "evident %s: %s\nRun 'evident help %s' for usage.\n", ue.cmd, ue.msg, ue.cmd)
		}
		return 2
	}
	fmt.Fprintf(m.Stderr, "evident: %s\n", m.describe(err))
	return 1
}

// describe says what went wrong in words for the operator: a domain error's message, with
// the field it names written as the flag that set it.
func (m *Main) describe(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind == domain.KindInternal {
		return err.Error()
	}
	if de.Field != "" && m.cmd != nil && m.cmd.flags.Lookup(de.Field) != nil {
		return "--" + de.Field + ": " + de.Message
	}
	return de.Error()
}

// Version is the binary's version: set at build time, or from the module's build
// information, or "dev".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// displayAddr writes a listening address as people type it in a browser: an unspecified
// host (all interfaces) becomes localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
