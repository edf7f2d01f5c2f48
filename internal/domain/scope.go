package domain

import (
	"strings"
	"time"
)

// ReportType is the kind of SOC 2 report an organization is heading for.
type ReportType string

// The report types.
const (
	ReportTypeI  ReportType = "type1"
	ReportTypeII ReportType = "type2"
)

// Scope is what an organization's SOC 2 examination covers.
type Scope struct {
	OrgID      int64
	Categories []Category // always includes security
	ReportType ReportType
	// TargetDate is when the report should be issued (Type I: the as-of date).
	TargetDate *time.Time
	// PeriodStart and PeriodEnd bound a Type II observation period.
	PeriodStart *time.Time
	PeriodEnd   *time.Time
	// OutOfScope says what is left out and why: the seed of the system description.
	OutOfScope string
	UpdatedAt  time.Time
}

// InScope reports whether the category is in scope.
func (s *Scope) InScope(c Category) bool {
	if c == CategorySecurity {
		return true
	}
	for _, v := range s.Categories {
		if v == c {
			return true
		}
	}
	return false
}

// ValidateScope checks and normalizes a scope: security is added, categories are ordered.
func ValidateScope(s *Scope) error {
	seen := map[Category]bool{CategorySecurity: true}
	for _, c := range s.Categories {
		if !c.Valid() {
			return Invalid("categories", "unknown category %q", c)
		}
		seen[c] = true
	}
	s.Categories = s.Categories[:0]
	for _, c := range Categories {
		if seen[c] {
			s.Categories = append(s.Categories, c)
		}
	}
	if s.ReportType != ReportTypeI && s.ReportType != ReportTypeII {
		return Invalid("report_type", "must be type1 or type2")
	}
	if (s.PeriodStart == nil) != (s.PeriodEnd == nil) {
		return Invalid("period_end", "the observation period needs both a start and an end")
	}
	if s.PeriodStart != nil {
		if !s.PeriodEnd.After(*s.PeriodStart) {
			return Invalid("period_end", "must be after the period start")
		}
		days := s.PeriodEnd.Sub(*s.PeriodStart).Hours() / 24
		if s.ReportType == ReportTypeII && (days < 89 || days > 366) {
			return Invalid("period_end", "a Type II observation period runs 3 to 12 months")
		}
	}
	if len(s.OutOfScope) > 20000 {
		return Invalid("out_of_scope", "must be at most 20000 characters")
	}
	return nil
}

// DataClassification is the most sensitive data a system holds.
type DataClassification string

// The classifications.
const (
	DataPublic       DataClassification = "public"
	DataInternal     DataClassification = "internal"
	DataConfidential DataClassification = "confidential"
	DataRestricted   DataClassification = "restricted"
)

// DataClassifications lists the classifications from least to most sensitive.
var DataClassifications = []DataClassification{DataPublic, DataInternal, DataConfidential, DataRestricted}

// System is a system in scope: an application, a cloud account, a data store, a vendor service.
type System struct {
	ID             int64
	OrgID          int64
	Name           string
	Description    string
	Kind           string // application, infrastructure, database, saas, network, endpoint, other
	Classification DataClassification
	OwnerID        *int64
	OwnerName      string // filled on read
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// SystemKinds lists the kinds a system can be.
var SystemKinds = []string{"application", "infrastructure", "database", "saas", "network", "endpoint", "other"}

// ValidateSystem checks a system's fields, trimming text.
func ValidateSystem(s *System) error {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		return Invalid("name", "is required")
	}
	if len(s.Name) > 200 {
		return Invalid("name", "must be at most 200 characters")
	}
	okKind := false
	for _, k := range SystemKinds {
		okKind = okKind || s.Kind == k
	}
	if !okKind {
		return Invalid("kind", "must be one of %s", strings.Join(SystemKinds, ", "))
	}
	okClass := false
	for _, c := range DataClassifications {
		okClass = okClass || s.Classification == c
	}
	if !okClass {
		return Invalid("classification", "must be one of public, internal, confidential, restricted")
	}
	return nil
}
