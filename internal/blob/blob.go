// Package blob stores evidence files by the SHA-256 of their content, on the local
// filesystem or in an S3-compatible object store.
//
// A blob's name is its hash, so the same content is stored once however often it is
// uploaded, and a blob never changes after it is written. There is no Delete: evidence is
// never removed in place. When the database transaction that was to reference a new blob
// fails, the blob stays behind unreferenced; that is harmless, because the next upload of
// the same content finds it and re-uses it, and an unreferenced blob is never served
// (files are reached only through an evidence record that names their hash).
//
// Every reader returned by Open re-computes the hash while it is read and fails at the end
// if the content no longer matches its name, so damaged storage is reported rather than
// served.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/evidenthq/evident/internal/domain"
)

// DefaultLimit is the upload limit, in bytes, used when the configuration sets none.
const DefaultLimit int64 = 100 << 20

// sniffLen is how much of the content http.DetectContentType looks at.
const sniffLen = 512

// Info describes a stored blob.
type Info struct {
	// SHA256 is the lower-case hex SHA-256 of the content; it is the blob's name.
	SHA256 string
	// Size is the length of the content in bytes.
	Size int64
	// MediaType is sniffed from the first 512 bytes by http.DetectContentType; it never
	// comes from the uploader.
	MediaType string
}

// Store keeps blobs. Implementations are safe for concurrent use, also by several
// processes sharing the same directory or bucket.
type Store interface {
	// Put stores the content of r and returns its Info. The content is hashed and
	// counted while it streams; content longer than limit bytes is refused with an error
	// of kind domain.KindInvalid for the field "file", and nothing is stored; limit must
	// be positive. Storing content that is already present stores nothing new and
	// returns the same Info.
	Put(ctx context.Context, r io.Reader, limit int64) (Info, error)
	// Open returns the content of the blob named sha and its Info. The reader fails with
	// an error wrapping ErrCorrupt at the end of the content if the bytes read do not
	// hash to sha. The caller closes it.
	Open(ctx context.Context, sha string) (io.ReadCloser, Info, error)
	// Stat returns the Info of the blob named sha.
	Stat(ctx context.Context, sha string) (Info, error)
	// Exists reports whether the blob named sha is stored.
	Exists(ctx context.Context, sha string) (bool, error)
}

// ErrCorrupt reports stored content that no longer matches the hash it is stored under.
var ErrCorrupt = errors.New("stored content does not match its SHA-256")

// ValidSHA256 reports whether s is a SHA-256 digest in lower-case hex, the only form of
// blob name a store accepts.
func ValidSHA256(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkSHA returns the error every store gives for a malformed blob name. The name is not
// echoed: it may be anything a request carried.
func checkSHA(sha string) error {
	if !ValidSHA256(sha) {
		return domain.Invalid("sha256", "not a SHA-256 digest in lower-case hex")
	}
	return nil
}

// checkLimit rejects a non-positive limit, which is a wiring mistake, not bad input.
func checkLimit(limit int64) error {
	if limit <= 0 {
		return fmt.Errorf("blob: upload limit must be positive, got %d", limit)
	}
	return nil
}

// tooLarge is the error for content over the upload limit.
func tooLarge(limit int64) error {
	return domain.Invalid("file", "larger than the upload limit of %s", formatSize(limit))
}

// formatSize writes n bytes in the largest binary unit that divides it exactly, so that
// limits read as they were configured ("100 MiB", "1536 KiB", "1000 bytes").
func formatSize(n int64) string {
	units := []string{"GiB", "MiB", "KiB"}
	for i, u := range units {
		size := int64(1) << (10 * (len(units) - i))
		if n >= size && n%size == 0 {
			return strconv.FormatInt(n/size, 10) + " " + u
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// memLimit is the size up to which an upload is held in memory while it is hashed. Most
// evidence (snapshots, exports, screenshots of settings) is smaller, and for it an upload of
// content already stored touches no disk at all.
const memLimit = 64 << 10

// buffers hold small uploads and serve as copy buffers for large ones; they are reused so
// that an upload does not allocate a fresh 64 KiB.
var buffers = sync.Pool{New: func() any { b := make([]byte, memLimit); return &b }}

// spooled is an upload that has been read to its end and hashed.
type spooled struct {
	Info
	// small holds the content when it fit in memory; file is nil then.
	small []byte
	// file holds the content otherwise, a temporary file the caller must discard.
	file *os.File
}

// discard closes and removes the temporary file, if any.
func (sp *spooled) discard() {
	if sp.file != nil {
		sp.file.Close()
		os.Remove(sp.file.Name())
		sp.file = nil
	}
}

// spool reads r to its end, hashing and counting it and keeping its first bytes for
// sniffing. Content that fits in buf stays there; longer content goes to a new temporary
// file in tempDir. It reads at most limit+1 bytes, so an oversized upload is detected
// without reading all of it, and returns tooLarge when the content exceeds limit. On error
// it leaves no file behind.
func spool(ctx context.Context, r io.Reader, limit int64, buf []byte, tempDir string) (sp spooled, err error) {
	h := sha256.New()
	var size int64
	defer func() {
		if err != nil {
			sp.discard()
		}
	}()
	// read fills p from r, stopping one byte past the limit: enough to know the content
	// is too long.
	read := func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if rest := limit - size; rest < int64(len(p)) {
			p = p[:rest+1]
		}
		n, err := r.Read(p)
		size += int64(n)
		if size > limit {
			return n, tooLarge(limit)
		}
		if err != nil && err != io.EOF {
			err = fmt.Errorf("read upload: %w", err)
		}
		return n, err
	}

	// Fill the buffer first: most uploads end there.
	filled := 0
	for filled < len(buf) {
		n, err := read(buf[filled:])
		filled += n
		if err == io.EOF {
			h.Write(buf[:filled])
			sp.Info = Info{
				SHA256:    hex.EncodeToString(h.Sum(nil)),
				Size:      size,
				MediaType: http.DetectContentType(buf[:min(filled, sniffLen)]),
			}
			sp.small = buf[:filled]
			return sp, nil
		}
		if err != nil {
			return sp, err
		}
	}

	// The upload is larger than the buffer: write it to a temporary file as it streams.
	sp.MediaType = http.DetectContentType(buf[:sniffLen])
	h.Write(buf)
	if sp.file, err = os.CreateTemp(tempDir, tempPrefix+"*"); err != nil {
		return sp, fmt.Errorf("create temporary file: %w", err)
	}
	if _, err := sp.file.Write(buf); err != nil {
		return sp, fmt.Errorf("write temporary file: %w", err)
	}
	for {
		n, rerr := read(buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, err := sp.file.Write(buf[:n]); err != nil {
				return sp, fmt.Errorf("write temporary file: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sp, rerr
		}
	}
	sp.SHA256 = hex.EncodeToString(h.Sum(nil))
	sp.Size = size
	return sp, nil
}

// sniff reads the first bytes of r and returns them with their media type.
func sniff(r io.Reader) ([]byte, string, error) {
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, "", err
	}
	return head[:n], http.DetectContentType(head[:n]), nil
}

// verifier passes content through while hashing it, and fails at the end when the content
// does not match the blob's name or size.
type verifier struct {
	r      io.Reader
	closer io.Closer
	h      hash.Hash
	n      int64
	info   Info
	err    error
}

func newVerifier(r io.Reader, closer io.Closer, info Info) *verifier {
	return &verifier{r: r, closer: closer, h: sha256.New(), info: info}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.info.Size {
		v.err = fmt.Errorf("blob %s: %w", v.info.SHA256, ErrCorrupt)
		return n, v.err
	}
	if err == io.EOF {
		if v.n != v.info.Size || hex.EncodeToString(v.h.Sum(nil)) != v.info.SHA256 {
			v.err = fmt.Errorf("blob %s: %w", v.info.SHA256, ErrCorrupt)
			return n, v.err
		}
		v.err = io.EOF
	}
	return n, err
}

func (v *verifier) Close() error { return v.closer.Close() }
