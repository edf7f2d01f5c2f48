package collect

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// Defaults of Scheduler.
const (
	DefaultPoll    = 15 * time.Second
	DefaultWorkers = 2
)

// Scheduler runs connections when they are due. Schedules live in the database (each
// connection's next run time), so any number of processes may run a scheduler against the
// same database: each due connection is claimed by exactly one of them (see
// store.ClaimDueConnections), and a claim whose process dies expires with its lease.
type Scheduler struct {
	Service *Service
	// Poll is the time between two looks for due connections (default DefaultPoll).
	Poll time.Duration
	// Workers is how many connections this process runs at once (default DefaultWorkers).
	Workers int
}

// Run runs due connections until ctx ends, looking for them every Poll. It returns nil
// once ctx ends; errors of single runs are logged, not returned.
func (sc *Scheduler) Run(ctx context.Context) error {
	poll := sc.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	pollEvery(ctx, poll, func(ctx context.Context) {
		if _, err := sc.RunDue(ctx); err != nil && ctx.Err() == nil {
			sc.Service.logger().Error("run due connections", "err", err)
		}
	})
	return nil
}

// RunDue runs every connection due now, claiming them one at a time on each of Workers
// workers until none is left, and returns how many it ran. The error joins the failures
// to claim or record runs; a connector's failure is recorded in its run instead.
func (sc *Scheduler) RunDue(ctx context.Context) (int, error) {
	workers := sc.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	s := sc.Service
	claim := func(ctx context.Context) ([]domain.ConnectionRun, error) {
		return s.Store.ClaimDueConnections(ctx, s.ownerName(), s.lease(), 1)
	}
	return drainClaims(ctx, workers, claim, func(ctx context.Context, run *domain.ConnectionRun) error {
		_, err := s.execute(ctx, run)
		if err != nil {
			s.logger().Error("connection run", "run_id", run.ID, "err", err)
		}
		return err
	})
}

// pollEvery calls pass at once, then every interval until ctx ends.
func pollEvery(ctx context.Context, interval time.Duration, pass func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// drainClaims works through claimed jobs on workers goroutines, each claiming one job at
// a time until claim finds none or ctx ends, and returns how many jobs were worked on.
// The error joins the failures to claim and to work; a worker whose claim fails stops.
func drainClaims[J any](ctx context.Context, workers int, claim func(context.Context) ([]J, error),
	work func(context.Context, *J) error) (int, error) {
	var done atomic.Int64
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				claimed, err := claim(ctx)
				if err != nil {
					fail(err)
					return
				}
				if len(claimed) == 0 {
					return
				}
				done.Add(1)
				if err := work(ctx, &claimed[0]); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return int(done.Load()), errors.Join(errs...)
}
