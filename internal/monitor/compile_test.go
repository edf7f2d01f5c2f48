package monitor

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
)

// validTest returns a test that compiles, for rows to break one field at a time.
func validTest() Test {
	return Test{
		ID:          "user-mfa",
		Title:       "Users have MFA",
		Description: "Every console user has MFA.",
		Type:        "aws.iam.user",
		Where:       "resource.console_access",
		Expression:  "resource.mfa_enabled",
		Message:     `"no MFA for " + resource.name`,
		Severity:    SeverityHigh,
		Remediation: "Enable MFA.",
		Controls:    []string{"AC-02"},
	}
}

func TestCompile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *Test)
		want   *CompileError // nil: compiles
	}{
		{name: "valid", change: func(t *Test) {}},
		{name: "no where or message", change: func(t *Test) { t.Where, t.Message = "", "" }},
		{name: "params", change: func(t *Test) {
			t.Expression = "resource.access_keys.all(k, now - k.created_at <= days(params.max_age_days))"
			t.Params = map[string]any{"max_age_days": 90}
		}},
		{name: "params by index", change: func(t *Test) {
			t.Expression = `params["ports"].exists(p, p == 22)`
			t.Params = map[string]any{"ports": []any{22}}
		}},
		{name: "has on undeclared param", change: func(t *Test) { t.Expression = "!has(params.x) || resource.mfa_enabled" }},
		{name: "related", change: func(t *Test) {
			t.Type = "hr.person"
			t.Where = "has(resource.end_date)"
			t.Expression = `related("okta.user", "email", resource.email).all(u, u.status != "ACTIVE")`
			t.Message = ""
		}},
		{name: "related on a list field", change: func(t *Test) {
			t.Expression = `related("aws.iam.user", "groups", "admins").size() == 0`
		}},
		{name: "optional field", change: func(t *Test) {
			t.Expression = "resource.?password_last_used.orValue(resource.created_at) > now - days(90)"
		}},
		{name: "extensions", change: func(t *Test) {
			t.Expression = `resource.name.lowerAscii().split("-").size() > 0 && cel.bind(x, resource.groups, x.size() >= 0) && sets.contains(resource.groups, ["dev"]) || lists.range(2).size() == 2`
		}},
		{name: "custom type", change: func(t *Test) {
			t.Type = "custom.vendor_review"
			t.Where = ""
			t.Expression = `resource.risk != "high" && has(resource.reviewed_at)`
			t.Message = `"vendor " + resource.name + " is " + string(resource.risk)`
		}},
		{name: "custom type dynamic result", change: func(t *Test) {
			t.Type = "custom.flag"
			t.Where = ""
			t.Expression = "resource.enabled"
			t.Message = ""
		}},

		{name: "syntax error", change: func(t *Test) { t.Expression = "resource.mfa_enabled &&" },
			want: &CompileError{Field: "expression", Line: 1, Column: 24}},
		{name: "unknown field", change: func(t *Test) { t.Expression = "resource.mfa_enabld" },
			want: &CompileError{Field: "expression", Line: 1, Column: 9, Msg: "undefined field 'mfa_enabld'"}},
		{name: "unknown nested field", change: func(t *Test) { t.Expression = "resource.access_keys.all(k, k.state == \"Active\")" },
			want: &CompileError{Field: "expression", Line: 1, Column: 30, Msg: "undefined field 'state'"}},
		{name: "error on a later line", change: func(t *Test) { t.Expression = "resource.mfa_enabled &&\n  resource.console_acess" },
			want: &CompileError{Field: "expression", Line: 2, Column: 11, Msg: "undefined field 'console_acess'"}},
		{name: "column counts characters", change: func(t *Test) { t.Expression = `"é" == "é" && nope` },
			want: &CompileError{Field: "expression", Line: 1, Column: 15, Msg: "undeclared reference to 'nope'"}},
		{name: "not a bool", change: func(t *Test) { t.Expression = "resource.name" },
			want: &CompileError{Field: "expression", Line: 1, Column: 9, Msg: "of type string; it must be a bool"}},
		{name: "type mismatch", change: func(t *Test) { t.Expression = "resource.mfa_enabled == 1" },
			want: &CompileError{Field: "expression", Line: 1, Column: 22, Msg: "no matching overload"}},
		{name: "where error", change: func(t *Test) { t.Where = "resource.console" },
			want: &CompileError{Field: "where", Line: 1, Column: 9, Msg: "undefined field 'console'"}},
		{name: "where not a bool", change: func(t *Test) { t.Where = "resource.groups" },
			want: &CompileError{Field: "where", Line: 1, Column: 9, Msg: "must be a bool"}},
		{name: "message not a string", change: func(t *Test) { t.Message = "resource.mfa_enabled" },
			want: &CompileError{Field: "message", Line: 1, Column: 9, Msg: "must be a string"}},
		{name: "undeclared param", change: func(t *Test) { t.Expression = "size(resource.groups) < params.max" },
			want: &CompileError{Field: "expression", Line: 1, Column: 31, Msg: "params.max is not declared; the test declares no params"}},
		{name: "undeclared param names the declared", change: func(t *Test) {
			t.Expression = "size(resource.groups) < params.max"
			t.Params = map[string]any{"limit": 3, "days": 2}
		}, want: &CompileError{Field: "expression", Line: 1, Column: 31, Msg: "params.max is not declared; the test declares days, limit"}},
		{name: "related type not literal", change: func(t *Test) { t.Expression = `related(resource.name, "email", "x").size() == 0` },
			want: &CompileError{Field: "expression", Line: 1, Column: 17, Msg: "the type must be a quoted resource type"}},
		{name: "related unknown type", change: func(t *Test) { t.Expression = `related("okta.users", "email", "x").size() == 0` },
			want: &CompileError{Field: "expression", Line: 1, Column: 9, Msg: `unknown resource type "okta.users"`}},
		{name: "related unknown field", change: func(t *Test) { t.Expression = `related("okta.user", "mail", "x").size() == 0` },
			want: &CompileError{Field: "expression", Line: 1, Column: 22, Msg: `okta.user has no field "mail"`}},
		{name: "related non-string field", change: func(t *Test) { t.Expression = `related("okta.user", "created_at", "x").size() == 0` },
			want: &CompileError{Field: "expression", Line: 1, Column: 22, Msg: "matches string fields"}},
		{name: "related wrong arity", change: func(t *Test) { t.Expression = `related("okta.user", "email").size() == 0` },
			want: &CompileError{Field: "expression", Line: 1, Column: 8, Msg: "found no matching overload for 'related'"}},
		{name: "several errors", change: func(t *Test) { t.Expression = "a && b && c" },
			want: &CompileError{Field: "expression", Line: 1, Column: 1, Msg: "undeclared reference to 'a'", More: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test := validTest()
			tc.change(&test)
			p, err := Compile(test)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Compile() = %v; want no error", err)
				}
				if p.Test().ID != test.ID {
					t.Errorf("Program.Test().ID = %q; want %q", p.Test().ID, test.ID)
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile() = %v (%T); want a *CompileError", err, err)
			}
			if ce.Field != tc.want.Field || ce.Line != tc.want.Line || ce.Column != tc.want.Column || ce.More != tc.want.More || !strings.Contains(ce.Msg, tc.want.Msg) {
				t.Errorf("Compile() = %+v; want field %s at %d:%d containing %q (%d more)", ce, tc.want.Field, tc.want.Line, tc.want.Column, tc.want.Msg, tc.want.More)
			}
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != tc.want.Field {
				t.Errorf("Compile() error kind %s field %q; want invalid %q", domain.KindOf(err), domain.FieldOf(err), tc.want.Field)
			}
			if ce.TestID != test.ID {
				t.Errorf("CompileError.TestID = %q; want %q", ce.TestID, test.ID)
			}
		})
	}
}

func TestCompileValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *Test)
		field  string
	}{
		{"no id", func(t *Test) { t.ID = " " }, "id"},
		{"bad id", func(t *Test) { t.ID = "User MFA" }, "id"},
		{"no title", func(t *Test) { t.Title = "" }, "title"},
		{"no type", func(t *Test) { t.Type = "" }, "type"},
		{"unknown type", func(t *Test) { t.Type = "aws.iam.users" }, "type"},
		{"no expression", func(t *Test) { t.Expression = "  " }, "expression"},
		{"long expression", func(t *Test) { t.Expression = strings.Repeat("true && ", 1001) + "true" }, "expression"},
		{"bad severity", func(t *Test) { t.Severity = "urgent" }, "severity"},
		{"no remediation", func(t *Test) { t.Remediation = "" }, "remediation"},
		{"bad control", func(t *Test) { t.Controls = []string{"AC 02"} }, "controls"},
		{"duplicate control", func(t *Test) { t.Controls = []string{"AC-02", " AC-02"} }, "controls"},
		{"bad param name", func(t *Test) { t.Params = map[string]any{"Max-Age": 1} }, "params"},
		{"null param", func(t *Test) { t.Params = map[string]any{"x": nil} }, "params"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test := validTest()
			tc.change(&test)
			_, err := Compile(test)
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != tc.field {
				t.Errorf("Compile() = %v; want an invalid-input error on %s", err, tc.field)
			}
		})
	}
}

func TestCompileDoesNotChangeItsInput(t *testing.T) {
	test := validTest()
	test.Controls = []string{" AC-02 "}
	if _, err := Compile(test); err != nil {
		t.Fatal(err)
	}
	if test.Controls[0] != " AC-02 " {
		t.Errorf("Compile changed the caller's controls to %q", test.Controls[0])
	}
}

func TestParseTests(t *testing.T) {
	const one = `id: user-mfa
title: Users have MFA
type: aws.iam.user
expression: resource.mfa_enabled
severity: high
remediation: Enable MFA.
controls: [AC-02]
params:
  days: 90
`
	for _, tc := range []struct {
		name    string
		data    string
		wantIDs []string
		err     string // the error starts with this
	}{
		{name: "single test", data: one, wantIDs: []string{"user-mfa"}},
		{name: "list", data: "tests:\n  - " + strings.ReplaceAll(one, "\n", "\n    ") + "\n  - " +
			strings.ReplaceAll(strings.Replace(one, "user-mfa", "user-mfa-2", 1), "\n", "\n    "), wantIDs: []string{"user-mfa", "user-mfa-2"}},
		{name: "empty", data: "", err: "t.yaml:1: the file holds no test"},
		{name: "comment only", data: "# nothing\n", err: "t.yaml:1: the file holds no test"},
		{name: "scalar", data: "hello\n", err: "t.yaml:1: want a test"},
		{name: "syntax error", data: "id: a\ntitle: [unclosed\n", err: "t.yaml:2: did not find expected ',' or ']'"},
		{name: "syntax error at the end", data: "id: [a\n", err: "t.yaml:2: did not find expected ',' or ']'"},
		{name: "scanner error", data: "id: a\ntitle: b\n  c: d\n", err: "t.yaml:3: mapping values are not allowed"},
		{name: "tab indentation", data: "id: a\nparams:\n\tx: 1\n", err: "t.yaml:3: found character that cannot start any token"},
		{name: "unknown field", data: strings.Replace(one, "severity:", "sevrity:", 1), err: `t.yaml:5: unknown field "sevrity"`},
		{name: "duplicate field", data: one + "title: again\n", err: `t.yaml:10: field "title" appears twice`},
		{name: "bad severity", data: strings.Replace(one, "high", "urgent", 1), err: "t.yaml:5: severity: must be one of"},
		{name: "wrong type", data: strings.Replace(one, "[AC-02]", "{a: b}", 1), err: "t.yaml:7: cannot unmarshal"},
		{name: "unknown resource type", data: strings.Replace(one, "aws.iam.user", "aws.user", 1), err: `t.yaml:3: type: unknown resource type "aws.user"`},
		{name: "tests not a list", data: "tests: 3\n", err: "t.yaml:1: tests must be a list"},
		{name: "tests empty", data: "tests: []\n", err: "t.yaml:1: the tests list is empty"},
		{name: "tests and more", data: "tests: []\nid: x\n", err: "t.yaml:1: a file with a tests list holds nothing else"},
		{name: "item not a mapping", data: "tests:\n  - 3\n", err: "t.yaml:2: a test must be a mapping"},
		{name: "duplicate id", data: "tests:\n  - " + strings.ReplaceAll(one, "\n", "\n    ") + "\n  - " + strings.ReplaceAll(one, "\n", "\n    "), err: "t.yaml:12: test user-mfa appears twice (line 2)"},
		{name: "invalid UTF-8", data: "id: a\ntitle: \xff\n", err: "t.yaml:2: the text is not valid UTF-8"},
		{name: "control character", data: "id: a\n\ntitle: \x01\n", err: "t.yaml:3: control character U+0001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tests, err := ParseTests("t.yaml", []byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("ParseTests() = %v; want an error starting %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTests() = %v", err)
			}
			var ids []string
			for _, x := range tests {
				ids = append(ids, x.ID)
				if !strings.HasPrefix(x.Origin, "t.yaml:") {
					t.Errorf("Origin = %q; want t.yaml:LINE", x.Origin)
				}
			}
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
				t.Errorf("ParseTests() IDs (-want +got):\n%s", diff)
			}
			if got := tests[0].Params["days"]; got != 90 {
				t.Errorf("Params[days] = %#v; want 90", got)
			}
		})
	}
}
