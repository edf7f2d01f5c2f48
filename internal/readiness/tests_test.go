package readiness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
)

// testedSource is a Source that also knows failing automated tests.
type testedSource struct {
	memSource
	failing []domain.FailingTest
	err     error
	asked   time.Time
}

func (s *testedSource) FailingTests(ctx context.Context, orgID int64, at time.Time) ([]domain.FailingTest, error) {
	s.asked = at
	return s.failing, s.err
}

func TestFailingTestGaps(t *testing.T) {
	cat := testCatalog(t)
	retired := ctl(3, "OLD-01", domain.StatusImplemented, alice, "CC6.1")
	retired.RetiredAt = &now
	controls := []domain.Control{
		ctl(1, "AC-03", domain.StatusImplemented, alice, "CC6.1", "A1.1"),
		ctl(2, "GOV-01", domain.StatusImplemented, bob, "CC1.1"),
		retired,
	}
	mfa := domain.FailingTest{
		TestID: "okta-mfa", Title: "Okta users have MFA", Type: "okta.user", Severity: "critical",
		Remediation: "  Enroll every user in a second factor. ", Controls: []string{"AC-03", "GOV-01", "OLD-01", "XX-99"}, Failing: 3,
	}
	one := domain.FailingTest{TestID: "gh-2fa", Title: "GitHub requires 2FA", Type: "github.org", Severity: "odd",
		Remediation: "Require 2FA.", Controls: []string{"AC-03"}, Failing: 1}
	type gap struct {
		Kind     GapKind
		Severity Severity
		Ref      string
		Criteria []string
		Title    string
		NextStep string
	}
	for _, tc := range []struct {
		name    string
		scope   domain.Scope
		failing []domain.FailingTest
		want    []gap
	}{
		{"no failing test", security(), nil, nil},
		{
			"a gap per active control in scope", security(), []domain.FailingTest{mfa},
			[]gap{
				{GapTestFailing, SeverityCritical, "GOV-01", []string{"CC1.1"}, "Okta users have MFA fails on 3 resources", "Enroll every user in a second factor."},
				{GapTestFailing, SeverityCritical, "AC-03", []string{"CC6.1"}, "Okta users have MFA fails on 3 resources", "Enroll every user in a second factor."},
			},
		},
		{
			"criteria in scope only, one resource, unknown severity", security(domain.CategoryAvailability), []domain.FailingTest{one},
			[]gap{{GapTestFailing, SeverityMedium, "AC-03", []string{"CC6.1", "A1.1"}, "GitHub requires 2FA fails on 1 resource", "Require 2FA."}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &testedSource{memSource: memSource{scope: tc.scope, controls: controls}, failing: tc.failing}
			rep, err := Compute(context.Background(), src, cat, 1, now)
			if err != nil {
				t.Fatalf("Compute = %v", err)
			}
			if !src.asked.Equal(now) {
				t.Errorf("FailingTests asked at %v; want %v", src.asked, now)
			}
			var got []gap
			for _, g := range rep.Gaps {
				if g.Kind == GapTestFailing {
					got = append(got, gap{g.Kind, g.Severity, g.ControlRef, g.Criteria, g.Title, g.NextStep})
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("test gaps mismatch (-want +got):\n%s", diff)
			}
			plain, err := Compute(context.Background(), &src.memSource, cat, 1, now)
			if err != nil {
				t.Fatalf("Compute(without tests) = %v", err)
			}
			if plain.Score != rep.Score || len(plain.Gaps)+len(tc.want) != len(rep.Gaps) {
				t.Errorf("failing tests changed the score (%v → %v) or other gaps (%d + %d → %d)",
					plain.Score, rep.Score, len(plain.Gaps), len(tc.want), len(rep.Gaps))
			}
		})
	}
}

func TestFailingTestsError(t *testing.T) {
	src := &testedSource{memSource: memSource{scope: security()}, err: errors.New("database down")}
	if _, err := Compute(context.Background(), src, testCatalog(t), 1, now); err == nil {
		t.Errorf("Compute with failing tests unreadable = nil error; want the error")
	}
}
