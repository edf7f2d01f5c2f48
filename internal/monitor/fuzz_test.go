package monitor

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/evidenthq/evident/internal/domain"
)

// FuzzCompile checks that no expression makes Compile or Evaluate panic, and that every
// rejected expression is an invalid-input error naming its field.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		"resource.mfa_enabled",
		`resource.access_keys.all(k, k.status != "Active" || now - k.created_at <= days(params.n))`,
		`related("okta.user", "email", resource.email).all(u, u.status != "ACTIVE")`,
		`resource.?password_last_used.orValue(now) > now - days(90)`,
		`cel.bind(x, resource.groups, x.exists(g, g.matches("^a.*$")))`,
		`lists.range(3).map(i, i * 2).size() == 3`,
		`timestamp("2025-01-01T00:00:00Z") < now && duration("1h") > duration("1m")`,
		`resource.tags["team"] == "x" || "a".lowerAscii() == "a"`,
		`[1, 2, 3][5] == 1`,
		`1 / 0 == 1`,
		`resource.mfa_enabled &&`,
		`((((((((((((((((((((true))))))))))))))))))))`,
		"\x00\xff",
	} {
		f.Add(seed, "resource.console_access")
	}
	inv := NewMemoryInventory([]*Resource{
		user("alice", map[string]any{
			"console_access": true, "mfa_enabled": false, "email": "a@example.com", "groups": []string{"dev"},
			"access_keys": []any{map[string]any{"id": "AKIA1", "status": "Active", "created_at": testNow}},
			"tags":        map[string]string{"team": "x"},
		}),
		{Type: "okta.user", ExternalID: "o", Name: "o", Attributes: map[string]any{"email": "A@example.com", "status": "ACTIVE"}},
	})
	f.Fuzz(func(t *testing.T, expression, where string) {
		test := Test{ID: "fuzz", Title: "Fuzz", Type: "aws.iam.user", Where: where, Expression: expression,
			Severity: SeverityLow, Remediation: "None.", Params: map[string]any{"n": 90}}
		p, err := Compile(test)
		if err != nil {
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) == "" {
				t.Fatalf("Compile(%q, %q) = %v; want an invalid-input error naming a field", expression, where, err)
			}
			var ce *CompileError
			if errors.As(err, &ce) && (ce.Line < 0 || ce.Line > 0 && ce.Column < 1) {
				t.Fatalf("Compile(%q, %q) = %v; position %d:%d", expression, where, err, ce.Line, ce.Column)
			}
			return
		}
		if _, err := Evaluate(context.Background(), []*Program{p}, inv, testNow); err != nil {
			t.Fatalf("Evaluate(%q) = %v", expression, err)
		}
	})
}

var lineRef = regexp.MustCompile(`^f\.yaml:[1-9][0-9]*: `)

// FuzzParseTests checks that ParseTests never panics and that every error names the line.
func FuzzParseTests(f *testing.F) {
	for _, seed := range []string{
		"id: a\ntitle: A\ntype: aws.iam.user\nexpression: resource.mfa_enabled\nseverity: high\nremediation: x\ncontrols: [AC-02]\n",
		"tests:\n  - id: a\n    title: A\n    type: aws.iam.user\n    expression: x\n    severity: low\n    remediation: r\n",
		"tests:\n  - id: a\n  - id: a\n",
		"id: [unclosed\n",
		"id: a\n  b: c\n",
		"a: &x [*x]\n",
		"tests: {}\n",
		"- 1\n- 2\n",
		"\ufeffid: a\n",
		"params:\n  x: !!binary aGVsbG8=\n",
		"%YAML 1.1\n%YAML 1.1\n---\na: b\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tests, err := ParseTests("f.yaml", data)
		if err != nil {
			if !lineRef.MatchString(err.Error()) {
				t.Fatalf("ParseTests(%q) = %q; want an error naming the line", data, err)
			}
			return
		}
		if len(tests) == 0 {
			t.Fatalf("ParseTests(%q) returned no tests and no error", data)
		}
	})
}
