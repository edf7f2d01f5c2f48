package blob

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLocal(t *testing.T) {
	testStore(t, newLocalHarness)
}

func newLocalHarness(tb testing.TB) harness {
	tb.Helper()
	s, err := NewLocal(filepath.Join(tb.TempDir(), "blobs"))
	if err != nil {
		tb.Fatalf("NewLocal: %v", err)
	}
	return harness{
		store: s,
		stored: func(tb testing.TB) []string {
			tb.Helper()
			var names []string
			err := filepath.WalkDir(s.Dir(), func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && path == s.tmp {
					return filepath.SkipDir
				}
				if !d.IsDir() {
					names = append(names, d.Name())
				}
				return nil
			})
			if err != nil {
				tb.Fatalf("list %s: %v", s.Dir(), err)
			}
			slices.Sort(names)
			return names
		},
		temps: func(tb testing.TB) []string { return listDir(tb, s.tmp) },
		damage: func(tb testing.TB, sha string, data []byte) {
			tb.Helper()
			if err := os.WriteFile(s.path(sha), data, fileMode); err != nil {
				tb.Fatalf("damage %s: %v", sha, err)
			}
		},
	}
}

// listDir returns the names in dir.
func listDir(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("list %s: %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLocalLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := NewLocal(dir)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	info, err := s.Put(context.Background(), bytes.NewReader([]byte("abc")), 1024)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	const sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if info.SHA256 != sha {
		t.Fatalf("Put(abc) sha = %s; want %s", info.SHA256, sha)
	}
	fi, err := os.Stat(filepath.Join(dir, "ba", "78", sha))
	if err != nil {
		t.Fatalf("blob not at <dir>/ba/78/<sha>: %v", err)
	}
	if got := fi.Mode().Perm(); got != 0o640 {
		t.Errorf("blob file mode = %v; want %v", got, fs.FileMode(0o640))
	}
	for _, d := range []string{filepath.Join(dir, "ba"), filepath.Join(dir, "ba", "78")} {
		di, err := os.Stat(d)
		if err != nil {
			t.Fatalf("stat %s: %v", d, err)
		}
		if got := di.Mode().Perm(); got&0o007 != 0 {
			t.Errorf("directory %s mode = %v; want no access for others", d, got)
		}
	}
}

func TestLocalKeepsExistingBlob(t *testing.T) {
	s, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	ctx := context.Background()
	data := randomBytes(9, 4096)
	info, err := s.Put(ctx, bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	before, err := os.Stat(s.path(info.SHA256))
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(data), 1<<20); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	after, err := os.Stat(s.path(info.SHA256))
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("second Put of the same content replaced the blob file")
	}
}

func TestLocalRepairsTruncatedBlob(t *testing.T) {
	s, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	ctx := context.Background()
	data := randomBytes(10, 4096)
	info, err := s.Put(ctx, bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := os.Truncate(s.path(info.SHA256), 100); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(data), 1<<20); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if got, _ := readBlob(t, s, info.SHA256); !bytes.Equal(got, data) {
		t.Errorf("after a second Put, the truncated blob still reads %d bytes; want %d", len(got), len(data))
	}
}

func TestLocalRemovesStaleUploads(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-staleAfter - time.Hour)
	files := []struct {
		name string
		old  bool
	}{
		{name: tempPrefix + "stale", old: true},
		{name: tempPrefix + "in-progress"},
		{name: "not-an-upload", old: true},
	}
	for _, f := range files {
		path := filepath.Join(tmp, f.name)
		if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if f.old {
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := NewLocal(dir); err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	want := []string{"not-an-upload", tempPrefix + "in-progress"}
	if diff := cmp.Diff(want, listDir(t, tmp)); diff != "" {
		t.Errorf("temporary directory after NewLocal (-want +got):\n%s", diff)
	}
}
