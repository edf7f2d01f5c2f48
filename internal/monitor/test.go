package monitor

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/evidenthq/evident/internal/domain"
)

// Severity is how much a failing test matters.
type Severity string

// The severities, from most to least severe.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Severities lists the severities from most to least severe.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool {
	for _, v := range Severities {
		if s == v {
			return true
		}
	}
	return false
}

// Test is an automated check, as data: which resources it judges and the CEL expression that
// judges each of them. The shipped library and users' own tests have the same format, in YAML
// files and in the API's JSON.
type Test struct {
	// ID is the test's stable identifier, such as "aws-iam-user-mfa".
	ID          string `yaml:"id" json:"id"`
	Title       string `yaml:"title" json:"title"`
	Description string `yaml:"description" json:"description"`
	// Type is the resource type the test judges, such as "aws.iam.user".
	Type string `yaml:"type" json:"type"`
	// Where optionally narrows the selection: a CEL boolean expression over the same
	// variables as Expression. Resources for which it is false are not judged.
	Where string `yaml:"where,omitempty" json:"where,omitempty"`
	// Expression is a CEL boolean expression judged per selected resource: true passes.
	Expression string `yaml:"expression" json:"expression"`
	// Message optionally explains a failure: a CEL string expression evaluated for failing
	// resources only, such as "access key " + k.id + " is 120 days old".
	Message  string   `yaml:"message,omitempty" json:"message,omitempty"`
	Severity Severity `yaml:"severity" json:"severity"`
	// Remediation tells the control owner how to fix a failure.
	Remediation string `yaml:"remediation" json:"remediation"`
	// RemediationSnippet is a command or Terraform that fixes it, where one helps.
	RemediationSnippet string `yaml:"remediation_snippet,omitempty" json:"remediation_snippet,omitempty"`
	// Controls are the refs of the controls the test supports, such as "AC-02".
	Controls []string `yaml:"controls" json:"controls"`
	// Params are tunables the expressions read as params.NAME, such as max_age_days: 90.
	Params map[string]any `yaml:"params,omitempty" json:"params,omitempty"`
	// Origin says where the test was read from, such as "aws.yaml:120", for messages.
	Origin string `yaml:"-" json:"-"`
}

var (
	testIDPattern     = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$`)
	paramNamePattern  = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	controlRefPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
)

// Limits on a test's text, so that a stored test stays cheap to compile and show.
const (
	maxExpressionLength = 8000
	maxTextLength       = 20000
)

// validate checks everything about a test except its CEL, trimming text.
func (t *Test) validate() error {
	t.ID = strings.TrimSpace(t.ID)
	t.Title = strings.TrimSpace(t.Title)
	t.Type = strings.TrimSpace(t.Type)
	switch {
	case t.ID == "":
		return domain.Invalid("id", "is required")
	case !testIDPattern.MatchString(t.ID):
		return domain.Invalid("id", "must be 1 to 64 lower-case letters, digits, dots, hyphens or underscores, starting and ending with a letter or digit")
	case t.Title == "":
		return domain.Invalid("title", "is required")
	case len(t.Title) > 300:
		return domain.Invalid("title", "must be at most 300 characters")
	case len(t.Description) > maxTextLength:
		return domain.Invalid("description", "must be at most %d characters", maxTextLength)
	case t.Type == "":
		return domain.Invalid("type", "is required")
	case strings.TrimSpace(t.Expression) == "":
		return domain.Invalid("expression", "is required")
	case len(t.Expression) > maxExpressionLength:
		return domain.Invalid("expression", "must be at most %d characters", maxExpressionLength)
	case len(t.Where) > maxExpressionLength:
		return domain.Invalid("where", "must be at most %d characters", maxExpressionLength)
	case len(t.Message) > maxExpressionLength:
		return domain.Invalid("message", "must be at most %d characters", maxExpressionLength)
	case !t.Severity.Valid():
		return domain.Invalid("severity", "must be one of critical, high, medium, low")
	case strings.TrimSpace(t.Remediation) == "":
		return domain.Invalid("remediation", "is required")
	case len(t.Remediation) > maxTextLength:
		return domain.Invalid("remediation", "must be at most %d characters", maxTextLength)
	case len(t.RemediationSnippet) > maxTextLength:
		return domain.Invalid("remediation_snippet", "must be at most %d characters", maxTextLength)
	case len(t.Controls) > 100:
		return domain.Invalid("controls", "must list at most 100 controls")
	}
	if _, ok := SchemaFor(t.Type); !ok {
		return domain.Invalid("type", "unknown resource type %q", t.Type)
	}
	seen := map[string]bool{}
	for i, c := range t.Controls {
		c = strings.TrimSpace(c)
		if !controlRefPattern.MatchString(c) {
			return domain.Invalid("controls", "%q is not a control ref", t.Controls[i])
		}
		if seen[c] {
			return domain.Invalid("controls", "%s is listed twice", c)
		}
		seen[c] = true
		t.Controls[i] = c
	}
	for name, v := range t.Params {
		if !paramNamePattern.MatchString(name) {
			return domain.Invalid("params", "%q is not a valid parameter name (lower-case letters, digits, underscores)", name)
		}
		if err := checkParamValue(v); err != nil {
			return domain.Invalid("params", "%s: %v", name, err)
		}
	}
	return nil
}

// checkParamValue accepts the values YAML and JSON give: scalars, lists and maps of them.
func checkParamValue(v any) error {
	switch x := v.(type) {
	case string, bool, int, int64, float64:
		return nil
	case []any:
		for _, e := range x {
			if err := checkParamValue(e); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for _, e := range x {
			if err := checkParamValue(e); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return fmt.Errorf("has no value")
	}
	return fmt.Errorf("has an unsupported value of type %T", v)
}

// testKeys are the keys a test may have in YAML.
var testKeys = map[string]bool{
	"id": true, "title": true, "description": true, "type": true, "where": true,
	"expression": true, "message": true, "severity": true, "remediation": true,
	"remediation_snippet": true, "controls": true, "params": true,
}

// ParseTests reads tests from YAML: either a document with a "tests" list or a single test.
// It checks each test's fields (not its CEL; Compile does that) and that IDs are unique.
// name is how messages refer to the file; every error names the line at fault, such as
// "aws.yaml:12: severity: must be one of …".
func ParseTests(name string, data []byte) ([]Test, error) {
	if err := checkText(name, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s:1: the file holds no test", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a test or a mapping with a tests list", name, root.Line)
	}
	items := []*yaml.Node{root}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "tests" {
			continue
		}
		if len(root.Content) != 2 {
			return nil, fmt.Errorf("%s:%d: a file with a tests list holds nothing else", name, root.Line)
		}
		list := root.Content[i+1]
		if list.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s:%d: tests must be a list", name, list.Line)
		}
		if len(list.Content) == 0 {
			return nil, fmt.Errorf("%s:%d: the tests list is empty", name, list.Line)
		}
		items = list.Content
	}
	tests := make([]Test, 0, len(items))
	seen := map[string]int{}
	for _, item := range items {
		t, err := decodeTest(name, item)
		if err != nil {
			return nil, err
		}
		if line, dup := seen[t.ID]; dup {
			return nil, fmt.Errorf("%s: test %s appears twice (line %d)", t.Origin, t.ID, line)
		}
		seen[t.ID] = item.Line
		tests = append(tests, t)
	}
	return tests, nil
}

func decodeTest(name string, n *yaml.Node) (Test, error) {
	if n.Kind != yaml.MappingNode {
		return Test{}, fmt.Errorf("%s:%d: a test must be a mapping", name, n.Line)
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !testKeys[k.Value] {
			return Test{}, fmt.Errorf("%s:%d: unknown field %q", name, k.Line, k.Value)
		}
		if _, dup := lines[k.Value]; dup {
			return Test{}, fmt.Errorf("%s:%d: field %q appears twice", name, k.Line, k.Value)
		}
		lines[k.Value] = k.Line
	}
	var t Test
	if err := n.Decode(&t); err != nil {
		return Test{}, yamlError(name, err)
	}
	t.Origin = fmt.Sprintf("%s:%d", name, n.Line)
	if err := t.validate(); err != nil {
		line := n.Line
		if l, ok := lines[domain.FieldOf(err)]; ok {
			line = l
		}
		return Test{}, fmt.Errorf("%s:%d: %w", name, line, err)
	}
	return t, nil
}

// checkText rejects what YAML cannot hold, naming the line, before the YAML parser does so
// without one.
func checkText(name string, data []byte) error {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Errorf("%s:%d: the text is not valid UTF-8", name, line)
		case r == '\n':
			line++
		case r == '\t' || r == '\r':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffe || r == 0xffff:
			return fmt.Errorf("%s:%d: control character %U is not allowed", name, line, r)
		}
		i += size
	}
	return nil
}

// parserProblems are the YAML parser's (as opposed to its scanner's) messages. The YAML
// library reports their line 0-based, and omits it on the first line; scanner errors it
// reports 1-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlError turns the YAML library's messages into "NAME:LINE: message". An error the
// library gives no line for concerns the first line or the document as a whole: line 1.
func yamlError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
				if parserProblems[tail] {
					line++
				}
			}
		}
	}
	return fmt.Errorf("%s:%d: %s", name, line, msg)
}
