package store_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		ann := newMember(t, s, o.ID, "ann@example.com", domain.RoleOwner)
		bob := newMember(t, s, o.ID, "bob@example.com", domain.RoleMember)
		base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return base }

		sess := &domain.Session{TokenHash: []byte{1, 2, 3}, UserID: ann.ID, OrgID: o.ID, ExpiresAt: base.Add(12 * time.Hour), IP: "203.0.113.7", UserAgent: "Firefox"}
		must(t, "CreateSession", s.CreateSession(ctx, sess))
		if !sess.CreatedAt.Equal(base) || !sess.LastSeenAt.Equal(base) {
			t.Errorf("CreateSession times = %v, %v; want both %v by default", sess.CreatedAt, sess.LastSeenAt, base)
		}
		got, err := s.Session(ctx, []byte{1, 2, 3})
		must(t, "Session", err)
		if diff := cmp.Diff(sess, got); diff != "" {
			t.Errorf("Session mismatch (-want +got):\n%s", diff)
		}
		wantKind(t, "CreateSession with a taken hash", s.CreateSession(ctx, &domain.Session{TokenHash: []byte{1, 2, 3}, UserID: bob.ID, OrgID: o.ID, ExpiresAt: base.Add(time.Hour)}), domain.KindConflict)
		wantKind(t, "CreateSession(unknown user)", s.CreateSession(ctx, &domain.Session{TokenHash: []byte{9}, UserID: bob.ID + 1000, OrgID: o.ID, ExpiresAt: base.Add(time.Hour)}), domain.KindNotFound)
		wantInvalid(t, "CreateSession without hash", s.CreateSession(ctx, &domain.Session{UserID: bob.ID, OrgID: o.ID, ExpiresAt: base}), "token_hash")
		wantInvalid(t, "CreateSession without expiry", s.CreateSession(ctx, &domain.Session{TokenHash: []byte{9}, UserID: bob.ID, OrgID: o.ID}), "expires_at")

		later := base.Add(30 * time.Minute)
		must(t, "TouchSession", s.TouchSession(ctx, []byte{1, 2, 3}, later))
		got, err = s.Session(ctx, []byte{1, 2, 3})
		must(t, "Session", err)
		if !got.LastSeenAt.Equal(later) || !got.CreatedAt.Equal(base) {
			t.Errorf("after TouchSession: last seen %v, created %v; want %v, %v", got.LastSeenAt, got.CreatedAt, later, base)
		}
		wantKind(t, "TouchSession(unknown)", s.TouchSession(ctx, []byte{7}, later), domain.KindNotFound)
		_, err = s.Session(ctx, []byte{7})
		wantKind(t, "Session(unknown)", err, domain.KindNotFound)

		must(t, "DeleteSession", s.DeleteSession(ctx, []byte{1, 2, 3}))
		_, err = s.Session(ctx, []byte{1, 2, 3})
		wantKind(t, "Session after DeleteSession", err, domain.KindNotFound)
		must(t, "DeleteSession twice", s.DeleteSession(ctx, []byte{1, 2, 3}))

		for i, uid := range []int64{ann.ID, ann.ID, bob.ID} {
			must(t, "CreateSession", s.CreateSession(ctx, &domain.Session{TokenHash: []byte{byte(10 + i)}, UserID: uid, OrgID: o.ID, ExpiresAt: base.Add(time.Hour)}))
		}
		must(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, ann.ID))
		for i, want := range []bool{false, false, true} {
			_, err := s.Session(ctx, []byte{byte(10 + i)})
			if (err == nil) != want {
				t.Errorf("session %d after DeleteUserSessions(ann): err %v; want kept %v", i, err, want)
			}
		}
	})
}

func TestDeleteExpiredSessions(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sessions := []struct {
		name     string
		lastSeen time.Time
		expires  time.Time
		kept     bool
	}{
		{"fresh", base.Add(-time.Minute), base.Add(time.Hour), true},
		{"idle", base.Add(-3 * time.Hour), base.Add(time.Hour), false},
		{"past absolute expiry", base.Add(-time.Minute), base.Add(-time.Second), false},
		{"idle exactly at the limit", base.Add(-2 * time.Hour), base.Add(time.Hour), true},
		{"expiring exactly now", base.Add(-time.Minute), base, true},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		u := newMember(t, s, o.ID, "ann@example.com", domain.RoleOwner)
		for i, ss := range sessions {
			must(t, "CreateSession "+ss.name, s.CreateSession(ctx, &domain.Session{
				TokenHash: []byte(ss.name), UserID: u.ID, OrgID: o.ID, CreatedAt: base.Add(-5 * time.Hour),
				LastSeenAt: ss.lastSeen, ExpiresAt: ss.expires, IP: string(rune('a' + i)),
			}))
		}
		n, err := s.DeleteExpiredSessions(ctx, base.Add(-2*time.Hour), base)
		must(t, "DeleteExpiredSessions", err)
		if n != 2 {
			t.Errorf("DeleteExpiredSessions = %d; want 2", n)
		}
		for _, ss := range sessions {
			_, err := s.Session(ctx, []byte(ss.name))
			if (err == nil) != ss.kept {
				t.Errorf("session %q after DeleteExpiredSessions: err %v; want kept %v", ss.name, err, ss.kept)
			}
		}
	})
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		window := 15 * time.Minute
		steps := []struct {
			key  string
			at   time.Duration
			want int
		}{
			{"account:ann@example.com", 0, 1},
			{"account:ann@example.com", time.Minute, 2},
			{"ip:203.0.113.7", time.Minute, 1},
			{"account:ann@example.com", 2 * time.Minute, 3},
			{"account:ann@example.com", 17 * time.Minute, 2}, // the first two fell out of the window
		}
		for _, st := range steps {
			at := base.Add(st.at)
			got, err := s.RecordFailure(ctx, st.key, at, at.Add(-window))
			must(t, "RecordFailure", err)
			if got != st.want {
				t.Errorf("RecordFailure(%q, +%v) = %d; want %d", st.key, st.at, got, st.want)
			}
		}
		now := base.Add(17 * time.Minute)
		failures := []struct {
			key   string
			since time.Time
			want  int
		}{
			{"account:ann@example.com", now.Add(-window), 2},
			{"account:ann@example.com", base, 4},
			{"ip:203.0.113.7", base, 1},
			{"ip:198.51.100.1", base, 0},
		}
		for _, f := range failures {
			got, err := s.Failures(ctx, f.key, f.since)
			must(t, "Failures", err)
			if got != f.want {
				t.Errorf("Failures(%q, %v) = %d; want %d", f.key, f.since, got, f.want)
			}
		}
		must(t, "ClearFailures", s.ClearFailures(ctx, "account:ann@example.com"))
		if got, _ := s.Failures(ctx, "account:ann@example.com", base); got != 0 {
			t.Errorf("Failures after ClearFailures = %d; want 0", got)
		}
		if got, _ := s.Failures(ctx, "ip:203.0.113.7", base); got != 1 {
			t.Errorf("Failures of another key after ClearFailures = %d; want 1", got)
		}
		_, err := s.RecordFailure(ctx, "", base, base)
		wantInvalid(t, "RecordFailure without key", err, "key")
	})
}

func TestThrottlePrunesOldFailures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		long := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for range 3 {
			_, err := s.RecordFailure(ctx, "old", long, long)
			must(t, "RecordFailure", err)
		}
		now := long.AddDate(0, 1, 0)
		// Pruning happens every so often, so record enough failures to be sure it ran.
		for range 130 {
			_, err := s.RecordFailure(ctx, "new", now, now.Add(-time.Hour))
			must(t, "RecordFailure", err)
		}
		if got, _ := s.Failures(ctx, "old", long); got != 0 {
			t.Errorf("Failures of month-old key = %d; want 0 after pruning", got)
		}
		if got, _ := s.Failures(ctx, "new", now.Add(-time.Hour)); got != 130 {
			t.Errorf("Failures of recent key = %d; want 130", got)
		}
	})
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		ann := newMember(t, s, o.ID, "ann@example.com", domain.RoleOwner)
		outsider := newUser(t, s, "eve@example.com")
		base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return base }

		tok := &domain.APIToken{OrgID: o.ID, UserID: ann.ID, Name: " deploy ", Prefix: "evt_1a2b", Hash: []byte("secret-hash-1")}
		must(t, "CreateAPIToken", s.CreateAPIToken(ctx, admin, tok))
		if tok.ID == 0 || tok.Name != "deploy" || !tok.CreatedAt.Equal(base) {
			t.Fatalf("CreateAPIToken left %+v; want an ID, a trimmed name and the creation time", tok)
		}
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventTokenCreated, subject("token", tok.ID),
			map[string]any{"name": "deploy", "prefix": "evt_1a2b", "user_id": num(ann.ID)})

		s.Now = func() time.Time { return base.Add(time.Minute) }
		tok2 := &domain.APIToken{OrgID: o.ID, UserID: ann.ID, Name: "ci", Prefix: "evt_3c4d", Hash: []byte("secret-hash-2")}
		must(t, "CreateAPIToken", s.CreateAPIToken(ctx, admin, tok2))

		invalid := []struct {
			name  string
			tok   domain.APIToken
			field string
		}{
			{"no name", domain.APIToken{OrgID: o.ID, UserID: ann.ID, Prefix: "p", Hash: []byte("x")}, "name"},
			{"no prefix", domain.APIToken{OrgID: o.ID, UserID: ann.ID, Name: "n", Hash: []byte("x")}, "prefix"},
			{"no hash", domain.APIToken{OrgID: o.ID, UserID: ann.ID, Name: "n", Prefix: "p"}, "hash"},
			{"not a member", domain.APIToken{OrgID: o.ID, UserID: outsider.ID, Name: "n", Prefix: "p", Hash: []byte("x")}, "user_id"},
		}
		for _, tt := range invalid {
			tok := tt.tok
			wantInvalid(t, "CreateAPIToken "+tt.name, s.CreateAPIToken(ctx, admin, &tok), tt.field)
		}
		wantKind(t, "CreateAPIToken with a taken hash", s.CreateAPIToken(ctx, admin, &domain.APIToken{OrgID: o.ID, UserID: ann.ID, Name: "dup", Prefix: "p", Hash: []byte("secret-hash-1")}), domain.KindConflict)

		list, err := s.APITokens(ctx, o.ID)
		must(t, "APITokens", err)
		if diff := cmp.Diff([]domain.APIToken{*tok2, *tok}, list); diff != "" {
			t.Errorf("APITokens mismatch (-want +got):\n%s", diff)
		}
		got, err := s.APITokenByHash(ctx, []byte("secret-hash-1"))
		must(t, "APITokenByHash", err)
		if diff := cmp.Diff(tok, got); diff != "" {
			t.Errorf("APITokenByHash mismatch (-want +got):\n%s", diff)
		}
		_, err = s.APITokenByHash(ctx, []byte("unknown"))
		wantKind(t, "APITokenByHash(unknown)", err, domain.KindNotFound)

		used := base.Add(time.Hour)
		must(t, "TouchAPIToken", s.TouchAPIToken(ctx, tok.ID, used))
		got, err = s.APITokenByHash(ctx, []byte("secret-hash-1"))
		must(t, "APITokenByHash", err)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
			t.Errorf("LastUsedAt after TouchAPIToken = %v; want %v", got.LastUsedAt, used)
		}
		wantKind(t, "TouchAPIToken(unknown)", s.TouchAPIToken(ctx, tok2.ID+1000, used), domain.KindNotFound)

		revoked := base.Add(2 * time.Hour)
		must(t, "RevokeAPIToken", s.RevokeAPIToken(ctx, admin, o.ID, tok.ID, revoked))
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventTokenRevoked, subject("token", tok.ID),
			map[string]any{"name": "deploy", "prefix": "evt_1a2b"})
		n := len(trail(t, s, o.ID))
		must(t, "RevokeAPIToken twice", s.RevokeAPIToken(ctx, admin, o.ID, tok.ID, revoked.Add(time.Hour)))
		if got := len(trail(t, s, o.ID)); got != n {
			t.Errorf("revoking a revoked token wrote %d events; want none", got-n)
		}
		_, err = s.APITokenByHash(ctx, []byte("secret-hash-1"))
		wantKind(t, "APITokenByHash(revoked)", err, domain.KindNotFound)
		list, err = s.APITokens(ctx, o.ID)
		must(t, "APITokens", err)
		if len(list) != 2 || list[1].RevokedAt == nil || !list[1].RevokedAt.Equal(revoked) {
			t.Errorf("APITokens after revoking = %+v; want both, the first revoked at %v", list, revoked)
		}
		wantKind(t, "RevokeAPIToken(unknown)", s.RevokeAPIToken(ctx, admin, o.ID, tok2.ID+1000, revoked), domain.KindNotFound)

		for _, e := range trail(t, s, o.ID) {
			for _, secret := range []string{"secret-hash", "c2VjcmV0"} {
				if bytes.Contains(e.Data, []byte(secret)) {
					t.Errorf("event %d (%s) data %s contains the token hash", e.Index, e.Type, e.Data)
				}
			}
		}
	})
}
