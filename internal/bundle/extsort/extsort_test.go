package extsort

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// records makes n records with keys from few distinct values, so that many are equal
// and stability shows, and a payload giving their order of addition.
func records(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([][]byte, n)
	for i := range out {
		rec := binary.BigEndian.AppendUint16(nil, uint16(rng.IntN(500)))
		rec = append(rec, bytes.Repeat([]byte{'x'}, rng.IntN(40))...)
		rec = append(rec, 0)
		out[i] = binary.BigEndian.AppendUint32(rec, uint32(i))
	}
	return out
}

// key is what the records are compared by in the stable reference sort: everything
// but the trailing order.
func key(rec []byte) []byte { return rec[:len(rec)-4] }

func TestSort(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     int
		limit int
	}{
		{"empty", 0, 1 << 20},
		{"in memory", 5000, 1 << 20},
		{"a few runs", 20000, 64 << 10},
		{"more runs than one merge takes", 100000, 4 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := records(tt.n, uint64(tt.n))
			s := New(dir, tt.limit)
			for _, r := range recs {
				if err := s.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Sort(); err != nil {
				t.Fatal(err)
			}
			if s.Len() != int64(tt.n) {
				t.Errorf("Len = %d; want %d", s.Len(), tt.n)
			}
			if spilled := len(s.runs) > 0; spilled != (tt.limit < 1<<20) {
				t.Errorf("%d runs written to disk; want some only when memory is short", len(s.runs))
			}
			// Equal keys keep their order: compare with a stable sort on the keys, the
			// order of addition being at the end of each record.
			want := slices.Clone(recs)
			slices.SortStableFunc(want, func(a, b []byte) int { return bytes.Compare(key(a), key(b)) })
			for pass := range 2 {
				it, err := s.Iter()
				if err != nil {
					t.Fatal(err)
				}
				i := 0
				for it.Next() {
					if i < len(want) && !bytes.Equal(it.Record(), want[i]) {
						t.Fatalf("pass %d: record %d = %x; want %x", pass, i, it.Record(), want[i])
					}
					i++
				}
				if err := it.Err(); err != nil {
					t.Fatal(err)
				}
				if i != len(want) {
					t.Fatalf("pass %d: %d records; want %d", pass, i, len(want))
				}
			}
			if err := s.Add([]byte("late")); err == nil {
				t.Error("Add after Sort succeeded")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
				t.Errorf("temporary files left after Close: %q", left)
			}
		})
	}
}

func TestSortedInputStaysInMemoryOrder(t *testing.T) {
	s := New(t.TempDir(), 4<<10)
	defer s.Close()
	for i := range 10000 {
		if err := s.Add(binary.BigEndian.AppendUint64(nil, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sort(); err != nil {
		t.Fatal(err)
	}
	it, err := s.Iter()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; it.Next(); i++ {
		if got := binary.BigEndian.Uint64(it.Record()); got != uint64(i) {
			t.Fatalf("record %d = %d", i, got)
		}
	}
}

func TestErrors(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "missing"), 4<<10)
	defer s.Close()
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = s.Add([]byte(fmt.Sprint(i)))
	}
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("Add with a missing directory = %v; want the file not to exist", err)
	}
	if _, err := New("", 0).Iter(); err == nil {
		t.Error("Iter before Sort succeeded")
	}
	if err := New("", 0).Add(make([]byte, MaxRecord+1)); err == nil {
		t.Error("Add of an overlong record succeeded")
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
