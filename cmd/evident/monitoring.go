package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/connector/aws"
	"github.com/evidenthq/evident/internal/connector/github"
	"github.com/evidenthq/evident/internal/connector/google"
	"github.com/evidenthq/evident/internal/connector/okta"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/importer"
	"github.com/evidenthq/evident/internal/monitor"
)

// connectors is the registry of connector kinds Evident runs: each kind's configuration
// (its JSON object, credentials included) and how to build the connector from it.
func (m *Main) connectors() map[string]collect.Factory {
	return map[string]collect.Factory{
		"aws": collect.JSONFactory(func(c aws.Config) (connector.Connector, error) {
			return aws.New(c, aws.Options{Now: m.Now})
		}),
		"github": collect.JSONFactory(func(c github.Config) (connector.Connector, error) {
			return github.New(c, github.Options{Now: m.Now})
		}),
		"okta": collect.JSONFactory(func(c okta.Config) (connector.Connector, error) {
			return okta.New(c, okta.Options{Now: m.Now})
		}),
		"google": collect.JSONFactory(func(c google.Config) (connector.Connector, error) {
			return google.New(c, google.Options{Now: m.Now})
		}),
	}
}

// openCollect builds the monitoring service over the open store and evidence service,
// with the credential sealing key from --secret-key (created at first use).
func (m *Main) openCollect(ev collect.Evidence) (*collect.Service, error) {
	key, err := collect.LoadOrCreateSecretKey(m.Config.SecretKeyPath())
	if err != nil {
		return nil, fmt.Errorf("--secret-key: %w", err)
	}
	sealer, err := collect.NewSealer(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("--secret-key: %w", err)
	}
	return &collect.Service{
		Store:      m.Store,
		Evidence:   ev,
		Sealer:     sealer,
		Connectors: m.connectors(),
		Now:        m.Now,
		Version:    Version(),
		Logger:     m.Logger,
	}, nil
}

// testsService builds the monitoring service for the commands that store resources and
// judge them but never open a connection: it needs neither evidence files nor the
// credential key.
func (m *Main) testsService() *collect.Service {
	return &collect.Service{Store: m.Store, Now: m.Now, Version: Version(), Logger: m.Logger}
}

func (m *Main) importCommand() *command {
	c := newCommand("import", "KIND FILE", "import scanner results, the HR roster or resources from a file",
		`Imports FILE into the organization's resource inventory as KIND, one of:
`+importKindsHelp()+`
The import is one transaction: the whole file is read first, and a malformed file
stores nothing and reports the line and field at fault. Resources are recorded under
the source "import:KIND" (or --source); resources of that source missing from the file
are marked gone, so that importing a new report replaces the previous one. The
organization's tests then run over the inventory, and the command prints their counts.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindLogLevel(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	source := c.flags.String("source", "", "the source the resources are recorded under (default: import:KIND)")
	by := c.flags.String("by", "", "the email of the member recorded as importing (default: the system)")
	c.run = func(ctx context.Context, args []string) error {
		if err := requireFlags(c.name, map[string]string{"org": *org}); err != nil {
			return err
		}
		kind, path := args[0], args[1]
		if !slices.Contains(importer.Kinds(), kind) {
			return usageError{cmd: c.name, msg: fmt.Sprintf("unknown kind %q; use one of %s", kind, strings.Join(importer.Kinds(), ", "))}
		}
		src := strings.TrimSpace(*source)
		if src == "" {
			src = "import:" + kind
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		actor, err := m.actorByEmail(ctx, o, *by)
		if err != nil {
			return err
		}
		var rs []monitor.Resource
		im := importer.Importer{Connection: src, Now: m.Now}
		sum, err := im.Import(ctx, kind, f, func(r monitor.Resource) error {
			rs = append(rs, r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %s; nothing was imported", path, domain.MessageOf(err))
		}
		svc := m.testsService()
		up, run, err := svc.PushResources(ctx, actor, o.ID, src, rs, true)
		if notRun := (*collect.TestsNotRunError)(nil); err != nil && !errors.As(err, &notRun) {
			return err
		}
		bw := bufio.NewWriter(m.Stdout)
		fmt.Fprintf(bw, "Imported %s from %s as %q: %s.\n", plural(sum.Resources, "resource", "resources"), path, src, typeCounts(sum.Types))
		fmt.Fprintf(bw, "Inventory: %d added, %d changed, %d unchanged, %d gone.\n", up.Added, up.Changed, up.Unchanged, up.Gone)
		if len(sum.Ignored) > 0 {
			fmt.Fprintf(bw, "Ignored columns: %s.\n", strings.Join(sum.Ignored, ", "))
		}
		if err != nil {
			_ = bw.Flush()
			return err
		}
		writeTestRunCounts(bw, run)
		return bw.Flush()
	}
	return c
}

// importKindsHelp lists the import kinds with their titles, for the help.
func importKindsHelp() string {
	var b strings.Builder
	for _, f := range importer.Formats() {
		fmt.Fprintf(&b, "  %-10s %s\n", f.Kind, f.Title)
	}
	return b.String()
}

// typeCounts writes resource counts per type, sorted by type.
func typeCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%d %s", counts[t], t)
	}
	return strings.Join(parts, ", ")
}

// writeTestRunCounts prints a test run's counts on one line.
func writeTestRunCounts(w io.Writer, run *domain.TestRun) {
	fmt.Fprintf(w, "Tests run %d: %s, %d passing, %d failing, %d erroring, %d without data.\n",
		run.ID, plural(run.Tests, "test", "tests"), run.Passing, run.Failing, run.Erroring, run.NoData)
}

func (m *Main) testRunCommand() *command {
	c := newCommand("test run", "", "run the organization's tests now and print the results",
		`Judges the organization's resource inventory with its enabled tests (the shipped
library and its own) now, records the results, raises the alerts of tests whose outcome
changed, and prints a table: each test's ID, severity, the resources that passed and
failed, and its status. --json prints the same rows as JSON.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindLogLevel(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	asJSON := c.flags.Bool("json", false, "print the results as JSON")
	c.run = func(ctx context.Context, _ []string) error {
		if err := requireFlags(c.name, map[string]string{"org": *org}); err != nil {
			return err
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		run, err := m.testsService().RunTests(ctx, o.ID)
		if err != nil {
			return err
		}
		sums, err := m.Store.TestSummaries(ctx, o.ID, m.Now())
		if err != nil {
			return err
		}
		if *asJSON {
			return writeTestResultsJSON(m.Stdout, run, sums)
		}
		bw := bufio.NewWriter(m.Stdout)
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TEST\tSEVERITY\tPASSED\tFAILED\tSTATUS")
		for _, s := range sums {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", s.TestID, s.Severity, s.Passed, s.Failed, s.Status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(bw)
		writeTestRunCounts(bw, run)
		return bw.Flush()
	}
	return c
}

// cliTestResult is one row of test run --json.
type cliTestResult struct {
	TestID   string `json:"test_id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Passed   int    `json:"passed"`
	Failed   int    `json:"failed"`
	Errors   int    `json:"errors"`
	Excepted int    `json:"excepted"`
	Status   string `json:"status"`
}

func writeTestResultsJSON(w io.Writer, run *domain.TestRun, sums []domain.TestSummary) error {
	out := struct {
		RunID    int64           `json:"test_run_id"`
		Tests    int             `json:"tests"`
		Passing  int             `json:"passing"`
		Failing  int             `json:"failing"`
		Erroring int             `json:"erroring"`
		NoData   int             `json:"no_data"`
		Results  []cliTestResult `json:"results"`
	}{RunID: run.ID, Tests: run.Tests, Passing: run.Passing, Failing: run.Failing, Erroring: run.Erroring, NoData: run.NoData,
		Results: []cliTestResult{}}
	for _, s := range sums {
		out.Results = append(out.Results, cliTestResult{TestID: s.TestID, Title: s.Title, Severity: s.Severity,
			Passed: s.Passed, Failed: s.Failed, Errors: s.Errors, Excepted: s.Excepted, Status: string(s.Status)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (m *Main) collectCommand() *command {
	c := newCommand("collect", "", "run the organization's connections now",
		`Runs the organization's enabled connections now, whatever their schedule, one after
another (or only --connection, enabled or not): each collects from its source, stores the
resources in the inventory and its raw responses as a snapshot in the ledger, and the
organization's tests run over the result. Prints a line as each connection starts and
one with its outcome: resources per type, inventory changes and every error. A
connection running in another process at the moment is reported and skipped. Exits with
status 1 when a run failed.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindBlobs(c.flags)
	m.Config.bindSecretKey(c.flags)
	m.Config.bindLogLevel(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	name := c.flags.String("connection", "", "run only the connection of this name")
	c.run = func(ctx context.Context, _ []string) error {
		if err := requireFlags(c.name, map[string]string{"org": *org}); err != nil {
			return err
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		var conns []domain.Connection
		if *name != "" {
			conn, err := m.Store.ConnectionByName(ctx, o.ID, *name)
			if domain.IsNotFound(err) {
				return domain.Invalid("connection", "%s has no connection named %q", o.Slug, *name)
			}
			if err != nil {
				return err
			}
			conns = append(conns, *conn)
		} else {
			all, err := m.Store.Connections(ctx, o.ID)
			if err != nil {
				return err
			}
			for _, conn := range all {
				if conn.Enabled {
					conns = append(conns, conn)
				} else {
					fmt.Fprintf(m.Stdout, "Skipping %s (%s): disabled; run it with --connection %s.\n", conn.Name, conn.Kind, conn.Name)
				}
			}
		}
		if len(conns) == 0 {
			fmt.Fprintf(m.Stdout, "%s has no enabled connections to run; add one in the web interface.\n", o.Slug)
			return nil
		}
		ev, err := m.evidenceService(ctx)
		if err != nil {
			return err
		}
		svc, err := m.openCollect(ev)
		if err != nil {
			return err
		}
		failed := 0
		for i, conn := range conns {
			fmt.Fprintf(m.Stdout, "[%d/%d] %s (%s): collecting…\n", i+1, len(conns), conn.Name, conn.Kind)
			run, err := svc.RunConnection(ctx, o.ID, conn.ID)
			if run != nil {
				writeConnectionRun(m.Stdout, i+1, len(conns), run)
				if run.Status == domain.RunFailed {
					failed++
				}
			}
			switch {
			case err == nil:
			case domain.KindOf(err) == domain.KindConflict:
				fmt.Fprintf(m.Stdout, "[%d/%d] %s: skipped, it is running in another process.\n", i+1, len(conns), conn.Name)
			case run != nil:
				fmt.Fprintf(m.Stdout, "[%d/%d] %s: the tests could not run: %v\n", i+1, len(conns), conn.Name, err)
				failed++
			default:
				return err
			}
		}
		if failed > 0 {
			return errors.New(plural(failed, "connection run", "connection runs") + " failed")
		}
		return nil
	}
	return c
}

// writeConnectionRun prints a finished run's outcome: its status, counts and errors.
func writeConnectionRun(w io.Writer, i, n int, run *domain.ConnectionRun) {
	total := 0
	for _, c := range run.Counts {
		total += c
	}
	fmt.Fprintf(w, "[%d/%d] %s: %s, %s (%s); %d added, %d changed, %d gone.\n", i, n, run.ConnectionName, run.Status,
		plural(total, "resource", "resources"), typeCounts(run.Counts), run.Added, run.Changed, run.Gone)
	if run.Message != "" {
		fmt.Fprintf(w, "    error: %s\n", run.Message)
	}
	for _, e := range run.Errors {
		fmt.Fprintf(w, "    error in %s: %s\n", e.Type, e.Message)
	}
}
