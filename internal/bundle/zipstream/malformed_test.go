package zipstream

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

func newTestFlate(w io.Writer) (*flate.Writer, error) { return flate.NewWriter(w, flate.BestSpeed) }

func crc(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// layout finds the records of a zip written by writeOurs, to patch them.
type layout struct {
	dirStart, end int
	records       []int // central directory records
	locals        []int // local headers
}

func findLayout(tb testing.TB, b []byte) layout {
	tb.Helper()
	z, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	l := layout{dirStart: int(z.dirStart), end: len(b) - endLen}
	it := z.Entries()
	for {
		e, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		l.records = append(l.records, int(e.record))
		l.locals = append(l.locals, int(e.HeaderOffset))
	}
	return l
}

func simpleZip(tb testing.TB) []byte {
	return writeOurs(tb, []member{
		{name: "a.txt", method: Store, content: []byte("first member")},
		{name: "b.txt", method: Deflate, content: bytes.Repeat([]byte("second member "), 100)},
		{name: "c.txt", method: Store, content: []byte("third member")},
	}, Options{})
}

// readAll reads the zip as the verifier would: every entry, every member to its end. It
// returns the first error.
func readAll(b []byte) error {
	z, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	it := z.Entries()
	for {
		e, err := it.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rc, err := z.Open(e)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
}

func TestMalformed(t *testing.T) {
	good := simpleZip(t)
	l := findLayout(t, good)
	patch := func(edit func(b []byte) []byte) func() []byte {
		return func() []byte { return edit(bytes.Clone(good)) }
	}
	put16 := func(b []byte, at int, v uint16) []byte { binary.LittleEndian.PutUint16(b[at:], v); return b }
	put32 := func(b []byte, at int, v uint32) []byte { binary.LittleEndian.PutUint32(b[at:], v); return b }
	dataOf := func(i int) int { // where member i's data start
		return l.locals[i] + localHeaderLen + int(binary.LittleEndian.Uint16(good[l.locals[i]+26:])) + int(binary.LittleEndian.Uint16(good[l.locals[i]+28:]))
	}
	extraOf := func(i int) int { // where record i's extra fields start: the extended timestamp
		return l.records[i] + centralHeaderLen + int(binary.LittleEndian.Uint16(good[l.records[i]+28:]))
	}
	compressedSize := func(i int) uint32 { return binary.LittleEndian.Uint32(good[l.records[i]+20:]) }
	tests := []struct {
		name  string
		zip   func() []byte
		want  string
		isFmt bool // the error wraps ErrFormat
	}{
		{"empty", func() []byte { return nil }, "too short", true},
		{"not a zip", func() []byte { return bytes.Repeat([]byte("not a zip "), 10) }, "no end of central directory", true},
		{"cut short", func() []byte { return good[:len(good)-10] }, "no end of central directory", true},
		{"cut before the directory", func() []byte { return append(bytes.Clone(good[:l.dirStart-5]), good[l.end:]...) }, "does not fit before its end record", true},
		{"trailing garbage", func() []byte { return append(bytes.Clone(good), "garbage"...) }, "no end of central directory", true},
		{"directory offset past its end", patch(func(b []byte) []byte { return put32(b, l.end+16, uint32(len(b))) }), "does not fit", true},
		{"directory size past the end record", patch(func(b []byte) []byte { return put32(b, l.end+12, 1<<20) }), "does not fit", true},
		{"huge count", patch(func(b []byte) []byte { return put16(put16(b, l.end+8, 0xfffe), l.end+10, 0xfffe) }), "more than its", true},
		{"count too small", patch(func(b []byte) []byte { return put16(put16(b, l.end+8, 2), l.end+10, 2) }), "bytes after its 2 records", true},
		{"count too large", patch(func(b []byte) []byte { return put16(put16(b, l.end+8, 4), l.end+10, 4) }), "claims 4 members, more than its 180 bytes can hold", true},
		{"split over disks", patch(func(b []byte) []byte { return put16(b, l.end+4, 1) }), "several disks", true},
		{"record without signature", patch(func(b []byte) []byte { return put32(b, l.records[1], 0x12345678) }), "no record signature", true},
		{"name length past the directory", patch(func(b []byte) []byte { return put16(b, l.records[2]+28, 0xffff) }), "runs past its end", true},
		{"offset past the directory", patch(func(b []byte) []byte { return put32(b, l.records[2]+42, uint32(l.dirStart+1)) }), "do not fit before the central directory", true},
		{"size past the directory", patch(func(b []byte) []byte { return put32(b, l.records[2]+20, 1<<30) }), "do not fit before the central directory", true},
		{"two records of one member", patch(func(b []byte) []byte { return put32(b, l.records[1]+42, uint32(l.locals[0])) }), "overlap or are out of order", true},
		{"records out of order", patch(func(b []byte) []byte {
			return put32(put32(b, l.records[0]+42, uint32(l.locals[2])), l.records[2]+42, uint32(l.locals[0]))
		}), "overlap or are out of order", true},
		{"data overlapping the next member", patch(func(b []byte) []byte { return put32(b, l.records[0]+20, uint32(l.locals[1]-dataOf(0)+1)) }), "run into the next member", true},
		{"data descriptor overlapping the next member", patch(func(b []byte) []byte { return put32(b, l.records[1]+42, uint32(l.locals[1]-5)) }), "run into the next member", true},
		{"data descriptor's signature overlapping the next member", patch(func(b []byte) []byte { return put32(b, l.records[1]+42, uint32(l.locals[1]-2)) }), "data descriptor runs into the next member", true},
		{"member on another disk", patch(func(b []byte) []byte { return put16(b, l.records[0]+34, 1) }), "is on disk 1", true},
		{"deflated data after the stream's end", patch(func(b []byte) []byte { return put32(b, l.records[1]+20, compressedSize(1)+4) }), "data follow the end of its compressed stream", true},
		{"deflated data cut short", patch(func(b []byte) []byte { return put32(b, l.records[1]+20, compressedSize(1)/2) }), "compressed data are cut short", true},
		{"extra fields cut short", patch(func(b []byte) []byte { return put16(b, l.records[2]+30, 3) }), "extra fields are cut short", true},
		{"extra field past the fields' end", patch(func(b []byte) []byte { return put16(b, extraOf(2)+2, 200) }), "runs past the fields' end", true},
		{"ZIP64 field too short", patch(func(b []byte) []byte { return put32(put16(b, extraOf(0), zip64ExtraID), l.records[0]+24, max32) }), "ZIP64 field is too short", true},
		{"no local header", patch(func(b []byte) []byte { return put32(b, l.locals[1], 0) }), "no local header", true},
		{"local header naming another member", patch(func(b []byte) []byte { b[l.locals[0]+localHeaderLen] = 'x'; return b }), `names it "x.txt"`, true},
		{"local header's name of another length", patch(func(b []byte) []byte { return put16(b, l.locals[0]+26, 4) }), "names another member", true},
		{"local method differs", patch(func(b []byte) []byte { return put16(b, l.locals[0]+8, Deflate) }), "compression method", true},
		{"one byte of data changed", patch(func(b []byte) []byte { b[dataOf(0)+2] ^= 1; return b }), "checksum error", true},
		{"deflated data changed", patch(func(b []byte) []byte { b[dataOf(1)+5] ^= 0x40; return b }), "", false},
		{"size claimed smaller", patch(func(b []byte) []byte { return put32(b, l.records[1]+24, 10) }), "more than the 10 bytes", true},
		{"size claimed larger", patch(func(b []byte) []byte { return put32(b, l.records[1]+24, 10000) }), "has 1400 bytes, but the central directory records 10000", true},
		{"stored size mismatch", patch(func(b []byte) []byte { return put32(b, l.records[0]+24, 5) }), "more than the 5 bytes", true},
		{"descriptor differs", patch(func(b []byte) []byte {
			at := dataOf(0) + len("first member") + 4
			return put32(b, at, binary.LittleEndian.Uint32(b[at:])^1)
		}), "data descriptor records the CRC-32", true},
		{"encrypted", patch(func(b []byte) []byte { return put16(b, l.records[0]+8, flagEncrypted|flagDescriptor) }), "encrypted", false},
		{"unknown method", patch(func(b []byte) []byte { return put16(b, l.records[0]+10, 12) }), "method 12", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readAll(tt.zip())
			if err == nil {
				t.Fatalf("read without error; want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v; want %q", err, tt.want)
			}
			if tt.isFmt && !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
		})
	}
	if err := readAll(good); err != nil {
		t.Fatalf("the good zip: %v", err)
	}
}

// TestZip64Locator checks the ZIP64 end records of a zip with many members.
func TestZip64Locator(t *testing.T) {
	var ms []member
	for range 0xffff + 2 {
		ms = append(ms, member{name: "m", method: Store})
	}
	good := writeOurs(t, ms, Options{})
	endAt := len(good) - endLen
	locAt := endAt - zip64LocatorLen
	recAt := locAt - zip64EndLen
	if binary.LittleEndian.Uint32(good[locAt:]) != zip64LocatorSig || binary.LittleEndian.Uint32(good[recAt:]) != zip64EndSig {
		t.Fatal("no ZIP64 end records where expected")
	}
	if err := readAll(good); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		edit func(b []byte)
		want string
	}{
		{"locator pointing past itself", func(b []byte) { binary.LittleEndian.PutUint64(b[locAt+8:], uint64(locAt)) }, "no ZIP64 end record fits"},
		{"locator pointing at nothing", func(b []byte) { binary.LittleEndian.PutUint64(b[locAt+8:], 0) }, "no ZIP64 end record at byte 0"},
		{"record size wrong", func(b []byte) { binary.LittleEndian.PutUint64(b[recAt+4:], 1<<40) }, "gives its size"},
		{"huge count", func(b []byte) {
			binary.LittleEndian.PutUint64(b[recAt+24:], 1<<60)
			binary.LittleEndian.PutUint64(b[recAt+32:], 1<<60)
		}, "claims 1152921504606846976 members"},
		{"locator on another disk", func(b []byte) { binary.LittleEndian.PutUint32(b[locAt+4:], 1) }, "several disks"},
		{"locator counting two disks", func(b []byte) { binary.LittleEndian.PutUint32(b[locAt+16:], 2) }, "several disks"},
		{"ZIP64 end record on another disk", func(b []byte) { binary.LittleEndian.PutUint32(b[recAt+16:], 1) }, "several disks"},
		{"ZIP64 end record with members on other disks", func(b []byte) { binary.LittleEndian.PutUint64(b[recAt+24:], 1) }, "several disks"},
		{"directory offset huge", func(b []byte) { binary.LittleEndian.PutUint64(b[recAt+48:], 1<<62) }, "does not fit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			tt.edit(b)
			err := readAll(b)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrFormat) {
				t.Errorf("error = %v; want ErrFormat with %q", err, tt.want)
			}
		})
	}
}

func TestCountBeyondRecords(t *testing.T) {
	long := strings.Repeat("n", 100)
	b := writeOurs(t, []member{{name: long + "1"}, {name: long + "2"}, {name: long + "3"}}, Options{})
	end := len(b) - endLen
	binary.LittleEndian.PutUint16(b[end+8:], 4)
	binary.LittleEndian.PutUint16(b[end+10:], 4)
	if err := readAll(b); err == nil || !strings.Contains(err.Error(), "ends after 3 of the 4 records") {
		t.Errorf("error = %v; want the directory to end early", err)
	}
}

// TestReaderMisuse checks what Reader does with entries it did not make and members read
// after Close.
func TestReaderMisuse(t *testing.T) {
	b := simpleZip(t)
	z, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Open(&Entry{Name: "a.txt", HeaderOffset: 0}); err == nil || !strings.Contains(err.Error(), "did not come from this reader") {
		t.Errorf("Open of a made-up entry = %v; want it refused", err)
	}
	for _, at := range []int64{0, z.dirStart - 1, z.dirEnd - centralHeaderLen + 1} {
		if _, err := z.EntryAt(at); err == nil || !strings.Contains(err.Error(), "no central directory record") || !errors.Is(err, ErrFormat) {
			t.Errorf("EntryAt(%d) = %v; want no record there", at, err)
		}
	}
	e, err := z.Entries().Next()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := z.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := rc.Read(make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "read after close") {
		t.Errorf("Read after Close = %v; want an error", err)
	}
}
