package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
)

// Readiness is computed in one place, readiness.Compute. Every page and API route that
// shows it (dashboard, readiness page and report, criteria, control pages, the readiness
// API) takes its result from here, kept per organization with the dashboard's other
// figures, instead of reading every control again for each request.
//
// A kept result is served only while it is still the answer. Each request first reads the
// organization's version from the database (domain.OrgVersion: the size of its ledger,
// which every change to controls, scope, systems, members and evidence grows in the
// change's own transaction, and its latest test run), which is one indexed query. A result
// is computed after reading the version it is kept under, so it reflects at least that
// version; a request whose version is newer computes again. Because the version comes from
// the database, a change made through any replica is seen by the next request on every
// other. Evidence freshness moves with the date, so the UTC day is part of the key too.
// Inputs that change with neither — an exception reaching its expiry — are covered by a
// short lifetime.

// viewTTL is how long a kept result is served before it is computed again even though
// the organization's version and the day are unchanged.
const viewTTL = 10 * time.Second

// viewOrgs bounds how many organizations' results are kept.
const viewOrgs = 128

// viewComputeTimeout bounds one computation, which runs on even if the request that
// started it goes away, for the sake of the requests waiting for it.
const viewComputeTimeout = 30 * time.Second

// viewKey is what a kept result was computed for.
type viewKey struct {
	version domain.OrgVersion
	day     int64 // days since 1970-01-01 in UTC
}

// covers reports whether a result computed for k may answer a request that read want:
// k is of the same day or later and no version counter of k is behind want's. Versions
// only grow, so k is then the same state or a newer one.
func (k viewKey) covers(want viewKey) bool {
	return k.day >= want.day && k.version.Ledger >= want.version.Ledger && k.version.TestRun >= want.version.TestRun
}

// utcDay is the number of the UTC day t falls on.
func utcDay(t time.Time) int64 {
	return t.UTC().Truncate(24*time.Hour).Unix() / 86400
}

// viewCache keeps the organizations' computed views. The zero value is ready to use.
type viewCache struct {
	reports    orgCache[*readiness.Report]
	dashboards orgCache[*dashboardView]
}

// orgCache keeps one computed value per organization. Requests that miss at the same
// time compute once: the first computes, the others wait for its result. Safe for
// concurrent use; the zero value keeps up to viewOrgs values for viewTTL each.
type orgCache[V any] struct {
	// ttl, max and clock replace viewTTL, viewOrgs and time.Now when set, for tests.
	ttl   time.Duration
	max   int
	clock func() time.Time

	mu    sync.Mutex
	items map[int64]*cacheItem[V]
}

// cacheItem is one organization's value, computed or being computed.
type cacheItem[V any] struct {
	key  viewKey
	done chan struct{} // closed once val, err and expires are set
	val  V
	err  error
	// expires is when the value stops being served, by the cache's clock.
	expires time.Time
}

// ready reports whether the item's computation has finished. Its val, err and expires may
// be read only after it has.
func (it *cacheItem[V]) ready() bool {
	select {
	case <-it.done:
		return true
	default:
		return false
	}
}

// errComputePanicked is what requests waiting on a computation that panicked receive.
var errComputePanicked = errors.New("computing the organization's view failed")

// get returns the organization's value for a request that read key: the kept one if it
// covers key and has not expired, else the one computed by compute. Values shared by
// requests must be treated as read-only. A failed computation is not kept. The
// computation runs without the request's cancellation, within viewComputeTimeout, so that
// a client that goes away does not fail those waiting for the same result; a waiting
// request stops waiting when its own context ends.
func (c *orgCache[V]) get(ctx context.Context, orgID int64, key viewKey, compute func(context.Context) (V, error)) (V, error) {
	c.mu.Lock()
	it := c.items[orgID]
	if it == nil || !it.key.covers(key) || (it.ready() && !c.now().Before(it.expires)) {
		it = &cacheItem[V]{key: key, done: make(chan struct{})}
		c.putLocked(orgID, it)
		c.mu.Unlock()
		c.fill(ctx, orgID, it, compute)
		return it.val, it.err
	}
	c.mu.Unlock()
	select {
	case <-it.done:
		return it.val, it.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// fill computes an item's value and releases those waiting for it. An item that failed,
// or whose computation panicked, leaves the cache so that the next request tries again.
func (c *orgCache[V]) fill(ctx context.Context, orgID int64, it *cacheItem[V], compute func(context.Context) (V, error)) {
	finished := false
	defer func() {
		if !finished {
			it.err = errComputePanicked
		}
		if it.err != nil {
			c.mu.Lock()
			if c.items[orgID] == it {
				delete(c.items, orgID)
			}
			c.mu.Unlock()
		}
		it.expires = c.now().Add(c.lifetime())
		close(it.done)
	}()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), viewComputeTimeout)
	defer cancel()
	it.val, it.err = compute(cctx)
	finished = true
}

// putLocked keeps it as the organization's item, first making room if the cache is full:
// expired items go, then the one that expires first.
func (c *orgCache[V]) putLocked(orgID int64, it *cacheItem[V]) {
	if c.items == nil {
		c.items = map[int64]*cacheItem[V]{}
	}
	limit := c.max
	if limit <= 0 {
		limit = viewOrgs
	}
	if _, ok := c.items[orgID]; !ok && len(c.items) >= limit {
		now := c.now()
		for id, old := range c.items {
			if old.ready() && !now.Before(old.expires) {
				delete(c.items, id)
			}
		}
		for len(c.items) >= limit {
			var victim int64
			var first *cacheItem[V]
			for id, old := range c.items {
				// Items still being computed have no expiry yet and go last.
				if first == nil || (old.ready() && (!first.ready() || old.expires.Before(first.expires))) {
					victim, first = id, old
				}
			}
			delete(c.items, victim)
		}
	}
	c.items[orgID] = it
}

func (c *orgCache[V]) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}

func (c *orgCache[V]) lifetime() time.Duration {
	if c.ttl > 0 {
		return c.ttl
	}
	return viewTTL
}

// viewKey reads the key of the organization's views for a request made at now.
func (s *Server) viewKey(ctx context.Context, orgID int64, now time.Time) (viewKey, error) {
	v, err := s.cfg.Store.OrgVersion(ctx, orgID)
	if err != nil {
		return viewKey{}, fmt.Errorf("read the version of organization %d: %w", orgID, err)
	}
	return viewKey{version: v, day: utcDay(now)}, nil
}

// currentReadiness returns the organization's readiness report as of now, computed by
// readiness.Compute or kept from an earlier request of the same version and day. The
// report is shared between requests: read it, never change it.
func (s *Server) currentReadiness(ctx context.Context, orgID int64, now time.Time) (*readiness.Report, error) {
	key, err := s.viewKey(ctx, orgID, now)
	if err != nil {
		return nil, err
	}
	return s.keptReport(ctx, orgID, key, now, s.cfg.Store)
}

// keptReport is currentReadiness for a key already read, computing from src on a miss.
func (s *Server) keptReport(ctx context.Context, orgID int64, key viewKey, now time.Time, src readiness.Source) (*readiness.Report, error) {
	return s.kept.reports.get(ctx, orgID, key, func(ctx context.Context) (*readiness.Report, error) {
		return readiness.Compute(ctx, src, s.cfg.Catalog, orgID, now)
	})
}
