package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestZZSmoke(t *testing.T) {
	for _, tc := range []Test{
		{ID: "a", Title: "t", Type: "aws.iam.user", Where: "resource.console_access", Expression: "resource.mfa_enabled && resource.access_keys.all(k, k.status == 'Active' && now - k.created_at < days(params.d))", Severity: "high", Remediation: "x", Params: map[string]any{"d": 90}, Message: "'user ' + resource.name + ' keys ' + resource.access_keys.map(k, k.id).join(', ')"},
		{ID: "b", Title: "t", Type: "aws.iam.user", Expression: "resource.mfa_enabld", Severity: "high", Remediation: "x"},
		{ID: "c", Title: "t", Type: "aws.iam.user", Expression: "resource.name", Severity: "high", Remediation: "x"},
		{ID: "d", Title: "t", Type: "aws.iam.user", Expression: "params.x > 1", Severity: "high", Remediation: "x"},
		{ID: "e", Title: "t", Type: "hr.person", Expression: "related('okta.user', 'email', resource.email).all(u, u.status != 'ACTIVE')", Severity: "high", Remediation: "x"},
		{ID: "f", Title: "t", Type: "hr.person", Expression: "related('okta.user', 'status2', resource.email).all(u, u.status != 'ACTIVE')", Severity: "high", Remediation: "x"},
		{ID: "g", Title: "t", Type: "custom.thing", Expression: "resource.foo > 3 && has(resource.bar)", Severity: "high", Remediation: "x"},
		{ID: "h", Title: "t", Type: "aws.iam.user", Expression: "!has(resource.password_last_used) || resource.password_last_used > now - days(90)", Severity: "high", Remediation: "x"},
	} {
		p, err := Compile(tc)
		fmt.Printf("%s: %v %v\n", tc.ID, p != nil, err)
		if p == nil {
			continue
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		inv := NewMemoryInventory([]*Resource{
			{Type: "aws.iam.user", ExternalID: "u1", Name: "alice", Attributes: map[string]any{"console_access": true, "mfa_enabled": true, "access_keys": []any{map[string]any{"id": "AKIA1", "status": "Active", "created_at": "2025-12-01T00:00:00Z"}}}},
			{Type: "aws.iam.user", ExternalID: "u2", Name: "bob", Attributes: map[string]any{"console_access": true, "mfa_enabled": true, "password_last_used": now.Add(-200 * 24 * time.Hour), "access_keys": []map[string]any{{"id": "AKIA2", "status": "Active", "created_at": time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
			{Type: "hr.person", ExternalID: "p1", Name: "Carol", Attributes: map[string]any{"email": "Carol@x.com"}},
			{Type: "okta.user", ExternalID: "o1", Name: "carol", Attributes: map[string]any{"email": "carol@x.com", "status": "ACTIVE"}},
			{Type: "custom.thing", ExternalID: "c1", Name: "c", Attributes: map[string]any{"foo": 4.0, "bar": "x"}},
		})
		res, err := Evaluate(context.Background(), []*Program{p}, inv, now)
		fmt.Printf("   %+v %v\n", res.Tests, err)
	}
}
