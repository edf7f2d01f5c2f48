package monitor

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
)

func TestRegistry(t *testing.T) {
	fieldName := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	sources := map[string]bool{"aws": true, "github": true, "okta": true, "google": true, "hr": true, "scanner": true, "push": true}
	reserved := map[string]bool{}
	for _, f := range builtinFields {
		reserved[f.Name] = true
	}
	seen := map[string]bool{}
	var checkFields func(where string, fields []Field, top bool)
	checkFields = func(where string, fields []Field, top bool) {
		names := map[string]bool{}
		for _, f := range fields {
			path := where + "." + f.Name
			switch {
			case !fieldName.MatchString(f.Name):
				t.Errorf("%s: field name is not snake_case", path)
			case names[f.Name]:
				t.Errorf("%s: field appears twice", path)
			case top && reserved[f.Name]:
				t.Errorf("%s: %q is a field every resource has", path, f.Name)
			case f.Description == "":
				t.Errorf("%s: no description", path)
			}
			names[f.Name] = true
			switch f.Kind {
			case KindObject, KindObjectList:
				if len(f.Fields) == 0 {
					t.Errorf("%s: %s without fields", path, f.Kind)
				}
				checkFields(path, f.Fields, false)
			case KindString, KindBool, KindInt, KindTimestamp, KindStringList, KindStringMap:
				if len(f.Fields) != 0 {
					t.Errorf("%s: a %s has no fields", path, f.Kind)
				}
			default:
				t.Errorf("%s: unknown kind %q", path, f.Kind)
			}
		}
	}
	for _, s := range registry {
		if seen[s.Type] {
			t.Errorf("%s is registered twice", s.Type)
		}
		seen[s.Type] = true
		if !sources[s.Source] {
			t.Errorf("%s: unknown source %q", s.Type, s.Source)
		}
		if s.Description == "" || s.ID == "" || len(s.Fields) == 0 {
			t.Errorf("%s: needs a description, an ID and fields", s.Type)
		}
		if strings.HasPrefix(s.Type, CustomPrefix) || s.Open {
			t.Errorf("%s: registered types are not custom", s.Type)
		}
		checkFields(s.Type, s.Fields, true)
	}
}

func TestSchemas(t *testing.T) {
	all := Schemas()
	if len(all) != len(registry)+1 {
		t.Fatalf("len(Schemas()) = %d; want %d", len(all), len(registry)+1)
	}
	types := make([]string, 0, len(all)-1)
	for _, s := range all[:len(all)-1] {
		types = append(types, s.Type)
	}
	if !sort.StringsAreSorted(types) {
		t.Errorf("Schemas() are not sorted by type: %v", types)
	}
	if last := all[len(all)-1]; !last.Open || last.Type != "custom.NAME" {
		t.Errorf("last schema = %s (open %v); want the open custom.NAME", last.Type, last.Open)
	}
	// Schemas returns a copy: changing it does not change the registry.
	all[0].Fields = nil
	if s, _ := SchemaFor(all[0].Type); len(s.Fields) == 0 {
		t.Error("changing the result of Schemas() changed the registry")
	}
}

func TestSchemaFor(t *testing.T) {
	for _, tc := range []struct {
		typ      string
		ok, open bool
	}{
		{"aws.iam.user", true, false},
		{"hr.person", true, false},
		{"custom.vendor_review", true, true},
		{"custom.acme.build", true, true},
		{"custom.", false, false},
		{"custom.Vendor", false, false},
		{"custom.a-b", false, false},
		{"aws.iam.users", false, false},
		{"", false, false},
	} {
		s, ok := SchemaFor(tc.typ)
		if ok != tc.ok || s.Open != tc.open {
			t.Errorf("SchemaFor(%q) = open %v, %v; want open %v, %v", tc.typ, s.Open, ok, tc.open, tc.ok)
		}
	}
}

func validUser() *Resource {
	return &Resource{
		Type: "aws.iam.user", ExternalID: "arn:aws:iam::1:user/a", Name: "a",
		Attributes: map[string]any{
			"account_id": "1", "arn": "arn:aws:iam::1:user/a", "created_at": "2024-01-01T00:00:00Z",
			"console_access": true, "mfa_enabled": true, "mfa_devices": []any{},
			"access_keys": []any{
				map[string]any{"id": "AKIA1", "status": "Active", "created_at": "2025-01-01T00:00:00Z", "last_used_at": nil},
			},
			"attached_policies": []any{}, "inline_policies": []any{}, "groups": []any{"dev"},
			"is_admin": false, "tags": map[string]any{"team": "x"},
		},
	}
}

func TestValidateResource(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(r *Resource)
		field  string // "" for valid
		msg    string
	}{
		{name: "valid", change: func(r *Resource) {}},
		{name: "unknown type", change: func(r *Resource) { r.Type = "aws.iam.users" }, field: "type", msg: "unknown resource type"},
		{name: "no id", change: func(r *Resource) { r.ExternalID = " " }, field: "id", msg: "is required"},
		{name: "no name", change: func(r *Resource) { r.Name = "" }, field: "name", msg: "is required"},
		{name: "missing required", change: func(r *Resource) { delete(r.Attributes, "mfa_enabled") }, field: "attributes.mfa_enabled", msg: "is required"},
		{name: "null required", change: func(r *Resource) { r.Attributes["mfa_enabled"] = nil }, field: "attributes.mfa_enabled", msg: "is required"},
		{name: "wrong kind", change: func(r *Resource) { r.Attributes["mfa_enabled"] = "yes" }, field: "attributes.mfa_enabled", msg: "must be a boolean, not a string"},
		{name: "bad timestamp", change: func(r *Resource) { r.Attributes["created_at"] = "yesterday" }, field: "attributes.created_at", msg: "RFC 3339"},
		{name: "unknown attribute", change: func(r *Resource) { r.Attributes["mfa"] = true }, field: "attributes.mfa", msg: "not a field"},
		{name: "nested wrong kind", change: func(r *Resource) {
			r.Attributes["access_keys"].([]any)[0].(map[string]any)["status"] = 1.0
		}, field: "attributes.access_keys[0].status", msg: "must be a string, not a number"},
		{name: "nested missing", change: func(r *Resource) {
			delete(r.Attributes["access_keys"].([]any)[0].(map[string]any), "id")
		}, field: "attributes.access_keys[0].id", msg: "is required"},
		{name: "list element", change: func(r *Resource) { r.Attributes["groups"] = []any{"dev", true} }, field: "attributes.groups[1]", msg: "must be a string"},
		{name: "map value", change: func(r *Resource) { r.Attributes["tags"] = map[string]any{"n": 1.0} }, field: "attributes.tags.n", msg: "must be a string"},
		{name: "custom type anything", change: func(r *Resource) {
			r.Type = "custom.thing"
			r.Attributes = map[string]any{"x": []any{1.0, "a"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validUser()
			tc.change(r)
			err := ValidateResource(r)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("ValidateResource() = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateResource() = nil; want an error on %s", tc.field)
			}
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != tc.field || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ValidateResource() = %v (field %q); want invalid %s containing %q", err, domain.FieldOf(err), tc.field, tc.msg)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	r := validUser()
	r.Attributes["future_field"] = "kept"
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got Resource
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := Normalize(&got); err != nil {
		t.Fatalf("Normalize() = %v", err)
	}
	want := map[string]any{
		"account_id": "1", "arn": "arn:aws:iam::1:user/a", "created_at": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		"console_access": true, "mfa_enabled": true, "mfa_devices": []any{},
		"access_keys": []any{
			map[string]any{"id": "AKIA1", "status": "Active", "created_at": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		},
		"attached_policies": []string{}, "inline_policies": []string{}, "groups": []string{"dev"},
		"is_admin": false, "tags": map[string]string{"team": "x"}, "future_field": "kept",
	}
	if diff := cmp.Diff(want, got.Attributes); diff != "" {
		t.Errorf("Normalize() attributes (-want +got):\n%s", diff)
	}

	pr := &Resource{Type: "github.pull_request", ExternalID: "a/b#1", Name: "x", Attributes: map[string]any{"number": 42.0}}
	if err := Normalize(pr); err != nil || pr.Attributes["number"] != int64(42) {
		t.Errorf("Normalize(number 42.0) = %v, %#v; want int64(42)", err, pr.Attributes["number"])
	}
	for _, n := range []any{"42", 1.5} {
		bad := &Resource{Type: "github.pull_request", ExternalID: "a/b#1", Name: "x", Attributes: map[string]any{"number": n}}
		if err := Normalize(bad); domain.FieldOf(err) != "attributes.number" || !strings.Contains(err.Error(), "must be an integer") {
			t.Errorf("Normalize(number %#v) = %v; want an error on attributes.number", n, err)
		}
	}
	custom := &Resource{Type: "custom.x", ExternalID: "1", Name: "x", Attributes: map[string]any{"a": nil, "b": 1.0}}
	if err := Normalize(custom); err != nil || len(custom.Attributes) != 1 {
		t.Errorf("Normalize(custom) = %v, %v; want nulls dropped", err, custom.Attributes)
	}
}

func TestReference(t *testing.T) {
	md := ReferenceMarkdown()
	html := string(ReferenceHTML())
	for _, s := range Schemas() {
		if !strings.Contains(md, "## "+s.Type+"\n") {
			t.Errorf("Markdown reference has no section for %s", s.Type)
		}
		if !strings.Contains(html, `id="type-`+s.Type+`"`) {
			t.Errorf("HTML reference has no anchor for %s", s.Type)
		}
		for _, f := range s.Flatten() {
			if !strings.Contains(md, "`"+f.Path+"`") {
				t.Errorf("Markdown reference of %s lacks %s", s.Type, f.Path)
			}
		}
	}
	for _, path := range []string{"access_keys[].last_used_at", "protection.enforce_admins", "public_access_block.block_public_acls"} {
		if !strings.Contains(md, "`"+path+"`") || !strings.Contains(html, "<code>"+path+"</code>") {
			t.Errorf("the reference lacks the nested field %s", path)
		}
	}
	// Text is escaped, not trusted: quotes in descriptions come out as entities.
	if strings.Contains(html, `"Action": "*"`) || !strings.Contains(html, "&#34;Action&#34;") {
		t.Error("HTML reference does not escape descriptions")
	}
}

// TestReferenceExample keeps the reference's example a test that compiles.
func TestReferenceExample(t *testing.T) {
	tests, err := ParseTests("reference", []byte(referenceExample))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(tests[0]); err != nil {
		t.Errorf("Compile(reference example) = %v", err)
	}
	for _, it := range referenceIntro {
		_, err := Compile(Test{ID: "x", Title: "x", Type: it.Type, Expression: it.Example, Severity: SeverityLow, Remediation: "x",
			Params: map[string]any{"min_days": 7, "max_age_days": 90}})
		if err != nil {
			t.Errorf("reference example %q on %s: %v", it.Example, it.Type, err)
		}
	}
}
