package collect

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
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
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := sc.RunDue(ctx); err != nil && ctx.Err() == nil {
			sc.Service.logger().Error("run due connections", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
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
	var ran atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				runs, err := s.Store.ClaimDueConnections(ctx, s.ownerName(), s.lease(), 1)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if len(runs) == 0 {
					return
				}
				ran.Add(1)
				if _, err := s.execute(ctx, &runs[0]); err != nil {
					s.logger().Error("connection run", "run_id", runs[0].ID, "err", err)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return int(ran.Load()), errors.Join(errs...)
}
