package zipstream

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"
)

// Reader reads a zip file through an io.ReaderAt without loading its central directory:
// Entries walks the directory record by record, and Open reads a member. It is safe for
// concurrent use; each Iterator and each opened member is for one goroutine.
type Reader struct {
	r io.ReaderAt
	// dirStart and dirEnd bound the central directory; count is the number of records
	// it claims.
	dirStart, dirEnd int64
	count            uint64
	zip64            bool
}

func formatError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// NewReader reads the end records of the zip file r of size bytes and checks the bounds
// of its central directory.
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	if size < endLen {
		return nil, formatError("%d bytes is too short for a zip file", size)
	}
	// The end record is the last 22 bytes, followed by a comment of up to 65,535 bytes.
	tail := min(size, endLen+max16)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return nil, fmt.Errorf("zip: reading the end of the file: %w", err)
	}
	p := -1
	for i := len(buf) - endLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == endSig &&
			i+endLen+int(binary.LittleEndian.Uint16(buf[i+20:])) == len(buf) {
			p = i
			break
		}
	}
	if p < 0 {
		return nil, formatError("no end of central directory record: not a zip file, or cut short")
	}
	end := buf[p : p+endLen]
	endAt := size - tail + int64(p)
	disk, dirDisk := binary.LittleEndian.Uint16(end[4:]), binary.LittleEndian.Uint16(end[6:])
	onDisk, total := binary.LittleEndian.Uint16(end[8:]), binary.LittleEndian.Uint16(end[10:])
	z := &Reader{
		r:      r,
		count:  uint64(total),
		dirEnd: endAt,
	}
	dirSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	dirStart := uint64(binary.LittleEndian.Uint32(end[16:]))
	if disk != 0 || dirDisk != 0 || onDisk != total {
		return nil, formatError("the zip file is split over several disks, which is not supported")
	}

	// A ZIP64 end record is found through the locator just before the end record.
	if endAt >= zip64LocatorLen {
		loc := make([]byte, zip64LocatorLen)
		if _, err := r.ReadAt(loc, endAt-zip64LocatorLen); err != nil {
			return nil, fmt.Errorf("zip: reading the ZIP64 locator: %w", err)
		}
		if binary.LittleEndian.Uint32(loc) == zip64LocatorSig {
			if binary.LittleEndian.Uint32(loc[4:]) != 0 || binary.LittleEndian.Uint32(loc[16:]) > 1 {
				return nil, formatError("the zip file is split over several disks, which is not supported")
			}
			at := binary.LittleEndian.Uint64(loc[8:])
			if at > uint64(endAt-zip64LocatorLen) || uint64(endAt-zip64LocatorLen)-at < zip64EndLen {
				return nil, formatError("the ZIP64 locator points at byte %d, where no ZIP64 end record fits", at)
			}
			rec := make([]byte, zip64EndLen)
			if _, err := r.ReadAt(rec, int64(at)); err != nil {
				return nil, fmt.Errorf("zip: reading the ZIP64 end record: %w", err)
			}
			if binary.LittleEndian.Uint32(rec) != zip64EndSig {
				return nil, formatError("no ZIP64 end record at byte %d, where the locator points", at)
			}
			if n := binary.LittleEndian.Uint64(rec[4:]); n < zip64EndLen-12 || n > uint64(endAt-zip64LocatorLen)-at-12 {
				return nil, formatError("the ZIP64 end record gives its size as %d bytes", n)
			}
			if binary.LittleEndian.Uint32(rec[16:]) != 0 || binary.LittleEndian.Uint32(rec[20:]) != 0 ||
				binary.LittleEndian.Uint64(rec[24:]) != binary.LittleEndian.Uint64(rec[32:]) {
				return nil, formatError("the zip file is split over several disks, which is not supported")
			}
			z.count = binary.LittleEndian.Uint64(rec[32:])
			dirSize = binary.LittleEndian.Uint64(rec[40:])
			dirStart = binary.LittleEndian.Uint64(rec[48:])
			z.dirEnd = int64(at)
			z.zip64 = true
		}
	}
	if dirStart > uint64(z.dirEnd) || dirSize > uint64(z.dirEnd)-dirStart {
		return nil, formatError("the central directory (%d bytes at byte %d) does not fit before its end record at byte %d", dirSize, dirStart, z.dirEnd)
	}
	if z.count > dirSize/centralHeaderLen {
		return nil, formatError("the central directory claims %d members, more than its %d bytes can hold", z.count, dirSize)
	}
	z.dirStart = int64(dirStart)
	z.dirEnd = int64(dirStart + dirSize)
	return z, nil
}

// Count returns the number of members the end record claims; Iterator checks it.
func (z *Reader) Count() uint64 { return z.count }

// Iterator walks the central directory in order.
type Iterator struct {
	z    *Reader
	r    *bufio.Reader
	pos  int64 // of the next record
	read uint64
	// next is the entry read ahead, whose local header bounds the entry returned before
	// it; err is the error met reading ahead.
	next *Entry
	err  error
	done bool
	buf  []byte
}

// Entries returns an iterator over the central directory.
func (z *Reader) Entries() *Iterator {
	sr := io.NewSectionReader(z.r, z.dirStart, z.dirEnd-z.dirStart)
	return &Iterator{z: z, r: bufio.NewReaderSize(sr, 32<<10), pos: z.dirStart}
}

// Next returns the next entry, or io.EOF after the last one. Any other error means the
// directory is malformed; the iterator stops there.
func (it *Iterator) Next() (*Entry, error) {
	if it.err != nil {
		return nil, it.err
	}
	if it.next == nil && !it.done {
		// The first call.
		if it.next, it.err = it.readRecord(nil); it.err != nil {
			return nil, it.err
		}
	}
	e := it.next
	if e == nil {
		it.err = io.EOF
		return nil, it.err
	}
	it.next, it.err = it.readRecord(e)
	if it.err != nil {
		return nil, it.err
	}
	if it.next != nil {
		e.limit = it.next.HeaderOffset
	} else {
		e.limit = it.z.dirStart
	}
	return e, nil
}

// readRecord reads the next record, checking it against the one before, or returns nil
// after the last.
func (it *Iterator) readRecord(prev *Entry) (*Entry, error) {
	z := it.z
	if it.read == z.count {
		it.done = true
		if it.pos != z.dirEnd {
			return nil, formatError("the central directory has %d bytes after its %d records", z.dirEnd-it.pos, z.count)
		}
		return nil, nil
	}
	if z.dirEnd-it.pos < centralHeaderLen {
		return nil, formatError("the central directory ends after %d of the %d records it claims", it.read, z.count)
	}
	e, err := it.readNext(prev)
	if err != nil {
		return nil, err
	}
	it.read++
	return e, nil
}

// readNext reads the record at it.pos, which must be in the directory, and checks that
// its member comes after prev's, if any.
func (it *Iterator) readNext(prev *Entry) (*Entry, error) {
	z := it.z
	if cap(it.buf) < centralHeaderLen {
		it.buf = make([]byte, centralHeaderLen, 512)
	}
	head := it.buf[:centralHeaderLen]
	if _, err := io.ReadFull(it.r, head); err != nil {
		return nil, fmt.Errorf("zip: reading the central directory: %w", err)
	}
	varLen := int64(binary.LittleEndian.Uint16(head[28:])) + int64(binary.LittleEndian.Uint16(head[30:])) + int64(binary.LittleEndian.Uint16(head[32:]))
	if z.dirEnd-it.pos-centralHeaderLen < varLen {
		return nil, formatError("record %d of the central directory runs past its end", it.read+1)
	}
	var rec []byte
	if int64(cap(it.buf)) >= centralHeaderLen+varLen {
		rec = it.buf[:centralHeaderLen+varLen]
	} else {
		rec = make([]byte, centralHeaderLen+varLen)
		copy(rec, head)
		it.buf = rec
	}
	if _, err := io.ReadFull(it.r, rec[centralHeaderLen:]); err != nil {
		return nil, fmt.Errorf("zip: reading the central directory: %w", err)
	}
	e, err := z.parseRecord(rec, it.pos, it.read+1)
	if err != nil {
		return nil, err
	}
	it.pos += int64(len(rec))
	if prev != nil {
		// The previous member's local header, name and data, at the least, come before
		// this one's local header.
		prevEnd := prev.HeaderOffset + localHeaderLen + int64(len(prev.Name)) + int64(prev.CompressedSize)
		if e.HeaderOffset < prevEnd {
			return nil, formatError("member %q starts at byte %d, inside or before the member listed before it, %q (bytes %d to %d): members overlap or are out of order",
				e.Name, e.HeaderOffset, prev.Name, prev.HeaderOffset, prevEnd)
		}
	}
	return e, nil
}

// parseRecord reads one central directory record, the n-th, at pos.
func (z *Reader) parseRecord(rec []byte, pos int64, n uint64) (*Entry, error) {
	if binary.LittleEndian.Uint32(rec) != centralHeaderSig {
		return nil, formatError("record %d of the central directory (byte %d) has no record signature", n, pos)
	}
	nameLen := int(binary.LittleEndian.Uint16(rec[28:]))
	extraLen := int(binary.LittleEndian.Uint16(rec[30:]))
	e := &Entry{
		Flags:            binary.LittleEndian.Uint16(rec[8:]),
		Method:           binary.LittleEndian.Uint16(rec[10:]),
		CRC32:            binary.LittleEndian.Uint32(rec[16:]),
		CompressedSize:   uint64(binary.LittleEndian.Uint32(rec[20:])),
		UncompressedSize: uint64(binary.LittleEndian.Uint32(rec[24:])),
		Name:             string(rec[centralHeaderLen : centralHeaderLen+nameLen]),
		record:           pos,
	}
	disk := binary.LittleEndian.Uint16(rec[34:])
	offset := uint64(binary.LittleEndian.Uint32(rec[42:]))

	extra := rec[centralHeaderLen+nameLen : centralHeaderLen+nameLen+extraLen]
	for len(extra) > 0 {
		if len(extra) < 4 {
			return nil, formatError("member %q: its extra fields are cut short", e.Name)
		}
		id, size := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if len(extra)-4 < size {
			return nil, formatError("member %q: its extra field %#04x runs past the fields' end", e.Name, id)
		}
		field := extra[4 : 4+size]
		extra = extra[4+size:]
		if id != zip64ExtraID {
			continue
		}
		// Only the values the record saturates are here, in this order.
		for _, v := range []*uint64{&e.UncompressedSize, &e.CompressedSize, &offset} {
			if *v != max32 {
				continue
			}
			if len(field) < 8 {
				return nil, formatError("member %q: its ZIP64 field is too short", e.Name)
			}
			*v, field = binary.LittleEndian.Uint64(field), field[8:]
		}
	}
	if disk != 0 && disk != max16 {
		return nil, formatError("member %q is on disk %d; zip files split over disks are not supported", e.Name, disk)
	}
	minEnd := offset + localHeaderLen + uint64(nameLen)
	if offset > uint64(z.dirStart) || minEnd > uint64(z.dirStart) || e.CompressedSize > uint64(z.dirStart)-minEnd {
		return nil, formatError("member %q: its local header at byte %d and %d bytes of data do not fit before the central directory at byte %d",
			e.Name, offset, e.CompressedSize, z.dirStart)
	}
	e.HeaderOffset = int64(offset)
	return e, nil
}

// EntryAt reads again the entry whose central directory record starts at record, as
// Entry.Record gives it. The entry must have come from an Iterator of this Reader, which
// checked the directory up to it.
func (z *Reader) EntryAt(record int64) (*Entry, error) {
	if record < z.dirStart || z.dirEnd-record < centralHeaderLen {
		return nil, formatError("no central directory record at byte %d", record)
	}
	sr := io.NewSectionReader(z.r, record, z.dirEnd-record)
	it := &Iterator{z: z, r: bufio.NewReaderSize(sr, 1024), pos: record}
	e, err := it.readNext(nil)
	if err != nil {
		return nil, err
	}
	e.limit = z.dirStart
	if z.dirEnd-it.pos >= centralHeaderLen {
		// The next record's member bounds this one.
		next, err := it.readNext(e)
		if err != nil {
			return nil, err
		}
		e.limit = next.HeaderOffset
	}
	return e, nil
}

// Open returns the content of the member e, decompressed. Reading it checks the local
// header against e, that the data ends before the next member, and the size and CRC-32
// the directory records: a mismatch is an error wrapping ErrFormat, at the latest when the
// content has been read to its end.
func (z *Reader) Open(e *Entry) (io.ReadCloser, error) {
	switch {
	case e.Flags&flagEncrypted != 0:
		return nil, fmt.Errorf("zip: member %q is encrypted, which is not supported", e.Name)
	case e.Method != Store && e.Method != Deflate:
		return nil, fmt.Errorf("zip: member %q uses compression method %d, which is not supported", e.Name, e.Method)
	case e.limit == 0:
		return nil, fmt.Errorf("zip: member %q did not come from this reader", e.Name)
	}
	var head [localHeaderLen]byte
	if _, err := z.r.ReadAt(head[:], e.HeaderOffset); err != nil {
		return nil, fmt.Errorf("zip: member %q: reading its local header: %w", e.Name, err)
	}
	if binary.LittleEndian.Uint32(head[:]) != localHeaderSig {
		return nil, formatError("member %q: no local header at byte %d", e.Name, e.HeaderOffset)
	}
	nameLen := int64(binary.LittleEndian.Uint16(head[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(head[28:]))
	if nameLen != int64(len(e.Name)) {
		return nil, formatError("member %q: its local header names another member", e.Name)
	}
	name := make([]byte, nameLen)
	if _, err := z.r.ReadAt(name, e.HeaderOffset+localHeaderLen); err != nil {
		return nil, fmt.Errorf("zip: member %q: reading its local header: %w", e.Name, err)
	}
	if string(name) != e.Name {
		return nil, formatError("member %q: its local header names it %q", e.Name, name)
	}
	if m := binary.LittleEndian.Uint16(head[8:]); m != e.Method {
		return nil, formatError("member %q: its local header gives compression method %d, the central directory %d", e.Name, m, e.Method)
	}
	start := e.HeaderOffset + localHeaderLen + nameLen + extraLen
	end := start + int64(e.CompressedSize)
	descriptor := int64(0)
	if e.Flags&flagDescriptor != 0 {
		descriptor = dataDescriptorLen - 4 // the shortest: no signature, 32-bit sizes
	}
	if start > e.limit || int64(e.CompressedSize) > e.limit-start || descriptor > e.limit-end {
		return nil, formatError("member %q: its data (bytes %d to %d) run into the next member or the central directory at byte %d", e.Name, start, end, e.limit)
	}
	m := &memberReader{z: z, e: e, end: end, crc: crc32.NewIEEE()}
	m.br = getBufReader(io.NewSectionReader(z.r, start, int64(e.CompressedSize)))
	if e.Method == Deflate {
		m.fr = getFlateReader(m.br)
		m.src = m.fr
	} else {
		m.src = m.br
	}
	return m, nil
}

// memberReader decompresses a member and checks its size and CRC-32.
type memberReader struct {
	z   *Reader
	e   *Entry
	end int64 // where the data end
	br  *bufio.Reader
	fr  io.ReadCloser
	src io.Reader
	crc hash.Hash32
	n   uint64
	err error
}

func (m *memberReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.src == nil {
		return 0, fmt.Errorf("zip: member %q: read after close", m.e.Name)
	}
	// Read at most one byte more than the directory records, and hand out none of it.
	left := m.e.UncompressedSize - m.n
	if uint64(len(p)) > left+1 {
		p = p[:left+1]
	}
	n, err := m.src.Read(p)
	if uint64(n) > left {
		m.crc.Write(p[:left])
		m.n += left
		m.err = formatError("member %q has more than the %d bytes the central directory records", m.e.Name, m.e.UncompressedSize)
		return int(left), m.err
	}
	m.crc.Write(p[:n])
	m.n += uint64(n)
	if err == io.EOF {
		err = m.check()
	} else if err == io.ErrUnexpectedEOF {
		err = formatError("member %q: its compressed data are cut short", m.e.Name)
	}
	if err != nil {
		m.err = err
	}
	return n, err
}

// check runs at the end of the content.
func (m *memberReader) check() error {
	e := m.e
	if m.n != e.UncompressedSize {
		return formatError("member %q has %d bytes, but the central directory records %d", e.Name, m.n, e.UncompressedSize)
	}
	if sum := m.crc.Sum32(); sum != e.CRC32 {
		return formatError("member %q: checksum error: its content has the CRC-32 %08x, but the central directory records %08x", e.Name, sum, e.CRC32)
	}
	if m.fr != nil {
		// The compressed stream must end where the member's data do.
		if _, err := m.br.ReadByte(); err != io.EOF {
			return formatError("member %q: data follow the end of its compressed stream", e.Name)
		}
	}
	if e.Flags&flagDescriptor != 0 {
		var d [8]byte
		if _, err := m.z.r.ReadAt(d[:], m.end); err != nil && err != io.EOF {
			return fmt.Errorf("zip: member %q: reading its data descriptor: %w", e.Name, err)
		}
		crc := binary.LittleEndian.Uint32(d[:])
		if crc == dataDescriptorSig {
			if m.end+dataDescriptorLen > e.limit {
				return formatError("member %q: its data descriptor runs into the next member", e.Name)
			}
			crc = binary.LittleEndian.Uint32(d[4:])
		}
		if crc != e.CRC32 {
			return formatError("member %q: checksum error: its data descriptor records the CRC-32 %08x, the central directory %08x", e.Name, crc, e.CRC32)
		}
	}
	return io.EOF
}

func (m *memberReader) Close() error {
	if m.fr != nil {
		m.fr.Close()
		flateReaders.Put(m.fr)
		m.fr = nil
	}
	if m.br != nil {
		m.br.Reset(nil)
		bufReaders.Put(m.br)
		m.br = nil
	}
	m.src = nil
	return nil
}

var (
	bufReaders   sync.Pool
	flateReaders sync.Pool
)

func getBufReader(r io.Reader) *bufio.Reader {
	if br, ok := bufReaders.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, 32<<10)
}

func getFlateReader(r *bufio.Reader) io.ReadCloser {
	if fr, ok := flateReaders.Get().(io.ReadCloser); ok {
		if err := fr.(flate.Resetter).Reset(r, nil); err == nil {
			return fr
		}
	}
	return flate.NewReader(r)
}
