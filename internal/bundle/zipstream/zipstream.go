// Package zipstream writes and reads zip files in memory that does not grow with the
// number of members.
//
// Go's archive/zip keeps the whole central directory in memory: its Writer holds a header
// per member until Close, and its Reader builds a File per member before anything can be
// read. For a zip of a million small members that is hundreds of megabytes. This package
// does the same work in constant memory:
//
//   - Writer streams each member to the output as it is written, with a data descriptor
//     after the data (so the output need not be seekable), and spools the central
//     directory's records to a temporary file once they outgrow a small buffer. It
//     writes ZIP64 records where sizes, offsets or the number of members need them.
//   - Reader finds the end of central directory record (and the ZIP64 one), then walks
//     the directory one record at a time, in order, and opens members by their offset.
//     It checks what it reads: the directory's bounds, the number of records, that
//     members come in the order of their data and do not overlap, that each local header
//     agrees with its directory record, and each member's size and CRC-32.
//
// What Writer writes is a standard zip file that archive/zip, Info-ZIP's unzip and other
// tools read; Reader reads what archive/zip and other tools write, stored or deflated,
// with or without data descriptors, with or without ZIP64, provided the members' data
// appear in the same order as their directory records, which is how every streaming
// writer lays them out. Encrypted members, other compression methods and archives split
// over several disks are refused.
package zipstream

import (
	"errors"
	"time"
)

// Compression methods.
const (
	Store   uint16 = 0
	Deflate uint16 = 8
)

// Signatures and fixed sizes of the records (APPNOTE.TXT 4.3).
const (
	localHeaderSig      = 0x04034b50
	dataDescriptorSig   = 0x08074b50
	centralHeaderSig    = 0x02014b50
	endSig              = 0x06054b50
	zip64EndSig         = 0x06064b50
	zip64LocatorSig     = 0x07064b50
	localHeaderLen      = 30
	centralHeaderLen    = 46
	endLen              = 22
	zip64EndLen         = 56
	zip64LocatorLen     = 20
	dataDescriptorLen   = 16 // with signature, 32-bit sizes
	dataDescriptor64Len = 24 // with signature, 64-bit sizes

	zip64ExtraID   = 0x0001
	extTimeExtraID = 0x5455

	flagEncrypted  = 0x1
	flagDescriptor = 0x8
	flagUTF8       = 0x800

	version20   = 20 // deflate, directories
	version45   = 45 // ZIP64
	creatorUnix = 3

	max16 = 0xffff
	max32 = 0xffffffff
)

// ErrFormat is wrapped by every error about malformed zip data.
var ErrFormat = errors.New("zip: not a valid zip file")

// Entry is a member as the central directory records it.
type Entry struct {
	Name             string
	Method           uint16
	Flags            uint16
	CRC32            uint32
	CompressedSize   uint64
	UncompressedSize uint64
	// HeaderOffset is where the member's local header starts.
	HeaderOffset int64

	// record is where the entry's central directory record starts, and limit where the
	// member's local header, data and data descriptor must end: the next member's local
	// header, or the central directory.
	record int64
	limit  int64
}

// Record returns the position of the entry's central directory record, which
// Reader.EntryAt reads again.
func (e *Entry) Record() int64 { return e.record }

// msDosTime returns t's MS-DOS date and time, as archive/zip writes them.
func msDosTime(t time.Time) (date, tim uint16) {
	if t.Year() < 1980 {
		return 0<<9 | 1<<5 | 1, 0
	}
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	tim = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, tim
}
