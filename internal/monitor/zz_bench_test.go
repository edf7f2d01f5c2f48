package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func BenchmarkZZ(b *testing.B) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rs []*Resource
	for i := range 200000 {
		rs = append(rs, &Resource{Type: "aws.iam.user", ExternalID: fmt.Sprint(i), Name: "alice", Attributes: map[string]any{"console_access": i%2 == 0, "mfa_enabled": i%3 == 0, "access_keys": []any{map[string]any{"id": "AKIA1", "status": "Active", "created_at": now.Add(-time.Duration(i) * time.Minute)}}}})
	}
	inv := NewMemoryInventory(rs)
	var progs []*Program
	for i, tc := range []Test{
		{ID: "a", Title: "t", Type: "aws.iam.user", Where: "resource.console_access", Expression: "resource.mfa_enabled", Severity: "high", Remediation: "x"},
		{ID: "b", Title: "t", Type: "aws.iam.user", Expression: "resource.access_keys.all(k, k.status != 'Active' || now - k.created_at < days(params.d))", Severity: "high", Remediation: "x", Params: map[string]any{"d": 90}},
	} {
		p, err := Compile(tc)
		if err != nil {
			b.Fatal(i, err)
		}
		progs = append(progs, p)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := Evaluate(context.Background(), progs, inv, now)
		if err != nil {
			b.Fatal(err)
		}
		_ = res
	}
}
