package zipstream

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader reads arbitrary bytes as a zip: it must not panic, must not allocate from
// the counts and sizes it reads, and every entry it yields must read back the same.
func FuzzReader(f *testing.F) {
	f.Add(simpleZip(f))
	f.Add(writeOurs(f, testMembers()[:5], Options{}))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("a")
	w.Write([]byte("archive/zip"))
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "b", Method: zip.Store})
	w.Write([]byte("stored"))
	zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, data []byte) {
		z, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("NewReader: %v does not wrap ErrFormat", err)
			}
			return
		}
		it := z.Entries()
		for range 1000 {
			e, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("Next: %v does not wrap ErrFormat", err)
				}
				break
			}
			if e.HeaderOffset < 0 || e.HeaderOffset >= z.dirStart || e.limit > z.dirStart || e.limit <= e.HeaderOffset {
				t.Fatalf("entry %+v is outside the members' area (directory at %d)", e, z.dirStart)
			}
			again, err := z.EntryAt(e.Record())
			if err != nil || again.Name != e.Name || again.HeaderOffset != e.HeaderOffset {
				t.Fatalf("EntryAt(%d) = %+v, %v; want %+v", e.Record(), again, err, e)
			}
			rc, err := z.Open(e)
			if err != nil {
				continue
			}
			n, _ := io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
			rc.Close()
			if uint64(n) > e.UncompressedSize {
				t.Fatalf("read %d bytes of %q, which records %d", n, e.Name, e.UncompressedSize)
			}
		}
	})
}
