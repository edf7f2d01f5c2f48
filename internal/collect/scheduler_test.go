package collect_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// dueConnections creates n enabled connections, all due now, each on its own account of
// the world holding one user.
func dueConnections(tb testing.TB, e *env, orgID int64, n int) []*domain.Connection {
	tb.Helper()
	out := make([]*domain.Connection, n)
	for i := range n {
		name := fmt.Sprintf("acct-%02d", i)
		e.world.account(name).set([]monitor.Resource{user("u-"+name, name, true)}, nil, nil)
		c, err := e.svc.CreateConnection(ctx, domain.SystemActor, orgID, collect.ConnectionInput{Kind: "fake", Name: name, Config: config(name)})
		must(tb, "CreateConnection", err)
		out[i] = c
	}
	return out
}

// wantRunOnce checks that every connection ran exactly once, successfully.
func wantRunOnce(tb testing.TB, st *store.Store, orgID int64, conns []*domain.Connection) {
	tb.Helper()
	for _, c := range conns {
		runs, err := st.ConnectionRuns(ctx, orgID, domain.RunFilter{ConnectionID: c.ID})
		must(tb, "ConnectionRuns", err)
		if len(runs) != 1 || runs[0].Status != domain.RunSucceeded {
			var states []string
			for _, r := range runs {
				states = append(states, string(r.Status))
			}
			tb.Errorf("connection %s ran %d times (%v); want once, succeeded", c.Name, len(runs), states)
		}
	}
}

func TestSchedulersShareDueConnections(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		w := newWorld()
		blobs := t.TempDir()
		ea, eb := newEnv(t, a, w, blobs), newEnv(t, b, w, blobs)
		ea.svc.Owner, eb.svc.Owner = "replica-a", "replica-b"
		org, _ := ea.org(t, "acme")
		conns := dueConnections(t, ea, org.ID, 10)

		schedulers := []*collect.Scheduler{{Service: ea.svc, Workers: 2}, {Service: eb.svc, Workers: 2}}
		counts := make([]int, len(schedulers))
		errs := make([]error, len(schedulers))
		var wg sync.WaitGroup
		for i, sc := range schedulers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counts[i], errs[i] = sc.RunDue(ctx)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			must(t, fmt.Sprintf("RunDue(replica %d)", i), err)
		}
		if total := counts[0] + counts[1]; total != len(conns) {
			t.Errorf("the schedulers ran %d + %d connections; want %d in all", counts[0], counts[1], len(conns))
		}
		wantRunOnce(t, a, org.ID, conns)
		for _, c := range conns {
			if n := w.account(c.Name).callCount(); n != 1 {
				t.Errorf("connector of %s ran %d times; want 1", c.Name, n)
			}
		}
		// Nothing is due until the next hour.
		if n, err := ea.svc.Store.ClaimDueConnections(ctx, "replica-a", time.Minute, 100); err != nil || len(n) != 0 {
			t.Errorf("ClaimDueConnections after the runs = %d, %v; want none due", len(n), err)
		}
		ea.now = ea.now.Add(time.Hour)
		eb.now = ea.now
		n, err := (&collect.Scheduler{Service: eb.svc}).RunDue(ctx)
		must(t, "RunDue(next hour)", err)
		if n != len(conns) {
			t.Errorf("RunDue an hour later ran %d; want %d", n, len(conns))
		}
	})
}

func TestSchedulerRunStopsWithContext(t *testing.T) {
	st := storetest.SQLite(t)
	e := newEnv(t, st, newWorld(), t.TempDir())
	org, _ := e.org(t, "acme")
	conns := dueConnections(t, e, org.ID, 2)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	sc := &collect.Scheduler{Service: e.svc, Poll: time.Hour}
	go func() { done <- sc.Run(runCtx) }()
	// Run looks for due connections at once; wait until it has run both, then stop it.
	for {
		runs, err := st.ConnectionRuns(ctx, org.ID, domain.RunFilter{})
		must(t, "ConnectionRuns", err)
		finished := 0
		for _, r := range runs {
			if r.Status != domain.RunRunning {
				finished++
			}
		}
		if finished == len(conns) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil once the context ends", err)
	}
	wantRunOnce(t, st, org.ID, conns)
}

// The environment of a scheduler process started by TestSchedulerProcessesShareDueConnections.
const (
	childDSN   = "EVIDENT_TEST_SCHEDULER_DSN"
	childBlobs = "EVIDENT_TEST_SCHEDULER_BLOBS"
	childName  = "EVIDENT_TEST_SCHEDULER_NAME"
)

// TestSchedulerProcess is a scheduler process of TestSchedulerProcessesShareDueConnections;
// it does nothing in a normal test run.
func TestSchedulerProcess(t *testing.T) {
	dsn := os.Getenv(childDSN)
	if dsn == "" {
		t.Skip("run as a scheduler process by TestSchedulerProcessesShareDueConnections")
	}
	st, err := store.Open(ctx, dsn)
	must(t, "store.Open", err)
	defer st.Close()
	w := newWorld()
	e := newEnv(t, st, w, os.Getenv(childBlobs))
	st.Now, e.svc.Now, e.ev.Now = time.Now, time.Now, time.Now
	for i := range 16 {
		name := fmt.Sprintf("acct-%02d", i)
		w.account(name).set([]monitor.Resource{user("u-"+name, name, true)}, nil, nil)
	}
	e.svc.Owner = os.Getenv(childName)
	n, err := (&collect.Scheduler{Service: e.svc, Workers: 2}).RunDue(ctx)
	must(t, "RunDue", err)
	fmt.Printf("ran=%d\n", n)
}

// postgresDSN creates a throwaway database on the server EVIDENT_TEST_POSTGRES_URL names,
// dropped when the test ends, and returns its URL; it skips the test without the variable.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(storetest.PostgresEnv)
	if base == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s", storetest.PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	must(tb, "connect", err)
	tb.Cleanup(func() { admin.Close() })
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(time.Now().UnixNano() >> (i * 3))
	}
	name := "evident_test_sched_" + hex.EncodeToString(b) + strconv.Itoa(os.Getpid())
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
	must(tb, "CREATE DATABASE", err)
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	must(tb, "parse "+storetest.PostgresEnv, err)
	u.Path = "/" + name
	return u.String()
}

// TestSchedulerProcessesShareDueConnections starts two scheduler processes (this test
// binary again) on one PostgreSQL database with due connections: each connection runs
// exactly once.
func TestSchedulerProcessesShareDueConnections(t *testing.T) {
	if os.Getenv(childDSN) != "" {
		t.Skip("this is a scheduler process")
	}
	dsn := postgresDSN(t)
	st, err := store.Open(ctx, dsn)
	must(t, "store.Open", err)
	t.Cleanup(func() { st.Close() })
	must(t, "Migrate", st.Migrate(ctx))
	blobs := t.TempDir()
	e := newEnv(t, st, newWorld(), blobs)
	e.now = time.Now().UTC().Add(-time.Minute) // due before the processes start
	org, _ := e.org(t, "acme")
	conns := dueConnections(t, e, org.ID, 16)

	type result struct {
		out []byte
		err error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range results {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSchedulerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDSN+"="+dsn, childBlobs+"="+filepath.Clean(blobs), childName+"=process-"+strconv.Itoa(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].out, results[i].err = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	total := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("scheduler process %d: %v\n%s", i, r.err, r.out)
		}
		_, after, ok := strings.Cut(string(r.out), "ran=")
		if !ok {
			t.Fatalf("scheduler process %d printed no count:\n%s", i, r.out)
		}
		n, err := strconv.Atoi(strings.Fields(after)[0])
		must(t, "count", err)
		total += n
	}
	if total != len(conns) {
		t.Errorf("the processes ran %d connections in all; want %d", total, len(conns))
	}
	wantRunOnce(t, st, org.ID, conns)
}
