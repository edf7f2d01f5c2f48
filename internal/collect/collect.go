// Package collect runs continuous monitoring: it keeps connections with sealed
// credentials, runs their connectors on schedule (several replicas sharing the work),
// stores what they collect as the resource inventory and an automated-snapshot evidence
// item, judges the inventory with the organization's tests and records the results, the
// alerts and the tasks they raise.
package collect

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/monitor"
)

// Store is what the service keeps its data in. *store.Store satisfies it; the methods
// beyond domain.Store are the runner's, and speak monitor's types.
type Store interface {
	domain.Store
	// ClaimDueConnections claims up to limit due connections for owner for the lease and
	// starts a run of each.
	ClaimDueConnections(ctx context.Context, owner string, lease time.Duration, limit int) ([]domain.ConnectionRun, error)
	// ClaimConnection claims one connection to run it now.
	ClaimConnection(ctx context.Context, orgID, id int64, owner string, lease time.Duration) (*domain.ConnectionRun, error)
	// RenewClaim extends owner's claim on a run; KindConflict when it was lost.
	RenewClaim(ctx context.Context, runID int64, owner string, lease time.Duration) error
	// FinishConnectionRun stores a run's resources and outcome and releases its claim.
	FinishConnectionRun(ctx context.Context, out domain.RunOutcome, resources []monitor.Resource) (*domain.ConnectionRun, error)
	// UpsertResources and ReplaceResources store pushed or imported resources.
	UpsertResources(ctx context.Context, actor domain.Actor, orgID int64, source string, rs []monitor.Resource) (domain.UpsertSummary, error)
	ReplaceResources(ctx context.Context, actor domain.Actor, orgID int64, source string, rs []monitor.Resource) (domain.UpsertSummary, error)
	// Inventory streams the organization's current resources to the test engine.
	Inventory(orgID int64) monitor.Inventory
	// RecordTestRun stores an evaluation's results and raises its alerts.
	RecordTestRun(ctx context.Context, orgID int64, trigger domain.RunTrigger, connectionRunID *int64,
		tests []monitor.Test, res monitor.Results) (*domain.TestRun, []domain.Alert, error)
}

// Evidence records a run's snapshot. *evidence.Service satisfies it.
type Evidence interface {
	Add(ctx context.Context, actor domain.Actor, orgID int64, in evidence.Input) (*domain.Evidence, error)
}

// Factory builds a connector from a connection's configuration (its decrypted JSON),
// validating it; an invalid configuration is KindInvalid naming the field.
type Factory func(config json.RawMessage) (connector.Connector, error)

// JSONFactory is a Factory for a connector configured by a JSON object of type C: it
// decodes the configuration strictly (an unknown or mistyped field is KindInvalid naming
// it) and builds the connector with build.
func JSONFactory[C any](build func(C) (connector.Connector, error)) Factory {
	return func(config json.RawMessage) (connector.Connector, error) {
		var c C
		dec := json.NewDecoder(bytes.NewReader(config))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			var te *json.UnmarshalTypeError
			switch {
			case errors.As(err, &te) && te.Field != "":
				return nil, domain.Invalid(te.Field, "must be a JSON %s", te.Type.Kind())
			case strings.HasPrefix(err.Error(), "json: unknown field "):
				return nil, domain.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a setting of this connector")
			}
			return nil, domain.Invalid("config", "must be a JSON object: %v", err)
		}
		if dec.More() {
			return nil, domain.Invalid("config", "must be one JSON object")
		}
		return build(c)
	}
}

// finishTimeout bounds recording a run's outcome, which happens even when the run's
// context has ended.
const finishTimeout = 2 * time.Minute

// Defaults of Service.
const (
	DefaultLease      = 5 * time.Minute
	DefaultRunTimeout = 30 * time.Minute
)

// Service manages connections and runs them and the tests. Store, Evidence, Sealer and
// Connectors are required.
type Service struct {
	Store    Store
	Evidence Evidence
	// Sealer seals and opens connection credentials (see LoadOrCreateSecretKey).
	Sealer *Sealer
	// Connectors builds a connector per kind, such as "aws".
	Connectors map[string]Factory
	// Now is the clock of test evaluations and snapshots; nil means time.Now.
	Now func() time.Time
	// Version is Evident's version, recorded in each snapshot's source as "KIND/VERSION".
	Version string
	// Owner names this process in claims; empty means the host name, process ID and a
	// random suffix.
	Owner string
	// Lease is how long a claim holds without renewal (default DefaultLease); a running
	// connection's claim is renewed every third of it.
	Lease time.Duration
	// RunTimeout bounds one connection run (default DefaultRunTimeout).
	RunTimeout time.Duration
	// Logger receives one line per run; nil means slog.Default. Credentials are never logged.
	Logger *slog.Logger

	owner claimOwner
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ownerName is this process's name in claims.
func (s *Service) ownerName() string { return s.owner.get(s.Owner, "") }

// claimOwner names a process in the claims it takes: the configured name, or the host
// name, process ID and a random suffix, chosen once.
type claimOwner struct {
	once sync.Once
	name string
}

func (c *claimOwner) get(configured, prefix string) string {
	c.once.Do(func() {
		c.name = configured
		if c.name == "" {
			host, _ := os.Hostname()
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			c.name = fmt.Sprintf("%s%s:%d:%s", prefix, host, os.Getpid(), hex.EncodeToString(b))
		}
	})
	return c.name
}

// Kinds lists the connector kinds the service can run, sorted.
func (s *Service) Kinds() []string {
	out := make([]string, 0, len(s.Connectors))
	for k := range s.Connectors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// build returns the connector of a kind for a configuration.
func (s *Service) build(kind string, config json.RawMessage) (connector.Connector, error) {
	f, ok := s.Connectors[kind]
	if !ok {
		return nil, domain.Invalid("kind", "must be one of %s", strings.Join(s.Kinds(), ", "))
	}
	c, err := f(config)
	if err != nil {
		var e *domain.Error
		if errors.As(err, &e) && e.Kind == domain.KindInvalid {
			field := "config"
			if e.Field != "" && e.Field != "config" {
				field = "config." + e.Field
			}
			return nil, domain.Invalid(field, "%s", e.Message)
		}
		return nil, domain.Invalid("config", "%v", err)
	}
	return c, nil
}

// ConnectionInput is a connection to create.
type ConnectionInput struct {
	Kind string
	Name string
	// Interval is the time between scheduled runs; zero means hourly.
	Interval time.Duration
	// Disabled connections run only when asked.
	Disabled bool
	// Config is the connector's configuration, credentials included, as JSON. It is
	// validated by building the connector, sealed, and never shown again.
	Config json.RawMessage
}

// CreateConnection validates a connection's configuration by building its connector,
// seals it, and stores the connection, due to run now.
func (s *Service) CreateConnection(ctx context.Context, actor domain.Actor, orgID int64, in ConnectionInput) (*domain.Connection, error) {
	c := &domain.Connection{OrgID: orgID, Kind: in.Kind, Name: in.Name, Interval: in.Interval, Enabled: !in.Disabled}
	if err := domain.ValidateConnection(c); err != nil {
		return nil, err
	}
	if _, err := s.build(in.Kind, in.Config); err != nil {
		return nil, err
	}
	sec, err := s.Sealer.Seal(orgID, in.Kind, in.Config)
	if err != nil {
		return nil, err
	}
	if err := s.Store.CreateConnection(ctx, actor, c, sec); err != nil {
		return nil, err
	}
	return c, nil
}

// ConnectionUpdate is a partial change of a connection: nil fields stay as they are.
type ConnectionUpdate struct {
	Name     *string
	Interval *time.Duration
	Enabled  *bool
	// Config replaces the configuration, credentials included, when not nil.
	Config json.RawMessage
}

// UpdateConnection changes a connection; a new configuration is validated and sealed.
func (s *Service) UpdateConnection(ctx context.Context, actor domain.Actor, orgID, id int64, up ConnectionUpdate) (*domain.Connection, error) {
	ch := domain.ConnectionChange{Name: up.Name, Interval: up.Interval, Enabled: up.Enabled}
	if up.Config != nil {
		c, err := s.Store.Connection(ctx, orgID, id)
		if err != nil {
			return nil, err
		}
		if _, err := s.build(c.Kind, up.Config); err != nil {
			return nil, err
		}
		sec, err := s.Sealer.Seal(orgID, c.Kind, up.Config)
		if err != nil {
			return nil, err
		}
		ch.Secret = &sec
	}
	return s.Store.UpdateConnection(ctx, actor, orgID, id, ch)
}

// RunConnection runs one connection now, whatever its schedule: it claims the
// connection (KindConflict when it is running already), collects, stores the resources
// and the snapshot, then judges the organization's inventory. It returns the finished
// run; the run's status says whether the collection succeeded, and an error is returned
// only when the run could not be recorded, or the tests could not be (the run is then
// returned too).
func (s *Service) RunConnection(ctx context.Context, orgID, connectionID int64) (*domain.ConnectionRun, error) {
	run, err := s.Store.ClaimConnection(ctx, orgID, connectionID, s.ownerName(), s.lease())
	if err != nil {
		return nil, err
	}
	return s.execute(ctx, run)
}

// RunResult is the end of a run StartConnection started: what RunConnection returns.
type RunResult struct {
	Run *domain.ConnectionRun
	Err error
}

// StartConnection claims a run of the connection now, like RunConnection, and carries it
// out in the background: it returns the claimed run at once, and a channel that receives
// the result when the run ends. The run outlives ctx (a browser moving on must not stop
// it); its own timeout bounds it. A connection running already is KindConflict. Errors of
// the background run are logged as well as sent.
func (s *Service) StartConnection(ctx context.Context, orgID, connectionID int64) (*domain.ConnectionRun, <-chan RunResult, error) {
	run, err := s.Store.ClaimConnection(ctx, orgID, connectionID, s.ownerName(), s.lease())
	if err != nil {
		return nil, nil, err
	}
	done := make(chan RunResult, 1)
	runCtx := context.WithoutCancel(ctx)
	go func() {
		finished, err := s.execute(runCtx, run)
		switch {
		case err != nil && finished != nil:
			s.logger().Error("run tests after a connection run", "org_id", orgID, "run_id", finished.ID, "err", err)
		case err != nil:
			s.logger().Error("connection run", "org_id", orgID, "connection_id", connectionID, "run_id", run.ID, "err", err)
		}
		done <- RunResult{finished, err}
	}()
	return run, done, nil
}

// execute carries out a claimed run, renewing its claim while it lasts.
func (s *Service) execute(ctx context.Context, run *domain.ConnectionRun) (*domain.ConnectionRun, error) {
	timeout := s.RunTimeout
	if timeout <= 0 {
		timeout = DefaultRunTimeout
	}
	claimCtx, lose := context.WithCancelCause(ctx)
	defer lose(nil)
	runCtx, cancel := context.WithTimeout(claimCtx, timeout)
	defer cancel()
	stop := s.keepClaim(runCtx, lose, run.ID)
	out, resources := s.collect(runCtx, run)
	stop()
	if errors.Is(context.Cause(runCtx), errClaimLost) {
		return nil, fmt.Errorf("run %d of connection %q: %w", run.ID, run.ConnectionName, errClaimLost)
	}
	out.RunID, out.OrgID, out.Owner = run.ID, run.OrgID, s.ownerName()
	// A run stopped by shutdown is still recorded, as failed, rather than left to expire.
	finishCtx, cancelFinish := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancelFinish()
	done, err := s.Store.FinishConnectionRun(finishCtx, out, resources)
	if err != nil {
		return nil, fmt.Errorf("finish run %d of connection %q: %w", run.ID, run.ConnectionName, err)
	}
	log := s.logger().With("org_id", done.OrgID, "connection", done.ConnectionName, "run_id", done.ID, "status", done.Status)
	if done.Status == domain.RunFailed {
		log.Warn("connection run failed", "message", done.Message)
		return done, nil
	}
	log.Info("connection run finished", "added", done.Added, "changed", done.Changed, "gone", done.Gone, "type_errors", len(done.Errors))
	if _, err := s.runTests(ctx, done.OrgID, done.Trigger, &done.ID); err != nil {
		return done, fmt.Errorf("run tests after run %d of connection %q: %w", done.ID, done.ConnectionName, err)
	}
	return done, nil
}

// errClaimLost ends a run whose claim another process took over.
var errClaimLost = errors.New("the claim on the connection was lost to another process")

// keepClaim renews the run's claim every third of the lease until stop is called. When
// the claim is lost, it cancels the run.
func (s *Service) keepClaim(ctx context.Context, lose context.CancelCauseFunc, runID int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.lease() / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				err := s.Store.RenewClaim(ctx, runID, s.ownerName(), s.lease())
				if domain.KindOf(err) == domain.KindConflict {
					s.logger().Warn("connection run stopped", "run_id", runID, "reason", errClaimLost.Error())
					lose(errClaimLost)
					return
				}
				if err != nil && ctx.Err() == nil {
					s.logger().Error("renew claim on connection run", "run_id", runID, "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// collect runs the connector of a claimed run and stores its snapshot, returning the
// outcome and the resources to store.
func (s *Service) collect(ctx context.Context, run *domain.ConnectionRun) (domain.RunOutcome, []monitor.Resource) {
	failed := func(format string, args ...any) (domain.RunOutcome, []monitor.Resource) {
		return domain.RunOutcome{Status: domain.RunFailed, Message: fmt.Sprintf(format, args...)}, nil
	}
	conn, err := s.Store.Connection(ctx, run.OrgID, run.ConnectionID)
	if err != nil {
		return failed("load connection: %v", domain.MessageOf(err))
	}
	sec, err := s.Store.ConnectionSecret(ctx, run.OrgID, run.ConnectionID)
	if err != nil {
		return failed("load credentials: %v", domain.MessageOf(err))
	}
	config, err := s.Sealer.Open(run.OrgID, conn.Kind, *sec)
	if err != nil {
		return failed("%v", err)
	}
	c, err := s.build(conn.Kind, config)
	clear(config)
	if err != nil {
		return failed("configuration: %v", domain.MessageOf(err))
	}
	col, err := c.Collect(ctx)
	if err != nil {
		return failed("collect: %v", err)
	}
	out := domain.RunOutcome{Status: domain.RunSucceeded, Counts: col.Counts()}
	for _, e := range col.Errors {
		out.Errors = append(out.Errors, domain.TypeError{Type: e.Type, Message: e.Message})
	}
	if len(out.Errors) > 0 {
		out.Status = domain.RunPartial
		if len(col.Resources) == 0 {
			out.Status, out.Message = domain.RunFailed, "no resource type could be collected"
		}
	}
	item, err := s.addSnapshot(ctx, conn, run, col, out)
	if err != nil {
		return failed("store the snapshot evidence: %v", domain.MessageOf(err))
	}
	out.EvidenceID = &item.ID
	if out.Status == domain.RunFailed {
		return out, nil
	}
	return out, col.Resources
}

// addSnapshot records every response of a run as one automated-snapshot evidence item,
// for the run's day, supporting the controls of the tests that judge the types the run
// collected.
func (s *Service) addSnapshot(ctx context.Context, conn *domain.Connection, run *domain.ConnectionRun,
	col *connector.Collection, out domain.RunOutcome) (*domain.Evidence, error) {
	finished := s.now()
	version := s.Version
	if version == "" {
		version = "dev"
	}
	source := conn.Kind + "/" + version
	content, err := snapshotJSON(conn, run, source, finished, col, out)
	if err != nil {
		return nil, err
	}
	types := map[string]bool{}
	for t := range out.Counts {
		types[t] = true
	}
	for _, e := range out.Errors {
		types[e.Type] = true
	}
	controlIDs, err := s.controlsOf(ctx, run.OrgID, types)
	if err != nil {
		return nil, err
	}
	day := domain.DateOf(run.StartedAt)
	return s.Evidence.Add(ctx, domain.SystemActor, run.OrgID, evidence.Input{
		Kind:        domain.EvidenceSnapshot,
		Title:       fmt.Sprintf("Snapshot of the %s connection %q, %s", conn.Kind, conn.Name, run.StartedAt.UTC().Format("2006-01-02 15:04 UTC")),
		Description: snapshotDescription(conn, col, out),
		ControlIDs:  controlIDs,
		PeriodStart: day,
		PeriodEnd:   day,
		CollectedAt: finished,
		Source:      source,
		Snapshot:    content,
		MediaType:   "application/json",
	})
}

// controlsOf returns the organization's active controls supported by its enabled tests
// of the given resource types.
func (s *Service) controlsOf(ctx context.Context, orgID int64, types map[string]bool) ([]int64, error) {
	tests, err := s.enabledTests(ctx, orgID)
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	for _, t := range tests {
		if types[t.Type] {
			for _, r := range t.Controls {
				refs[r] = true
			}
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	controls, err := s.Store.Controls(ctx, orgID, domain.ControlFilter{})
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, c := range controls {
		if refs[c.Ref] && !c.Retired() {
			ids = append(ids, c.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
