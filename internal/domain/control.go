package domain

import (
	"strings"
	"time"
)

// Category is a Trust Services Category.
type Category string

// The five categories. Security (the common criteria) is always in scope.
const (
	CategorySecurity            Category = "security"
	CategoryAvailability        Category = "availability"
	CategoryConfidentiality     Category = "confidentiality"
	CategoryProcessingIntegrity Category = "processing_integrity"
	CategoryPrivacy             Category = "privacy"
)

// Categories lists the categories in catalog order.
var Categories = []Category{CategorySecurity, CategoryAvailability, CategoryConfidentiality, CategoryProcessingIntegrity, CategoryPrivacy}

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	for _, v := range Categories {
		if c == v {
			return true
		}
	}
	return false
}

// Title is the category's name as the AICPA writes it.
func (c Category) Title() string {
	switch c {
	case CategorySecurity:
		return "Security"
	case CategoryAvailability:
		return "Availability"
	case CategoryConfidentiality:
		return "Confidentiality"
	case CategoryProcessingIntegrity:
		return "Processing Integrity"
	case CategoryPrivacy:
		return "Privacy"
	}
	return string(c)
}

// Criterion is one Trust Services Criterion, such as CC6.1.
type Criterion struct {
	ID            string   `yaml:"id" json:"id"`
	Category      Category `yaml:"-" json:"category"`
	Series        string   `yaml:"-" json:"series"` // CC6, A1, P4…
	Title         string   `yaml:"title" json:"title"`
	Explanation   string   `yaml:"explanation" json:"explanation"`
	PointsOfFocus []string `yaml:"points_of_focus" json:"points_of_focus"`
}

// Frequency is how often a control operates, and so how often it needs fresh evidence.
type Frequency string

// The frequencies.
const (
	FrequencyContinuous Frequency = "continuous"
	FrequencyDaily      Frequency = "daily"
	FrequencyWeekly     Frequency = "weekly"
	FrequencyMonthly    Frequency = "monthly"
	FrequencyQuarterly  Frequency = "quarterly"
	FrequencySemiAnnual Frequency = "semi_annual"
	FrequencyAnnual     Frequency = "annual"
	FrequencyPerEvent   Frequency = "per_event"
)

// Frequencies lists the frequencies from most to least frequent.
var Frequencies = []Frequency{FrequencyContinuous, FrequencyDaily, FrequencyWeekly, FrequencyMonthly, FrequencyQuarterly, FrequencySemiAnnual, FrequencyAnnual, FrequencyPerEvent}

// Valid reports whether f is a known frequency.
func (f Frequency) Valid() bool {
	for _, v := range Frequencies {
		if f == v {
			return true
		}
	}
	return false
}

// Label is the frequency as people write it.
func (f Frequency) Label() string {
	if f == FrequencySemiAnnual {
		return "Semi-annual"
	}
	if f == FrequencyPerEvent {
		return "Per event"
	}
	s := string(f)
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ControlStatus is how far a control's implementation has come.
type ControlStatus string

// The statuses.
const (
	StatusNotStarted    ControlStatus = "not_started"
	StatusInProgress    ControlStatus = "in_progress"
	StatusImplemented   ControlStatus = "implemented"
	StatusNotApplicable ControlStatus = "not_applicable"
)

// Statuses lists the statuses in workflow order.
var Statuses = []ControlStatus{StatusNotStarted, StatusInProgress, StatusImplemented, StatusNotApplicable}

// Valid reports whether s is a known status.
func (s ControlStatus) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Label is the status as people write it.
func (s ControlStatus) Label() string {
	switch s {
	case StatusNotStarted:
		return "Not started"
	case StatusInProgress:
		return "In progress"
	case StatusImplemented:
		return "Implemented"
	case StatusNotApplicable:
		return "Not applicable"
	}
	return string(s)
}

// LibraryControl is a control as the shipped library describes it, before any organization adopts it.
type LibraryControl struct {
	Ref              string    `yaml:"id" json:"id"`
	Title            string    `yaml:"title" json:"title"`
	Description      string    `yaml:"description" json:"description"`
	Domain           string    `yaml:"domain" json:"domain"`
	Frequency        Frequency `yaml:"frequency" json:"frequency"`
	EvidenceExpected string    `yaml:"evidence" json:"evidence_expected"`
	Criteria         []string  `yaml:"criteria" json:"criteria"`
	// Finding is the sentence a readiness assessor writes when the control is missing,
	// such as "No formal user access review process".
	Finding string `yaml:"finding" json:"finding"`
}

// Control is one organization's control.
type Control struct {
	ID               int64
	OrgID            int64
	Ref              string // the identifier people use, such as "AC-03"; unique in the organization
	Title            string
	Description      string
	Domain           string
	Frequency        Frequency
	EvidenceExpected string
	Criteria         []string // criterion IDs, sorted
	OwnerID          *int64
	OwnerName        string // filled on read
	Status           ControlStatus
	Justification    string // required when Status is not applicable
	FromLibrary      bool
	RetiredAt        *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Retired reports whether the control is retired. Retired controls cover nothing.
func (c *Control) Retired() bool { return c.RetiredAt != nil }

// ValidateControl checks a control's fields, trimming text.
func ValidateControl(c *Control) error {
	c.Ref = strings.TrimSpace(c.Ref)
	c.Title = strings.TrimSpace(c.Title)
	c.Justification = strings.TrimSpace(c.Justification)
	switch {
	case c.Ref == "":
		return Invalid("ref", "is required")
	case len(c.Ref) > 32:
		return Invalid("ref", "must be at most 32 characters")
	case c.Title == "":
		return Invalid("title", "is required")
	case len(c.Title) > 300:
		return Invalid("title", "must be at most 300 characters")
	case len(c.Description) > 20000:
		return Invalid("description", "must be at most 20000 characters")
	case !c.Frequency.Valid():
		return Invalid("frequency", "must be one of continuous, daily, weekly, monthly, quarterly, semi_annual, annual, per_event")
	case !c.Status.Valid():
		return Invalid("status", "must be one of not_started, in_progress, implemented, not_applicable")
	case c.Status == StatusNotApplicable && c.Justification == "":
		return Invalid("justification", "is required when the status is not applicable")
	}
	return nil
}

// ControlFilter narrows a list of controls. Zero values match everything.
type ControlFilter struct {
	Query          string // matched against ref, title and description
	Status         ControlStatus
	OwnerID        int64 // 0: any owner; -1: no owner
	Criterion      string
	Domain         string
	IncludeRetired bool
}

// ControlChange is a partial update of a control: nil fields stay as they are.
type ControlChange struct {
	Title            *string
	Description      *string
	Domain           *string
	Frequency        *Frequency
	EvidenceExpected *string
	Status           *ControlStatus
	Justification    *string
	OwnerID          **int64 // set to a pointer to nil to clear the owner
	Retired          *bool
}
