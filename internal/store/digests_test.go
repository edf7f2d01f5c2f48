package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func TestClaimDigest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		other := newOrg(t, s, "beta")
		ana := newMember(t, s, o.ID, "ana@acme.example", domain.RoleMember)
		bo := newMember(t, s, o.ID, "bo@acme.example", domain.RoleMember)
		morning := time.Date(2026, time.March, 14, 7, 0, 0, 0, time.UTC)
		// The same UTC date, written in another zone.
		evening := time.Date(2026, time.March, 14, 23, 30, 0, 0, time.UTC).In(time.FixedZone("UTC-5", -5*3600))
		nextDay := morning.AddDate(0, 0, 1)

		claim := func(orgID, userID int64, day time.Time) bool {
			t.Helper()
			ok, err := s.ClaimDigest(ctx, orgID, userID, day)
			must(t, "ClaimDigest", err)
			return ok
		}
		steps := []struct {
			name   string
			org    int64
			user   int64
			day    time.Time
			wantOK bool
		}{
			{"first claim", o.ID, ana.ID, morning, true},
			{"again the same day", o.ID, ana.ID, evening, false},
			{"another person", o.ID, bo.ID, morning, true},
			{"another organization", other.ID, ana.ID, morning, true},
			{"the next day", o.ID, ana.ID, nextDay, true},
		}
		for _, st := range steps {
			if got := claim(st.org, st.user, st.day); got != st.wantOK {
				t.Errorf("%s: ClaimDigest(%d, %d, %s) = %v; want %v", st.name, st.org, st.user, st.day.Format(time.DateOnly), got, st.wantOK)
			}
		}

		must(t, "ReleaseDigest", s.ReleaseDigest(ctx, o.ID, ana.ID, evening))
		if !claim(o.ID, ana.ID, morning) {
			t.Error("ClaimDigest after ReleaseDigest = false; want the digest claimable again")
		}
		if claim(o.ID, ana.ID, nextDay) {
			t.Error("ReleaseDigest of one day released another day too")
		}
		must(t, "ReleaseDigest of an unclaimed digest", s.ReleaseDigest(ctx, other.ID, bo.ID, morning))

		_, err := s.ClaimDigest(ctx, o.ID, 999999, morning)
		wantKind(t, "ClaimDigest for an unknown user", err, domain.KindNotFound)
	})
}

func TestClaimDigestOnceAcrossProcesses(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, a, b *store.Store) {
		o := newOrg(t, a, "acme")
		u := newMember(t, a, o.ID, "ana@acme.example", domain.RoleMember)
		day := time.Date(2026, time.March, 14, 7, 0, 0, 0, time.UTC)
		const tries = 8
		var (
			mu      sync.Mutex
			claimed int
			wg      sync.WaitGroup
		)
		for i := range tries {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				ok, err := s.ClaimDigest(ctx, o.ID, u.ID, day)
				if err != nil {
					t.Errorf("ClaimDigest: %v", err)
					return
				}
				if ok {
					mu.Lock()
					claimed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if claimed != 1 {
			t.Errorf("%d concurrent ClaimDigest calls from two processes made %d claims; want exactly 1", tries, claimed)
		}
	})
}
