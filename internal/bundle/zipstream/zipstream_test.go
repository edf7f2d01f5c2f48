package zipstream

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// member is a member to write and what to expect back.
type member struct {
	name    string
	method  uint16
	content []byte
	large   bool
}

var testTime = time.Date(2025, 5, 1, 12, 30, 44, 0, time.UTC)

// testMembers covers stored and deflated content, empty content, a directory, a name
// outside ASCII, content that does not compress, and a member marked large.
func testMembers() []member {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 200<<10)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 5000)
	return []member{
		{name: "checkpoint.txt", method: Deflate, content: []byte("evident.test/acme\n12\nroot\n")},
		{name: "empty.txt", method: Store},
		{name: "empty-deflated.txt", method: Deflate},
		{name: "files/", method: Store},
		{name: "files/stored", method: Store, content: []byte("stored as it is")},
		{name: "files/text", method: Deflate, content: text},
		{name: "files/noise", method: Deflate, content: noise},
		{name: "files/noise-stored", method: Store, content: noise[:70000]},
		{name: "ledger.jsonl", method: Deflate, content: text[:100000], large: true},
		{name: "files/stored-large", method: Store, content: []byte("small, but marked large"), large: true},
		{name: "répertoire/été.txt", method: Deflate, content: []byte("ça va")},
	}
}

func writeOurs(tb testing.TB, ms []member, opts Options) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, opts)
	for _, m := range ms {
		mw, err := w.Create(Header{Name: m.name, Method: m.method, Modified: testTime, Large: m.large})
		if err != nil {
			tb.Fatalf("Create(%q): %v", m.name, err)
		}
		// In uneven pieces, as a stream would come.
		for rest := m.content; len(rest) > 0; {
			n := min(len(rest), 1+len(rest)/3)
			if _, err := mw.Write(rest[:n]); err != nil {
				tb.Fatalf("Write(%q): %v", m.name, err)
			}
			rest = rest[n:]
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	if int64(buf.Len()) != w.Written() {
		tb.Fatalf("Written = %d; the output has %d bytes", w.Written(), buf.Len())
	}
	return buf.Bytes()
}

// readOurs reads every member with Reader and returns them in order.
func readOurs(tb testing.TB, b []byte) []member {
	tb.Helper()
	z, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("NewReader: %v", err)
	}
	var out []member
	it := z.Entries()
	for {
		e, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("Next: %v", err)
		}
		rc, err := z.Open(e)
		if err != nil {
			tb.Fatalf("Open(%q): %v", e.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("read %q: %v", e.Name, err)
		}
		again, err := z.EntryAt(e.Record())
		if err != nil {
			tb.Fatalf("EntryAt(%q): %v", e.Name, err)
		}
		if *again != *e {
			tb.Errorf("EntryAt(%q) = %+v; want %+v", e.Name, again, e)
		}
		out = append(out, member{name: e.Name, method: e.Method, content: data})
	}
	if uint64(len(out)) != z.Count() {
		tb.Errorf("read %d members; Count = %d", len(out), z.Count())
	}
	return out
}

func sameMembers(tb testing.TB, got, want []member) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%d members; want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || !bytes.Equal(g.content, w.content) {
			tb.Errorf("member %d = %q (%d bytes); want %q (%d bytes)", i, g.name, len(g.content), w.name, len(w.content))
		}
		if strings.HasSuffix(w.name, "/") {
			w.method = Store
		}
		if g.method != w.method {
			tb.Errorf("member %q: method %d; want %d", w.name, g.method, w.method)
		}
	}
}

func TestArchiveZipReadsWhatWeWrite(t *testing.T) {
	ms := testMembers()
	b := writeOurs(t, ms, Options{})
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("zip.NewReader: %v", err)
	}
	if len(zr.File) != len(ms) {
		t.Fatalf("archive/zip sees %d members; want %d", len(zr.File), len(ms))
	}
	for i, f := range zr.File {
		m := ms[i]
		if f.Name != m.name {
			t.Errorf("member %d is %q; want %q", i, f.Name, m.name)
		}
		if !f.Modified.Equal(testTime) {
			t.Errorf("%s: Modified = %s; want %s", f.Name, f.Modified, testTime)
		}
		if f.NonUTF8 {
			t.Errorf("%s: archive/zip reads the name as not UTF-8", f.Name)
		}
		wantMode := os.FileMode(0o644)
		if strings.HasSuffix(m.name, "/") {
			wantMode = os.ModeDir | 0o755
		}
		if f.Mode() != wantMode {
			t.Errorf("%s: mode %v; want %v", f.Name, f.Mode(), wantMode)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %s: %v", f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("archive/zip reading %s: %v", f.Name, err)
		}
		if !bytes.Equal(data, m.content) {
			t.Errorf("%s: archive/zip reads %d bytes; want %d", f.Name, len(data), len(m.content))
		}
	}
	sameMembers(t, readOurs(t, b), ms)
}

// TestWeReadWhatArchiveZipWrites reads zips made by archive/zip: members with data
// descriptors (Create, CreateHeader), without (CreateRaw, stored and deflated), with an
// archive comment.
func TestWeReadWhatArchiveZipWrites(t *testing.T) {
	ms := testMembers()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var want []member
	for i, m := range ms {
		method := zip.Store
		if m.method == Deflate {
			method = zip.Deflate
		}
		if i%2 == 0 || strings.HasSuffix(m.name, "/") {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method, Modified: testTime})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(m.content)
			want = append(want, m)
			continue
		}
		// Without a data descriptor: the sizes and CRC-32 in the local header.
		data := m.content
		if method == zip.Deflate {
			var c bytes.Buffer
			fw, _ := newTestFlate(&c)
			fw.Write(m.content)
			fw.Close()
			data = c.Bytes()
		}
		h := &zip.FileHeader{Name: m.name, Method: method, CRC32: crc(m.content),
			CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(m.content))}
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		want = append(want, m)
	}
	if err := zw.SetComment("made by archive/zip"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sameMembers(t, readOurs(t, buf.Bytes()), want)
}

// TestManyMembers writes more members than the 16-bit count of the end record holds,
// which takes the ZIP64 end records, both ways; the directory is spooled to disk.
func TestManyMembers(t *testing.T) {
	const n = 70_000
	var ours bytes.Buffer
	w := NewWriter(&ours, Options{TempDir: t.TempDir(), MemoryLimit: 4096})
	var theirs bytes.Buffer
	zw := zip.NewWriter(&theirs)
	for i := range n {
		name := fmt.Sprintf("files/%06d", i)
		mw, err := w.Create(Header{Name: name, Method: Store, Modified: testTime})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(mw, "member %d\n", i)
		zmw, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(zmw, "member %d\n", i)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if len(spoolFiles(t, w)) != 0 {
		t.Error("the spooled directory is still on disk after Close")
	}
	zr, err := zip.NewReader(bytes.NewReader(ours.Bytes()), int64(ours.Len()))
	if err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	if len(zr.File) != n || zr.File[n-1].Name != fmt.Sprintf("files/%06d", n-1) {
		t.Fatalf("archive/zip reads %d members; want %d", len(zr.File), n)
	}
	for name, b := range map[string][]byte{"ours": ours.Bytes(), "archive/zip's": theirs.Bytes()} {
		z, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: NewReader: %v", name, err)
		}
		if !z.zip64 || z.Count() != n {
			t.Errorf("%s: zip64 %v, count %d; want ZIP64 end records and %d", name, z.zip64, z.Count(), n)
		}
		it := z.Entries()
		count := 0
		for {
			e, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: Next: %v", name, err)
			}
			if count%9999 == 0 {
				rc, err := z.Open(e)
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(data) != fmt.Sprintf("member %d\n", count) {
					t.Errorf("%s: member %d = %q, %v", name, count, data, err)
				}
			}
			count++
		}
		if count != n {
			t.Errorf("%s: walked %d members; want %d", name, count, n)
		}
	}
	unzipTest(t, ours.Bytes())
}

func spoolFiles(tb testing.TB, w *Writer) []string {
	tb.Helper()
	names, _ := filepath.Glob(filepath.Join(w.opts.TempDir, "evident-zipdir-*"))
	return names
}

// TestSpoolMatchesMemory checks that spooling the directory to disk changes nothing in the
// output, and that a directory that cannot be spooled is an error.
func TestSpoolMatchesMemory(t *testing.T) {
	ms := testMembers()
	inMemory := writeOurs(t, ms, Options{})
	spooled := writeOurs(t, ms, Options{TempDir: t.TempDir(), MemoryLimit: 100})
	if !bytes.Equal(inMemory, spooled) {
		t.Error("the zip differs when its directory is spooled to disk")
	}

	w := NewWriter(io.Discard, Options{TempDir: filepath.Join(t.TempDir(), "missing"), MemoryLimit: 10})
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		_, err = w.Create(Header{Name: fmt.Sprintf("m%d", i)})
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "spooling the central directory") {
		t.Errorf("writing with a missing TempDir = %v; want an error about spooling", err)
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard, Options{})
	if _, err := w.Create(Header{Name: ""}); err == nil {
		t.Error("Create with no name succeeded")
	}
	if _, err := w.Create(Header{Name: strings.Repeat("a", 70000)}); err == nil {
		t.Error("Create with a 70,000-byte name succeeded")
	}
	if _, err := w.Create(Header{Name: "x", Method: 12}); err == nil || !strings.Contains(err.Error(), "method 12") {
		t.Errorf("Create with method 12 = %v; want an error", err)
	}
	d, err := w.Create(Header{Name: "dir/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write([]byte("x")); err == nil {
		t.Error("writing content to a directory succeeded")
	}
	first, _ := w.Create(Header{Name: "first"})
	if _, err := w.Create(Header{Name: "second"}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Write([]byte("late")); err == nil {
		t.Error("writing to a member after the next one started succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(Header{Name: "after"}); err == nil {
		t.Error("Create after Close succeeded")
	}
	if _, err := NewWriter(io.Discard, Options{DeflateLevel: 12}).Create(Header{Name: "x", Method: Deflate}); err == nil {
		t.Error("Create with deflate level 12 succeeded")
	}

	// A failing output fails the member and everything after.
	fw := NewWriter(failingWriter{}, Options{})
	mw, err := fw.Create(Header{Name: "big", Method: Store})
	if err == nil {
		_, err = mw.Write(make([]byte, 1<<20))
	}
	if err == nil {
		err = fw.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("writing to a failing output = %v; want its error", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// unzipTest runs Info-ZIP's unzip -t on the zip when it is installed.
func unzipTest(tb testing.TB, b []byte) {
	tb.Helper()
	path, err := exec.LookPath("unzip")
	if err != nil {
		tb.Log("unzip is not installed; not testing with it")
		return
	}
	f := filepath.Join(tb.TempDir(), "test.zip")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(path, "-tqq", f).CombinedOutput()
	if err != nil {
		tb.Errorf("unzip -t: %v\n%s", err, out)
	}
}

func TestUnzipReadsWhatWeWrite(t *testing.T) {
	unzipTest(t, writeOurs(t, testMembers(), Options{}))
}
