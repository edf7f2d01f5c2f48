package monitor

import (
	"context"
	"iter"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMemoryInventoryCompact(t *testing.T) {
	key := map[string]any{"id": "AKIA1", "status": "Active", "created_at": testNow}
	tests := []struct {
		name    string
		r       *Resource
		compact bool
	}{
		{"schema attributes only", user("alice", map[string]any{
			"console_access": true, "mfa_enabled": false, "groups": []string{"dev"},
			"access_keys": []any{key}, "mfa_devices": []any{},
			"tags": map[string]string{"team": "x"},
		}), true},
		{"no attributes", user("empty", nil), true},
		{"a nested object", &Resource{Type: "github.repository", ExternalID: "acme/app", Name: "app", Attributes: map[string]any{
			"org": "acme", "protection": map[string]any{"enabled": true, "required_approving_reviews": int64(1)},
		}}, true},
		{"an attribute the schema does not declare", user("bob", map[string]any{"mfa_enabled": true, "shoe_size": int64(42)}), false},
		{"a null attribute", user("carol", map[string]any{"mfa_enabled": nil}), false},
		{"a nested attribute the schema does not declare", user("dan", map[string]any{
			"access_keys": []any{map[string]any{"id": "AKIA2", "colour": "red"}},
		}), false},
		{"a list of objects as []map[string]any", user("frank", map[string]any{
			"mfa_devices": []map[string]any{{"serial_number": "m", "kind": "virtual", "enabled_at": testNow}},
		}), false},
		{"an object list holding something else", user("erin", map[string]any{"access_keys": []any{"AKIA3"}}), false},
		{"a custom type", &Resource{Type: "custom.vendor", ExternalID: "v", Name: "v", Attributes: map[string]any{"tier": "1"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := *tc.r
			want.Attributes = cloneMap(tc.r.Attributes)
			inv := NewMemoryInventory([]*Resource{tc.r})
			kept := inv.byType[tc.r.Type][0]
			if got := kept.vals != nil; got != tc.compact {
				t.Errorf("kept compact = %v; want %v", got, tc.compact)
			}
			if tc.compact && kept.res.Attributes != nil {
				t.Errorf("a compact resource also keeps its map")
			}
			var got []*Resource
			for r, err := range inv.Resources(context.Background(), tc.r.Type) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if want.Attributes == nil && tc.compact {
				want.Attributes = map[string]any{}
			}
			if diff := cmp.Diff([]*Resource{&want}, got); diff != "" {
				t.Errorf("Resources (-want +got):\n%s", diff)
			}
		})
	}
}

// cloneMap copies attributes deeply enough that the inventory cannot share them.
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			v = cloneMap(x)
		case []any:
			l := make([]any, len(x))
			for i, e := range x {
				if em, ok := e.(map[string]any); ok {
					e = cloneMap(em)
				}
				l[i] = e
			}
			v = l
		}
		out[k] = v
	}
	return out
}

// TestCompactObjects checks that a test reads the compact form as it reads maps: nested
// objects, lists of them, optional fields, equality and conversions.
func TestCompactObjects(t *testing.T) {
	rs := []*Resource{
		user("alice", map[string]any{
			"console_access": true, "mfa_enabled": true, "email": "alice@example.com",
			"access_keys": []any{
				map[string]any{"id": "AKIA1", "status": "Active", "created_at": testNow.AddDate(0, 0, -200)},
				map[string]any{"id": "AKIA2", "status": "Inactive", "created_at": testNow.AddDate(0, 0, -10), "last_used_at": testNow},
			},
		}),
		user("bob", map[string]any{"console_access": false, "mfa_enabled": false, "email": "bob@example.com", "access_keys": []any{}}),
		{Type: "hr.person", ExternalID: "E1", Name: "Alice", Attributes: map[string]any{"email": "ALICE@example.com", "start_date": testNow}},
	}
	progs := []*Program{
		mustCompile(t, Test{ID: "old-keys", Type: "aws.iam.user",
			Expression: `resource.access_keys.all(k, k.status != "Active" || now - k.created_at <= days(90))`,
			Message:    `resource.access_keys.filter(k, k.status == "Active").map(k, k.id).join(", ")`}),
		mustCompile(t, Test{ID: "used", Type: "aws.iam.user",
			Expression: `resource.access_keys.exists(k, has(k.last_used_at)) || !has(resource.password_last_used)`}),
		mustCompile(t, Test{ID: "index", Type: "aws.iam.user", Where: "resource.access_keys.size() > 1",
			Expression: `resource.access_keys[1].id == "AKIA2" && resource.access_keys[0] != resource.access_keys[1] && resource.access_keys[0] == resource.access_keys[0]`}),
		mustCompile(t, Test{ID: "on-roster", Type: "aws.iam.user",
			Expression: `related("hr.person", "email", resource.email).exists(p, p.name == "Alice" && has(p.start_date) && !has(p.end_date))`}),
	}
	// The same resources through an inventory that is not a MemoryInventory are read as maps.
	want := evaluate(t, progs, sliceInventory(rs))
	got := evaluate(t, progs, NewMemoryInventory(rs))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compact results differ from map results (-map +compact):\n%s", diff)
	}
	statuses := map[string][]Status{}
	for _, tr := range got.Tests {
		for _, rr := range tr.Resources {
			statuses[tr.TestID] = append(statuses[tr.TestID], rr.Status)
		}
	}
	wantStatuses := map[string][]Status{
		"old-keys":  {StatusFail, StatusPass},
		"used":      {StatusPass, StatusPass},
		"index":     {StatusPass},
		"on-roster": {StatusPass, StatusFail},
	}
	if diff := cmp.Diff(wantStatuses, statuses); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

// sliceInventory yields resources as given, with their maps.
type sliceInventory []*Resource

func (s sliceInventory) Resources(_ context.Context, typ string) iter.Seq2[*Resource, error] {
	return func(yield func(*Resource, error) bool) {
		for _, r := range s {
			if r.Type == typ && !yield(r, nil) {
				return
			}
		}
	}
}
