package catalog

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/evidenthq/evident/internal/domain"
)

// wantCriteria is every Trust Services Criterion, in the order the AICPA publishes them.
var wantCriteria = []string{
	"CC1.1", "CC1.2", "CC1.3", "CC1.4", "CC1.5",
	"CC2.1", "CC2.2", "CC2.3",
	"CC3.1", "CC3.2", "CC3.3", "CC3.4",
	"CC4.1", "CC4.2",
	"CC5.1", "CC5.2", "CC5.3",
	"CC6.1", "CC6.2", "CC6.3", "CC6.4", "CC6.5", "CC6.6", "CC6.7", "CC6.8",
	"CC7.1", "CC7.2", "CC7.3", "CC7.4", "CC7.5",
	"CC8.1",
	"CC9.1", "CC9.2",
	"A1.1", "A1.2", "A1.3",
	"C1.1", "C1.2",
	"PI1.1", "PI1.2", "PI1.3", "PI1.4", "PI1.5",
	"P1.1", "P2.1", "P3.1", "P3.2", "P4.1", "P4.2", "P4.3", "P5.1", "P5.2",
	"P6.1", "P6.2", "P6.3", "P6.4", "P6.5", "P6.6", "P6.7", "P7.1", "P8.1",
}

// wantPrefix is the identifier prefix of each category's criteria.
var wantPrefix = map[domain.Category]string{
	domain.CategorySecurity:            "CC",
	domain.CategoryAvailability:        "A",
	domain.CategoryConfidentiality:     "C",
	domain.CategoryProcessingIntegrity: "PI",
	domain.CategoryPrivacy:             "P",
}

// wantDomainPrefix is the ref prefix of each library domain.
var wantDomainPrefix = map[string]string{
	"Governance":               "GOV",
	"Risk Assessment":          "RSK",
	"Policies":                 "POL",
	"Human Resources":          "HR",
	"Access Control":           "AC",
	"Change Management":        "CHG",
	"Cryptography":             "CRY",
	"Logging and Monitoring":   "LOG",
	"Endpoint Security":        "END",
	"Vulnerability Management": "VUL",
	"Incident Response":        "IR",
	"Business Continuity":      "BCP",
	"Vendor Management":        "VEN",
	"Asset Management":         "AST",
	"Data Management":          "DAT",
	"Network Security":         "NET",
	"Availability":             "AVL",
	"Confidentiality":          "CON",
	"Processing Integrity":     "PI",
	"Privacy":                  "PRI",
}

// embedded parses the embedded data, failing the test if it is invalid.
func embedded(tb testing.TB) *Catalog {
	tb.Helper()
	c, err := Parse(criteriaYAML, controlsYAML)
	if err != nil {
		tb.Fatalf("Parse(embedded data) = %v", err)
	}
	return c
}

func TestDefaultIsEmbeddedData(t *testing.T) {
	got := Default()
	if diff := cmp.Diff(embedded(t).Criteria, got.Criteria); diff != "" {
		t.Errorf("Default().Criteria differs from the embedded data (-parsed +default):\n%s", diff)
	}
	if diff := cmp.Diff(embedded(t).Library, got.Library); diff != "" {
		t.Errorf("Default().Library differs from the embedded data (-parsed +default):\n%s", diff)
	}
	if Default() != got {
		t.Error("Default() returned a different catalog on the second call")
	}
}

func TestCriteriaIdentifiers(t *testing.T) {
	c := embedded(t)
	if len(c.Criteria) != 61 {
		t.Errorf("len(Criteria) = %d; want 61", len(c.Criteria))
	}
	var got []string
	for _, cr := range c.Criteria {
		got = append(got, cr.ID)
	}
	if diff := cmp.Diff(wantCriteria, got); diff != "" {
		t.Errorf("criterion IDs (-want +got):\n%s", diff)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("criterion %s appears twice", id)
		}
		seen[id] = true
	}
}

func TestCriteriaPerCategory(t *testing.T) {
	got := map[domain.Category]int{}
	for _, cr := range embedded(t).Criteria {
		got[cr.Category]++
	}
	want := map[domain.Category]int{
		domain.CategorySecurity:            33,
		domain.CategoryAvailability:        3,
		domain.CategoryConfidentiality:     2,
		domain.CategoryProcessingIntegrity: 5,
		domain.CategoryPrivacy:             18,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("criteria per category (-want +got):\n%s", diff)
	}
}

func TestCriteriaCategoryAndSeries(t *testing.T) {
	idForm := regexp.MustCompile(`^([A-Z]+)([0-9])\.[0-9]$`)
	for _, cr := range embedded(t).Criteria {
		m := idForm.FindStringSubmatch(cr.ID)
		if m == nil {
			t.Errorf("criterion %q is not of the form PREFIXn.n", cr.ID)
			continue
		}
		if want := wantPrefix[cr.Category]; m[1] != want {
			t.Errorf("criterion %s is under category %q, whose prefix is %q", cr.ID, cr.Category, want)
		}
		if want := m[1] + m[2]; cr.Series != want {
			t.Errorf("criterion %s: Series = %q; want %q", cr.ID, cr.Series, want)
		}
	}
}

func TestCriteriaText(t *testing.T) {
	sentenceEnd := regexp.MustCompile(`[.!?](\s|$)`)
	for _, cr := range embedded(t).Criteria {
		if cr.Title == "" {
			t.Errorf("criterion %s has no title", cr.ID)
		}
		if n := len(strings.Fields(cr.Title)); n > 8 {
			t.Errorf("criterion %s: title %q has %d words; want a short title", cr.ID, cr.Title, n)
		}
		if n := len(sentenceEnd.FindAllString(cr.Explanation, -1)); n < 1 || n > 3 {
			t.Errorf("criterion %s: explanation has %d sentences; want 1 to 3", cr.ID, n)
		}
		if len(cr.PointsOfFocus) == 0 {
			t.Errorf("criterion %s has no points of focus", cr.ID)
		}
		seen := map[string]bool{}
		for _, p := range cr.PointsOfFocus {
			if p == "" || strings.Contains(p, "\n") {
				t.Errorf("criterion %s: point of focus %q is not one non-empty line", cr.ID, p)
			}
			if key := strings.ToLower(p); seen[key] {
				t.Errorf("criterion %s: point of focus %q appears twice", cr.ID, p)
			}
			seen[strings.ToLower(p)] = true
		}
	}
}

// TestCriteria2022PointsOfFocus checks a few of the points of focus added in the 2022
// revision, so that the catalog keeps the revised set and its placement.
func TestCriteria2022PointsOfFocus(t *testing.T) {
	tests := []struct {
		criterion string
		contains  string
	}{
		{"CC2.1", "Information assets are inventoried and managed"},
		{"CC2.1", "Information is classified"},
		{"CC3.2", "vendors, business partners and other third parties"},
		{"CC6.1", "Credentials for infrastructure and software"},
		{"CC6.1", "Encryption is used to protect data"},
		{"CC6.1", "Encryption keys are protected"},
		{"CC6.1", "New architectures are assessed"},
		{"CC8.1", "Patches are managed"},
		{"CC7.5", "Incident recovery plans are tested"},
	}
	c := embedded(t)
	for _, tt := range tests {
		cr, ok := c.Criterion(tt.criterion)
		if !ok {
			t.Errorf("Criterion(%q) not found", tt.criterion)
			continue
		}
		found := false
		for _, p := range cr.PointsOfFocus {
			if strings.Contains(p, tt.contains) {
				found = true
			}
		}
		if !found {
			t.Errorf("criterion %s has no point of focus containing %q", tt.criterion, tt.contains)
		}
	}
}

func TestCriterionLookup(t *testing.T) {
	c := embedded(t)
	got, ok := c.Criterion("CC6.1")
	if !ok {
		t.Fatal(`Criterion("CC6.1") not found`)
	}
	if got.Title != "Logical access security" || got.Category != domain.CategorySecurity || got.Series != "CC6" {
		t.Errorf(`Criterion("CC6.1") = {Title: %q, Category: %q, Series: %q}; want {"Logical access security", "security", "CC6"}`, got.Title, got.Category, got.Series)
	}
	for _, id := range []string{"", "CC6.9", "cc6.1", "CC10.1"} {
		if _, ok := c.Criterion(id); ok {
			t.Errorf("Criterion(%q) found; want not found", id)
		}
	}
}

func TestInScope(t *testing.T) {
	c := embedded(t)
	tests := []struct {
		name string
		cats []domain.Category
		want int
	}{
		{"none", nil, 0},
		{"security", []domain.Category{domain.CategorySecurity}, 33},
		{"security and availability", []domain.Category{domain.CategorySecurity, domain.CategoryAvailability}, 36},
		{"privacy only", []domain.Category{domain.CategoryPrivacy}, 18},
		{"all five", domain.Categories, 61},
		{"repeated category", []domain.Category{domain.CategoryConfidentiality, domain.CategoryConfidentiality}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.InScope(tt.cats)
			if len(got) != tt.want {
				t.Errorf("len(InScope(%v)) = %d; want %d", tt.cats, len(got), tt.want)
			}
			want := map[domain.Category]bool{}
			for _, cat := range tt.cats {
				want[cat] = true
			}
			last := -1
			for _, cr := range got {
				if !want[cr.Category] {
					t.Errorf("InScope(%v) returned %s of category %s", tt.cats, cr.ID, cr.Category)
				}
				i := indexOf(wantCriteria, cr.ID)
				if i <= last {
					t.Errorf("InScope(%v) returned %s out of catalog order", tt.cats, cr.ID)
				}
				last = i
			}
		})
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestLibrarySize(t *testing.T) {
	if n := len(embedded(t).Library); n < 100 {
		t.Errorf("len(Library) = %d; want at least 100", n)
	}
}

func TestLibraryControls(t *testing.T) {
	c := embedded(t)
	refForm := regexp.MustCompile(`^([A-Z]+)-\d{2}$`)
	seen := map[string]bool{}
	for _, lc := range c.Library {
		m := refForm.FindStringSubmatch(lc.Ref)
		if m == nil {
			t.Errorf("control ref %q does not match %s", lc.Ref, refForm)
			continue
		}
		if seen[lc.Ref] {
			t.Errorf("control %s appears twice", lc.Ref)
		}
		seen[lc.Ref] = true
		prefix, ok := wantDomainPrefix[lc.Domain]
		if !ok {
			t.Errorf("control %s: domain %q is not one of the library domains", lc.Ref, lc.Domain)
		} else if m[1] != prefix {
			t.Errorf("control %s: domain %q wants refs starting with %s-", lc.Ref, lc.Domain, prefix)
		}
		if !lc.Frequency.Valid() {
			t.Errorf("control %s: frequency %q is not valid", lc.Ref, lc.Frequency)
		}
		for field, v := range map[string]string{"title": lc.Title, "description": lc.Description, "evidence": lc.EvidenceExpected, "finding": lc.Finding} {
			if strings.TrimSpace(v) == "" {
				t.Errorf("control %s has no %s", lc.Ref, field)
			}
		}
		if len(lc.Criteria) == 0 {
			t.Errorf("control %s maps to no criterion", lc.Ref)
		}
		for i, id := range lc.Criteria {
			if _, ok := c.Criterion(id); !ok {
				t.Errorf("control %s maps to unknown criterion %q", lc.Ref, id)
			}
			if i > 0 && lc.Criteria[i-1] >= id {
				t.Errorf("control %s: criteria %v are not sorted and unique", lc.Ref, lc.Criteria)
			}
		}
		if got, ok := c.LibraryControl(lc.Ref); !ok || got.Ref != lc.Ref {
			t.Errorf("LibraryControl(%q) = %q, %v; want the control", lc.Ref, got.Ref, ok)
		}
	}
	if _, ok := c.LibraryControl("ZZ-99"); ok {
		t.Error(`LibraryControl("ZZ-99") found; want not found`)
	}
}

func TestLibraryDomains(t *testing.T) {
	var want []string
	for d := range wantDomainPrefix {
		want = append(want, d)
	}
	if diff := cmp.Diff(want, Domains, cmpSorted); diff != "" {
		t.Errorf("Domains (-want +got):\n%s", diff)
	}
	perDomain := map[string]int{}
	for _, lc := range embedded(t).Library {
		perDomain[lc.Domain]++
	}
	for _, d := range Domains {
		if perDomain[d] == 0 {
			t.Errorf("domain %q has no library control", d)
		}
	}
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestLibraryCoversEveryCriterion(t *testing.T) {
	c := embedded(t)
	covered := map[string]int{}
	for _, lc := range c.Library {
		for _, id := range lc.Criteria {
			covered[id]++
		}
	}
	for _, cat := range domain.Categories {
		crs := c.InScope([]domain.Category{cat})
		if len(crs) == 0 {
			t.Errorf("category %s has no criteria", cat)
		}
		for _, cr := range crs {
			if covered[cr.ID] == 0 {
				t.Errorf("criterion %s (%s) is covered by no library control", cr.ID, cat)
			}
		}
	}
}

// TestLibraryReadinessFindings checks the controls whose findings the readiness report
// relies on: each finding exists once, on a control of the expected kind.
func TestLibraryReadinessFindings(t *testing.T) {
	tests := []struct {
		finding   string
		domain    string
		frequency domain.Frequency
		criterion string // one criterion the control must map to
	}{
		{"No formal user access review process", "Access Control", domain.FrequencyQuarterly, "CC6.2"},
		{"Encryption is not enabled on all storage volumes", "Cryptography", domain.FrequencyContinuous, "CC6.1"},
		{"The incident response plan has never been tested", "Incident Response", domain.FrequencyAnnual, "CC7.4"},
		{"Vendor contracts lack a security addendum", "Vendor Management", domain.FrequencyPerEvent, "CC9.2"},
	}
	lib := embedded(t).Library
	for _, tt := range tests {
		t.Run(tt.finding, func(t *testing.T) {
			var found []domain.LibraryControl
			for _, lc := range lib {
				if lc.Finding == tt.finding {
					found = append(found, lc)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d controls have the finding %q; want 1", len(found), tt.finding)
			}
			lc := found[0]
			if lc.Domain != tt.domain || lc.Frequency != tt.frequency {
				t.Errorf("control %s: domain %q, frequency %q; want %q, %q", lc.Ref, lc.Domain, lc.Frequency, tt.domain, tt.frequency)
			}
			if indexOf(lc.Criteria, tt.criterion) < 0 {
				t.Errorf("control %s maps to %v; want it to include %s", lc.Ref, lc.Criteria, tt.criterion)
			}
		})
	}
}

// TestLibraryFindingsUnique keeps findings distinct, so a readiness gap names one control.
func TestLibraryFindingsUnique(t *testing.T) {
	seen := map[string]string{}
	for _, lc := range embedded(t).Library {
		if other, dup := seen[lc.Finding]; dup {
			t.Errorf("controls %s and %s share the finding %q", other, lc.Ref, lc.Finding)
		}
		seen[lc.Finding] = lc.Ref
	}
}

// validCriteria is the smallest criteria file Parse accepts: the five categories, one or
// two criteria each. Test rows edit it to make one thing wrong.
const validCriteria = `categories:
  - id: security
    prefix: CC
    criteria:
      - id: CC1.1
        title: Integrity and ethics
        explanation: Leaders set the tone.
        points_of_focus: [Sets the tone at the top, Sets standards of conduct]
      - id: CC1.2
        title: Board oversight
        explanation: The board oversees control.
        points_of_focus: [Board is independent]
  - id: availability
    prefix: A
    criteria:
      - id: A1.1
        title: Capacity
        explanation: Capacity is planned.
        points_of_focus: [Measures current usage]
  - id: confidentiality
    prefix: C
    criteria:
      - id: C1.1
        title: Confidential information
        explanation: Confidential data is identified.
        points_of_focus: [Identifies confidential information]
  - id: processing_integrity
    prefix: PI
    criteria:
      - id: PI1.1
        title: Specifications
        explanation: Processing is specified.
        points_of_focus: [Defines processing]
  - id: privacy
    prefix: P
    criteria:
      - id: P1.1
        title: Notice
        explanation: People are told.
        points_of_focus: [Provides notice]
`

// validControls is a small control library valid against validCriteria.
const validControls = `controls:
  - id: AC-01
    title: Access review
    description: Owners review access each quarter.
    domain: Access Control
    frequency: quarterly
    evidence: Review sign-off
    criteria: [CC1.2, A1.1]
    finding: No formal user access review process
  - id: GOV-01
    title: Code of conduct
    description: Everyone acknowledges the code.
    domain: Governance
    frequency: annual
    evidence: Acknowledgements
    criteria: [CC1.1]
    finding: No code of conduct
`

// edit returns s with old replaced by new once; it panics when old is absent, which would
// be a mistake in the table.
func edit(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("edit: " + old + " is not in the fixture")
	}
	return strings.Replace(s, old, new, 1)
}

func TestParseValidFixture(t *testing.T) {
	c, err := Parse([]byte(validCriteria), []byte(validControls))
	if err != nil {
		t.Fatalf("Parse(valid fixture) = %v", err)
	}
	var ids []string
	for _, cr := range c.Criteria {
		ids = append(ids, cr.ID)
	}
	if diff := cmp.Diff([]string{"CC1.1", "CC1.2", "A1.1", "C1.1", "PI1.1", "P1.1"}, ids); diff != "" {
		t.Errorf("criteria (-want +got):\n%s", diff)
	}
	ac, ok := c.LibraryControl("AC-01")
	if !ok {
		t.Fatal(`LibraryControl("AC-01") not found`)
	}
	if diff := cmp.Diff([]string{"A1.1", "CC1.2"}, ac.Criteria); diff != "" {
		t.Errorf("AC-01 criteria are not sorted (-want +got):\n%s", diff)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name     string
		criteria string
		controls string
		want     string // the error must contain this
	}{
		// The criteria file.
		{"empty criteria file", "", validControls, "criteria: the file is empty"},
		{"malformed criteria yaml", "categories: [", validControls, "criteria: yaml:"},
		{"two criteria documents", validCriteria + "---\ncategories: []\n", validControls, "criteria: the file holds more than one YAML document"},
		{"unknown top-level field", "version: 2\n" + validCriteria, validControls, "criteria: yaml: unmarshal errors:\n  line 1: field version not found"},
		{"unknown criterion field", edit(validCriteria, "title: Capacity", "title: Capacity\n        severity: high"), validControls, "field severity not found"},
		{"unknown category", edit(validCriteria, "id: processing_integrity", "id: integrity"), validControls, `criteria: line 27: unknown category "integrity"`},
		{"category twice", validCriteria + "  - id: privacy\n    prefix: P\n    criteria:\n      - {id: P2.1, title: Choice, explanation: Consent., points_of_focus: [Consent]}\n", validControls, "criteria: line 41: category privacy appears twice"},
		{"missing category", edit(validCriteria, "  - id: privacy\n    prefix: P\n    criteria:\n      - id: P1.1\n        title: Notice\n        explanation: People are told.\n        points_of_focus: [Provides notice]\n", ""), validControls, "criteria: category privacy is missing"},
		{"wrong category prefix", edit(validCriteria, "prefix: PI", "prefix: P"), validControls, `category processing_integrity: prefix is "P"; want "PI"`},
		{"category without criteria", edit(validCriteria, "    criteria:\n      - id: A1.1\n        title: Capacity\n        explanation: Capacity is planned.\n        points_of_focus: [Measures current usage]\n", "    criteria: []\n"), validControls, "category availability has no criteria"},
		{"duplicate criterion", edit(validCriteria, "id: CC1.2", "id: CC1.1"), validControls, "criteria: line 9: CC1.1 appears twice"},
		{"availability criterion under security", edit(validCriteria, "id: CC1.2", "id: A1.2"), validControls, "A1.2 is not under category security, whose criteria start with CC"},
		{"security criterion under confidentiality", edit(validCriteria, "id: C1.1", "id: CC1.3"), validControls, "CC1.3 is not under category confidentiality, whose criteria start with C"},
		{"processing integrity criterion under privacy", edit(validCriteria, "id: P1.1", "id: PI1.2"), validControls, "PI1.2 is not under category privacy, whose criteria start with P"},
		{"criterion without number", edit(validCriteria, "id: CC1.2", "id: CC1"), validControls, `"CC1" is not of the form CCn.n`},
		{"criterion with letters after the series", edit(validCriteria, "id: CC1.2", "id: CC1.2a"), validControls, `"CC1.2a" is not of the form CCn.n`},
		{"criterion without id", edit(validCriteria, "id: CC1.2", "id: ''"), validControls, "criteria: line 9: a criterion has no id"},
		{"criterion without title", edit(validCriteria, "title: Board oversight", "title: ' '"), validControls, "CC1.2: title is required"},
		{"criterion without explanation", edit(validCriteria, "explanation: The board oversees control.", ""), validControls, "CC1.2: explanation is required"},
		{"criterion without points of focus", edit(validCriteria, "points_of_focus: [Board is independent]", "points_of_focus: []"), validControls, "CC1.2: points_of_focus is required"},
		{"empty point of focus", edit(validCriteria, "[Board is independent]", "[Board is independent, '']"), validControls, "CC1.2: point of focus 2 is empty"},
		{"duplicate point of focus", edit(validCriteria, "[Board is independent]", "[Board is independent, Board is independent]"), validControls, `CC1.2: point of focus "Board is independent" appears twice`},

		// The controls file.
		{"empty controls file", validCriteria, "", "controls: the file is empty"},
		{"malformed controls yaml", validCriteria, "controls:\n  - id: [", "controls: yaml:"},
		{"unknown control field", validCriteria, edit(validControls, "domain: Governance", "domain: Governance\n    owner: Jane"), "controls: yaml: unmarshal errors:\n  line 14: field owner not found"},
		{"control without id", validCriteria, edit(validControls, "id: GOV-01", "id: ''"), "controls: line 10: a control has no id"},
		{"malformed ref", validCriteria, edit(validControls, "id: GOV-01", "id: GOV-1"), `controls: line 10: "GOV-1": id is not of the form PREFIX-nn`},
		{"lower-case ref", validCriteria, edit(validControls, "id: GOV-01", "id: gov-01"), `"gov-01": id is not of the form PREFIX-nn`},
		{"control without title", validCriteria, edit(validControls, "title: Code of conduct", "title: ''"), "GOV-01: title is required"},
		{"control without description", validCriteria, edit(validControls, "description: Everyone acknowledges the code.", "description: ''"), "GOV-01: description is required"},
		{"control without domain", validCriteria, edit(validControls, "domain: Governance", "domain: ''"), "GOV-01: domain is required"},
		{"unknown domain", validCriteria, edit(validControls, "domain: Governance", "domain: Security"), `GOV-01: unknown domain "Security"`},
		{"ref prefix of another domain", validCriteria, edit(validControls, "domain: Governance", "domain: Access Control"), "GOV-01: a control of domain Access Control has an id starting with AC-"},
		{"control without frequency", validCriteria, edit(validControls, "frequency: annual", "frequency: ''"), "GOV-01: frequency is required"},
		{"unknown frequency", validCriteria, edit(validControls, "frequency: annual", "frequency: hourly"), `GOV-01: unknown frequency "hourly"`},
		{"control without evidence", validCriteria, edit(validControls, "evidence: Acknowledgements", "evidence: ''"), "GOV-01: evidence is required"},
		{"control without finding", validCriteria, edit(validControls, "finding: No code of conduct", "finding: ''"), "controls: line 10: GOV-01: finding is required"},
		{"control without criteria", validCriteria, edit(validControls, "criteria: [CC1.1]", "criteria: []"), "GOV-01 maps to no criterion"},
		{"mapping to an unknown criterion", validCriteria, edit(validControls, "criteria: [CC1.1]", "criteria: [CC1.1, CC9.9]"), `GOV-01 maps to unknown criterion "CC9.9"`},
		{"mapping to the same criterion twice", validCriteria, edit(validControls, "criteria: [CC1.1]", "criteria: [CC1.1, CC1.1]"), "GOV-01 maps to CC1.1 twice"},
		{"duplicate control ref", validCriteria, edit(validControls, "id: GOV-01\n    title: Code of conduct\n    description: Everyone acknowledges the code.\n    domain: Governance", "id: AC-01\n    title: Code of conduct\n    description: Everyone acknowledges the code.\n    domain: Access Control"), "controls: line 10: AC-01 appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.criteria), []byte(tt.controls))
			if err == nil {
				t.Fatalf("Parse() = %d criteria, %d controls, nil error; want an error containing %q", len(c.Criteria), len(c.Library), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() error = %q; want it to contain %q", err, tt.want)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, and that whatever it accepts is consistent.
// Seeds are the small fixture and the files in testdata/fuzz/FuzzParse; the embedded data
// is left out because the fuzzer spends its time minimising inputs that large.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validCriteria), []byte(validControls))
	f.Add([]byte(validCriteria), []byte("controls: [{id: AC-01, criteria: *x}]"))
	f.Add([]byte("categories: [{id: security, prefix: CC, criteria: [&a {id: CC1.1}, *a]}]"), []byte(validControls))
	f.Fuzz(func(t *testing.T, criteria, controls []byte) {
		c, err := Parse(criteria, controls)
		if err != nil {
			if c != nil {
				t.Errorf("Parse() = %v and a non-nil catalog", err)
			}
			return
		}
		for _, cat := range domain.Categories {
			if len(c.InScope([]domain.Category{cat})) == 0 {
				t.Errorf("accepted catalog has no criteria for %s", cat)
			}
		}
		for i, cr := range c.Criteria {
			got, ok := c.Criterion(cr.ID)
			if !ok || got.ID != cr.ID {
				t.Errorf("Criteria[%d] = %s is not found by Criterion", i, cr.ID)
			}
			if !cr.Category.Valid() || !strings.HasPrefix(cr.ID, wantPrefix[cr.Category]) || cr.Title == "" || len(cr.PointsOfFocus) == 0 {
				t.Errorf("accepted criterion %+v is not valid", cr)
			}
		}
		for _, lc := range c.Library {
			if _, ok := c.LibraryControl(lc.Ref); !ok {
				t.Errorf("control %s is not found by LibraryControl", lc.Ref)
			}
			if !lc.Frequency.Valid() || lc.Finding == "" || len(lc.Criteria) == 0 {
				t.Errorf("accepted control %+v is not valid", lc)
			}
			for _, id := range lc.Criteria {
				if _, ok := c.Criterion(id); !ok {
					t.Errorf("control %s maps to unknown criterion %q", lc.Ref, id)
				}
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.SetBytes(int64(len(criteriaYAML) + len(controlsYAML)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(criteriaYAML, controlsYAML); err != nil {
			b.Fatal(err)
		}
	}
}
