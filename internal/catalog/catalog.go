// Package catalog holds the SOC 2 Trust Services Criteria and the control library, embedded as data.
package catalog

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/evidenthq/evident/internal/domain"
)

//go:embed criteria.yaml
var criteriaYAML []byte

//go:embed controls.yaml
var controlsYAML []byte

// Catalog is the criteria and the control library, validated.
type Catalog struct {
	Criteria []domain.Criterion      // in catalog order
	Library  []domain.LibraryControl // in library order
	byID     map[string]int          // criterion ID → index in Criteria
	byRef    map[string]int          // library ref → index in Library
}

// Domains lists the domains of the control library, in the order the library presents them.
var Domains = []string{
	"Governance",
	"Risk Assessment",
	"Policies",
	"Human Resources",
	"Access Control",
	"Change Management",
	"Cryptography",
	"Logging and Monitoring",
	"Endpoint Security",
	"Vulnerability Management",
	"Incident Response",
	"Business Continuity",
	"Vendor Management",
	"Asset Management",
	"Data Management",
	"Network Security",
	"Availability",
	"Confidentiality",
	"Processing Integrity",
	"Privacy",
}

// domainPrefixes gives the ref prefix of each library domain, so that a ref says its domain.
var domainPrefixes = map[string]string{
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

// categoryPrefixes gives the identifier prefix the AICPA uses for each category.
var categoryPrefixes = map[domain.Category]string{
	domain.CategorySecurity:            "CC",
	domain.CategoryAvailability:        "A",
	domain.CategoryConfidentiality:     "C",
	domain.CategoryProcessingIntegrity: "PI",
	domain.CategoryPrivacy:             "P",
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default returns the embedded catalog, parsed once. The embedded data is validated by
// the package's tests, so an error here means a broken build; it panics.
func Default() *Catalog {
	defaultOnce.Do(func() { defaultCat, defaultErr = Parse(criteriaYAML, controlsYAML) })
	if defaultErr != nil {
		panic("catalog: embedded data is invalid: " + defaultErr.Error())
	}
	return defaultCat
}

// criteriaFile is the shape of criteria.yaml.
type criteriaFile struct {
	Categories []struct {
		ID       domain.Category    `yaml:"id"`
		Prefix   string             `yaml:"prefix"` // CC, A, C, PI, P
		Criteria []domain.Criterion `yaml:"criteria"`
	} `yaml:"categories"`
}

// controlsFile is the shape of controls.yaml.
type controlsFile struct {
	Controls []domain.LibraryControl `yaml:"controls"`
}

// Parse reads and validates the criteria and control library files. An error names the
// file, the line where the offending entry starts when it is known, the entry and the
// problem.
func Parse(criteria, controls []byte) (*Catalog, error) {
	c := &Catalog{byID: map[string]int{}, byRef: map[string]int{}}
	if err := c.parseCriteria(criteria); err != nil {
		return nil, fmt.Errorf("criteria: %w", err)
	}
	if err := c.parseControls(controls); err != nil {
		return nil, fmt.Errorf("controls: %w", err)
	}
	return c, nil
}

func (c *Catalog) parseCriteria(data []byte) error {
	var cf criteriaFile
	if err := decodeStrict(data, &cf); err != nil {
		return err
	}
	// Lines are looked up only on failure: finding them means parsing the file again.
	atCategory := func(i int, err error) error {
		return fmt.Errorf("%s%w", lineRef(entryLines(data, "categories", "criteria").outer, i), err)
	}
	atCriterion := func(i, j int, err error) error {
		return fmt.Errorf("%s%w", entryLines(data, "categories", "criteria").innerRef(i, j), err)
	}
	seen := map[domain.Category]bool{}
	for i, cat := range cf.Categories {
		if !cat.ID.Valid() {
			return atCategory(i, fmt.Errorf("unknown category %q", cat.ID))
		}
		if seen[cat.ID] {
			return atCategory(i, fmt.Errorf("category %s appears twice", cat.ID))
		}
		seen[cat.ID] = true
		if want := categoryPrefixes[cat.ID]; cat.Prefix != want {
			return atCategory(i, fmt.Errorf("category %s: prefix is %q; want %q", cat.ID, cat.Prefix, want))
		}
		if len(cat.Criteria) == 0 {
			return atCategory(i, fmt.Errorf("category %s has no criteria", cat.ID))
		}
		for j, cr := range cat.Criteria {
			if err := c.addCriterion(cat.ID, cat.Prefix, cr); err != nil {
				return atCriterion(i, j, err)
			}
		}
	}
	for _, cat := range domain.Categories {
		if !seen[cat] {
			return fmt.Errorf("category %s is missing", cat)
		}
	}
	return nil
}

func (c *Catalog) addCriterion(cat domain.Category, prefix string, cr domain.Criterion) error {
	letters, series, ok := splitCriterionID(cr.ID)
	switch {
	case cr.ID == "":
		return errors.New("a criterion has no id")
	case !ok:
		return fmt.Errorf("%q is not of the form %sn.n", cr.ID, prefix)
	case letters != prefix:
		return fmt.Errorf("%s is not under category %s, whose criteria start with %s", cr.ID, cat, prefix)
	}
	if _, dup := c.byID[cr.ID]; dup {
		return fmt.Errorf("%s appears twice", cr.ID)
	}
	cr.Category = cat
	cr.Series = series
	cr.Title = strings.TrimSpace(cr.Title)
	cr.Explanation = strings.TrimSpace(cr.Explanation)
	switch {
	case cr.Title == "":
		return fmt.Errorf("%s: title is required", cr.ID)
	case cr.Explanation == "":
		return fmt.Errorf("%s: explanation is required", cr.ID)
	case len(cr.PointsOfFocus) == 0:
		return fmt.Errorf("%s: points_of_focus is required", cr.ID)
	}
	points := make(map[string]bool, len(cr.PointsOfFocus))
	for k, p := range cr.PointsOfFocus {
		p = strings.TrimSpace(p)
		if p == "" {
			return fmt.Errorf("%s: point of focus %d is empty", cr.ID, k+1)
		}
		if points[p] {
			return fmt.Errorf("%s: point of focus %q appears twice", cr.ID, p)
		}
		points[p] = true
		cr.PointsOfFocus[k] = p
	}
	c.byID[cr.ID] = len(c.Criteria)
	c.Criteria = append(c.Criteria, cr)
	return nil
}

// splitCriterionID splits an identifier such as "CC6.1" into its letters ("CC") and its
// series ("CC6"), reporting whether it has the form LETTERS DIGITS "." DIGITS.
func splitCriterionID(id string) (letters, series string, ok bool) {
	i := 0
	for i < len(id) && id[i] >= 'A' && id[i] <= 'Z' {
		i++
	}
	series, number, found := strings.Cut(id, ".")
	if i == 0 || !found || !digits(series[i:]) || !digits(number) {
		return "", "", false
	}
	return id[:i], series, true
}

func (c *Catalog) parseControls(data []byte) error {
	var lf controlsFile
	if err := decodeStrict(data, &lf); err != nil {
		return err
	}
	for i, lc := range lf.Controls {
		if err := c.addControl(lc); err != nil {
			return fmt.Errorf("%s%w", lineRef(entryLines(data, "controls", "").outer, i), err)
		}
	}
	return nil
}

func (c *Catalog) addControl(lc domain.LibraryControl) error {
	lc.Ref = strings.TrimSpace(lc.Ref)
	lc.Title = strings.TrimSpace(lc.Title)
	lc.Description = strings.TrimSpace(lc.Description)
	lc.EvidenceExpected = strings.TrimSpace(lc.EvidenceExpected)
	lc.Finding = strings.TrimSpace(lc.Finding)
	if lc.Ref == "" {
		return errors.New("a control has no id")
	}
	prefix, ok := domainPrefixes[lc.Domain]
	switch {
	case !validRef(lc.Ref):
		return fmt.Errorf("%q: id is not of the form PREFIX-nn", lc.Ref)
	case lc.Title == "":
		return fmt.Errorf("%s: title is required", lc.Ref)
	case lc.Description == "":
		return fmt.Errorf("%s: description is required", lc.Ref)
	case lc.Domain == "":
		return fmt.Errorf("%s: domain is required", lc.Ref)
	case !ok:
		return fmt.Errorf("%s: unknown domain %q", lc.Ref, lc.Domain)
	case !strings.HasPrefix(lc.Ref, prefix+"-"):
		return fmt.Errorf("%s: a control of domain %s has an id starting with %s-", lc.Ref, lc.Domain, prefix)
	case lc.Frequency == "":
		return fmt.Errorf("%s: frequency is required", lc.Ref)
	case !lc.Frequency.Valid():
		return fmt.Errorf("%s: unknown frequency %q", lc.Ref, lc.Frequency)
	case lc.EvidenceExpected == "":
		return fmt.Errorf("%s: evidence is required", lc.Ref)
	case lc.Finding == "":
		return fmt.Errorf("%s: finding is required", lc.Ref)
	case len(lc.Criteria) == 0:
		return fmt.Errorf("%s maps to no criterion", lc.Ref)
	}
	for _, id := range lc.Criteria {
		if _, ok := c.byID[id]; !ok {
			return fmt.Errorf("%s maps to unknown criterion %q", lc.Ref, id)
		}
	}
	lc.Criteria = append([]string(nil), lc.Criteria...)
	sort.Strings(lc.Criteria)
	for k := 1; k < len(lc.Criteria); k++ {
		if lc.Criteria[k] == lc.Criteria[k-1] {
			return fmt.Errorf("%s maps to %s twice", lc.Ref, lc.Criteria[k])
		}
	}
	if _, dup := c.byRef[lc.Ref]; dup {
		return fmt.Errorf("%s appears twice", lc.Ref)
	}
	c.byRef[lc.Ref] = len(c.Library)
	c.Library = append(c.Library, lc)
	return nil
}

// validRef reports whether ref has the form of a library ref: capital letters, a hyphen and
// two digits, such as "AC-01".
func validRef(ref string) bool {
	letters, number, ok := strings.Cut(ref, "-")
	if !ok || letters == "" || len(number) != 2 || !digits(number) {
		return false
	}
	for i := 0; i < len(letters); i++ {
		if letters[i] < 'A' || letters[i] > 'Z' {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decodeStrict decodes the single YAML document in data into v, rejecting unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("the file holds more than one YAML document")
	}
	return nil
}

// lines holds the line where each entry of a file's top-level list starts (outer) and,
// for each of those entries, where each entry of its nested list starts (inner).
type lines struct {
	outer []int
	inner [][]int
}

// entryLines finds the lines of the entries of the list under the top-level key outerKey
// and, when innerKey is set, of the list under innerKey in each of them. It serves error
// messages only: where the document's shape is unusual (aliases, merges) it returns fewer
// lines, and lineRef then leaves the line out.
func entryLines(data []byte, outerKey, innerKey string) lines {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return lines{}
	}
	var l lines
	for _, item := range listUnder(doc.Content[0], outerKey) {
		l.outer = append(l.outer, item.Line)
		var in []int
		if innerKey != "" {
			for _, sub := range listUnder(item, innerKey) {
				in = append(in, sub.Line)
			}
		}
		l.inner = append(l.inner, in)
	}
	return l
}

// innerRef is lineRef for entry j of the nested list of outer entry i.
func (l lines) innerRef(i, j int) string {
	if i < 0 || i >= len(l.inner) {
		return ""
	}
	return lineRef(l.inner[i], j)
}

// listUnder returns the items of the sequence under key in the mapping m.
func listUnder(m *yaml.Node, key string) []*yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.SequenceNode {
			return m.Content[i+1].Content
		}
	}
	return nil
}

// lineRef returns "line N: " for entry i, or nothing when its line is unknown.
func lineRef(lines []int, i int) string {
	if i < 0 || i >= len(lines) || lines[i] <= 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", lines[i])
}

// Criterion returns the criterion with the given ID.
func (c *Catalog) Criterion(id string) (domain.Criterion, bool) {
	i, ok := c.byID[id]
	if !ok {
		return domain.Criterion{}, false
	}
	return c.Criteria[i], true
}

// LibraryControl returns the library control with the given ref.
func (c *Catalog) LibraryControl(ref string) (domain.LibraryControl, bool) {
	i, ok := c.byRef[ref]
	if !ok {
		return domain.LibraryControl{}, false
	}
	return c.Library[i], true
}

// InScope returns the criteria of the given categories, in catalog order.
func (c *Catalog) InScope(cats []domain.Category) []domain.Criterion {
	want := map[domain.Category]bool{}
	for _, cat := range cats {
		want[cat] = true
	}
	var out []domain.Criterion
	for _, cr := range c.Criteria {
		if want[cr.Category] {
			out = append(out, cr)
		}
	}
	return out
}
