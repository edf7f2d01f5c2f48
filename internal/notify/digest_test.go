package notify

import (
	"context"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/notify/notifytest"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

var ctx = context.Background()

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestItemFor(t *testing.T) {
	// A Thursday early in March: the grace for February's monthly evidence runs to 11 March.
	now := time.Date(2026, time.March, 5, 9, 0, 0, 0, time.UTC)
	retired := now.AddDate(0, -1, 0)
	tests := []struct {
		name    string
		control domain.Control
		latest  time.Time
		want    *Item // nil: nothing needed
	}{
		{"quarterly, current", domain.Control{Frequency: domain.FrequencyQuarterly}, date(2025, 12, 31), nil},
		{"quarterly, overdue after grace", domain.Control{Frequency: domain.FrequencyQuarterly}, date(2025, 9, 30),
			&Item{State: Overdue, Period: "Q4 2025", DueDate: date(2026, 1, 31)}},
		{"monthly, due in grace", domain.Control{Frequency: domain.FrequencyMonthly}, date(2026, 1, 31),
			&Item{State: Due, Period: "February 2026", DueDate: date(2026, 3, 11)}},
		{"monthly, the period before missing in grace", domain.Control{Frequency: domain.FrequencyMonthly}, date(2025, 12, 31),
			&Item{State: Overdue, Period: "January 2026", DueDate: date(2026, 2, 11)}},
		{"annual, no evidence", domain.Control{Frequency: domain.FrequencyAnnual}, time.Time{},
			&Item{State: Missing, Period: "2025", DueDate: date(2026, 3, 2)}},
		{"per event, within a year", domain.Control{Frequency: domain.FrequencyPerEvent}, date(2025, 6, 1), nil},
		{"per event, older than a year", domain.Control{Frequency: domain.FrequencyPerEvent}, date(2025, 2, 10),
			&Item{State: Overdue, Period: "the last 12 months", DueDate: date(2026, 2, 10)}},
		{"not applicable", domain.Control{Frequency: domain.FrequencyMonthly, Status: domain.StatusNotApplicable}, time.Time{}, nil},
		{"retired", domain.Control{Frequency: domain.FrequencyMonthly, RetiredAt: &retired}, time.Time{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ItemFor(tt.control, tt.latest, now)
			if tt.want == nil {
				if ok {
					t.Errorf("ItemFor = %+v; want nothing needed", got)
				}
				return
			}
			want := *tt.want
			want.Control, want.LatestEnd = tt.control, tt.latest
			if !ok {
				t.Fatalf("ItemFor = nothing needed; want %+v", want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ItemFor (-want +got):\n%s", diff)
			}
		})
	}
}

// digestOrg is an organization whose owners have evidence in every state on 5 March 2026.
type digestOrg struct {
	st       *store.Store
	org      *domain.Organization
	ana, bo  *domain.User
	controls map[string]*domain.Control
}

func newDigestOrg(tb testing.TB) *digestOrg {
	tb.Helper()
	st := storetest.SQLite(tb)
	lib := []domain.LibraryControl{
		{Ref: "AC-01", Title: "Quarterly access review", Domain: "Access", Frequency: domain.FrequencyQuarterly, Criteria: []string{"CC6.2"}},
		{Ref: "CM-01", Title: "Change approval", Domain: "Change", Frequency: domain.FrequencyMonthly, Criteria: []string{"CC8.1"}},
		{Ref: "HR-01", Title: "Security awareness training", Domain: "People", Frequency: domain.FrequencyAnnual, Criteria: []string{"CC1.4"}},
		{Ref: "OPS-01", Title: "Backup restore test", Domain: "Operations", Frequency: domain.FrequencyMonthly, Criteria: []string{"CC7.5"}},
		{Ref: "OPS-02", Title: "Vulnerability scan", Domain: "Operations", Frequency: domain.FrequencyMonthly, Criteria: []string{"CC7.1"}},
		{Ref: "OPS-03", Title: "Disaster recovery exercise", Domain: "Operations", Frequency: domain.FrequencyAnnual, Criteria: []string{"A1.3"}},
		{Ref: "OPS-04", Title: "Log review", Domain: "Operations", Frequency: domain.FrequencyWeekly, Criteria: []string{"CC7.2"}},
	}
	o := &domain.Organization{Slug: "acme", Name: "Acme Cloud, Inc."}
	admin := domain.SystemActor
	must(tb, "CreateOrganization", st.CreateOrganization(ctx, admin, o, nil, lib))
	d := &digestOrg{st: st, org: o, controls: map[string]*domain.Control{}}
	member := func(email, name string) *domain.User {
		u := &domain.User{Email: email, Name: name}
		must(tb, "CreateUser", st.CreateUser(ctx, u))
		must(tb, "AddMember", st.AddMember(ctx, admin, o.ID, u.ID, domain.RoleMember))
		return u
	}
	d.ana = member("ana@acme.example", "Ana Silva")
	d.bo = member("bo@acme.example", "Bo Berg")
	cy := member("cy@acme.example", "Cy Young")
	owners := map[string]*domain.User{"AC-01": d.ana, "CM-01": d.ana, "HR-01": d.bo, "OPS-01": d.bo, "OPS-02": cy, "OPS-03": cy}
	for _, lc := range lib {
		c, err := st.ControlByRef(ctx, o.ID, lc.Ref)
		must(tb, "ControlByRef", err)
		ch := domain.ControlChange{}
		if u := owners[lc.Ref]; u != nil {
			id := &u.ID
			ch.OwnerID = &id
		}
		if lc.Ref == "OPS-03" {
			na, why := domain.StatusNotApplicable, "No data centre of our own."
			ch.Status, ch.Justification = &na, &why
		}
		c, err = st.UpdateControl(ctx, admin, o.ID, c.ID, ch)
		must(tb, "UpdateControl", err)
		d.controls[lc.Ref] = c
	}
	// OPS-04 has no owner and no evidence: nobody is told.
	d.evidence(tb, "AC-01", date(2025, 7, 1), date(2025, 9, 30))   // overdue: Q4 2025 was due by 31 January
	d.evidence(tb, "CM-01", date(2025, 12, 1), date(2025, 12, 31)) // overdue: January was due by 11 February
	d.evidence(tb, "OPS-01", date(2026, 1, 1), date(2026, 1, 31))  // due: February is due by 11 March
	d.evidence(tb, "OPS-02", date(2026, 2, 1), date(2026, 2, 28))  // current
	// A newer item for CM-01 that was retracted does not count.
	e := d.evidence(tb, "CM-01", date(2026, 1, 1), date(2026, 2, 28))
	_, err := st.RetractEvidence(ctx, admin, o.ID, e.ID, "Uploaded for the wrong control.")
	must(tb, "RetractEvidence", err)
	return d
}

func (d *digestOrg) evidence(tb testing.TB, ref string, from, to time.Time) domain.Evidence {
	tb.Helper()
	items, err := d.st.AddEvidence(ctx, domain.SystemActor, d.org.ID, []domain.NewEvidence{{
		Evidence: domain.Evidence{
			Kind: domain.EvidenceNote, Title: ref + " evidence " + from.Format(time.DateOnly),
			ControlIDs: []int64{d.controls[ref].ID}, PeriodStart: from, PeriodEnd: to, Source: "test",
		},
		Content: []byte(ref + " " + from.String()),
	}})
	must(tb, "AddEvidence", err)
	return items[0]
}

func must(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

var digestNow = time.Date(2026, time.March, 5, 9, 0, 0, 0, time.UTC)

func TestBuild(t *testing.T) {
	d := newDigestOrg(t)
	got, err := Build(ctx, d.st, *d.org, digestNow)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	type row struct {
		Owner, Ref string
		State      State
		Period     string
		Due        string
	}
	var rows []row
	for _, dg := range got {
		for _, it := range dg.Items {
			rows = append(rows, row{dg.Owner.Email, it.Control.Ref, it.State, it.Period, it.DueDate.Format(time.DateOnly)})
		}
	}
	want := []row{
		{"ana@acme.example", "AC-01", Overdue, "Q4 2025", "2026-01-31"},
		{"ana@acme.example", "CM-01", Overdue, "January 2026", "2026-02-11"},
		{"bo@acme.example", "HR-01", Missing, "2025", "2026-03-02"},
		{"bo@acme.example", "OPS-01", Due, "February 2026", "2026-03-11"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Build (-want +got):\n%s", diff)
	}
}

// newSender returns a Sender for the organization's store through the test server.
func newSender(d *digestOrg, srv *notifytest.Server, now time.Time) *Sender {
	return &Sender{
		Store:   d.st,
		Mailer:  client(srv, "", ""),
		From:    mail.Address{Name: "Evident", Address: "evident@acme.example"},
		BaseURL: "https://evident.acme.example/",
		Hour:    DefaultHour,
		Now:     func() time.Time { return now },
	}
}

func TestSenderSendsOneDigestPerOwnerPerDay(t *testing.T) {
	d := newDigestOrg(t)
	srv := notifytest.Start(t, notifytest.Options{})

	off := newSender(d, srv, digestNow)
	off.Mailer = nil
	if n, err := off.SendDue(ctx); n != 0 || err != nil {
		t.Fatalf("SendDue without SMTP = %d, %v; want 0, nil", n, err)
	}
	early := newSender(d, srv, digestNow.Add(-3*time.Hour)) // 06:00, before the digest hour
	if n, err := early.SendDue(ctx); n != 0 || err != nil {
		t.Fatalf("SendDue before the hour = %d, %v; want 0, nil", n, err)
	}
	if msgs := srv.Messages(); len(msgs) != 0 {
		t.Fatalf("the server received %d messages without SMTP or before the hour; want none", len(msgs))
	}

	s := newSender(d, srv, digestNow)
	if n, err := s.SendDue(ctx); n != 2 || err != nil {
		t.Fatalf("SendDue = %d, %v; want 2 digests (Ana and Bo), nil", n, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("the server received %d messages; want 2", len(msgs))
	}
	var rcpts []string
	for _, m := range msgs {
		if m.From != "evident@acme.example" {
			t.Errorf("envelope sender = %q; want evident@acme.example", m.From)
		}
		rcpts = append(rcpts, m.To...)
	}
	if diff := cmp.Diff([]string{"ana@acme.example", "bo@acme.example"}, rcpts); diff != "" {
		t.Errorf("recipients (-want +got):\n%s", diff)
	}

	ana := parseMessage(t, msgs[0].Data)
	if got, want := ana.Header.Get("To"), `"Ana Silva" <ana@acme.example>`; got != want {
		t.Errorf("To = %q; want %q", got, want)
	}
	if got, want := ana.Header.Get("From"), `"Evident" <evident@acme.example>`; got != want {
		t.Errorf("From = %q; want %q", got, want)
	}
	if want := "Evidence needed for 2 controls in Acme Cloud, Inc. (2 overdue)"; ana.Subject != want {
		t.Errorf("Subject = %q; want %q", ana.Subject, want)
	}
	ac, cm := d.controls["AC-01"].ID, d.controls["CM-01"].ID
	wantText := `Hello Ana,

2 controls you own in Acme Cloud, Inc. need evidence: 2 overdue.

Overdue

  AC-01 Quarterly access review (quarterly)
    Evidence for Q4 2025 was due by 31 January 2026. Current evidence reaches 30 September 2025.
    https://evident.acme.example/controls/` + itoa(ac) + `

  CM-01 Change approval (monthly)
    Evidence for January 2026 was due by 11 February 2026. Current evidence reaches 31 December 2025.
    https://evident.acme.example/controls/` + itoa(cm) + `

Add evidence on each control's page (https://evident.acme.example/), or from the command line:
  evident evidence add --org acme --control REF --file PATH --from DATE --to DATE

You receive this digest once a day while controls you own need evidence.
-- Evident
`
	if diff := cmp.Diff(wantText, ana.Text); diff != "" {
		t.Errorf("Ana's digest text (-want +got):\n%s", diff)
	}
	for _, w := range []string{
		`<a href="https://evident.acme.example/controls/` + itoa(ac) + `" style="color: #1d4ed8;">AC-01</a>`,
		"Evidence for Q4 2025 was due by 31 January 2026.",
		"<h2", "Overdue",
	} {
		if !strings.Contains(ana.HTML, w) {
			t.Errorf("Ana's digest HTML lacks %q:\n%s", w, ana.HTML)
		}
	}
	bo := parseMessage(t, msgs[1].Data)
	for _, w := range []string{
		"1 no evidence yet, 1 due soon",
		"No evidence yet\n\n  HR-01 Security awareness training (annual)\n    Evidence for 2025 is due by 2 March 2026.",
		"Due soon\n\n  OPS-01 Backup restore test (monthly)\n    Evidence for February 2026 is due by 11 March 2026. Current evidence reaches 31 January 2026.",
	} {
		if !strings.Contains(bo.Text, w) {
			t.Errorf("Bo's digest lacks %q:\n%s", w, bo.Text)
		}
	}
	if want := "Evidence needed for 2 controls in Acme Cloud, Inc."; bo.Subject != want {
		t.Errorf("Bo's subject = %q; want %q", bo.Subject, want)
	}

	// Later the same day, here or on another replica: nothing more.
	again := newSender(d, srv, digestNow.Add(5*time.Hour))
	if n, err := again.SendDue(ctx); n != 0 || err != nil {
		t.Errorf("SendDue again the same day = %d, %v; want 0, nil", n, err)
	}
	// The next day, again.
	next := newSender(d, srv, digestNow.AddDate(0, 0, 1))
	if n, err := next.SendDue(ctx); n != 2 || err != nil {
		t.Errorf("SendDue the next day = %d, %v; want 2, nil", n, err)
	}
	if n := len(srv.Messages()); n != 4 {
		t.Errorf("the server received %d messages in all; want 4", n)
	}
}

func TestSenderRetriesAFailedDigest(t *testing.T) {
	d := newDigestOrg(t)
	srv := notifytest.Start(t, notifytest.Options{})
	srv.Reject("bo@acme.example", true)
	s := newSender(d, srv, digestNow)
	n, err := s.SendDue(ctx)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "digest of acme for bo@acme.example") || !strings.Contains(err.Error(), "recipient bo@acme.example") {
		t.Fatalf("SendDue with Bo's mailbox refusing = %d, %v; want 1 and an error naming Bo", n, err)
	}
	srv.Reject("bo@acme.example", false)
	if n, err := s.SendDue(ctx); n != 1 || err != nil {
		t.Fatalf("SendDue once Bo's mailbox accepts = %d, %v; want 1 (Bo's digest only), nil", n, err)
	}
	var rcpts []string
	for _, m := range srv.Messages() {
		rcpts = append(rcpts, m.To...)
	}
	if diff := cmp.Diff([]string{"ana@acme.example", "bo@acme.example"}, rcpts); diff != "" {
		t.Errorf("recipients (-want +got):\n%s", diff)
	}
}

func TestSenderWithNothingDue(t *testing.T) {
	d := newDigestOrg(t)
	srv := notifytest.Start(t, notifytest.Options{})
	// Ana's and Bo's evidence brought up to date.
	d.evidence(t, "AC-01", date(2025, 10, 1), date(2025, 12, 31))
	d.evidence(t, "CM-01", date(2026, 1, 1), date(2026, 2, 28))
	d.evidence(t, "HR-01", date(2025, 1, 1), date(2025, 12, 31))
	d.evidence(t, "OPS-01", date(2026, 2, 1), date(2026, 2, 28))
	if n, err := newSender(d, srv, digestNow).SendDue(ctx); n != 0 || err != nil {
		t.Errorf("SendDue with everything current = %d, %v; want 0, nil", n, err)
	}
	if msgs := srv.Messages(); len(msgs) != 0 {
		t.Errorf("the server received %d messages; want none", len(msgs))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
