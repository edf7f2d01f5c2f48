package readiness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// TestSource is what readiness reads of automated test results, when its Source offers
// it (*store.Store does): the tests failing at a time on resources without an exception.
type TestSource interface {
	FailingTests(ctx context.Context, orgID int64, now time.Time) ([]domain.FailingTest, error)
}

// activeControl is an active control mapped to criteria in scope, with those criteria.
type activeControl struct {
	control  *domain.Control
	criteria []string
}

// testSeverity maps a test's severity to a gap's; an unknown one is medium.
func testSeverity(s string) Severity {
	for _, v := range Severities {
		if string(v) == s {
			return v
		}
	}
	return SeverityMedium
}

// testGaps is the one rule for automated tests: a failing test is a gap for each active,
// in-scope control it supports, as severe as the test, whose next step is the test's
// remediation.
func testGaps(failing []domain.FailingTest, active map[string]activeControl) []Gap {
	var gaps []Gap
	for _, t := range failing {
		resources := "resources"
		if t.Failing == 1 {
			resources = "resource"
		}
		for _, ref := range t.Controls {
			ac, ok := active[ref]
			if !ok {
				continue
			}
			c := ac.control
			gaps = append(gaps, Gap{
				Kind: GapTestFailing, Severity: testSeverity(t.Severity), Criteria: ac.criteria,
				ControlID: c.ID, ControlRef: c.Ref,
				Title: fmt.Sprintf("%s fails on %d %s", t.Title, t.Failing, resources),
				Detail: fmt.Sprintf("The automated test %s fails on %d %s of type %s. It supports %s %s, which maps to %s.",
					t.TestID, t.Failing, resources, t.Type, c.Ref, c.Title, strings.Join(ac.criteria, ", ")),
				NextStep: strings.TrimSpace(t.Remediation),
			})
		}
	}
	return gaps
}
