package monitor

import (
	"strings"
	"testing"
	"time"
)

// TestObjectValues runs CEL's list, object and optional operations over a resource's nested
// objects, in both the Go and the JSON forms of its attributes.
func TestObjectValues(t *testing.T) {
	keys := func(jsonForm bool) any {
		k1 := map[string]any{"id": "AKIA1", "status": "Active", "created_at": testNow.Add(-time.Hour)}
		k2 := map[string]any{"id": "AKIA2", "status": "Inactive", "created_at": testNow.Add(-48 * time.Hour), "last_used_at": testNow.Add(-24 * time.Hour)}
		if jsonForm {
			k1["created_at"] = testNow.Add(-time.Hour).Format(time.RFC3339)
			return []any{k1, k2}
		}
		return []map[string]any{k1, k2}
	}
	for _, expr := range []string{
		`resource.access_keys.size() == 2 && size(resource.access_keys) == 2`,
		`resource.access_keys[1].id == "AKIA2"`,
		`resource.access_keys.map(k, k.id) == ["AKIA1", "AKIA2"]`,
		`resource.access_keys.filter(k, k.status == "Active").size() == 1`,
		`resource.access_keys.exists_one(k, has(k.last_used_at))`,
		`resource.access_keys.all(k, k.?last_used_at.orValue(k.created_at) > now - days(3))`,
		`resource.access_keys[0] in resource.access_keys`,
		`(resource.access_keys + resource.access_keys).size() == 4`,
		`resource.access_keys == resource.access_keys`,
		`resource.access_keys[0] == resource.access_keys[0] && resource.access_keys[0] != resource.access_keys[1]`,
		`type(resource.access_keys) == list`,
		`resource.access_keys.transformList(i, k, k.id + string(i)) == ["AKIA10", "AKIA21"]`,
		`resource.access_keys.exists(k, k.id.startsWith("AKIA"))`,
		`[resource.access_keys[0].id].size() == 1`,
		`resource.?access_keys[5].hasValue() == false`,
		`!has(resource.access_keys[0].last_used_at) && has(resource.access_keys[1].last_used_at)`,
		`resource.name == "u" && resource.id == "u" && resource.type == "aws.iam.user" && resource.connection == "test"`,
	} {
		for _, jsonForm := range []bool{false, true} {
			r := &Resource{Type: "aws.iam.user", ExternalID: "u", Name: "u", Connection: "test", Attributes: map[string]any{"access_keys": keys(jsonForm)}}
			p := mustCompile(t, Test{ID: "x", Type: "aws.iam.user", Expression: expr})
			got := evaluate(t, []*Program{p}, NewMemoryInventory([]*Resource{r})).Tests[0].Resources[0]
			if got.Status != StatusPass {
				t.Errorf("%s (json %v): %s %s; want pass", expr, jsonForm, got.Status, got.Message)
			}
		}
	}
	for _, tc := range []struct{ expr, msg string }{
		{`resource.access_keys[2].id == ""`, "index out of bounds: 2"},
		{`resource.access_keys[0].last_used_at > now`, `aws.iam.user.access_keys has no attribute "last_used_at"`},
	} {
		r := &Resource{Type: "aws.iam.user", ExternalID: "u", Name: "u", Attributes: map[string]any{"access_keys": keys(false)}}
		p := mustCompile(t, Test{ID: "x", Type: "aws.iam.user", Expression: tc.expr})
		got := evaluate(t, []*Program{p}, NewMemoryInventory([]*Resource{r})).Tests[0].Resources[0]
		if got.Status != StatusError || !strings.Contains(got.Message, tc.msg) {
			t.Errorf("%s: %s %q; want an error containing %q", tc.expr, got.Status, got.Message, tc.msg)
		}
	}
}
