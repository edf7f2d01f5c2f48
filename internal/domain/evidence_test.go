package domain

import (
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFreshnessOf(t *testing.T) {
	tests := []struct {
		name      string
		freq      Frequency
		latestEnd string // "" for no evidence
		now       string
		want      Freshness
	}{
		{"no evidence", FrequencyQuarterly, "", "2026-05-15", FreshNone},
		{"april review of q1 covers may", FrequencyQuarterly, "2026-03-31", "2026-05-15", FreshCurrent},
		{"q1 still missing in april grace", FrequencyQuarterly, "2025-12-31", "2026-04-10", FreshDue},
		{"q1 missing after grace", FrequencyQuarterly, "2025-12-31", "2026-05-02", FreshOverdue},
		{"two quarters behind is overdue even in grace", FrequencyQuarterly, "2025-09-30", "2026-04-10", FreshOverdue},
		{"q1 no longer enough in july after grace", FrequencyQuarterly, "2026-03-31", "2026-08-15", FreshOverdue},
		{"monthly covered", FrequencyMonthly, "2026-04-30", "2026-05-20", FreshCurrent},
		{"monthly in grace", FrequencyMonthly, "2026-03-31", "2026-05-05", FreshDue},
		{"monthly overdue", FrequencyMonthly, "2026-03-31", "2026-05-20", FreshOverdue},
		{"annual covered", FrequencyAnnual, "2025-12-31", "2026-11-24", FreshCurrent},
		{"annual in grace", FrequencyAnnual, "2024-12-31", "2026-02-01", FreshDue},
		{"annual overdue", FrequencyAnnual, "2024-12-31", "2026-03-15", FreshOverdue},
		{"continuous yesterday", FrequencyContinuous, "2026-11-23", "2026-11-24", FreshCurrent},
		{"continuous two days ago is due", FrequencyContinuous, "2026-11-22", "2026-11-24", FreshDue},
		{"continuous a week ago", FrequencyContinuous, "2026-11-17", "2026-11-24", FreshOverdue},
		{"weekly covered", FrequencyWeekly, "2026-11-22", "2026-11-24", FreshCurrent},
		{"per event within a year", FrequencyPerEvent, "2026-01-10", "2026-11-24", FreshCurrent},
		{"per event over a year ago", FrequencyPerEvent, "2025-10-01", "2026-11-24", FreshOverdue},
		{"semi-annual covered", FrequencySemiAnnual, "2026-06-30", "2026-11-24", FreshCurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var end time.Time
			if tt.latestEnd != "" {
				end = day(tt.latestEnd)
			}
			if got := FreshnessOf(tt.freq, end, day(tt.now).Add(9*time.Hour)); got != tt.want {
				t.Errorf("FreshnessOf(%s, %q, %s) = %s; want %s", tt.freq, tt.latestEnd, tt.now, got, tt.want)
			}
		})
	}
}

func TestValidateEvidence(t *testing.T) {
	good := func() Evidence {
		return Evidence{Kind: EvidenceNote, Title: "Q1 access review", PeriodStart: day("2026-01-01"), PeriodEnd: day("2026-03-31"), SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
	}
	tests := []struct {
		name   string
		change func(*Evidence)
		field  string
	}{
		{"valid", func(*Evidence) {}, ""},
		{"unknown kind", func(e *Evidence) { e.Kind = "video" }, "kind"},
		{"blank title", func(e *Evidence) { e.Title = "  " }, "title"},
		{"no period start", func(e *Evidence) { e.PeriodStart = time.Time{} }, "period_start"},
		{"period end before start", func(e *Evidence) { e.PeriodEnd = day("2025-12-31") }, "period_end"},
		{"bad hash", func(e *Evidence) { e.SHA256 = "abc" }, "sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good()
			tt.change(&e)
			err := ValidateEvidence(&e)
			if got := FieldOf(err); got != tt.field || (tt.field == "") != (err == nil) {
				t.Errorf("ValidateEvidence() = %v (field %q); want field %q", err, got, tt.field)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		name string
		err  error
		kind Kind
		msg  string
	}{
		{"invalid names field", Invalid("status", "is wrong"), KindInvalid, "status: is wrong"},
		{"not found", NotFound("control"), KindNotFound, "control not found"},
		{"plain error is internal and hidden", errPlain("db exploded"), KindInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf(%v) = %s; want %s", tt.err, got, tt.kind)
			}
			if got := MessageOf(tt.err); got != tt.msg {
				t.Errorf("MessageOf(%v) = %q; want %q", tt.err, got, tt.msg)
			}
		})
	}
}

type errPlain string

func (e errPlain) Error() string { return string(e) }
