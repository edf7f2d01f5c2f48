package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// addOne adds one item and returns it as stored.
func addOne(tb testing.TB, s *store.Store, orgID int64, item domain.NewEvidence) domain.Evidence {
	tb.Helper()
	got, err := s.AddEvidence(ctx, admin, orgID, []domain.NewEvidence{item})
	if err != nil {
		tb.Fatalf("AddEvidence(%q) = %v", item.Title, err)
	}
	return got[0]
}

// loadEvidence reads an item that must exist.
func loadEvidence(tb testing.TB, s *store.Store, orgID, id int64) domain.Evidence {
	tb.Helper()
	e, err := s.Evidence(ctx, orgID, id)
	if err != nil {
		tb.Fatalf("Evidence(%d) = %v", id, err)
	}
	return *e
}

// ids returns the items' IDs in order.
func ids(items []domain.Evidence) []int64 {
	out := []int64{}
	for _, e := range items {
		out = append(out, e.ID)
	}
	return out
}

func TestAddEvidence(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Date(2026, 4, 10, 9, 30, 15, 123456789, time.UTC)
		s.Now = func() time.Time { return now }
		o := newOrg(t, s, "acme")
		owner := newMember(t, s, o.ID, "owner@acme.example", domain.RoleOwner)
		mfa, training := controlByRef(t, s, o.ID, "AC-01"), controlByRef(t, s, o.ID, "HR-01")
		actor := domain.Actor{UserID: owner.ID, Email: owner.Email}

		content := []byte("Q1 access review: 42 accounts checked, 3 removed.")
		item := domain.NewEvidence{
			Evidence: domain.Evidence{
				Kind: domain.EvidenceNote, Title: "  Q1 access review ", Description: "Signed off by the CTO.",
				ControlIDs: []int64{training.ID, mfa.ID, training.ID}, MediaType: "text/plain; charset=utf-8",
				PeriodStart: time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC), PeriodEnd: day("2026-03-31"),
				Source: "owner@acme.example",
			},
			Content: content,
		}
		added, err := s.AddEvidence(ctx, actor, o.ID, []domain.NewEvidence{item})
		must(t, "AddEvidence", err)
		size, err := s.LedgerSize(ctx, o.ID)
		must(t, "LedgerSize", err)
		want := domain.Evidence{
			ID: added[0].ID, OrgID: o.ID, Kind: domain.EvidenceNote, Title: "Q1 access review",
			Description: "Signed off by the CTO.", ControlIDs: []int64{mfa.ID, training.ID},
			PeriodStart: day("2026-01-01"), PeriodEnd: day("2026-03-31"), CollectedAt: now.Truncate(time.Microsecond),
			Source: "owner@acme.example", SHA256: sha(content), Size: int64(len(content)),
			MediaType: "text/plain; charset=utf-8", AddedBy: owner.ID, AddedByName: "owner",
			AddedAt: now.Truncate(time.Microsecond), LedgerIndex: size - 1,
		}
		if diff := cmp.Diff([]domain.Evidence{want}, added); diff != "" {
			t.Errorf("AddEvidence returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, loadEvidence(t, s, o.ID, want.ID)); diff != "" {
			t.Errorf("Evidence(%d) (-want +got):\n%s", want.ID, diff)
		}
		got, err := s.EvidenceContent(ctx, o.ID, want.ID)
		must(t, "EvidenceContent", err)
		if string(got) != string(content) {
			t.Errorf("EvidenceContent = %q; want %q", got, content)
		}

		e := lastEvent(t, s, o.ID)
		if e.Index != want.LedgerIndex || e.Type != domain.EventEvidenceAdded || e.Subject != subject("evidence", want.ID) ||
			e.ActorID != owner.ID || e.Actor != owner.Email {
			t.Errorf("last event = %d %s %s by %d %s; want %d %s evidence:%d by the owner", e.Index, e.Type, e.Subject, e.ActorID, e.Actor,
				want.LedgerIndex, domain.EventEvidenceAdded, want.ID)
		}
		wantData := map[string]any{
			"evidence_id": num(want.ID), "kind": "note", "title": "Q1 access review", "description": "Signed off by the CTO.",
			"sha256": want.SHA256, "size": num(want.Size), "media_type": "text/plain; charset=utf-8",
			"period_start": "2026-01-01", "period_end": "2026-03-31", "collected_at": "2026-04-10T09:30:15.123456Z",
			"source": "owner@acme.example", "supersedes": nil,
			"controls": []any{
				map[string]any{"id": num(mfa.ID), "ref": "AC-01"},
				map[string]any{"id": num(training.ID), "ref": "HR-01"},
			},
		}
		if diff := cmp.Diff(wantData, eventData(t, e)); diff != "" {
			t.Errorf("evidence.added data (-want +got):\n%s", diff)
		}
	})
}

func TestAddEvidenceBatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		mfa := controlByRef(t, s, o.ID, "AC-01")
		before, err := s.LedgerSize(ctx, o.ID)
		must(t, "LedgerSize", err)
		blobSHA := strings.Repeat("ab", 32)
		items := []domain.NewEvidence{
			noteItem("First", mfa.ID),
			{Evidence: domain.Evidence{
				Kind: domain.EvidenceFile, Title: "Large export", FileName: "users.csv", MediaType: "text/csv",
				SHA256: blobSHA, Size: 5 << 20, PeriodStart: day("2026-03-31"), PeriodEnd: day("2026-03-31"),
				CollectedAt: time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC),
			}},
			noteItem("First", mfa.ID), // the same content again: stored once
			{Evidence: domain.Evidence{
				Kind: domain.EvidenceLink, Title: "Runbook", URL: "https://wiki.example.com/runbook",
				PeriodStart: day("2026-01-01"), PeriodEnd: day("2026-12-31"),
			}, Content: []byte("https://wiki.example.com/runbook")},
		}
		for i := range 200 {
			items = append(items, noteItem(fmt.Sprintf("Ingested %d", i), mfa.ID))
		}
		added, err := s.AddEvidence(ctx, admin, o.ID, items)
		must(t, "AddEvidence", err)
		if len(added) != len(items) {
			t.Fatalf("AddEvidence returned %d items; want %d", len(added), len(items))
		}
		for i, e := range added {
			if e.LedgerIndex != before+int64(i) || e.Title != strings.TrimSpace(items[i].Title) {
				t.Errorf("item %d = %q at ledger index %d; want %q at %d", i, e.Title, e.LedgerIndex, items[i].Title, before+int64(i))
			}
			if i > 0 && e.ID <= added[i-1].ID {
				t.Errorf("item %d has ID %d, not above the previous %d", i, e.ID, added[i-1].ID)
			}
			if diff := cmp.Diff(e, loadEvidence(t, s, o.ID, e.ID)); diff != "" {
				t.Errorf("item %d: Evidence(%d) differs from what AddEvidence returned (-returned +loaded):\n%s", i, e.ID, diff)
			}
		}
		if f := added[1]; f.Size != 5<<20 || f.SHA256 != blobSHA || f.MediaType != "text/csv" || f.ControlIDs == nil || len(f.ControlIDs) != 0 {
			t.Errorf("blob item = size %d, sha %s, type %s, controls %v; want what was given and no controls", f.Size, f.SHA256, f.MediaType, f.ControlIDs)
		}
		if added[3].MediaType != "application/octet-stream" {
			t.Errorf("item without a media type got %q; want application/octet-stream", added[3].MediaType)
		}
		_, err = s.EvidenceContent(ctx, o.ID, added[1].ID)
		wantKind(t, "EvidenceContent(blob item)", err, domain.KindNotFound)
		_, err = s.EvidenceContent(ctx, o.ID, added[len(added)-1].ID+1)
		wantKind(t, "EvidenceContent(no such item)", err, domain.KindNotFound)
		// The same content twice in a batch is there for each item.
		for _, i := range []int{0, 2} {
			got, err := s.EvidenceContent(ctx, o.ID, added[i].ID)
			if err != nil || string(got) != string(items[i].Content) {
				t.Errorf("EvidenceContent(item %d) = %q, %v; want %q", i, got, err, items[i].Content)
			}
		}

		events := trail(t, s, o.ID)[before:]
		if len(events) != len(items) {
			t.Fatalf("the batch recorded %d events; want %d", len(events), len(items))
		}
		for i, e := range events {
			if e.Type != domain.EventEvidenceAdded || e.Subject != subject("evidence", added[i].ID) {
				t.Errorf("event %d = %s %s; want %s evidence:%d", e.Index, e.Type, e.Subject, domain.EventEvidenceAdded, added[i].ID)
			}
		}
		checkLedger(t, s, o.ID)
	})
}

func TestAddEvidenceInvalid(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		acme, other := newOrg(t, s, "acme"), newOrg(t, s, "other")
		mfa := controlByRef(t, s, acme.ID, "AC-01")
		foreign := controlByRef(t, s, other.ID, "AC-01")
		tests := []struct {
			name   string
			change func(*domain.NewEvidence)
			field  string
		}{
			{"no title", func(e *domain.NewEvidence) { e.Title = " " }, "title"},
			{"unknown kind", func(e *domain.NewEvidence) { e.Kind = "video" }, "kind"},
			{"period end before start", func(e *domain.NewEvidence) { e.PeriodEnd = day("2025-12-31") }, "period_end"},
			{"no period", func(e *domain.NewEvidence) { e.PeriodStart = time.Time{} }, "period_start"},
			{"hash not of the content", func(e *domain.NewEvidence) { e.SHA256 = strings.Repeat("0", 64) }, "sha256"},
			{"blob item without hash", func(e *domain.NewEvidence) { e.Content = nil }, "sha256"},
			{"content too large for inline", func(e *domain.NewEvidence) { e.Content = make([]byte, domain.MaxInlineContent+1) }, "content"},
			{"another organization's control", func(e *domain.NewEvidence) { e.ControlIDs = []int64{mfa.ID, foreign.ID} }, "controls"},
			{"no such control", func(e *domain.NewEvidence) { e.ControlIDs = []int64{foreign.ID + 1000} }, "controls"},
			{"zero control ID", func(e *domain.NewEvidence) { e.ControlIDs = []int64{0} }, "controls"},
			{"supersedes set", func(e *domain.NewEvidence) { e.Supersedes = &mfa.ID }, "supersedes"},
			{"link without URL", func(e *domain.NewEvidence) { e.Kind = domain.EvidenceLink }, "url"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				item := noteItem("Bad", mfa.ID)
				tt.change(&item)
				_, err := s.AddEvidence(ctx, admin, acme.ID, []domain.NewEvidence{item})
				wantInvalid(t, "AddEvidence(one item)", err, tt.field)
				if strings.Contains(err.Error(), "items[") {
					t.Errorf("AddEvidence(one item) = %v; want no position for a single item", err)
				}
				// In a batch the error says which item.
				_, err = s.AddEvidence(ctx, admin, acme.ID, []domain.NewEvidence{noteItem("Good", mfa.ID), item})
				wantInvalid(t, "AddEvidence(batch)", err, "items[1]."+tt.field)
			})
		}
		_, err := s.AddEvidence(ctx, admin, acme.ID, nil)
		wantInvalid(t, "AddEvidence(no items)", err, "items")
		_, err = s.AddEvidence(ctx, admin, acme.ID+1000, []domain.NewEvidence{noteItem("Lost")})
		wantKind(t, "AddEvidence(unknown organization)", err, domain.KindNotFound)
		list, err := s.EvidenceList(ctx, acme.ID, domain.EvidenceFilter{IncludeRetracted: true, IncludeSuperseded: true})
		must(t, "EvidenceList", err)
		if len(list) != 0 {
			t.Errorf("after only invalid additions, EvidenceList = %d items; want none", len(list))
		}
		checkLedger(t, s, acme.ID)
	})
}

// TestAddEvidenceRollsBack makes the database refuse the ledger entry of one item of a
// batch, after the batch's evidence rows went in: nothing of the batch remains, and the
// ledger goes on from where it was.
func TestAddEvidenceRollsBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		mfa := controlByRef(t, s, o.ID, "AC-01")
		addOne(t, s, o.ID, noteItem("Before", mfa.ID))
		before, err := s.LedgerSize(ctx, o.ID)
		must(t, "LedgerSize", err)
		if s.Engine() == "sqlite" {
			must(t, "create trigger", s.ExecForTest(ctx, `CREATE TRIGGER refuse_boom BEFORE INSERT ON events
				WHEN NEW.data LIKE '%"title":"boom"%' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`))
		} else {
			must(t, "create trigger", s.ExecForTest(ctx, `CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
				CREATE TRIGGER refuse_boom BEFORE INSERT ON events FOR EACH ROW
				WHEN (NEW.data LIKE '%"title":"boom"%') EXECUTE FUNCTION refuse_boom()`))
		}
		var batch []domain.NewEvidence
		for i := range 250 {
			batch = append(batch, noteItem(fmt.Sprintf("Batch %d", i), mfa.ID))
		}
		batch[180] = noteItem("boom", mfa.ID)
		_, err = s.AddEvidence(ctx, admin, o.ID, batch)
		if err == nil || !strings.Contains(err.Error(), "refused by the test") {
			t.Fatalf("AddEvidence(batch with a refused item) = %v; want the database's refusal", err)
		}
		if n, err := s.LedgerSize(ctx, o.ID); err != nil || n != before {
			t.Errorf("LedgerSize after the failed batch = %d, %v; want %d", n, err, before)
		}
		list, err := s.EvidenceList(ctx, o.ID, domain.EvidenceFilter{})
		must(t, "EvidenceList", err)
		if len(list) != 1 || list[0].Title != "Before" {
			t.Errorf("EvidenceList after the failed batch = %v; want only the item added before", ids(list))
		}
		latest, err := s.LatestEvidence(ctx, o.ID)
		must(t, "LatestEvidence", err)
		if diff := cmp.Diff(map[int64]time.Time{mfa.ID: day("2026-03-31")}, latest); diff != "" {
			t.Errorf("LatestEvidence after the failed batch (-want +got):\n%s", diff)
		}
		batch[180] = noteItem("Batch 180", mfa.ID)
		_, err = s.AddEvidence(ctx, admin, o.ID, batch)
		must(t, "AddEvidence(batch again)", err)
		checkLedger(t, s, o.ID)
	})
}

func TestSupersedeAndRetractEvidence(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		now := time.Date(2026, 4, 10, 9, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return now }
		acme, other := newOrg(t, s, "acme"), newOrg(t, s, "other")
		mfa := controlByRef(t, s, acme.ID, "AC-01")
		old := addOne(t, s, acme.ID, noteItem("Q1 review", mfa.ID))
		foreign := addOne(t, s, other.ID, noteItem("Theirs"))

		fix := noteItem("Q1 review, corrected", mfa.ID)
		fix.Content = []byte("corrected text")
		newer, err := s.SupersedeEvidence(ctx, admin, acme.ID, old.ID, fix)
		must(t, "SupersedeEvidence", err)
		if newer.Supersedes == nil || *newer.Supersedes != old.ID || !newer.Current() {
			t.Errorf("the correction supersedes %v, current %v; want %d and current", newer.Supersedes, newer.Current(), old.ID)
		}
		got := loadEvidence(t, s, acme.ID, old.ID)
		if got.SupersededBy == nil || *got.SupersededBy != newer.ID || got.Current() {
			t.Errorf("the old item is superseded by %v, current %v; want %d and not current", got.SupersededBy, got.Current(), newer.ID)
		}
		e := lastEvent(t, s, acme.ID)
		if e.Type != domain.EventEvidenceSuperseded || e.Subject != subject("evidence", newer.ID) || e.Index != newer.LedgerIndex {
			t.Errorf("last event = %d %s %s; want %d %s evidence:%d", e.Index, e.Type, e.Subject, newer.LedgerIndex, domain.EventEvidenceSuperseded, newer.ID)
		}
		if d := eventData(t, e); d["supersedes"] != num(old.ID) || d["sha256"] != sha([]byte("corrected text")) {
			t.Errorf("evidence.superseded data = %v; want supersedes %d and the new hash", d, old.ID)
		}

		_, err = s.SupersedeEvidence(ctx, admin, acme.ID, old.ID, noteItem("Twice", mfa.ID))
		wantKind(t, "SupersedeEvidence(already superseded)", err, domain.KindConflict)
		_, err = s.RetractEvidence(ctx, admin, acme.ID, old.ID, "wrong")
		wantKind(t, "RetractEvidence(superseded)", err, domain.KindConflict)
		_, err = s.SupersedeEvidence(ctx, admin, acme.ID, foreign.ID, noteItem("Steal", mfa.ID))
		wantKind(t, "SupersedeEvidence(another organization's item)", err, domain.KindNotFound)
		_, err = s.SupersedeEvidence(ctx, admin, acme.ID, newer.ID, noteItem("", mfa.ID))
		wantInvalid(t, "SupersedeEvidence(invalid item)", err, "title")
		other7 := int64(7)
		bad := noteItem("Other", mfa.ID)
		bad.Supersedes = &other7
		_, err = s.SupersedeEvidence(ctx, admin, acme.ID, newer.ID, bad)
		wantInvalid(t, "SupersedeEvidence(item naming another)", err, "supersedes")

		_, err = s.RetractEvidence(ctx, admin, acme.ID, newer.ID, "  ")
		wantInvalid(t, "RetractEvidence(no reason)", err, "reason")
		_, err = s.RetractEvidence(ctx, admin, acme.ID, foreign.ID, "not ours")
		wantKind(t, "RetractEvidence(another organization's item)", err, domain.KindNotFound)
		_, err = s.RetractEvidence(ctx, admin, acme.ID+1000, newer.ID, "lost")
		wantKind(t, "RetractEvidence(unknown organization)", err, domain.KindNotFound)
		now = now.Add(time.Hour)
		retracted, err := s.RetractEvidence(ctx, admin, acme.ID, newer.ID, " The review covered the wrong system. ")
		must(t, "RetractEvidence", err)
		if retracted.RetractedAt == nil || !retracted.RetractedAt.Equal(now) || retracted.RetractReason != "The review covered the wrong system." || retracted.Current() {
			t.Errorf("retracted item = at %v, reason %q; want at %v with the trimmed reason", retracted.RetractedAt, retracted.RetractReason, now)
		}
		wantEvent(t, lastEvent(t, s, acme.ID), domain.EventEvidenceRetracted, subject("evidence", newer.ID), map[string]any{
			"evidence_id": num(newer.ID), "title": "Q1 review, corrected", "sha256": newer.SHA256,
			"reason": "The review covered the wrong system.",
		})
		_, err = s.RetractEvidence(ctx, admin, acme.ID, newer.ID, "again")
		wantKind(t, "RetractEvidence(already retracted)", err, domain.KindConflict)
		_, err = s.SupersedeEvidence(ctx, admin, acme.ID, newer.ID, noteItem("After retraction", mfa.ID))
		wantKind(t, "SupersedeEvidence(retracted)", err, domain.KindConflict)

		latest, err := s.LatestEvidence(ctx, acme.ID)
		must(t, "LatestEvidence", err)
		if len(latest) != 0 {
			t.Errorf("LatestEvidence with only superseded and retracted items = %v; want none", latest)
		}
		checkLedger(t, s, acme.ID)
	})
}

func TestEvidenceList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		mfa, review, training := controlByRef(t, s, o.ID, "AC-01"), controlByRef(t, s, o.ID, "CM-01"), controlByRef(t, s, o.ID, "HR-01")
		item := func(title string, kind domain.EvidenceKind, from, to string, controls ...int64) domain.NewEvidence {
			it := noteItem(title, controls...)
			it.Kind, it.PeriodStart, it.PeriodEnd = kind, day(from), day(to)
			return it
		}
		added, err := s.AddEvidence(ctx, admin, o.ID, []domain.NewEvidence{
			item("Q4 MFA", domain.EvidenceSnapshot, "2025-10-01", "2025-12-31", mfa.ID),
			item("Q1 MFA", domain.EvidenceSnapshot, "2026-01-01", "2026-03-31", mfa.ID),
			item("Training 2025", domain.EvidenceNote, "2025-01-01", "2025-12-31", training.ID, mfa.ID),
			item("Change log", domain.EvidenceNote, "2026-02-01", "2026-02-28", review.ID),
			item("Withdrawn", domain.EvidenceNote, "2026-03-01", "2026-03-31", review.ID),
			item("Replaced", domain.EvidenceNote, "2026-03-01", "2026-06-30", training.ID),
		})
		must(t, "AddEvidence", err)
		q4, q1, tr, cl, wd, rp := added[0].ID, added[1].ID, added[2].ID, added[3].ID, added[4].ID, added[5].ID
		_, err = s.RetractEvidence(ctx, admin, o.ID, wd, "duplicate")
		must(t, "RetractEvidence", err)
		corr, err := s.SupersedeEvidence(ctx, admin, o.ID, rp, item("Replacement", domain.EvidenceNote, "2026-03-01", "2026-05-31", training.ID))
		must(t, "SupersedeEvidence", err)

		date := func(s string) *time.Time { d := day(s); return &d }
		tests := []struct {
			name string
			f    domain.EvidenceFilter
			want []int64
		}{
			{"current, newest first", domain.EvidenceFilter{}, []int64{corr.ID, cl, tr, q1, q4}},
			{"with superseded", domain.EvidenceFilter{IncludeSuperseded: true}, []int64{corr.ID, rp, cl, tr, q1, q4}},
			{"with retracted", domain.EvidenceFilter{IncludeRetracted: true}, []int64{corr.ID, wd, cl, tr, q1, q4}},
			{"by control", domain.EvidenceFilter{ControlID: mfa.ID}, []int64{tr, q1, q4}},
			{"by kind", domain.EvidenceFilter{Kind: domain.EvidenceSnapshot}, []int64{q1, q4}},
			{"period reaching 2026", domain.EvidenceFilter{Since: date("2026-01-01")}, []int64{corr.ID, cl, q1}},
			{"period starting by 2025-12-31", domain.EvidenceFilter{Until: date("2025-12-31")}, []int64{tr, q4}},
			{"period touching February", domain.EvidenceFilter{Since: date("2026-02-01"), Until: date("2026-02-28")}, []int64{cl, q1}},
			{"a page", domain.EvidenceFilter{Limit: 2}, []int64{corr.ID, cl}},
			{"the next page", domain.EvidenceFilter{Limit: 2, Before: cl}, []int64{tr, q1}},
			{"another organization's control", domain.EvidenceFilter{ControlID: mfa.ID + 1000}, []int64{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.EvidenceList(ctx, o.ID, tt.f)
				must(t, "EvidenceList", err)
				if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
					t.Errorf("EvidenceList(%+v) mismatch (-want +got):\n%s", tt.f, diff)
				}
				for _, e := range got {
					if diff := cmp.Diff(loadEvidence(t, s, o.ID, e.ID), e); diff != "" {
						t.Errorf("listed item %d differs from Evidence(%d) (-loaded +listed):\n%s", e.ID, e.ID, diff)
					}
				}
			})
		}
		_, err = s.EvidenceList(ctx, o.ID, domain.EvidenceFilter{Kind: "video"})
		wantInvalid(t, "EvidenceList(unknown kind)", err, "kind")
		_, err = s.EvidenceList(ctx, o.ID, domain.EvidenceFilter{Limit: -1})
		wantInvalid(t, "EvidenceList(negative limit)", err, "limit")

		latest, err := s.LatestEvidence(ctx, o.ID)
		must(t, "LatestEvidence", err)
		want := map[int64]time.Time{mfa.ID: day("2026-03-31"), review.ID: day("2026-02-28"), training.ID: day("2026-05-31")}
		if diff := cmp.Diff(want, latest); diff != "" {
			t.Errorf("LatestEvidence (-want +got):\n%s", diff)
		}
	})
}

func TestEvidenceTenancy(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		acme, other := newOrg(t, s, "acme"), newOrg(t, s, "other")
		mine := addOne(t, s, acme.ID, noteItem("Mine", controlByRef(t, s, acme.ID, "AC-01").ID))
		theirs := addOne(t, s, other.ID, noteItem("Theirs", controlByRef(t, s, other.ID, "AC-01").ID))

		_, err := s.Evidence(ctx, acme.ID, theirs.ID)
		wantKind(t, "Evidence(another organization's item)", err, domain.KindNotFound)
		_, err = s.EvidenceContent(ctx, acme.ID, theirs.ID)
		wantKind(t, "EvidenceContent(another organization's item)", err, domain.KindNotFound)
		list, err := s.EvidenceList(ctx, acme.ID, domain.EvidenceFilter{IncludeRetracted: true, IncludeSuperseded: true})
		must(t, "EvidenceList", err)
		if diff := cmp.Diff([]int64{mine.ID}, ids(list)); diff != "" {
			t.Errorf("EvidenceList(acme) (-want +got):\n%s", diff)
		}
		list, err = s.EvidenceList(ctx, acme.ID, domain.EvidenceFilter{ControlID: theirs.ControlIDs[0]})
		must(t, "EvidenceList(another organization's control)", err)
		if len(list) != 0 {
			t.Errorf("EvidenceList(acme, their control) = %v; want none", ids(list))
		}
		latest, err := s.LatestEvidence(ctx, acme.ID)
		must(t, "LatestEvidence", err)
		if _, ok := latest[theirs.ControlIDs[0]]; ok || len(latest) != 1 {
			t.Errorf("LatestEvidence(acme) = %v; want only acme's control", latest)
		}
		if got, err := s.EvidenceContent(ctx, acme.ID, mine.ID); err != nil || string(got) != "Reviewed: Mine" {
			t.Errorf("EvidenceContent(acme, its own item) = %q, %v; want its content", got, err)
		}
	})
}

// TestEvidenceContentCorrupt changes inline content behind the store's back: reading it
// fails rather than serving bytes that no longer match the item's hash.
func TestEvidenceContentCorrupt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		e := addOne(t, s, o.ID, noteItem("Fragile"))
		must(t, "tamper", s.ExecForTest(ctx, `UPDATE evidence_contents SET data = $1 WHERE evidence_id = $2`, []byte("Reviewed: Sturdy"), e.ID))
		_, err := s.EvidenceContent(ctx, o.ID, e.ID)
		if !errors.Is(err, store.ErrContentCorrupt) {
			t.Errorf("EvidenceContent(tampered) = %v; want ErrContentCorrupt", err)
		}
	})
}
