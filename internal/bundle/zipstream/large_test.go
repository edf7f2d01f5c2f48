package zipstream

import (
	"archive/zip"
	"bytes"
	"io"
	"sort"
	"testing"
)

// sparse is an in-memory file that keeps long runs of zero bytes as their length only, so
// that a zip of more than 4 GiB fits in a test.
type sparse struct {
	segs []segment
	size int64
}

type segment struct {
	off   int64
	data  []byte // nil for a run of zeros
	zeros int64
}

func (s *segment) len() int64 {
	if s.data != nil {
		return int64(len(s.data))
	}
	return s.zeros
}

var zeroPage = make([]byte, 64<<10)

func isZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeroPage))
		if !bytes.Equal(p[:n], zeroPage[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}

func (s *sparse) Write(p []byte) (int, error) {
	n := len(p)
	var last *segment
	if len(s.segs) > 0 {
		last = &s.segs[len(s.segs)-1]
	}
	switch {
	case len(p) >= 4096 && isZero(p):
		if last != nil && last.data == nil {
			last.zeros += int64(n)
		} else {
			s.segs = append(s.segs, segment{off: s.size, zeros: int64(n)})
		}
	case last != nil && last.data != nil:
		last.data = append(last.data, p...)
	default:
		s.segs = append(s.segs, segment{off: s.size, data: bytes.Clone(p)})
	}
	s.size += int64(n)
	return n, nil
}

func (s *sparse) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for len(p) > 0 {
		if off >= s.size {
			return n, io.EOF
		}
		i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].off+s.segs[i].len() > off })
		seg := &s.segs[i]
		within := off - seg.off
		k := int(min(int64(len(p)), seg.len()-within))
		if seg.data != nil {
			copy(p[:k], seg.data[within:])
		} else {
			clear(p[:k])
		}
		p, off, n = p[k:], off+int64(k), n+k
	}
	return n, nil
}

// zeroReader yields n zero bytes.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), z.n))
	clear(p[:k])
	z.n -= int64(k)
	return k, nil
}

const bigSize = 1<<32 + 1<<20 // past 4 GiB

// TestLargeMember writes a stored member of more than 4 GiB and a small one after it, so
// that sizes and an offset need ZIP64 fields, both ways.
func TestLargeMember(t *testing.T) {
	if testing.Short() {
		t.Skip("reads and writes 4 GiB twice")
	}
	buf := make([]byte, 1<<20)
	var ours sparse
	w := NewWriter(&ours, Options{})
	for _, large := range []bool{true, false} {
		name := "big-unannounced"
		if large {
			name = "big"
		}
		mw, err := w.Create(Header{Name: name, Method: Store, Large: large, Modified: testTime})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyBuffer(mw, &zeroReader{n: bigSize}, buf); err != nil {
			t.Fatal(err)
		}
	}
	mw, _ := w.Create(Header{Name: "after", Method: Deflate})
	mw.Write([]byte("after the big ones"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	var theirs sparse
	zw := zip.NewWriter(&theirs)
	zmw, _ := zw.CreateHeader(&zip.FileHeader{Name: "big", Method: zip.Store})
	if _, err := io.CopyBuffer(zmw, &zeroReader{n: bigSize}, buf); err != nil {
		t.Fatal(err)
	}
	zmw, _ = zw.Create("after")
	zmw.Write([]byte("after the big ones"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	zr, err := zip.NewReader(&ours, ours.size)
	if err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	if len(zr.File) != 3 || zr.File[0].UncompressedSize64 != bigSize || zr.File[1].UncompressedSize64 != bigSize {
		t.Fatalf("archive/zip reads %d members", len(zr.File))
	}
	for _, f := range zr.File[1:] {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, rc, buf)
		rc.Close()
		if err != nil || (f.Name != "after" && n != bigSize) {
			t.Errorf("archive/zip reading %s: %d bytes, %v", f.Name, n, err)
		}
	}

	for name, s := range map[string]*sparse{"ours": &ours, "archive/zip's": &theirs} {
		z, err := NewReader(s, s.size)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		it := z.Entries()
		var got []string
		for {
			e, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = append(got, e.Name)
			if e.Name == "big-unannounced" {
				continue // archive/zip has read it above, and it is the same as big
			}
			rc, err := z.Open(e)
			if err != nil {
				t.Fatalf("%s: open %s: %v", name, e.Name, err)
			}
			n, err := io.CopyBuffer(io.Discard, rc, buf)
			rc.Close()
			want := int64(bigSize)
			if e.Name == "after" {
				want = int64(len("after the big ones"))
				if e.HeaderOffset < 1<<32 {
					t.Errorf("%s: the member after is at byte %d, below 4 GiB", name, e.HeaderOffset)
				}
			}
			if err != nil || n != want {
				t.Errorf("%s: reading %s: %d bytes, %v; want %d", name, e.Name, n, err, want)
			}
		}
		if len(got) < 2 {
			t.Errorf("%s: members %q", name, got)
		}
	}
}
