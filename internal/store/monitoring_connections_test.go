package store_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

// monitorStart is the time monitoring tests start at.
var monitorStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// clock is a settable clock for the store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// withClock sets the store's clock to one starting at monitorStart.
func withClock(s *store.Store) *clock {
	c := &clock{t: monitorStart}
	s.Now = c.now
	return c
}

// secret is a sealed secret as the collect service makes them; the store never opens it.
func secret(tag string) domain.SealedSecret {
	return domain.SealedSecret{KeyID: "k1", Nonce: bytes.Repeat([]byte{1}, 12), Ciphertext: []byte("sealed:" + tag)}
}

// newConnection creates an enabled hourly connection.
func newConnection(tb testing.TB, s *store.Store, orgID int64, name string) *domain.Connection {
	tb.Helper()
	c := &domain.Connection{OrgID: orgID, Kind: "aws", Name: name, Enabled: true}
	must(tb, "CreateConnection", s.CreateConnection(ctx, admin, c, secret(name)))
	return c
}

func TestConnections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		clk := withClock(s)
		org := newOrg(t, s, "acme")
		other := newOrg(t, s, "other")

		c := &domain.Connection{OrgID: org.ID, Kind: "aws", Name: "  production ", Enabled: true}
		must(t, "CreateConnection", s.CreateConnection(ctx, admin, c, secret("one")))
		want := domain.Connection{
			ID: c.ID, OrgID: org.ID, Kind: "aws", Name: "production", Interval: time.Hour, Enabled: true,
			NextRunAt: monitorStart, CreatedAt: monitorStart, UpdatedAt: monitorStart, CredentialsSetAt: monitorStart,
		}
		if diff := cmp.Diff(want, *c); diff != "" {
			t.Errorf("created connection mismatch (-want +got):\n%s", diff)
		}
		wantEvent(t, lastEvent(t, s, org.ID), domain.EventConnectionCreated, subject("connection", c.ID), map[string]any{
			"kind": "aws", "name": "production", "interval_seconds": num(3600), "enabled": true,
		})
		got, err := s.ConnectionByName(ctx, org.ID, "production")
		must(t, "ConnectionByName", err)
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("ConnectionByName mismatch (-want +got):\n%s", diff)
		}
		err = s.CreateConnection(ctx, admin, &domain.Connection{OrgID: org.ID, Kind: "github", Name: "production"}, secret("x"))
		wantKind(t, "CreateConnection(same name)", err, domain.KindConflict)
		must(t, "CreateConnection(same name, other org)",
			s.CreateConnection(ctx, admin, &domain.Connection{OrgID: other.ID, Kind: "aws", Name: "production"}, secret("x")))

		sec, err := s.ConnectionSecret(ctx, org.ID, c.ID)
		must(t, "ConnectionSecret", err)
		if diff := cmp.Diff(secret("one"), *sec); diff != "" {
			t.Errorf("ConnectionSecret mismatch (-want +got):\n%s", diff)
		}
		_, err = s.ConnectionSecret(ctx, other.ID, c.ID)
		wantKind(t, "ConnectionSecret(other org)", err, domain.KindNotFound)
		_, err = s.Connection(ctx, other.ID, c.ID)
		wantKind(t, "Connection(other org)", err, domain.KindNotFound)

		clk.advance(time.Minute)
		newSecret := secret("two")
		up, err := s.UpdateConnection(ctx, admin, org.ID, c.ID, domain.ConnectionChange{
			Name: ptr("prod"), Interval: ptr(6 * time.Hour), Enabled: ptr(false), Secret: &newSecret,
		})
		must(t, "UpdateConnection", err)
		if up.Name != "prod" || up.Interval != 6*time.Hour || up.Enabled || !up.UpdatedAt.Equal(clk.t) || !up.CredentialsSetAt.Equal(clk.t) {
			t.Errorf("UpdateConnection = %+v; want prod, 6h, disabled, updated now with its credentials", up)
		}
		e := lastEvent(t, s, org.ID)
		wantEvent(t, e, domain.EventConnectionUpdated, subject("connection", c.ID), map[string]any{
			"name": "prod",
			"changes": map[string]any{
				"name":             map[string]any{"from": "production", "to": "prod"},
				"interval_seconds": map[string]any{"from": num(3600), "to": num(21600)},
				"enabled":          map[string]any{"from": true, "to": false},
				"credentials":      map[string]any{"from": "sealed", "to": "replaced"},
			},
		})
		for _, ev := range trail(t, s, org.ID) {
			if strings.Contains(string(ev.Data), "sealed:") {
				t.Errorf("event %d (%s) holds credentials: %s", ev.Index, ev.Type, ev.Data)
			}
		}
		sec, err = s.ConnectionSecret(ctx, org.ID, c.ID)
		must(t, "ConnectionSecret", err)
		if !bytes.Equal(sec.Ciphertext, newSecret.Ciphertext) {
			t.Errorf("ConnectionSecret after update = %q; want %q", sec.Ciphertext, newSecret.Ciphertext)
		}
		// A change that keeps the credentials keeps their time.
		credentialsSet := clk.t
		clk.advance(time.Minute)
		up, err = s.UpdateConnection(ctx, admin, org.ID, c.ID, domain.ConnectionChange{Interval: ptr(12 * time.Hour)})
		must(t, "UpdateConnection(interval)", err)
		if !up.UpdatedAt.Equal(clk.t) || !up.CredentialsSetAt.Equal(credentialsSet) {
			t.Errorf("UpdateConnection(interval) = updated %v, credentials %v; want updated now, credentials at %v", up.UpdatedAt, up.CredentialsSetAt, credentialsSet)
		}
		_, err = s.UpdateConnection(ctx, admin, other.ID, c.ID, domain.ConnectionChange{Name: ptr("x")})
		wantKind(t, "UpdateConnection(other org)", err, domain.KindNotFound)

		list, err := s.Connections(ctx, org.ID)
		must(t, "Connections", err)
		if len(list) != 1 || list[0].ID != c.ID {
			t.Errorf("Connections = %+v; want the one connection", list)
		}
		wantKind(t, "DeleteConnection(other org)", s.DeleteConnection(ctx, admin, other.ID, c.ID), domain.KindNotFound)
		must(t, "DeleteConnection", s.DeleteConnection(ctx, admin, org.ID, c.ID))
		wantEvent(t, lastEvent(t, s, org.ID), domain.EventConnectionDeleted, subject("connection", c.ID), map[string]any{
			"kind": "aws", "name": "prod", "resources_gone": num(0),
		})
		_, err = s.Connection(ctx, org.ID, c.ID)
		wantKind(t, "Connection(deleted)", err, domain.KindNotFound)
	})
}

func TestConnectionInvalid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		org := newOrg(t, s, "acme")
		for _, tc := range []struct {
			name  string
			c     domain.Connection
			sec   domain.SealedSecret
			field string
		}{
			{"no kind", domain.Connection{Name: "a"}, secret("a"), "kind"},
			{"bad kind", domain.Connection{Kind: "AWS!", Name: "a"}, secret("a"), "kind"},
			{"no name", domain.Connection{Kind: "aws", Name: " "}, secret("a"), "name"},
			{"long name", domain.Connection{Kind: "aws", Name: strings.Repeat("n", 101)}, secret("a"), "name"},
			{"control character", domain.Connection{Kind: "aws", Name: "a\x01b"}, secret("a"), "name"},
			{"interval too short", domain.Connection{Kind: "aws", Name: "a", Interval: time.Minute}, secret("a"), "interval"},
			{"interval too long", domain.Connection{Kind: "aws", Name: "a", Interval: 40 * 24 * time.Hour}, secret("a"), "interval"},
			{"no ciphertext", domain.Connection{Kind: "aws", Name: "a"}, domain.SealedSecret{KeyID: "k", Nonce: make([]byte, 12)}, "credentials"},
			{"short nonce", domain.Connection{Kind: "aws", Name: "a"}, domain.SealedSecret{KeyID: "k", Nonce: []byte{1}, Ciphertext: []byte("x")}, "credentials"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := tc.c
				c.OrgID = org.ID
				wantInvalid(t, "CreateConnection", s.CreateConnection(ctx, admin, &c, tc.sec), tc.field)
			})
		}
		list, err := s.Connections(ctx, org.ID)
		must(t, "Connections", err)
		if len(list) != 0 {
			t.Errorf("Connections = %d after invalid creations; want 0", len(list))
		}
	})
}

// res is a resource as connectors and pushes give them.
func res(typ, id, name string, attrs map[string]any) monitor.Resource {
	return monitor.Resource{Type: typ, ExternalID: id, Name: name, Attributes: attrs}
}

// finish ends a claimed run.
func finish(tb testing.TB, s *store.Store, run domain.ConnectionRun, owner string, status domain.RunStatus, errs []domain.TypeError, rs ...monitor.Resource) *domain.ConnectionRun {
	tb.Helper()
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Type]++
	}
	done, err := s.FinishConnectionRun(ctx, domain.RunOutcome{
		RunID: run.ID, OrgID: run.OrgID, Owner: owner, Status: status, Counts: counts, Errors: errs,
	}, rs)
	if err != nil {
		tb.Fatalf("FinishConnectionRun(%d) = %v", run.ID, err)
	}
	return done
}

// claimOne claims the due connections and wants exactly one.
func claimOne(tb testing.TB, s *store.Store, owner string) domain.ConnectionRun {
	tb.Helper()
	runs, err := s.ClaimDueConnections(ctx, owner, 10*time.Minute, 10)
	if err != nil {
		tb.Fatalf("ClaimDueConnections(%s) = %v", owner, err)
	}
	if len(runs) != 1 {
		tb.Fatalf("ClaimDueConnections(%s) claimed %d runs; want 1", owner, len(runs))
	}
	return runs[0]
}

func TestClaimsAndSchedule(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		clk := withClock(a)
		b.Now = clk.now
		org := newOrg(t, a, "acme")
		c := newConnection(t, a, org.ID, "production")
		off := &domain.Connection{OrgID: org.ID, Kind: "aws", Name: "disabled"}
		must(t, "CreateConnection(disabled)", a.CreateConnection(ctx, admin, off, secret("off")))

		run := claimOne(t, a, "replica-a")
		want := domain.ConnectionRun{
			ID: run.ID, OrgID: org.ID, ConnectionID: c.ID, ConnectionName: "production", Trigger: domain.TriggerSchedule,
			DueAt: monitorStart, StartedAt: monitorStart, Status: domain.RunRunning, Counts: map[string]int{}, Errors: []domain.TypeError{},
		}
		if diff := cmp.Diff(want, run); diff != "" {
			t.Errorf("claimed run mismatch (-want +got):\n%s", diff)
		}
		if runs, err := b.ClaimDueConnections(ctx, "replica-b", 10*time.Minute, 10); err != nil || len(runs) != 0 {
			t.Errorf("ClaimDueConnections(replica-b) while a holds it = %v, %v; want none", runs, err)
		}
		_, err := b.ClaimConnection(ctx, org.ID, c.ID, "replica-b", 10*time.Minute)
		wantKind(t, "ClaimConnection(running)", err, domain.KindConflict)

		clk.advance(3 * time.Minute)
		must(t, "RenewClaim", a.RenewClaim(ctx, run.ID, "replica-a", 10*time.Minute))
		wantKind(t, "RenewClaim(not the owner)", a.RenewClaim(ctx, run.ID, "replica-b", 10*time.Minute), domain.KindConflict)
		_, err = a.FinishConnectionRun(ctx, domain.RunOutcome{RunID: run.ID, OrgID: org.ID, Owner: "replica-b", Status: domain.RunSucceeded}, nil)
		wantKind(t, "FinishConnectionRun(not the owner)", err, domain.KindConflict)

		done := finish(t, a, run, "replica-a", domain.RunSucceeded, nil)
		if done.Status != domain.RunSucceeded || done.FinishedAt == nil || !done.FinishedAt.Equal(clk.t) {
			t.Errorf("finished run = %+v; want succeeded, finished now", done)
		}
		got, err := a.Connection(ctx, org.ID, c.ID)
		must(t, "Connection", err)
		if !got.NextRunAt.Equal(monitorStart.Add(time.Hour)) {
			t.Errorf("NextRunAt after a scheduled run = %v; want the due time plus the interval, %v", got.NextRunAt, monitorStart.Add(time.Hour))
		}
		if got.LastRun == nil || got.LastRun.ID != run.ID {
			t.Errorf("LastRun = %+v; want run %d", got.LastRun, run.ID)
		}
		_, err = a.FinishConnectionRun(ctx, domain.RunOutcome{RunID: run.ID, OrgID: org.ID, Owner: "replica-a", Status: domain.RunSucceeded}, nil)
		wantKind(t, "FinishConnectionRun(twice)", err, domain.KindConflict)
		if runs, err := b.ClaimDueConnections(ctx, "replica-b", 10*time.Minute, 10); err != nil || len(runs) != 0 {
			t.Errorf("ClaimDueConnections before the next due time = %v, %v; want none", runs, err)
		}

		// Three intervals later the schedule keeps its cadence, skipping the times past.
		clk.advance(3*time.Hour + 10*time.Minute)
		run2 := claimOne(t, b, "replica-b")
		if !run2.DueAt.Equal(monitorStart.Add(time.Hour)) {
			t.Errorf("second run due at %v; want %v", run2.DueAt, monitorStart.Add(time.Hour))
		}
		// replica-b dies; once its lease runs out replica-a takes over.
		clk.advance(11 * time.Minute)
		run3 := claimOne(t, a, "replica-a")
		if run3.ConnectionID != c.ID {
			t.Fatalf("took over run of connection %d; want %d", run3.ConnectionID, c.ID)
		}
		abandoned, err := a.ConnectionRun(ctx, org.ID, run2.ID)
		must(t, "ConnectionRun(abandoned)", err)
		if abandoned.Status != domain.RunFailed || !strings.HasPrefix(abandoned.Message, "abandoned") {
			t.Errorf("abandoned run = %s %q; want failed, abandoned", abandoned.Status, abandoned.Message)
		}
		_, err = b.FinishConnectionRun(ctx, domain.RunOutcome{RunID: run2.ID, OrgID: org.ID, Owner: "replica-b", Status: domain.RunSucceeded}, nil)
		wantKind(t, "FinishConnectionRun(lost claim)", err, domain.KindConflict)
		wantKind(t, "RenewClaim(lost claim)", b.RenewClaim(ctx, run2.ID, "replica-b", time.Minute), domain.KindConflict)
		finish(t, a, run3, "replica-a", domain.RunFailed, nil)
		got, err = a.Connection(ctx, org.ID, c.ID)
		must(t, "Connection", err)
		if want := monitorStart.Add(4 * time.Hour); !got.NextRunAt.Equal(want) {
			t.Errorf("NextRunAt after a late run = %v; want %v", got.NextRunAt, want)
		}

		// A manual run restarts the schedule from its start, even for a disabled connection.
		manual, err := a.ClaimConnection(ctx, org.ID, off.ID, "cli", time.Minute)
		must(t, "ClaimConnection(disabled)", err)
		if manual.Trigger != domain.TriggerManual {
			t.Errorf("manual run trigger = %s; want manual", manual.Trigger)
		}
		finish(t, a, *manual, "cli", domain.RunSucceeded, nil)
		got, err = a.Connection(ctx, org.ID, off.ID)
		must(t, "Connection", err)
		if want := clk.t.Add(time.Hour); !got.NextRunAt.Equal(want) {
			t.Errorf("NextRunAt after a manual run = %v; want %v", got.NextRunAt, want)
		}
		runs, err := a.ConnectionRuns(ctx, org.ID, domain.RunFilter{ConnectionID: c.ID})
		must(t, "ConnectionRuns", err)
		var ids []int64
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff([]int64{run3.ID, run2.ID, run.ID}, ids); diff != "" {
			t.Errorf("ConnectionRuns IDs mismatch (-want +got):\n%s", diff)
		}
		_, err = a.ClaimConnection(ctx, newOrg(t, a, "other").ID, c.ID, "cli", time.Minute)
		wantKind(t, "ClaimConnection(other org)", err, domain.KindNotFound)
	})
}

// TestMigrationSetsCredentialsTime fills a database as version 6 left it, with connections
// whose credentials were written at their creation and by later changes, and checks that
// migrating keeps, for each, the time of the last entry that wrote them.
func TestMigrationSetsCredentialsTime(t *testing.T) {
	t.Parallel()
	storetest.EachEmpty(t, func(t *testing.T, s *store.Store) {
		must(t, "MigrateToForTest(6)", s.MigrateToForTest(ctx, 6))
		at := func(minutes int) any {
			v := monitorStart.Add(time.Duration(minutes) * time.Minute)
			if s.Engine() == "sqlite" {
				return v.Format("2006-01-02T15:04:05.000000Z")
			}
			return v
		}
		must(t, "insert organization", s.ExecForTest(ctx, `INSERT INTO organizations (slug, name, created_at) VALUES ('acme', 'Acme', $1)`, at(0)))
		orgs, err := s.Organizations(ctx)
		must(t, "Organizations", err)
		orgID := orgs[0].ID
		insert := func(id int64, name string, created int) int64 {
			must(t, "insert connection", s.ExecForTest(ctx, `INSERT INTO connections (id, org_id, kind, name, interval_seconds, enabled,
				secret_key_id, secret_nonce, secret, next_run_at, created_at, updated_at)
				VALUES ($1, $2, 'aws', $3, 3600, 1 = 1, 'k1', $4, $5, $6, $6, $6)`, id, orgID, name, []byte("nonce"), []byte("sealed"), at(created)))
			return id
		}
		replaced, kept, unrecorded := insert(101, "replaced", 1), insert(102, "kept", 2), insert(103, "unrecorded", 3)
		events := []struct {
			minutes int
			typ     string
			id      int64
			data    string
		}{
			{1, domain.EventConnectionCreated, replaced, `{"kind":"aws","name":"replaced"}`},
			{2, domain.EventConnectionCreated, kept, `{"kind":"aws","name":"kept"}`},
			{5, domain.EventConnectionUpdated, replaced, `{"changes":{"credentials":{"from":"sealed","to":"replaced"}},"name":"replaced"}`},
			{7, domain.EventConnectionUpdated, replaced, `{"changes":{"enabled":{"from":true,"to":false}},"name":"replaced"}`},
			{8, domain.EventConnectionUpdated, kept, `{"changes":{"name":{"from":"k","to":"kept"}},"name":"kept"}`},
		}
		for i, e := range events {
			must(t, "insert event", s.ExecForTest(ctx, `INSERT INTO events (org_id, idx, at, actor_id, actor, type, subject, data)
				VALUES ($1, $2, $3, 0, 'system', $4, $5, $6)`, orgID, i, at(e.minutes), e.typ, fmt.Sprintf("connection:%d", e.id), e.data))
		}

		must(t, "Migrate", s.Migrate(ctx))
		for id, want := range map[int64]int{replaced: 5, kept: 2, unrecorded: 3} {
			c, err := s.Connection(ctx, orgID, id)
			must(t, "Connection", err)
			if w := monitorStart.Add(time.Duration(want) * time.Minute); !c.CredentialsSetAt.Equal(w) {
				t.Errorf("connection %s: credentials set at %v after the migration; want %v", c.Name, c.CredentialsSetAt, w)
			}
		}
	})
}
