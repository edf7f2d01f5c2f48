package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
)

var ctx = context.Background()

// admin is the actor of the changes the tests make.
var admin = domain.Actor{UserID: 0, Email: "admin@example.com"}

// testLibrary is a small control library with real criteria.
func testLibrary() []domain.LibraryControl {
	return []domain.LibraryControl{
		{
			Ref: "AC-01", Title: "Multi-factor authentication", Description: "People sign in with a second factor.",
			Domain: "Access control", Frequency: domain.FrequencyContinuous, EvidenceExpected: "IdP MFA policy",
			Criteria: []string{"CC6.1", "CC6.2"}, Finding: "MFA is not enforced",
		},
		{
			Ref: "CM-01", Title: "Change review", Description: "Every change to production is reviewed.",
			Domain: "Change management", Frequency: domain.FrequencyPerEvent, EvidenceExpected: "Pull requests with approvals",
			Criteria: []string{"CC8.1"}, Finding: "Changes reach production unreviewed",
		},
		{
			Ref: "HR-01", Title: "Security awareness training", Description: "Staff complete training every year.",
			Domain: "Human resources", Frequency: domain.FrequencyAnnual, EvidenceExpected: "Training completion records",
			Criteria: []string{"CC1.4", "CC2.2"}, Finding: "No security awareness training",
		},
	}
}

// newOrg creates an organization with the test library and the default scope.
func newOrg(tb testing.TB, s *store.Store, slug string) *domain.Organization {
	tb.Helper()
	o := &domain.Organization{Slug: slug, Name: "Org " + slug}
	if err := s.CreateOrganization(ctx, admin, o, nil, testLibrary()); err != nil {
		tb.Fatalf("CreateOrganization(%q) = %v", slug, err)
	}
	return o
}

// newUser creates a user.
func newUser(tb testing.TB, s *store.Store, email string) *domain.User {
	tb.Helper()
	u := &domain.User{Email: email, Name: strings.Split(email, "@")[0]}
	if err := s.CreateUser(ctx, u); err != nil {
		tb.Fatalf("CreateUser(%q) = %v", email, err)
	}
	return u
}

// newMember creates a user and makes them a member of the organization.
func newMember(tb testing.TB, s *store.Store, orgID int64, email string, role domain.Role) *domain.User {
	tb.Helper()
	u := newUser(tb, s, email)
	if err := s.AddMember(ctx, admin, orgID, u.ID, role); err != nil {
		tb.Fatalf("AddMember(%q, %s) = %v", email, role, err)
	}
	return u
}

// controlByRef loads a control that must exist.
func controlByRef(tb testing.TB, s *store.Store, orgID int64, ref string) *domain.Control {
	tb.Helper()
	c, err := s.ControlByRef(ctx, orgID, ref)
	if err != nil {
		tb.Fatalf("ControlByRef(%q) = %v", ref, err)
	}
	return c
}

// wantKind fails unless err is of the given kind.
func wantKind(tb testing.TB, what string, err error, kind domain.Kind) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s = nil; want a %s error", what, kind)
	}
	if got := domain.KindOf(err); got != kind {
		tb.Fatalf("%s = %v (kind %s); want kind %s", what, err, got, kind)
	}
}

// wantInvalid fails unless err is KindInvalid naming the field.
func wantInvalid(tb testing.TB, what string, err error, field string) {
	tb.Helper()
	wantKind(tb, what, err, domain.KindInvalid)
	if got := domain.FieldOf(err); got != field {
		tb.Fatalf("%s = %v (field %q); want field %q", what, err, got, field)
	}
}

// must fails the test on an error.
func must(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s = %v", what, err)
	}
}

// trail returns the organization's whole audit trail, oldest first, and checks that its
// indexes count from 0 without gaps.
func trail(tb testing.TB, s *store.Store, orgID int64) []domain.Event {
	tb.Helper()
	var all []domain.Event
	var before int64
	for {
		page, err := s.Events(ctx, orgID, domain.EventFilter{Before: before, Limit: 1000})
		if err != nil {
			tb.Fatalf("Events(%d) = %v", orgID, err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
		before = page[len(page)-1].Index
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	for i, e := range all {
		if e.Index != int64(i) {
			tb.Fatalf("event %d of org %d has index %d; want %d (indexes must count from 0 without gaps)", i, orgID, e.Index, i)
		}
		if e.OrgID != orgID {
			tb.Fatalf("event %d has org %d; want %d", i, e.OrgID, orgID)
		}
	}
	return all
}

// lastEvent returns the organization's newest event.
func lastEvent(tb testing.TB, s *store.Store, orgID int64) domain.Event {
	tb.Helper()
	es := trail(tb, s, orgID)
	if len(es) == 0 {
		tb.Fatalf("org %d has no events", orgID)
	}
	return es[len(es)-1]
}

// eventData decodes an event's data for comparison; JSON numbers become float64.
func eventData(tb testing.TB, e domain.Event) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data, &m); err != nil {
		tb.Fatalf("event %d (%s) data %s: %v", e.Index, e.Type, e.Data, err)
	}
	return m
}

// wantEvent checks an event's type, subject, actor and data.
func wantEvent(tb testing.TB, e domain.Event, typ, subject string, data map[string]any) {
	tb.Helper()
	if e.Type != typ || e.Subject != subject {
		tb.Fatalf("event %d = %s %s; want %s %s", e.Index, e.Type, e.Subject, typ, subject)
	}
	if e.Actor != admin.Email || e.ActorID != admin.UserID {
		tb.Errorf("event %d actor = %d %q; want %d %q", e.Index, e.ActorID, e.Actor, admin.UserID, admin.Email)
	}
	if diff := cmp.Diff(data, eventData(tb, e)); diff != "" {
		tb.Errorf("event %d (%s) data mismatch (-want +got):\n%s", e.Index, typ, diff)
	}
}

// num is how a JSON number decodes into any.
func num(n int64) float64 { return float64(n) }

func subject(kind string, id int64) string { return fmt.Sprintf("%s:%d", kind, id) }

func ptr[T any](v T) *T { return &v }
