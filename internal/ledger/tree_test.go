package ledger

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/tlog"
)

// The published RFC 6962 test data used by Certificate Transparency implementations and
// by github.com/transparency-dev/merkle (testonly/constants.go, reference_test.go): eight
// leaf inputs, the hash of every complete subtree, the root of every prefix of the tree,
// and audit paths and consistency proofs between them.
var (
	rfcLeafInputs = []string{
		"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
	}
	rfcLeafHashes = []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
		"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
		"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
		"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
	}
	// rfcRoots[n] is the root of the tree of the first n leaves.
	rfcRoots = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	rfcInclusion = []struct {
		index, size int64
		path        []string
	}{
		{0, 1, nil},
		{0, 2, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"}},
		{1, 2, []string{"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
		{2, 3, []string{"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
		{1, 5, []string{
			"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		}},
		{0, 8, []string{
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
		}},
		{5, 8, []string{
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
	}
	rfcConsistency = []struct {
		oldSize, newSize int64
		proof            []string
	}{
		{1, 1, nil},
		{1, 8, []string{
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
		}},
		{2, 5, []string{
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		}},
		{6, 8, []string{
			"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
	}
)

// rfcLog returns the stored hashes of the RFC 6962 test tree, built with HashesForAppend.
func rfcLog(tb testing.TB) *MemoryHashes {
	tb.Helper()
	var m MemoryHashes
	for i, in := range rfcLeafInputs {
		if got := AppendIndex(int64(i)); got != StoredHashCount(int64(i)) {
			tb.Fatalf("AppendIndex(%d) = %d; want StoredHashCount(%d) = %d", i, got, i, StoredHashCount(int64(i)))
		}
		hashes, err := HashesForAppend(int64(i), hexBytes(tb, in), &m)
		if err != nil {
			tb.Fatalf("HashesForAppend(%d): %v", i, err)
		}
		before := len(m.hashes)
		if _, err := m.Append(hexBytes(tb, in)); err != nil {
			tb.Fatalf("Append(%d): %v", i, err)
		}
		if diff := cmp.Diff(hashes, m.hashes[before:]); diff != "" {
			tb.Fatalf("HashesForAppend(%d) differs from what MemoryHashes stored (-want +got)\n%s", i, diff)
		}
	}
	return &m
}

func hashes(tb testing.TB, hexes []string) []tlog.Hash {
	tb.Helper()
	out := make([]tlog.Hash, 0, len(hexes))
	for _, h := range hexes {
		out = append(out, hexHash(tb, h))
	}
	return out
}

func TestRFC6962EmptyTree(t *testing.T) {
	var m MemoryHashes
	root, err := TreeRoot(0, &m)
	if err != nil {
		t.Fatal(err)
	}
	if want := hexHash(t, rfcRoots[0]); root != want {
		t.Errorf("TreeRoot(0) = %x; want %x", root[:], want[:])
	}
}

func TestRFC6962LeafHashes(t *testing.T) {
	for i, in := range rfcLeafInputs {
		if got, want := tlog.RecordHash(hexBytes(t, in)), hexHash(t, rfcLeafHashes[i]); got != want {
			t.Errorf("leaf hash of %q = %x; want %x", in, got[:], want[:])
		}
	}
}

func TestRFC6962Roots(t *testing.T) {
	m := rfcLog(t)
	for n := range int64(len(rfcLeafInputs) + 1) {
		got, err := TreeRoot(n, m)
		if err != nil {
			t.Fatalf("TreeRoot(%d): %v", n, err)
		}
		if want := hexHash(t, rfcRoots[n]); got != want {
			t.Errorf("TreeRoot(%d) = %x; want %x", n, got[:], want[:])
		}
	}
	if root, err := m.Root(); err != nil || root != hexHash(t, rfcRoots[8]) {
		t.Errorf("Root() = %x, %v; want %s", root[:], err, rfcRoots[8])
	}
}

func TestRFC6962InclusionProofs(t *testing.T) {
	m := rfcLog(t)
	for _, tt := range rfcInclusion {
		t.Run(fmt.Sprintf("%d:%d", tt.index, tt.size), func(t *testing.T) {
			got, err := InclusionProof(tt.index, tt.size, m)
			if err != nil {
				t.Fatalf("InclusionProof: %v", err)
			}
			want := tlog.RecordProof(hashes(t, tt.path))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("InclusionProof(%d, %d): diff (-want +got)\n%s", tt.index, tt.size, diff)
			}
			leaf := hexHash(t, rfcLeafHashes[tt.index])
			if err := CheckInclusion(want, tt.size, hexHash(t, rfcRoots[tt.size]), leaf, tt.index); err != nil {
				t.Errorf("CheckInclusion of the published proof: %v", err)
			}
		})
	}
}

func TestRFC6962ConsistencyProofs(t *testing.T) {
	m := rfcLog(t)
	for _, tt := range rfcConsistency {
		t.Run(fmt.Sprintf("%d:%d", tt.oldSize, tt.newSize), func(t *testing.T) {
			got, err := ConsistencyProof(tt.oldSize, tt.newSize, m)
			if err != nil {
				t.Fatalf("ConsistencyProof: %v", err)
			}
			want := tlog.TreeProof(hashes(t, tt.proof))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ConsistencyProof(%d, %d): diff (-want +got)\n%s", tt.oldSize, tt.newSize, diff)
			}
			oldRoot, newRoot := hexHash(t, rfcRoots[tt.oldSize]), hexHash(t, rfcRoots[tt.newSize])
			if err := CheckConsistency(want, tt.oldSize, oldRoot, tt.newSize, newRoot); err != nil {
				t.Errorf("CheckConsistency of the published proof: %v", err)
			}
		})
	}
}

func TestHashesForAppendErrors(t *testing.T) {
	var m MemoryHashes
	if _, err := HashesForAppend(-1, nil, &m); err == nil {
		t.Errorf("HashesForAppend(-1) succeeded; want an error")
	}
	// Entry 1 completes a subtree and needs entry 0's hash, which an empty store lacks.
	if _, err := HashesForAppend(1, []byte("x"), &m); err == nil {
		t.Errorf("HashesForAppend(1) on an empty store succeeded; want an error")
	}
	if _, err := TreeRoot(-1, &m); err == nil {
		t.Errorf("TreeRoot(-1) succeeded; want an error")
	}
	if _, err := TreeRoot(1, &m); err == nil {
		t.Errorf("TreeRoot(1) on an empty store succeeded; want an error")
	}
}

// TestAppendedBy checks AppendedBy against the hashes each append actually adds, and
// against tlog's own positions far out.
func TestAppendedBy(t *testing.T) {
	var m MemoryHashes
	for n := int64(0); n < 1100; n++ {
		hashes, err := HashesForAppend(n, []byte(fmt.Sprint(n)), &m)
		if err != nil {
			t.Fatal(err)
		}
		base := AppendIndex(n)
		for i := range hashes {
			if got := AppendedBy(base + int64(i)); got != n {
				t.Fatalf("AppendedBy(%d) = %d; entry %d adds it", base+int64(i), got, n)
			}
		}
		if next := AppendIndex(n + 1); next != base+int64(len(hashes)) {
			t.Fatalf("entry %d adds %d hashes from %d, but entry %d starts at %d", n, len(hashes), base, n+1, next)
		}
		m.hashes = append(m.hashes, hashes...)
		m.size++
	}
	for _, n := range []int64{1<<20 - 1, 1 << 20, 1<<40 + 12345, 1<<50 - 1} {
		for level := range 60 {
			if (n+1)%(int64(1)<<level) != 0 {
				break
			}
			// Entry n completes the subtree at this level that ends with it.
			x := tlog.StoredHashIndex(level, (n+1)>>level-1)
			if got := AppendedBy(x); got != n {
				t.Errorf("AppendedBy(%d) (level %d) = %d; want %d", x, level, got, n)
			}
		}
	}
}

func TestMemoryHashes(t *testing.T) {
	entries := testEntries(t, 1, 37)
	var grown MemoryHashes
	grown.Grow(int64(len(entries)))
	capBefore := cap(grown.hashes)
	for i, e := range entries {
		h, err := e.Hash()
		if err != nil {
			t.Fatal(err)
		}
		index, err := grown.AppendLeafHash(h)
		if err != nil || index != int64(i) {
			t.Fatalf("AppendLeafHash = %d, %v; want %d", index, err, i)
		}
	}
	if cap(grown.hashes) != capBefore {
		t.Errorf("appending %d entries after Grow reallocated: cap %d, then %d", len(entries), capBefore, cap(grown.hashes))
	}
	if got, want := int64(len(grown.hashes)), StoredHashCount(int64(len(entries))); got != want {
		t.Errorf("%d entries stored %d hashes; want StoredHashCount = %d", len(entries), got, want)
	}
	plain := buildLog(t, entries)
	if plain.Size() != grown.Size() {
		t.Errorf("Size() = %d and %d; want equal", plain.Size(), grown.Size())
	}
	if diff := cmp.Diff(plain.hashes, grown.hashes); diff != "" {
		t.Errorf("AppendLeafHash and Append stored different hashes (-Append +AppendLeafHash)\n%s", diff)
	}
	if _, err := plain.ReadHashes([]int64{0, int64(len(plain.hashes))}); err == nil {
		t.Errorf("ReadHashes past the end succeeded; want an error")
	}
	if _, err := plain.ReadHashes([]int64{-1}); err == nil {
		t.Errorf("ReadHashes(-1) succeeded; want an error")
	}
}
