package zipstream

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

// Options tune a Writer. The zero value is ready to use.
type Options struct {
	// TempDir is where the central directory is spooled once it outgrows MemoryLimit;
	// os.TempDir() when empty.
	TempDir string
	// MemoryLimit is how many bytes of central directory records the Writer keeps in
	// memory before it spools them to a temporary file; 256 KiB when 0. A record takes
	// about 60 bytes plus the member's name.
	MemoryLimit int
	// DeflateLevel is the compress/flate level of deflated members, 1 to 9; 0 means
	// flate.BestSpeed.
	DeflateLevel int
}

// Header describes a member to Writer.Create.
type Header struct {
	// Name is the member's name, with forward slashes; a name ending in a slash is a
	// directory, which has no content. Writer does not check that names are unique.
	Name string
	// Method is Store or Deflate.
	Method uint16
	// Modified is recorded as the member's time, in the MS-DOS fields and as an extended
	// timestamp; a zero time records 1980-01-01 and no extended timestamp.
	Modified time.Time
	// Large says the member may reach 4 GiB: its local header then carries a ZIP64 field
	// and its data descriptor 64-bit sizes, which is what readers that stream a zip from
	// its start, rather than from its central directory, expect of a member that large.
	// A member that grows past 4 GiB without it is still recorded correctly in the
	// central directory.
	Large bool
}

// Writer writes a zip file member by member, streaming each member's content to the
// output and keeping O(1) memory per member. It is not safe for concurrent use.
type Writer struct {
	out     *countWriter
	bw      *bufio.Writer
	dir     *spool
	opts    Options
	level   int
	count   uint64
	cur     *memberWriter
	closed  bool
	err     error
	scratch []byte
}

// NewWriter returns a Writer that writes a zip file to w. Close finishes the file; Abort
// gives up on it.
func NewWriter(w io.Writer, opts Options) *Writer {
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = 256 << 10
	}
	level := opts.DeflateLevel
	if level == 0 {
		level = flate.BestSpeed
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	return &Writer{
		out:   &countWriter{w: bw},
		bw:    bw,
		dir:   &spool{dir: opts.TempDir, limit: opts.MemoryLimit},
		opts:  opts,
		level: level,
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w     io.Writer
	count int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.count += int64(n)
	return n, err
}

var errClosed = errors.New("zip: write to a closed zip writer")

// Create ends the member being written, if any, and starts a new one, returning the
// writer of its content, valid until the next call to Create, Close or Abort.
func (w *Writer) Create(h Header) (io.Writer, error) {
	if err := w.endMember(); err != nil {
		return nil, err
	}
	switch {
	case h.Name == "":
		return nil, errors.New("zip: a member needs a name")
	case len(h.Name) > max16:
		return nil, fmt.Errorf("zip: member name of %d bytes is longer than the %d a zip allows", len(h.Name), max16)
	case h.Method != Store && h.Method != Deflate:
		return nil, fmt.Errorf("zip: member %q: unsupported compression method %d", h.Name, h.Method)
	case w.level < flate.BestSpeed || w.level > flate.BestCompression:
		return nil, fmt.Errorf("zip: deflate level %d is not between 1 and 9", w.level)
	}
	m := &memberWriter{
		w:      w,
		name:   h.Name,
		method: h.Method,
		large:  h.Large,
		offset: w.out.count,
		flags:  flagDescriptor,
		dir:    h.Name[len(h.Name)-1] == '/',
	}
	if m.dir {
		m.method = Store
	}
	for i := 0; i < len(h.Name); i++ {
		if h.Name[i] >= utf8.RuneSelf {
			if utf8.ValidString(h.Name) {
				m.flags |= flagUTF8
			}
			break
		}
	}
	if !h.Modified.IsZero() {
		m.date, m.time = msDosTime(h.Modified)
		if u := h.Modified.Unix(); u >= 0 && u <= max32 {
			m.mtime, m.hasMtime = uint32(u), true
		}
	} else {
		m.date, m.time = msDosTime(time.Time{})
	}

	b := w.scratch[:0]
	version := uint16(version20)
	if m.large {
		version = version45
	}
	b = binary.LittleEndian.AppendUint32(b, localHeaderSig)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, m.flags)
	b = binary.LittleEndian.AppendUint16(b, m.method)
	b = binary.LittleEndian.AppendUint16(b, m.time)
	b = binary.LittleEndian.AppendUint16(b, m.date)
	b = binary.LittleEndian.AppendUint32(b, 0) // CRC-32, in the data descriptor
	var sizes uint32                           // in the data descriptor
	if m.large {
		sizes = max32 // in the ZIP64 field, then in the data descriptor
	}
	b = binary.LittleEndian.AppendUint32(b, sizes)
	b = binary.LittleEndian.AppendUint32(b, sizes)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h.Name)))
	extra := 0
	if m.large {
		extra += 20
	}
	if m.hasMtime {
		extra += 9
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(extra))
	b = append(b, h.Name...)
	if m.large {
		b = binary.LittleEndian.AppendUint16(b, zip64ExtraID)
		b = binary.LittleEndian.AppendUint16(b, 16)
		b = binary.LittleEndian.AppendUint64(b, 0)
		b = binary.LittleEndian.AppendUint64(b, 0)
	}
	if m.hasMtime {
		b = appendExtTime(b, m.mtime)
	}
	w.scratch = b
	if _, err := w.out.Write(b); err != nil {
		return nil, w.fail(err)
	}
	m.dataStart = w.out.count
	m.crc = crc32.NewIEEE()
	if m.method == Deflate {
		fw, err := getFlateWriter(w.out, w.level)
		if err != nil {
			return nil, w.fail(err)
		}
		m.fw = fw
	}
	w.cur = m
	return m, nil
}

func appendExtTime(b []byte, mtime uint32) []byte {
	b = binary.LittleEndian.AppendUint16(b, extTimeExtraID)
	b = binary.LittleEndian.AppendUint16(b, 5)
	b = append(b, 1) // flags: the modification time
	return binary.LittleEndian.AppendUint32(b, mtime)
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// endMember ends the member being written: its compressed stream, its data descriptor and
// its central directory record.
func (w *Writer) endMember() error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	m := w.cur
	if m == nil {
		return nil
	}
	w.cur = nil
	m.done = true
	if m.fw != nil {
		err := m.fw.Close()
		putFlateWriter(m.fw, w.level)
		m.fw = nil
		if err != nil {
			return w.fail(err)
		}
	}
	csize := uint64(w.out.count - m.dataStart)
	crc := m.crc.Sum32()
	sizes64 := m.large || csize >= max32 || m.usize >= max32
	offset64 := uint64(m.offset) >= max32

	b := w.scratch[:0]
	b = binary.LittleEndian.AppendUint32(b, dataDescriptorSig)
	b = binary.LittleEndian.AppendUint32(b, crc)
	if sizes64 {
		b = binary.LittleEndian.AppendUint64(b, csize)
		b = binary.LittleEndian.AppendUint64(b, m.usize)
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(csize))
		b = binary.LittleEndian.AppendUint32(b, uint32(m.usize))
	}
	if _, err := w.out.Write(b); err != nil {
		return w.fail(err)
	}

	// The central directory record. Sizes go into a ZIP64 field when either needs it,
	// as archive/zip writes them, and so does the offset.
	large := csize >= max32 || m.usize >= max32
	version := uint16(version20)
	if m.large || large || offset64 {
		version = version45
	}
	var zip64 []byte
	if large {
		zip64 = binary.LittleEndian.AppendUint64(zip64, m.usize)
		zip64 = binary.LittleEndian.AppendUint64(zip64, csize)
	}
	if offset64 {
		zip64 = binary.LittleEndian.AppendUint64(zip64, uint64(m.offset))
	}
	extra := 0
	if len(zip64) > 0 {
		extra += 4 + len(zip64)
	}
	if m.hasMtime {
		extra += 9
	}
	attrs := uint32(0o100644) << 16
	if m.dir {
		attrs = uint32(0o40755)<<16 | 0x10 // and the MS-DOS directory bit
	}
	b = b[:0]
	b = binary.LittleEndian.AppendUint32(b, centralHeaderSig)
	b = binary.LittleEndian.AppendUint16(b, creatorUnix<<8|version)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, m.flags)
	b = binary.LittleEndian.AppendUint16(b, m.method)
	b = binary.LittleEndian.AppendUint16(b, m.time)
	b = binary.LittleEndian.AppendUint16(b, m.date)
	b = binary.LittleEndian.AppendUint32(b, crc)
	if large {
		b = binary.LittleEndian.AppendUint32(b, max32)
		b = binary.LittleEndian.AppendUint32(b, max32)
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(csize))
		b = binary.LittleEndian.AppendUint32(b, uint32(m.usize))
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.name)))
	b = binary.LittleEndian.AppendUint16(b, uint16(extra))
	b = binary.LittleEndian.AppendUint16(b, 0) // comment
	b = binary.LittleEndian.AppendUint16(b, 0) // disk
	b = binary.LittleEndian.AppendUint16(b, 0) // internal attributes
	b = binary.LittleEndian.AppendUint32(b, attrs)
	if offset64 {
		b = binary.LittleEndian.AppendUint32(b, max32)
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(m.offset))
	}
	b = append(b, m.name...)
	if len(zip64) > 0 {
		b = binary.LittleEndian.AppendUint16(b, zip64ExtraID)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(zip64)))
		b = append(b, zip64...)
	}
	if m.hasMtime {
		b = appendExtTime(b, m.mtime)
	}
	w.scratch = b
	if err := w.dir.write(b); err != nil {
		return w.fail(fmt.Errorf("zip: spooling the central directory: %w", err))
	}
	w.count++
	return nil
}

// Close ends the last member and writes the central directory and the end records. It
// does not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.endMember(); err != nil {
		w.Abort()
		return err
	}
	w.closed = true
	defer w.dir.release()
	start := w.out.count
	if err := w.dir.copyTo(w.out); err != nil {
		return w.fail(fmt.Errorf("zip: writing the central directory: %w", err))
	}
	end := w.out.count
	size := uint64(end - start)
	b := w.scratch[:0]
	if w.count >= max16 || size >= max32 || uint64(start) >= max32 {
		b = binary.LittleEndian.AppendUint32(b, zip64EndSig)
		b = binary.LittleEndian.AppendUint64(b, zip64EndLen-12)
		b = binary.LittleEndian.AppendUint16(b, creatorUnix<<8|version45)
		b = binary.LittleEndian.AppendUint16(b, version45)
		b = binary.LittleEndian.AppendUint32(b, 0) // this disk
		b = binary.LittleEndian.AppendUint32(b, 0) // the directory's disk
		b = binary.LittleEndian.AppendUint64(b, w.count)
		b = binary.LittleEndian.AppendUint64(b, w.count)
		b = binary.LittleEndian.AppendUint64(b, size)
		b = binary.LittleEndian.AppendUint64(b, uint64(start))

		b = binary.LittleEndian.AppendUint32(b, zip64LocatorSig)
		b = binary.LittleEndian.AppendUint32(b, 0) // the disk of the ZIP64 end record
		b = binary.LittleEndian.AppendUint64(b, uint64(end))
		b = binary.LittleEndian.AppendUint32(b, 1) // disks
	}
	b = binary.LittleEndian.AppendUint32(b, endSig)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(min(w.count, max16)))
	b = binary.LittleEndian.AppendUint16(b, uint16(min(w.count, max16)))
	b = binary.LittleEndian.AppendUint32(b, uint32(min(size, max32)))
	b = binary.LittleEndian.AppendUint32(b, uint32(min(uint64(start), max32)))
	b = binary.LittleEndian.AppendUint16(b, 0) // comment
	if _, err := w.out.Write(b); err != nil {
		return w.fail(err)
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	return nil
}

// Abort gives up on the zip file: it frees the member being written and removes the
// spooled directory. What was written stays written. Abort after Close does nothing.
func (w *Writer) Abort() {
	if m := w.cur; m != nil && m.fw != nil {
		putFlateWriter(m.fw, w.level)
		m.fw = nil
	}
	w.cur = nil
	w.closed = true
	w.dir.release()
}

// Written returns the number of bytes written to the underlying writer, buffered or not.
func (w *Writer) Written() int64 { return w.out.count }

// memberWriter writes a member's content.
type memberWriter struct {
	w         *Writer
	name      string
	method    uint16
	flags     uint16
	date      uint16
	time      uint16
	mtime     uint32
	hasMtime  bool
	large     bool
	dir       bool
	offset    int64
	dataStart int64
	crc       hash.Hash32
	usize     uint64
	fw        *flate.Writer
	done      bool
}

func (m *memberWriter) Write(p []byte) (int, error) {
	switch {
	case m.done:
		return 0, fmt.Errorf("zip: write to member %q after the next one was started", m.name)
	case m.w.err != nil:
		return 0, m.w.err
	case m.dir && len(p) > 0:
		return 0, fmt.Errorf("zip: member %q is a directory and has no content", m.name)
	}
	m.crc.Write(p)
	m.usize += uint64(len(p))
	var n int
	var err error
	if m.fw != nil {
		n, err = m.fw.Write(p)
	} else {
		n, err = m.w.out.Write(p)
	}
	if err != nil {
		return n, m.w.fail(err)
	}
	return n, nil
}

// flateWriters pools the compressors of each level: a flate.Writer costs about a
// megabyte, and a zip of many small members would otherwise allocate one per member.
var flateWriters [flate.BestCompression + 1]sync.Pool

func getFlateWriter(w io.Writer, level int) (*flate.Writer, error) {
	if fw, ok := flateWriters[level].Get().(*flate.Writer); ok {
		fw.Reset(w)
		return fw, nil
	}
	return flate.NewWriter(w, level)
}

func putFlateWriter(fw *flate.Writer, level int) {
	fw.Reset(io.Discard)
	flateWriters[level].Put(fw)
}

// spool holds the central directory's records: in memory up to limit bytes, then in a
// temporary file.
type spool struct {
	dir     string
	limit   int
	mem     []byte
	f       *os.File
	fw      *bufio.Writer
	removed bool
}

func (s *spool) write(b []byte) error {
	if s.f == nil && len(s.mem)+len(b) <= s.limit {
		s.mem = append(s.mem, b...)
		return nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "evident-zipdir-*")
		if err != nil {
			return err
		}
		// Unlinked at once where the system allows it, so that nothing is left behind
		// whatever happens to the process.
		s.removed = os.Remove(f.Name()) == nil
		s.f = f
		s.fw = bufio.NewWriterSize(f, 64<<10)
		if _, err := s.fw.Write(s.mem); err != nil {
			return err
		}
		s.mem = nil
	}
	_, err := s.fw.Write(b)
	return err
}

func (s *spool) copyTo(w io.Writer) error {
	if s.f == nil {
		_, err := w.Write(s.mem)
		return err
	}
	if err := s.fw.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	_, err := io.CopyBuffer(w, struct{ io.Reader }{s.f}, buf)
	return err
}

func (s *spool) release() {
	s.mem = nil
	if s.f != nil {
		s.f.Close()
		if !s.removed {
			os.Remove(s.f.Name())
		}
		s.f, s.fw = nil, nil
	}
}
