package readiness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
)

// testCatalog is a small catalog: three security criteria, one criterion of each other
// category, and two library controls.
func testCatalog(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	criteria := []byte(`
categories:
  - id: security
    prefix: CC
    criteria:
      - {id: CC1.1, title: Integrity and ethical values, explanation: e, points_of_focus: [p]}
      - {id: CC1.2, title: Board oversight, explanation: e, points_of_focus: [p]}
      - {id: CC6.1, title: Logical access security, explanation: e, points_of_focus: [p]}
  - id: availability
    prefix: A
    criteria:
      - {id: A1.1, title: Capacity planning, explanation: e, points_of_focus: [p]}
  - id: confidentiality
    prefix: C
    criteria:
      - {id: C1.1, title: Confidential information, explanation: e, points_of_focus: [p]}
  - id: processing_integrity
    prefix: PI
    criteria:
      - {id: PI1.1, title: Processing definitions, explanation: e, points_of_focus: [p]}
  - id: privacy
    prefix: P
    criteria:
      - {id: P1.1, title: Privacy notice, explanation: e, points_of_focus: [p]}
`)
	controls := []byte(`
controls:
  - id: AC-03
    title: User access reviews
    description: d
    domain: Access Control
    frequency: quarterly
    evidence: Signed-off access review records
    criteria: [CC6.1]
    finding: No formal user access review process
  - id: GOV-01
    title: Code of conduct
    description: d
    domain: Governance
    frequency: annual
    evidence: Signed acknowledgements
    criteria: [CC1.1]
    finding: Employees have not acknowledged a code of conduct
`)
	cat, err := catalog.Parse(criteria, controls)
	if err != nil {
		tb.Fatalf("catalog.Parse: %v", err)
	}
	return cat
}

// memSource is an in-memory Source. It returns every control, retired or not, so that
// the tests prove Compute ignores retired controls itself.
type memSource struct {
	scope    domain.Scope
	controls []domain.Control
	latest   map[int64]time.Time // latest evidence by control ID
}

func (m *memSource) Scope(ctx context.Context, orgID int64) (*domain.Scope, error) {
	s := m.scope
	return &s, nil
}

func (m *memSource) Controls(ctx context.Context, orgID int64, f domain.ControlFilter) ([]domain.Control, error) {
	return append([]domain.Control(nil), m.controls...), nil
}

func (m *memSource) LatestEvidence(ctx context.Context, orgID int64) (map[int64]time.Time, error) {
	return m.latest, nil
}

func ptr[T any](v T) *T { return &v }

var (
	alice = ptr(int64(7))
	bob   = ptr(int64(8))
	now   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// ctl returns a control; options adjust it.
func ctl(id int64, ref string, status domain.ControlStatus, owner *int64, criteria ...string) domain.Control {
	c := domain.Control{
		ID: id, OrgID: 1, Ref: ref, Title: "Control " + ref, Status: status,
		Frequency: domain.FrequencyAnnual, Criteria: criteria, OwnerID: owner,
	}
	if owner != nil {
		c.OwnerName = map[int64]string{7: "Alice", 8: "Bob"}[*owner]
	}
	return c
}

func security(cats ...domain.Category) domain.Scope {
	return domain.Scope{OrgID: 1, Categories: append([]domain.Category{domain.CategorySecurity}, cats...), ReportType: domain.ReportTypeII}
}

// gapRow is what the table tests compare of a gap.
type gapRow struct {
	Severity Severity
	Kind     GapKind
	Ref      string
	Criteria string
	Title    string
}

func rows(gaps []Gap) []gapRow {
	out := []gapRow{}
	for _, g := range gaps {
		crit := ""
		for i, c := range g.Criteria {
			if i > 0 {
				crit += ","
			}
			crit += c
		}
		out = append(out, gapRow{g.Severity, g.Kind, g.ControlRef, crit, g.Title})
	}
	return out
}

// base covers CC1.1, CC1.2 and CC6.1 with one ready control, so that rows can focus on
// one thing; its only gap is that it has no evidence.
var base = ctl(100, "BASE", domain.StatusImplemented, alice, "CC1.1", "CC1.2", "CC6.1")

var baseGap = gapRow{SeverityMedium, GapNoEvidence, "BASE", "CC1.1,CC1.2,CC6.1", "BASE Control BASE: no evidence collected"}

func TestComputeGaps(t *testing.T) {
	cat := testCatalog(t)
	libraryNotStarted := ctl(1, "AC-03", domain.StatusNotStarted, alice, "CC6.1")
	libraryNotStarted.FromLibrary = true
	libraryInProgress := ctl(1, "AC-03", domain.StatusInProgress, alice, "CC6.1")
	libraryInProgress.FromLibrary = true
	customSameRef := ctl(1, "AC-03", domain.StatusNotStarted, alice, "CC6.1")
	justified := ctl(1, "NA-1", domain.StatusNotApplicable, alice, "CC6.1")
	justified.Justification = "We run no servers of our own."
	unjustified := ctl(1, "NA-1", domain.StatusNotApplicable, alice, "CC6.1")
	unjustified.Justification = "   "
	retired := ctl(1, "OLD-1", domain.StatusNotStarted, nil, "CC1.1", "CC1.2", "CC6.1")
	retired.RetiredAt = &now

	tests := []struct {
		name  string
		scope domain.Scope
		ctls  []domain.Control
		want  []gapRow
	}{{
		name:  "every criterion uncovered",
		scope: security(),
		want: []gapRow{
			{SeverityCritical, GapUncovered, "", "CC1.1", "CC1.1 Integrity and ethical values is not covered by any control"},
			{SeverityCritical, GapUncovered, "", "CC1.2", "CC1.2 Board oversight is not covered by any control"},
			{SeverityCritical, GapUncovered, "", "CC6.1", "CC6.1 Logical access security is not covered by any control"},
		},
	}, {
		name:  "one criterion uncovered",
		scope: security(),
		ctls:  []domain.Control{ctl(1, "X-1", domain.StatusImplemented, alice, "CC1.1", "CC6.1")},
		want: []gapRow{
			{SeverityCritical, GapUncovered, "", "CC1.2", "CC1.2 Board oversight is not covered by any control"},
			{SeverityMedium, GapNoEvidence, "X-1", "CC1.1,CC6.1", "X-1 Control X-1: no evidence collected"},
		},
	}, {
		name:  "library control not started reads as the finding",
		scope: security(),
		ctls:  []domain.Control{base, libraryNotStarted},
		want: []gapRow{
			{SeverityHigh, GapNotImplemented, "AC-03", "CC6.1", "No formal user access review process"},
			baseGap,
			{SeverityMedium, GapNoEvidence, "AC-03", "CC6.1", "AC-03 Control AC-03: no evidence collected"},
		},
	}, {
		name:  "library control in progress is medium",
		scope: security(),
		ctls:  []domain.Control{base, libraryInProgress},
		want: []gapRow{
			baseGap,
			{SeverityMedium, GapNotImplemented, "AC-03", "CC6.1", "No formal user access review process"},
			{SeverityMedium, GapNoEvidence, "AC-03", "CC6.1", "AC-03 Control AC-03: no evidence collected"},
		},
	}, {
		name:  "custom control not implemented names itself",
		scope: security(),
		ctls:  []domain.Control{base, customSameRef, ctl(2, "X-2", domain.StatusInProgress, alice, "CC1.2")},
		want: []gapRow{
			{SeverityHigh, GapNotImplemented, "AC-03", "CC6.1", "AC-03 Control AC-03 is not implemented"},
			baseGap,
			{SeverityMedium, GapNotImplemented, "X-2", "CC1.2", "X-2 Control X-2 is not implemented"},
			{SeverityMedium, GapNoEvidence, "X-2", "CC1.2", "X-2 Control X-2: no evidence collected"},
			{SeverityMedium, GapNoEvidence, "AC-03", "CC6.1", "AC-03 Control AC-03: no evidence collected"},
		},
	}, {
		name:  "control without owner",
		scope: security(),
		ctls:  []domain.Control{base, ctl(1, "X-1", domain.StatusImplemented, nil, "CC1.2")},
		want: []gapRow{
			baseGap,
			{SeverityMedium, GapNoEvidence, "X-1", "CC1.2", "X-1 Control X-1: no evidence collected"},
			{SeverityMedium, GapNoOwner, "X-1", "CC1.2", "X-1 Control X-1 has no owner"},
		},
	}, {
		name:  "not applicable with justification has no gap",
		scope: security(),
		ctls:  []domain.Control{base, justified},
		want:  []gapRow{baseGap},
	}, {
		name:  "not applicable without justification",
		scope: security(),
		ctls:  []domain.Control{base, unjustified},
		want: []gapRow{
			{SeverityHigh, GapUnjustified, "NA-1", "CC6.1", "NA-1 Control NA-1 is marked not applicable without a justification"},
			baseGap,
		},
	}, {
		name:  "control gaps once for several criteria",
		scope: security(),
		ctls:  []domain.Control{base, ctl(1, "X-1", domain.StatusNotStarted, nil, "CC6.1", "CC1.1", "CC1.2")},
		want: []gapRow{
			{SeverityHigh, GapNotImplemented, "X-1", "CC1.1,CC1.2,CC6.1", "X-1 Control X-1 is not implemented"},
			baseGap,
			{SeverityMedium, GapNoEvidence, "X-1", "CC1.1,CC1.2,CC6.1", "X-1 Control X-1: no evidence collected"},
			{SeverityMedium, GapNoOwner, "X-1", "CC1.1,CC1.2,CC6.1", "X-1 Control X-1 has no owner"},
		},
	}, {
		name:  "retired controls are ignored",
		scope: security(),
		ctls:  []domain.Control{retired, ctl(1, "X-1", domain.StatusImplemented, alice, "CC1.1", "CC1.2")},
		want: []gapRow{
			{SeverityCritical, GapUncovered, "", "CC6.1", "CC6.1 Logical access security is not covered by any control"},
			{SeverityMedium, GapNoEvidence, "X-1", "CC1.1,CC1.2", "X-1 Control X-1: no evidence collected"},
		},
	}, {
		name:  "categories out of scope are left out",
		scope: security(),
		ctls:  []domain.Control{base, ctl(1, "AV-1", domain.StatusNotStarted, nil, "A1.1"), ctl(2, "PR-1", domain.StatusNotStarted, nil, "P1.1")},
		want:  []gapRow{baseGap},
	}, {
		name:  "categories in scope are included",
		scope: security(domain.CategoryAvailability),
		ctls:  []domain.Control{base, ctl(2, "PR-1", domain.StatusNotStarted, nil, "P1.1", "CC6.1")},
		want: []gapRow{
			{SeverityCritical, GapUncovered, "", "A1.1", "A1.1 Capacity planning is not covered by any control"},
			{SeverityHigh, GapNotImplemented, "PR-1", "CC6.1", "PR-1 Control PR-1 is not implemented"},
			baseGap,
			{SeverityMedium, GapNoEvidence, "PR-1", "CC6.1", "PR-1 Control PR-1: no evidence collected"},
			{SeverityMedium, GapNoOwner, "PR-1", "CC6.1", "PR-1 Control PR-1 has no owner"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compute(context.Background(), &memSource{scope: tt.scope, controls: tt.ctls}, cat, 1, now)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if diff := cmp.Diff(tt.want, rows(r.Gaps)); diff != "" {
				t.Errorf("Compute gaps mismatch (-want +got):\n%s", diff)
			}
			for _, g := range r.Gaps {
				if g.Detail == "" || g.NextStep == "" {
					t.Errorf("gap %q has detail %q and next step %q; want both", g.Title, g.Detail, g.NextStep)
				}
			}
		})
	}
}

// TestComputeEvidenceFreshness checks the rule for a control's evidence against its
// frequency on 1 March 2026 at noon: Q4 2025 is what a quarterly control needs (its grace
// ended on 30 January); February is due for a monthly control until 10 March; 2025 is
// due for an annual control until 1 March.
func TestComputeEvidenceFreshness(t *testing.T) {
	cat := testCatalog(t)
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name     string
		freq     domain.Frequency
		status   domain.ControlStatus
		latest   string // "" for no evidence
		want     []gapRow
		nextStep string
	}{
		{"no evidence", domain.FrequencyQuarterly, domain.StatusImplemented, "", []gapRow{
			{SeverityMedium, GapNoEvidence, "X-1", "CC6.1", "X-1 Control X-1: no evidence collected"},
		}, "Collect evidence that the control operates."},
		{"quarter covered", domain.FrequencyQuarterly, domain.StatusImplemented, "2025-12-31", []gapRow{}, ""},
		{"evidence beyond the period", domain.FrequencyQuarterly, domain.StatusImplemented, "2026-02-28", []gapRow{}, ""},
		{"quarter overdue", domain.FrequencyQuarterly, domain.StatusImplemented, "2025-09-30", []gapRow{
			{SeverityHigh, GapNoEvidence, "X-1", "CC6.1", "X-1 Control X-1: evidence is overdue, nothing covers Q4 2025"},
		}, "Collect evidence that the control operates, for Q4 2025."},
		{"month due", domain.FrequencyMonthly, domain.StatusImplemented, "2026-01-31", []gapRow{
			{SeverityLow, GapNoEvidence, "X-1", "CC6.1", "X-1 Control X-1: evidence for February 2026 is due by 2026-03-10"},
		}, "Collect evidence that the control operates, for February 2026, by 2026-03-10."},
		{"month before the due one missing", domain.FrequencyMonthly, domain.StatusImplemented, "2025-12-31", []gapRow{
			{SeverityHigh, GapNoEvidence, "X-1", "CC6.1", "X-1 Control X-1: evidence is overdue, nothing covers January 2026"},
		}, "Collect evidence that the control operates, for January 2026."},
		{"year due on its last day", domain.FrequencyAnnual, domain.StatusImplemented, "2024-12-31", []gapRow{
			{SeverityLow, GapNoEvidence, "X-1", "CC6.1", "X-1 Control X-1: evidence for 2025 is due by 2026-03-01"},
		}, "Collect evidence that the control operates, for 2025, by 2026-03-01."},
		{"per event within the year", domain.FrequencyPerEvent, domain.StatusImplemented, "2025-06-30", []gapRow{}, ""},
		{"per event stale", domain.FrequencyPerEvent, domain.StatusImplemented, "2025-02-01", []gapRow{
			{SeverityHigh, GapNoEvidence, "X-1", "CC6.1", "X-1 Control X-1: evidence is overdue, nothing covers 2025-03-01 to 2026-03-01"},
		}, "Collect evidence that the control operates, for 2025-03-01 to 2026-03-01."},
		{"not applicable needs none", domain.FrequencyQuarterly, domain.StatusNotApplicable, "", []gapRow{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ctl(1, "X-1", tt.status, alice, "CC6.1")
			c.Frequency, c.Justification = tt.freq, "Not relevant."
			src := &memSource{scope: security(), controls: []domain.Control{base, c}, latest: map[int64]time.Time{base.ID: day("2026-02-28")}}
			if tt.latest != "" {
				src.latest[c.ID] = day(tt.latest)
			}
			r, err := Compute(context.Background(), src, cat, 1, now)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if diff := cmp.Diff(tt.want, rows(r.Gaps)); diff != "" {
				t.Errorf("Compute gaps mismatch (-want +got):\n%s", diff)
			}
			if len(r.Gaps) > 0 && r.Gaps[0].NextStep != tt.nextStep {
				t.Errorf("next step = %q; want %q", r.Gaps[0].NextStep, tt.nextStep)
			}
		})
	}
}

func TestComputeScoreAndCriteria(t *testing.T) {
	cat := testCatalog(t)
	justified := ctl(3, "NA-1", domain.StatusNotApplicable, bob, "CC6.1")
	justified.Justification = "No production access exists."
	tests := []struct {
		name      string
		scope     domain.Scope
		ctls      []domain.Control
		score     float64
		perCrit   map[string]float64
		covered   int
		readyCrit int
	}{{
		name:    "nothing",
		scope:   security(),
		score:   0,
		perCrit: map[string]float64{"CC1.1": 0, "CC1.2": 0, "CC6.1": 0},
	}, {
		name:      "all ready",
		scope:     security(),
		ctls:      []domain.Control{base},
		score:     100,
		perCrit:   map[string]float64{"CC1.1": 100, "CC1.2": 100, "CC6.1": 100},
		covered:   3,
		readyCrit: 3,
	}, {
		// CC1.1: 1 of 2 ready; CC1.2: uncovered; CC6.1: 2 of 3 ready (the unowned one is not).
		name:  "mixed",
		scope: security(),
		ctls: []domain.Control{
			ctl(1, "X-1", domain.StatusImplemented, alice, "CC1.1", "CC6.1"),
			ctl(2, "X-2", domain.StatusInProgress, alice, "CC1.1"),
			ctl(4, "X-4", domain.StatusImplemented, nil, "CC6.1"),
			justified,
		},
		score:     38.9, // (1/2 + 0 + 2/3) / 3 = 0.3889
		perCrit:   map[string]float64{"CC1.1": 50, "CC1.2": 0, "CC6.1": 66.7},
		covered:   2,
		readyCrit: 0,
	}, {
		name:      "uncovered availability counts zero",
		scope:     security(domain.CategoryAvailability),
		ctls:      []domain.Control{base},
		score:     75,
		perCrit:   map[string]float64{"CC1.1": 100, "CC1.2": 100, "CC6.1": 100, "A1.1": 0},
		covered:   3,
		readyCrit: 3,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compute(context.Background(), &memSource{scope: tt.scope, controls: tt.ctls}, cat, 1, now)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if r.Score != tt.score {
				t.Errorf("Score = %v; want %v", r.Score, tt.score)
			}
			got := map[string]float64{}
			for _, cr := range r.Criteria {
				got[cr.Criterion.ID] = cr.Score
			}
			if diff := cmp.Diff(tt.perCrit, got); diff != "" {
				t.Errorf("criterion scores mismatch (-want +got):\n%s", diff)
			}
			if r.CriteriaCovered != tt.covered || r.CriteriaReady != tt.readyCrit {
				t.Errorf("CriteriaCovered, CriteriaReady = %d, %d; want %d, %d", r.CriteriaCovered, r.CriteriaReady, tt.covered, tt.readyCrit)
			}
		})
	}
}

func TestComputeReportShape(t *testing.T) {
	cat := testCatalog(t)
	src := &memSource{scope: security(domain.CategoryPrivacy), controls: []domain.Control{
		ctl(1, "X-1", domain.StatusImplemented, alice, "CC1.1", "CC6.1"),
		ctl(2, "X-2", domain.StatusInProgress, bob, "CC6.1"),
		ctl(3, "X-3", domain.StatusNotStarted, bob, "P1.1"),
		ctl(4, "X-4", domain.StatusNotStarted, nil, "CC1.2"),
		ctl(5, "AV-1", domain.StatusNotStarted, nil, "A1.1"),
	}}
	r, err := Compute(context.Background(), src, cat, 1, now.In(time.FixedZone("CET", 3600)))
	if err != nil {
		t.Fatal(err)
	}
	if !r.GeneratedAt.Equal(now) || r.GeneratedAt.Location() != time.UTC {
		t.Errorf("GeneratedAt = %v; want %v in UTC", r.GeneratedAt, now)
	}
	if diff := cmp.Diff([]domain.Category{domain.CategorySecurity, domain.CategoryPrivacy}, r.Categories); diff != "" {
		t.Errorf("Categories mismatch (-want +got):\n%s", diff)
	}
	var ids []string
	for _, cr := range r.Criteria {
		ids = append(ids, cr.Criterion.ID)
	}
	if diff := cmp.Diff([]string{"CC1.1", "CC1.2", "CC6.1", "P1.1"}, ids); diff != "" {
		t.Errorf("criteria mismatch (-want +got):\n%s", diff)
	}
	cc61 := r.Criteria[2]
	wantCC61 := []ControlState{
		{ID: 1, Ref: "X-1", Title: "Control X-1", Status: domain.StatusImplemented, OwnerID: alice, OwnerName: "Alice", Ready: true},
		{ID: 2, Ref: "X-2", Title: "Control X-2", Status: domain.StatusInProgress, OwnerID: bob, OwnerName: "Bob"},
	}
	if diff := cmp.Diff(wantCC61, cc61.Controls); diff != "" {
		t.Errorf("CC6.1 controls mismatch (-want +got):\n%s", diff)
	}
	if r.Controls != 4 || r.ControlsOutOfScope != 1 {
		t.Errorf("Controls, ControlsOutOfScope = %d, %d; want 4, 1", r.Controls, r.ControlsOutOfScope)
	}
	wantStatus := []StatusCount{
		{domain.StatusNotStarted, 2}, {domain.StatusInProgress, 1}, {domain.StatusImplemented, 1}, {domain.StatusNotApplicable, 0},
	}
	if diff := cmp.Diff(wantStatus, r.ControlsByStatus); diff != "" {
		t.Errorf("ControlsByStatus mismatch (-want +got):\n%s", diff)
	}
	wantOwners := []OwnerCount{{OwnerID: bob, Name: "Bob", Count: 2}, {OwnerID: alice, Name: "Alice", Count: 1}, {Name: "No owner", Count: 1}}
	if diff := cmp.Diff(wantOwners, r.ControlsByOwner); diff != "" {
		t.Errorf("ControlsByOwner mismatch (-want +got):\n%s", diff)
	}
	// X-2 in progress (medium), X-3 and X-4 not started (high), X-4 no owner (medium),
	// four controls without any evidence (medium); no criterion uncovered.
	wantSev := []SeverityCount{{SeverityCritical, 0}, {SeverityHigh, 2}, {SeverityMedium, 6}, {SeverityLow, 0}}
	if diff := cmp.Diff(wantSev, r.GapsBySeverity); diff != "" {
		t.Errorf("GapsBySeverity mismatch (-want +got):\n%s", diff)
	}
}

func TestComputeScoreRisesWhenControlIsReady(t *testing.T) {
	cat := testCatalog(t)
	src := &memSource{scope: security(), controls: []domain.Control{
		base,
		ctl(1, "X-1", domain.StatusInProgress, nil, "CC6.1"),
	}}
	before, err := Compute(context.Background(), src, cat, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	src.controls[1].Status = domain.StatusImplemented
	mid, err := Compute(context.Background(), src, cat, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Score != before.Score {
		t.Errorf("implemented without owner: score %v; want unchanged %v", mid.Score, before.Score)
	}
	src.controls[1].OwnerID, src.controls[1].OwnerName = bob, "Bob"
	after, err := Compute(context.Background(), src, cat, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if !(after.Score > before.Score) || after.Score != 100 {
		t.Errorf("score went from %v to %v; want a rise to 100", before.Score, after.Score)
	}
}

type failingSource struct{ memSource }

func (failingSource) Controls(ctx context.Context, orgID int64, f domain.ControlFilter) ([]domain.Control, error) {
	return nil, errors.New("database is down")
}

func TestComputeSourceError(t *testing.T) {
	_, err := Compute(context.Background(), &failingSource{memSource{scope: security()}}, testCatalog(t), 1, now)
	if err == nil {
		t.Fatal("Compute with a failing source = nil error; want the error")
	}
}

func TestSeverityLabel(t *testing.T) {
	got := []string{}
	for _, s := range Severities {
		got = append(got, s.Label())
	}
	if diff := cmp.Diff([]string{"Critical", "High", "Medium", "Low"}, got); diff != "" {
		t.Errorf("Severity labels mismatch (-want +got):\n%s", diff)
	}
}
