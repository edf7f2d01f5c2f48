package monitortest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
)

func TestSynthetic(t *testing.T) {
	const n = 20000
	rs := Synthetic(n)
	if len(rs) != n {
		t.Fatalf("len(Synthetic(%d)) = %d", n, len(rs))
	}
	ids := map[string]bool{}
	for _, r := range rs {
		if err := monitor.ValidateResource(r); err != nil {
			t.Fatalf("%s %s: %v", r.Type, r.ExternalID, err)
		}
		key := r.Type + " " + r.ExternalID
		if ids[key] {
			t.Fatalf("%s appears twice", key)
		}
		ids[key] = true
	}
	// Every registered type is there.
	counts := Counts(n)
	for _, s := range monitor.Schemas() {
		if !s.Open && counts[s.Type] == 0 {
			t.Errorf("the synthetic inventory has no %s", s.Type)
		}
	}
	again := Synthetic(n)
	for i := range rs {
		if rs[i].ExternalID != again[i].ExternalID || len(rs[i].Attributes) != len(again[i].Attributes) {
			t.Fatalf("Synthetic is not deterministic at %d: %s vs %s", i, rs[i].ExternalID, again[i].ExternalID)
		}
	}
}

func TestStreaming(t *testing.T) {
	const n = 5000
	want := Synthetic(n)
	s := NewStreaming(n)
	var got []*monitor.Resource
	for _, typ := range Types() {
		for r, err := range s.Resources(context.Background(), typ) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if c, _ := s.Count(context.Background(), typ); c != Counts(n)[typ] {
			t.Errorf("Count(%s) = %d; want %d", typ, c, Counts(n)[typ])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("streamed %d resources; want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ExternalID != want[i].ExternalID || got[i].Name != want[i].Name {
			t.Fatalf("resource %d: streamed %s, generated %s", i, got[i].ExternalID, want[i].ExternalID)
		}
	}
}

// TestSyntheticJudged checks that the library judges the synthetic inventory without errors
// and that each test judging enough resources both passes and fails, so the benchmark
// measures real work.
func TestSyntheticJudged(t *testing.T) {
	res, err := monitor.Evaluate(context.Background(), monitor.LibraryPrograms(), monitor.NewMemoryInventory(Synthetic(20000)), Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range res.Tests {
		if tr.Errors > 0 || tr.Err != "" {
			for _, rr := range tr.Resources {
				if rr.Status == monitor.StatusError {
					t.Errorf("%s: %s: %s", tr.TestID, rr.ExternalID, rr.Message)
					break
				}
			}
		}
		if tr.Passed+tr.Failed >= 100 && (tr.Passed == 0 || tr.Failed == 0) {
			t.Errorf("%s: %d passed, %d failed; want both", tr.TestID, tr.Passed, tr.Failed)
		}
	}
}

// TestMemoryInventoryMatchesStreaming checks that a MemoryInventory, which keeps resources
// compact, gives the same resources and the same results as an inventory yielding them
// as generated.
func TestMemoryInventoryMatchesStreaming(t *testing.T) {
	const n = 20000
	ctx := context.Background()
	mem := monitor.NewMemoryInventory(Synthetic(n))
	stream := NewStreaming(n)
	for _, typ := range Types() {
		var want, got []*monitor.Resource
		for r, err := range stream.Resources(ctx, typ) {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, r)
		}
		for r, err := range mem.Resources(ctx, typ) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: MemoryInventory.Resources (-generated +kept):\n%s", typ, diff)
		}
	}
	progs := monitor.LibraryPrograms()
	want, err := monitor.Evaluate(ctx, progs, stream, Now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := monitor.Evaluate(ctx, progs, mem, Now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results over the MemoryInventory (-streamed +kept):\n%s", diff)
	}
}
