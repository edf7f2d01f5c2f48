package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// testClock is a clock that moves only when told to.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingCache is an orgCache on a test clock whose computations return how many
// computations there have been so far.
type countingCache struct {
	cache    *orgCache[int64]
	clock    *testClock
	computed atomic.Int64
}

func newCountingCache() *countingCache {
	clk := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	return &countingCache{cache: &orgCache[int64]{clock: clk.now}, clock: clk}
}

func (c *countingCache) get(tb testing.TB, orgID int64, key viewKey) int64 {
	tb.Helper()
	v, err := c.cache.get(context.Background(), orgID, key, func(context.Context) (int64, error) {
		return c.computed.Add(1), nil
	})
	if err != nil {
		tb.Fatalf("get(%d, %+v): %v", orgID, key, err)
	}
	return v
}

func key(ledger, testRun, day int64) viewKey {
	return viewKey{version: domain.OrgVersion{Ledger: ledger, TestRun: testRun}, day: day}
}

func TestOrgCacheServesOnlyWhatCoversTheRequest(t *testing.T) {
	tests := []struct {
		name          string
		first, second viewKey
		after         time.Duration
		wantComputed  int64
	}{
		{name: "same version and day", first: key(5, 0, 100), second: key(5, 0, 100), wantComputed: 1},
		{name: "longer ledger", first: key(5, 0, 100), second: key(6, 0, 100), wantComputed: 2},
		{name: "newer test run", first: key(5, 1, 100), second: key(5, 2, 100), wantComputed: 2},
		{name: "next day", first: key(5, 0, 100), second: key(5, 0, 101), wantComputed: 2},
		{name: "request that read an older version", first: key(6, 3, 100), second: key(5, 2, 100), wantComputed: 1},
		{name: "newer ledger but older test run", first: key(6, 1, 100), second: key(5, 2, 100), wantComputed: 2},
		{name: "just before expiry", first: key(5, 0, 100), second: key(5, 0, 100), after: viewTTL - time.Nanosecond, wantComputed: 1},
		{name: "expired", first: key(5, 0, 100), second: key(5, 0, 100), after: viewTTL, wantComputed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCountingCache()
			c.get(t, 1, tt.first)
			c.clock.advance(tt.after)
			got := c.get(t, 1, tt.second)
			if got != tt.wantComputed || c.computed.Load() != tt.wantComputed {
				t.Errorf("second get = computation %d of %d; want computation %d", got, c.computed.Load(), tt.wantComputed)
			}
		})
	}
}

func TestOrgCacheKeepsOrganizationsApart(t *testing.T) {
	c := newCountingCache()
	k := key(5, 0, 100)
	got := []int64{c.get(t, 1, k), c.get(t, 2, k), c.get(t, 1, k), c.get(t, 2, k)}
	if diff := cmp.Diff([]int64{1, 2, 1, 2}, got); diff != "" {
		t.Errorf("values of organizations 1, 2, 1, 2 mismatch (-want +got):\n%s", diff)
	}
}

func TestOrgCacheForgetsFailures(t *testing.T) {
	c := newCountingCache()
	errDown := errors.New("database down")
	_, err := c.cache.get(context.Background(), 1, key(5, 0, 100), func(context.Context) (int64, error) { return 0, errDown })
	if !errors.Is(err, errDown) {
		t.Fatalf("get with a failing computation = %v; want %v", err, errDown)
	}
	if got := c.get(t, 1, key(5, 0, 100)); got != 1 {
		t.Errorf("get after a failure = computation %d; want a fresh computation 1", got)
	}
}

func TestOrgCacheRecoversFromPanic(t *testing.T) {
	c := newCountingCache()
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("get with a panicking computation returned")
			}
		}()
		_, _ = c.cache.get(context.Background(), 1, key(5, 0, 100), func(context.Context) (int64, error) { panic("boom") })
	}()
	if got := c.get(t, 1, key(5, 0, 100)); got != 1 {
		t.Errorf("get after a panic = computation %d; want a fresh computation 1", got)
	}
}

func TestOrgCacheComputesOnceForConcurrentMisses(t *testing.T) {
	c := newCountingCache()
	release := make(chan struct{})
	const clients = 20
	got := make([]int64, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			v, err := c.cache.get(context.Background(), 1, key(5, 0, 100), func(context.Context) (int64, error) {
				<-release
				return c.computed.Add(1), nil
			})
			if err != nil {
				t.Errorf("get: %v", err)
			}
			got[i] = v
		})
	}
	close(release)
	wg.Wait()
	if n := c.computed.Load(); n != 1 {
		t.Errorf("%d concurrent gets of one key computed %d times; want once", clients, n)
	}
	for i, v := range got {
		if v != 1 {
			t.Errorf("client %d got computation %d; want 1", i, v)
		}
	}
}

func TestOrgCacheWaiterStopsWithItsContext(t *testing.T) {
	c := newCountingCache()
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan int64)
	go func() {
		v, _ := c.cache.get(context.Background(), 1, key(5, 0, 100), func(context.Context) (int64, error) {
			close(started)
			<-release
			return c.computed.Add(1), nil
		})
		first <- v
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.cache.get(ctx, 1, key(5, 0, 100), func(context.Context) (int64, error) {
		t.Error("a request waiting for a computation under way computed again")
		return 0, nil
	}); !errors.Is(err, context.Canceled) {
		t.Errorf("get with a cancelled context while computing = %v; want %v", err, context.Canceled)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Errorf("first get = computation %d; want 1", v)
	}
	if got := c.get(t, 1, key(5, 0, 100)); got != 1 {
		t.Errorf("get after the computation = computation %d; want the kept 1", got)
	}
}

func TestOrgCacheIsBounded(t *testing.T) {
	c := newCountingCache()
	c.cache.max = 3
	for org := range int64(10) {
		c.get(t, org, key(5, 0, 100))
		c.clock.advance(time.Second)
	}
	if n := len(c.cache.items); n != 3 {
		t.Errorf("cache holds %d organizations; want at most 3", n)
	}
	// The latest organizations stay; the earliest went first.
	if got := c.get(t, 9, key(5, 0, 100)); got != 10 {
		t.Errorf("get of the latest organization = computation %d; want the kept 10", got)
	}
	if got := c.get(t, 0, key(5, 0, 100)); got != 11 {
		t.Errorf("get of the first organization = computation %d; want a fresh 11", got)
	}
}

var scorePattern = regexp.MustCompile(`id="readiness-score" class="score-number">([0-9.]+)<`)

// dashboardScore returns the score the dashboard shows.
func dashboardScore(tb testing.TB, body string) string {
	tb.Helper()
	m := scorePattern.FindStringSubmatch(body)
	if m == nil {
		tb.Fatalf("the dashboard shows no score")
	}
	return m[1]
}

// TestDashboardShowsEveryChange changes the organization through the server, straight
// through the store, and not at all, and checks that the next dashboard and readiness
// page show exactly the current state, and never another organization's.
func TestDashboardShowsEveryChange(t *testing.T) {
	f := newUIFixture(t)
	get := func(path, who string) string {
		t.Helper()
		rec := f.do(t, "GET", path, who, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s as %s = %d", path, who, rec.Code)
		}
		return rec.Body.String()
	}
	before := dashboardScore(t, get("/", "owner"))
	bravoBefore := dashboardScore(t, get("/", "bravo"))
	if again := dashboardScore(t, get("/", "owner")); again != before {
		t.Fatalf("score with nothing changed = %s, then %s", before, again)
	}

	// Through the server: the control is implemented and owned.
	c := f.control
	owner := id(f.users["owner"].ID)
	rec := f.do(t, "POST", "/controls/"+id(c.ID), "owner", editForm(c, "status", string(domain.StatusImplemented), "owner_id", owner))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /controls/%d = %d; want 303", c.ID, rec.Code)
	}
	afterForm := dashboardScore(t, get("/", "owner"))
	if afterForm == before {
		t.Errorf("score after implementing %s through the server = %s; want it to move from %s", c.Ref, afterForm, before)
	}

	// Straight through the store, as another replica or the command line would: the
	// control is retired, and its gaps leave the readiness page.
	retired := true
	if _, err := f.st.UpdateControl(f.ctx, domain.SystemActor, f.north.ID, c.ID, domain.ControlChange{Retired: &retired}); err != nil {
		t.Fatal(err)
	}
	if got := dashboardScore(t, get("/", "owner")); got == afterForm {
		t.Errorf("score after retiring %s in the store = %s; want it to move", c.Ref, got)
	}
	second := f.controlByRef(t, f.north, catalog.Default().Library[1].Ref)
	gapLink := `href="/controls/` + id(second.ID) + `"`
	if page := get("/readiness?q="+second.Ref, "owner"); !strings.Contains(page, gapLink) {
		t.Fatalf("the readiness page lists no gap of %s", second.Ref)
	}
	na, why := domain.StatusNotApplicable, "Not part of the system."
	uid := f.users["owner"].ID
	ownerID := &uid
	if _, err := f.st.UpdateControl(f.ctx, domain.SystemActor, f.north.ID, second.ID, domain.ControlChange{Status: &na, Justification: &why, OwnerID: &ownerID}); err != nil {
		t.Fatal(err)
	}
	if page := get("/readiness?q="+second.Ref, "owner"); strings.Contains(page, gapLink) {
		t.Errorf("the readiness page still lists a gap of %s after it was justified as not applicable", second.Ref)
	}

	// The other organization was never touched and never sees this one.
	bravo := get("/", "bravo")
	if got := dashboardScore(t, bravo); got != bravoBefore {
		t.Errorf("the other organization's score = %s; want its own %s, unchanged", got, bravoBefore)
	}
	if page := get("/", "owner"); strings.Contains(page, bravoSecret) {
		t.Errorf("the dashboard shows another organization's data")
	}
}

// TestDashboardAcrossReplicas runs two servers over one database, as two replicas, and
// checks that a change made through one shows on the other's next dashboard.
func TestDashboardAcrossReplicas(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		ctx := context.Background()
		cat := catalog.Default()
		org := &domain.Organization{Slug: "acme", Name: "Acme"}
		if err := a.CreateOrganization(ctx, domain.SystemActor, org, nil, cat.Library); err != nil {
			t.Fatal(err)
		}
		u := &domain.User{Email: "lead@acme.example", Name: "Lee Lead"}
		if err := a.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := a.AddMember(ctx, domain.SystemActor, org.ID, u.ID, domain.RoleOwner); err != nil {
			t.Fatal(err)
		}
		token := "replica-test-session-token"
		hash := sha256.Sum256([]byte(token))
		now := time.Now().UTC()
		if err := a.CreateSession(ctx, &domain.Session{TokenHash: hash[:], UserID: u.ID, OrgID: org.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		replica := func(st *store.Store) *Server {
			srv, err := New(Config{Store: st, Catalog: cat, Auth: auth.New(st, auth.Options{}), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			return srv
		}
		one, two := replica(a), replica(b)
		score := func(srv *Server) string {
			t.Helper()
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET / = %d", rec.Code)
			}
			return dashboardScore(t, rec.Body.String())
		}
		before := score(one)
		if got := score(two); got != before {
			t.Fatalf("the replicas show scores %s and %s for one organization", before, got)
		}

		controls, err := b.Controls(ctx, org.ID, domain.ControlFilter{})
		if err != nil {
			t.Fatal(err)
		}
		implemented, owner := domain.StatusImplemented, &u.ID
		for _, c := range controls[:10] {
			if _, err := b.UpdateControl(ctx, domain.Actor{UserID: u.ID, Email: u.Email}, org.ID, c.ID, domain.ControlChange{Status: &implemented, OwnerID: &owner}); err != nil {
				t.Fatal(err)
			}
		}
		after := score(two)
		if after == before {
			t.Fatalf("score on the replica that made the change = %s; want it to move from %s", after, before)
		}
		if got := score(one); got != after {
			t.Errorf("score on the other replica = %s; want %s, as on the replica that made the change", got, after)
		}
	})
}

// TestDashboardConcurrentRequests serves the dashboards of two organizations to many
// clients at once while one organization changes, as a busy server does; run with -race
// it also checks that the kept views are only read.
func TestDashboardConcurrentRequests(t *testing.T) {
	f := newUIFixture(t)
	controls, err := f.st.Controls(f.ctx, f.north.ID, domain.ControlFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		implemented := domain.StatusImplemented
		for _, c := range controls[:5] {
			if _, err := f.st.UpdateControl(f.ctx, domain.SystemActor, f.north.ID, c.ID, domain.ControlChange{Status: &implemented}); err != nil {
				t.Errorf("UpdateControl: %v", err)
			}
		}
	})
	for i := range 20 {
		who, want, never := "owner", f.north.Name, bravoSecret
		if i%2 == 1 {
			who, want, never = "bravo", bravoSecret, f.north.Name
		}
		wg.Go(func() {
			for range 5 {
				rec := httptest.NewRecorder()
				f.srv.ServeHTTP(rec, f.request("GET", "/", who, nil))
				body := rec.Body.String()
				if rec.Code != http.StatusOK || !strings.Contains(body, want) || strings.Contains(body, never) {
					t.Errorf("GET / as %s = %d, showing %q: %t, showing %q: %t", who, rec.Code, want, strings.Contains(body, want), never, strings.Contains(body, never))
					return
				}
			}
		})
	}
	wg.Wait()

	// Once the changes are done, the next dashboard shows what a fresh computation finds.
	fresh, err := readiness.Compute(f.ctx, f.st, f.srv.cfg.Catalog, f.north.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec := f.do(t, "GET", "/", "owner", nil)
	if got, want := dashboardScore(t, rec.Body.String()), scoreText(fresh.Score); got != want {
		t.Errorf("score after the changes = %s; want %s, as computed afresh", got, want)
	}
}
