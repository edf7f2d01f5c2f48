package domain

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// EvidenceKind is what a piece of evidence is.
type EvidenceKind string

// The evidence kinds. Every kind has content in the blob store: a file's bytes, a link's
// URL, a note's text, a snapshot's raw responses; so every item has one content hash.
const (
	EvidenceFile     EvidenceKind = "file"
	EvidenceLink     EvidenceKind = "link"
	EvidenceNote     EvidenceKind = "note"
	EvidenceSnapshot EvidenceKind = "snapshot" // raw connector responses and test results
)

// Valid reports whether k is a known kind.
func (k EvidenceKind) Valid() bool {
	return k == EvidenceFile || k == EvidenceLink || k == EvidenceNote || k == EvidenceSnapshot
}

// Evidence is one item of evidence. It is never edited or deleted: a correction supersedes
// it with a new item and a withdrawal retracts it with a reason, both recorded in the ledger.
type Evidence struct {
	ID          int64
	OrgID       int64
	Kind        EvidenceKind
	Title       string
	Description string
	ControlIDs  []int64 // the controls it supports
	// PeriodStart and PeriodEnd are the effective period: the dates the evidence speaks
	// for, inclusive, as UTC midnights. A quarterly access review done in April covers Q1.
	PeriodStart time.Time
	PeriodEnd   time.Time
	CollectedAt time.Time // when the content was produced or pulled
	Source      string    // a person's email, or "connector-name/version"
	SHA256      string    // hex SHA-256 of the content
	Size        int64
	MediaType   string
	FileName    string // for files: the sanitized original name
	URL         string // for links
	AddedBy     int64  // user ID; 0 for the system
	AddedByName string // filled on read
	AddedAt     time.Time
	// Supersedes is the item this one corrects; SupersededBy is filled on read.
	Supersedes    *int64
	SupersededBy  *int64
	RetractedAt   *time.Time
	RetractReason string
	LedgerIndex   int64 // the ledger entry that recorded the addition
}

// Current reports whether the item still stands: neither superseded nor retracted.
func (e *Evidence) Current() bool { return e.SupersededBy == nil && e.RetractedAt == nil }

// ValidateEvidence checks an item's metadata before it is stored.
func ValidateEvidence(e *Evidence) error {
	e.Title = strings.TrimSpace(e.Title)
	switch {
	case !e.Kind.Valid():
		return Invalid("kind", "must be one of file, link, note, snapshot")
	case e.Title == "":
		return Invalid("title", "is required")
	case len(e.Title) > 300:
		return Invalid("title", "must be at most 300 characters")
	case len(e.Description) > 20000:
		return Invalid("description", "must be at most 20000 characters")
	case e.PeriodStart.IsZero():
		return Invalid("period_start", "is required: the first day the evidence speaks for")
	case e.PeriodEnd.IsZero():
		return Invalid("period_end", "is required: the last day the evidence speaks for")
	case e.PeriodEnd.Before(e.PeriodStart):
		return Invalid("period_end", "must not be before the period start")
	case len(e.SHA256) != 64 || !lowerHex(e.SHA256):
		return Invalid("sha256", "must be a hex SHA-256 in lower case")
	}
	return validateEvidenceDetails(e)
}

// ParseDate parses a calendar date (YYYY-MM-DD) as a UTC midnight, naming the field on error.
func ParseDate(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, Invalid(field, "must be a date like 2026-03-31")
	}
	return t, nil
}

// Freshness is the state of a control's evidence against its frequency.
type Freshness string

// The freshness states.
const (
	FreshCurrent Freshness = "current" // the required period is covered
	FreshDue     Freshness = "due"     // the required period is not covered yet, but its grace has not run out
	FreshOverdue Freshness = "overdue" // the required period is not covered and its grace has run out
	FreshNone    Freshness = "none"    // no evidence at all
)

// RequiredPeriod returns the period a control of frequency f must have evidence for at
// time now, and the date by which it is due. It is the latest complete period of the
// frequency (a quarterly control on 15 May needs Q1); the grace after a period ends lets
// the people doing the work finish it (a review of Q1 is due by 30 April).
//
// The period that has just ended stays "due" until its grace runs out; until then the
// period before it is the one whose absence makes evidence overdue. Continuous and daily
// controls need evidence reaching yesterday; per-event controls need evidence within the
// last twelve months.
func RequiredPeriod(f Frequency, now time.Time) (start, end, due time.Time) {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch f {
	case FrequencyContinuous, FrequencyDaily:
		y := today.AddDate(0, 0, -1)
		return y, y, today.AddDate(0, 0, 1)
	case FrequencyWeekly:
		// ISO weeks start on Monday.
		wd := (int(today.Weekday()) + 6) % 7
		thisWeek := today.AddDate(0, 0, -wd)
		return thisWeek.AddDate(0, 0, -7), thisWeek.AddDate(0, 0, -1), thisWeek.AddDate(0, 0, 3)
	case FrequencyMonthly:
		m := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
		return m.AddDate(0, -1, 0), m.AddDate(0, 0, -1), m.AddDate(0, 0, 10)
	case FrequencyQuarterly:
		q := time.Date(today.Year(), ((today.Month()-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
		return q.AddDate(0, -3, 0), q.AddDate(0, 0, -1), q.AddDate(0, 0, 30)
	case FrequencySemiAnnual:
		h := time.Date(today.Year(), ((today.Month()-1)/6)*6+1, 1, 0, 0, 0, 0, time.UTC)
		return h.AddDate(0, -6, 0), h.AddDate(0, 0, -1), h.AddDate(0, 0, 45)
	case FrequencyAnnual:
		y := time.Date(today.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return y.AddDate(-1, 0, 0), y.AddDate(0, 0, -1), y.AddDate(0, 0, 60)
	default: // per event
		return today.AddDate(-1, 0, 0), today, today
	}
}

// FreshnessOf judges a control's evidence: latestEnd is the latest effective-period end of
// its current evidence (zero if it has none).
func FreshnessOf(f Frequency, latestEnd time.Time, now time.Time) Freshness {
	if latestEnd.IsZero() {
		return FreshNone
	}
	start, end, due := RequiredPeriod(f, now)
	if f == FrequencyPerEvent {
		if !latestEnd.Before(start) {
			return FreshCurrent
		}
		return FreshOverdue
	}
	if !latestEnd.Before(end) {
		return FreshCurrent
	}
	// The period that just ended is not covered. Within its grace, evidence reaching the
	// period before it still counts as on time.
	if now.Before(due) {
		prevEnd := start.AddDate(0, 0, -1)
		if !latestEnd.Before(prevEnd) {
			return FreshDue
		}
	}
	return FreshOverdue
}

// MaxInlineContent is the largest content, in bytes, that the store keeps beside the
// evidence's metadata rather than in the blob store. Most evidence (snapshots, notes,
// links, small exports) is smaller, and keeping it in the database lets a batch of
// thousands of items be made durable by one commit instead of one file sync each.
const MaxInlineContent = 64 << 10

// NewEvidence is an item about to be added: its metadata and, for content kept inline,
// the content itself. When Content is nil the content must already be in the blob store
// under SHA256. When it is non-nil (at most MaxInlineContent bytes), the store keeps it
// and sets Size from it, and SHA256 when it is empty.
type NewEvidence struct {
	Evidence
	Content []byte
}

// EvidenceFilter narrows a list of evidence. Zero values match everything, except that
// superseded and retracted items are left out unless asked for.
type EvidenceFilter struct {
	ControlID int64        // only evidence supporting this control
	Kind      EvidenceKind // only this kind
	// Since and Until select by effective period: items whose period reaches Since or
	// later, and starts on Until or earlier (both inclusive).
	Since             *time.Time
	Until             *time.Time
	IncludeSuperseded bool
	IncludeRetracted  bool
	Before            int64 // only items with ID < Before, for paging backwards; 0: no limit
	Limit             int   // 0: a default of 100
}

// The limits on an item's metadata beyond those ValidateEvidence checks first.
const (
	maxEvidenceURL      = 2048
	maxEvidenceFileName = 255
	maxEvidenceSource   = 300
	maxMediaType        = 255
	maxRetractReason    = 2000
)

// validateEvidenceDetails checks the fields ValidateEvidence checks after the basics.
func validateEvidenceDetails(e *Evidence) error {
	e.Source = strings.TrimSpace(e.Source)
	for _, f := range []struct{ name, value string }{
		{"title", e.Title}, {"description", e.Description}, {"source", e.Source},
		{"file_name", e.FileName}, {"url", e.URL}, {"media_type", e.MediaType},
	} {
		if !utf8.ValidString(f.value) {
			return Invalid(f.name, "must be valid UTF-8")
		}
	}
	switch {
	case e.Size < 0:
		return Invalid("size", "must not be negative")
	case len(e.MediaType) > maxMediaType:
		return Invalid("media_type", "must be at most %d characters", maxMediaType)
	case len(e.FileName) > maxEvidenceFileName:
		return Invalid("file_name", "must be at most %d characters", maxEvidenceFileName)
	case len(e.Source) > maxEvidenceSource:
		return Invalid("source", "must be at most %d characters", maxEvidenceSource)
	case len(e.URL) > maxEvidenceURL:
		return Invalid("url", "must be at most %d characters", maxEvidenceURL)
	case e.Kind == EvidenceLink && e.URL == "":
		return Invalid("url", "is required for a link")
	case e.Kind == EvidenceLink && !webURL(e.URL):
		return Invalid("url", "must be an http or https address")
	}
	return nil
}

// webURL reports whether s is an absolute http or https URL with a host.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// lowerHex reports whether s is made of lower-case hexadecimal digits only.
func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidateRetractReason checks and trims the reason for retracting an item.
func ValidateRetractReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", Invalid("reason", "is required: say why the evidence is withdrawn")
	case len(reason) > maxRetractReason:
		return "", Invalid("reason", "must be at most %d characters", maxRetractReason)
	}
	return reason, nil
}

// DateOf returns the UTC calendar date of t as a UTC midnight, the form effective periods
// are kept in.
func DateOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// PeriodLabel names the period from start to end (UTC midnights, inclusive) as people
// say it for a control of frequency f: "Q1 2026", "March 2026", "H2 2025", "2025", "the
// week of 2026-03-02", "2026-03-01". A period that is not a whole period of the
// frequency is written as its two dates, "2025-03-01 to 2026-03-01".
func PeriodLabel(f Frequency, start, end time.Time) string {
	start, end = DateOf(start), DateOf(end)
	whole := func(months int) bool {
		return start.Day() == 1 && (int(start.Month())-1)%months == 0 && end.Equal(start.AddDate(0, months, -1))
	}
	switch {
	case start.Equal(end):
		return start.Format(time.DateOnly)
	case f == FrequencyWeekly && start.Weekday() == time.Monday && end.Equal(start.AddDate(0, 0, 6)):
		return "the week of " + start.Format(time.DateOnly)
	case f == FrequencyMonthly && whole(1):
		return start.Format("January 2006")
	case f == FrequencyQuarterly && whole(3):
		return fmt.Sprintf("Q%d %d", (int(start.Month())-1)/3+1, start.Year())
	case f == FrequencySemiAnnual && whole(6):
		return fmt.Sprintf("H%d %d", (int(start.Month())-1)/6+1, start.Year())
	case f == FrequencyAnnual && whole(12):
		return strconv.Itoa(start.Year())
	}
	return start.Format(time.DateOnly) + " to " + end.Format(time.DateOnly)
}
