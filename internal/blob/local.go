package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// File modes of the local store: blobs are readable by the service's group (for backup
// agents) and by nobody else.
const (
	fileMode fs.FileMode = 0o640
	dirMode  fs.FileMode = 0o750
)

// tempPrefix names partial uploads, so that stale ones can be told from anything else.
const tempPrefix = "put-"

// staleAfter is the age past which a partial upload is taken to be left by a process that
// died. An upload in progress writes to its file continually, so its age stays small.
const staleAfter = 24 * time.Hour

// Local keeps blobs as files under a directory, at <dir>/ab/cd/<sha> where ab and cd are
// the first two pairs of hex digits of the hash. Uploads stream into <dir>/tmp and are
// renamed into place once their hash is known and their bytes are on disk, so a blob file
// is either absent or complete, even across a crash.
type Local struct {
	dir string
	tmp string
}

var _ Store = (*Local)(nil)

// NewLocal opens the local store rooted at dir, creating the directory if needed and
// removing partial uploads older than a day that a crashed process left behind.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("blob: no directory for the local store")
	}
	s := &Local{dir: dir, tmp: filepath.Join(dir, "tmp")}
	if err := os.MkdirAll(s.tmp, dirMode); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", s.tmp, err)
	}
	if err := removeStale(s.tmp, time.Now()); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the directory the store keeps its blobs in.
func (s *Local) Dir() string { return s.dir }

// path returns where the blob named sha lives; sha must be valid.
func (s *Local) path(sha string) string {
	return filepath.Join(s.dir, sha[0:2], sha[2:4], sha)
}

// Put implements Store. The content is written to a temporary file, synced, and renamed to
// its final name; the directory is synced after the rename so that the name survives a
// power loss too. A blob that is already present is left as it is.
func (s *Local) Put(ctx context.Context, r io.Reader, limit int64) (Info, error) {
	if err := checkLimit(limit); err != nil {
		return Info{}, err
	}
	bufp := buffers.Get().(*[]byte)
	defer buffers.Put(bufp)
	sp, err := spool(ctx, r, limit, *bufp, s.tmp)
	if err != nil {
		return Info{}, fmt.Errorf("blob: store upload: %w", err)
	}
	defer sp.discard()

	final := s.path(sp.SHA256)
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() && fi.Size() == sp.Size {
		// Same name, same size: the same content. A file of another size under this
		// name is damaged, and the rename below replaces it with good content.
		return sp.Info, nil
	}
	if sp.file == nil {
		if sp.file, err = os.CreateTemp(s.tmp, tempPrefix+"*"); err != nil {
			return Info{}, fmt.Errorf("blob: create temporary file: %w", err)
		}
		if _, err := sp.file.Write(sp.small); err != nil {
			return Info{}, fmt.Errorf("blob: write %s: %w", sp.file.Name(), err)
		}
	}
	tmpName := sp.file.Name()
	if err := sp.file.Chmod(fileMode); err != nil {
		return Info{}, fmt.Errorf("blob: set mode of %s: %w", tmpName, err)
	}
	if err := sp.file.Sync(); err != nil {
		return Info{}, fmt.Errorf("blob: sync %s: %w", tmpName, err)
	}
	if err := s.makeDirs(sp.SHA256); err != nil {
		return Info{}, err
	}
	// Two uploads of the same content may both get here; the second rename replaces the
	// first file with identical bytes, which readers holding the first one never notice.
	if err := os.Rename(tmpName, final); err != nil {
		return Info{}, fmt.Errorf("blob: rename into place: %w", err)
	}
	// The file now has its final name; closing it is all that is left to do with it.
	f := sp.file
	sp.file = nil
	if err := f.Close(); err != nil {
		return Info{}, fmt.Errorf("blob: close %s: %w", final, err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return Info{}, err
	}
	return sp.Info, nil
}

// makeDirs creates the two directory levels above a blob, syncing the parent of each one
// it creates so that the new directory entries are durable before the blob's name is.
func (s *Local) makeDirs(sha string) error {
	parent := s.dir
	for _, part := range []string{sha[0:2], sha[2:4]} {
		dir := filepath.Join(parent, part)
		err := os.Mkdir(dir, dirMode)
		switch {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return fmt.Errorf("blob: create %s: %w", dir, err)
		}
		parent = dir
	}
	return nil
}

// Open implements Store.
func (s *Local) Open(ctx context.Context, sha string) (io.ReadCloser, Info, error) {
	f, info, err := s.open(ctx, sha)
	if err != nil {
		return nil, Info{}, err
	}
	head, mediaType, err := sniff(f)
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("blob %s: read: %w", sha, err)
	}
	info.MediaType = mediaType
	return newVerifier(io.MultiReader(bytes.NewReader(head), f), f, info), info, nil
}

// Stat implements Store.
func (s *Local) Stat(ctx context.Context, sha string) (Info, error) {
	f, info, err := s.open(ctx, sha)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	_, mediaType, err := sniff(f)
	if err != nil {
		return Info{}, fmt.Errorf("blob %s: read: %w", sha, err)
	}
	info.MediaType = mediaType
	return info, nil
}

// open opens the blob's file and fills in its name and size.
func (s *Local) open(ctx context.Context, sha string) (*os.File, Info, error) {
	if err := checkSHA(sha); err != nil {
		return nil, Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(s.path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, domain.NotFound("blob " + sha)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob %s: %w", sha, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("blob %s: %w", sha, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, Info{}, fmt.Errorf("blob %s: not a regular file", sha)
	}
	return f, Info{SHA256: sha, Size: fi.Size()}, nil
}

// Exists implements Store.
func (s *Local) Exists(ctx context.Context, sha string) (bool, error) {
	if err := checkSHA(sha); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	fi, err := os.Stat(s.path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob %s: %w", sha, err)
	}
	return fi.Mode().IsRegular(), nil
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blob: sync %s: %w", dir, err)
	}
	return nil
}

// removeStale deletes the partial uploads in dir last written before now-staleAfter.
func removeStale(dir string, now time.Time) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("blob: list %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // finished or removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("blob: stat %s: %w", e.Name(), err)
		}
		if now.Sub(fi.ModTime()) < staleAfter {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blob: remove stale upload %s: %w", e.Name(), err)
		}
	}
	return nil
}
