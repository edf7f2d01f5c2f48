package domain

import (
	"strings"
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
		{"upper-case hash", func(e *Evidence) { e.SHA256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855" }, "sha256"},
		{"title not UTF-8", func(e *Evidence) { e.Title = "review \xff" }, "title"},
		{"negative size", func(e *Evidence) { e.Size = -1 }, "size"},
		{"long source", func(e *Evidence) { e.Source = strings.Repeat("s", 301) }, "source"},
		{"link without URL", func(e *Evidence) { e.Kind = EvidenceLink }, "url"},
		{"link to a file path", func(e *Evidence) { e.Kind, e.URL = EvidenceLink, "file:///etc/passwd" }, "url"},
		{"link", func(e *Evidence) { e.Kind, e.URL = EvidenceLink, "https://wiki.example.com/q1-review" }, ""},
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

func TestPeriodLabel(t *testing.T) {
	tests := []struct {
		name       string
		freq       Frequency
		start, end string
		want       string
	}{
		{"quarter", FrequencyQuarterly, "2026-01-01", "2026-03-31", "Q1 2026"},
		{"fourth quarter", FrequencyQuarterly, "2025-10-01", "2025-12-31", "Q4 2025"},
		{"month", FrequencyMonthly, "2026-02-01", "2026-02-28", "February 2026"},
		{"half", FrequencySemiAnnual, "2025-07-01", "2025-12-31", "H2 2025"},
		{"year", FrequencyAnnual, "2025-01-01", "2025-12-31", "2025"},
		{"week", FrequencyWeekly, "2026-11-16", "2026-11-22", "the week of 2026-11-16"},
		{"day", FrequencyDaily, "2026-11-23", "2026-11-23", "2026-11-23"},
		{"per event", FrequencyPerEvent, "2025-11-24", "2026-11-24", "2025-11-24 to 2026-11-24"},
		{"quarter that is not one", FrequencyQuarterly, "2026-01-15", "2026-04-14", "2026-01-15 to 2026-04-14"},
		{"required periods name themselves", FrequencyMonthly, "2026-04-01", "2026-04-30", "April 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PeriodLabel(tt.freq, day(tt.start), day(tt.end)); got != tt.want {
				t.Errorf("PeriodLabel(%s, %s, %s) = %q; want %q", tt.freq, tt.start, tt.end, got, tt.want)
			}
		})
	}
	// Every required period of a regular frequency has a name of its own.
	for _, f := range []Frequency{FrequencyWeekly, FrequencyMonthly, FrequencyQuarterly, FrequencySemiAnnual, FrequencyAnnual} {
		start, end, _ := RequiredPeriod(f, day("2026-05-15"))
		if got := PeriodLabel(f, start, end); strings.Contains(got, " to ") {
			t.Errorf("PeriodLabel(%s, required period %s to %s) = %q; want a name", f, start.Format(time.DateOnly), end.Format(time.DateOnly), got)
		}
	}
}

func TestDateOf(t *testing.T) {
	got := DateOf(time.Date(2026, 3, 31, 23, 30, 0, 0, time.FixedZone("UTC-2", -2*3600)))
	if want := day("2026-04-01"); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("DateOf(2026-03-31 23:30 UTC-2) = %v; want %v", got, want)
	}
}

func TestValidateRetractReason(t *testing.T) {
	tests := []struct {
		name, reason, want, field string
	}{
		{"trimmed", "  uploaded to the wrong control ", "uploaded to the wrong control", ""},
		{"blank", " \t", "", "reason"},
		{"too long", strings.Repeat("r", 2001), "", "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateRetractReason(tt.reason)
			if got != tt.want || FieldOf(err) != tt.field || (err == nil) != (tt.field == "") {
				t.Errorf("ValidateRetractReason(%q) = %q, %v; want %q, field %q", tt.reason, got, err, tt.want, tt.field)
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
