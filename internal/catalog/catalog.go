// Package catalog holds the SOC 2 Trust Services Criteria and the control library, embedded as data.
package catalog

import (
	"bytes"
	_ "embed"
	"fmt"
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

// Parse reads and validates the criteria and control library files.
func Parse(criteria, controls []byte) (*Catalog, error) {
	var cf criteriaFile
	dec := yaml.NewDecoder(bytes.NewReader(criteria))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil {
		return nil, fmt.Errorf("criteria: %w", err)
	}
	c := &Catalog{byID: map[string]int{}, byRef: map[string]int{}}
	for _, cat := range cf.Categories {
		if !cat.ID.Valid() {
			return nil, fmt.Errorf("criteria: unknown category %q", cat.ID)
		}
		for _, cr := range cat.Criteria {
			cr.Category = cat.ID
			if !strings.HasPrefix(cr.ID, cat.Prefix) {
				return nil, fmt.Errorf("criteria: %s is not under category %s", cr.ID, cat.ID)
			}
			series, _, ok := strings.Cut(cr.ID, ".")
			if !ok || len(series) <= len(cat.Prefix) {
				return nil, fmt.Errorf("criteria: %q is not of the form PREFIXn.n", cr.ID)
			}
			cr.Series = series
			if cr.Title == "" || cr.Explanation == "" || len(cr.PointsOfFocus) == 0 {
				return nil, fmt.Errorf("criteria: %s needs a title, an explanation and points of focus", cr.ID)
			}
			if _, dup := c.byID[cr.ID]; dup {
				return nil, fmt.Errorf("criteria: %s appears twice", cr.ID)
			}
			c.byID[cr.ID] = len(c.Criteria)
			c.Criteria = append(c.Criteria, cr)
		}
	}
	var lf controlsFile
	dec = yaml.NewDecoder(bytes.NewReader(controls))
	dec.KnownFields(true)
	if err := dec.Decode(&lf); err != nil {
		return nil, fmt.Errorf("controls: %w", err)
	}
	for _, lc := range lf.Controls {
		if lc.Ref == "" || lc.Title == "" || lc.Description == "" || lc.Domain == "" || lc.EvidenceExpected == "" || lc.Finding == "" {
			return nil, fmt.Errorf("controls: %q needs an id, title, description, domain, evidence and finding", lc.Ref)
		}
		if !lc.Frequency.Valid() {
			return nil, fmt.Errorf("controls: %s: unknown frequency %q", lc.Ref, lc.Frequency)
		}
		if len(lc.Criteria) == 0 {
			return nil, fmt.Errorf("controls: %s maps to no criterion", lc.Ref)
		}
		for _, id := range lc.Criteria {
			if _, ok := c.byID[id]; !ok {
				return nil, fmt.Errorf("controls: %s maps to unknown criterion %q", lc.Ref, id)
			}
		}
		sort.Strings(lc.Criteria)
		if _, dup := c.byRef[lc.Ref]; dup {
			return nil, fmt.Errorf("controls: %s appears twice", lc.Ref)
		}
		c.byRef[lc.Ref] = len(c.Library)
		c.Library = append(c.Library, lc)
	}
	return c, nil
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
