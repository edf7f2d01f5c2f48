package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
)

// harness is one Store implementation with views into its backing storage, so that the
// conformance tests can check what was and was not left behind.
type harness struct {
	store Store
	// stored lists the blobs the backing storage holds, by name or key.
	stored func(tb testing.TB) []string
	// temps lists partial uploads left in the temporary directory.
	temps func(tb testing.TB) []string
	// damage replaces the stored content of the blob named sha with data.
	damage func(tb testing.TB, sha string, data []byte)
}

// testStore runs the behaviour every Store must have against the stores newHarness makes.
func testStore(t *testing.T, newHarness func(tb testing.TB) harness) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name      string
			data      []byte
			wantSHA   string // when empty, computed from data
			wantMedia string
		}{
			{name: "empty", data: nil, wantSHA: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", wantMedia: "text/plain; charset=utf-8"},
			{name: "abc", data: []byte("abc"), wantSHA: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", wantMedia: "text/plain; charset=utf-8"},
			{name: "png", data: append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(1, 3000)...), wantMedia: "image/png"},
			{name: "html", data: []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"), wantMedia: "text/html; charset=utf-8"},
			{name: "pdf", data: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), wantMedia: "application/pdf"},
			{name: "binary larger than one copy buffer", data: randomBytes(2, 200<<10+17), wantMedia: "application/octet-stream"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t)
				wantSHA := tt.wantSHA
				if wantSHA == "" {
					sum := sha256.Sum256(tt.data)
					wantSHA = hex.EncodeToString(sum[:])
				}
				want := Info{SHA256: wantSHA, Size: int64(len(tt.data)), MediaType: tt.wantMedia}

				got, err := h.store.Put(ctx, bytes.NewReader(tt.data), 1<<20)
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Put info mismatch (-want +got):\n%s", diff)
				}

				content, info := readBlob(t, h.store, want.SHA256)
				if !bytes.Equal(content, tt.data) {
					t.Errorf("Open(%s) read %d bytes that differ from the %d put", want.SHA256, len(content), len(tt.data))
				}
				if diff := cmp.Diff(want, info); diff != "" {
					t.Errorf("Open info mismatch (-want +got):\n%s", diff)
				}

				stat, err := h.store.Stat(ctx, want.SHA256)
				if err != nil {
					t.Fatalf("Stat: %v", err)
				}
				if diff := cmp.Diff(want, stat); diff != "" {
					t.Errorf("Stat mismatch (-want +got):\n%s", diff)
				}
				if ok, err := h.store.Exists(ctx, want.SHA256); err != nil || !ok {
					t.Errorf("Exists(%s) = %v, %v; want true, nil", want.SHA256, ok, err)
				}
				if diff := cmp.Diff([]string{want.SHA256}, h.stored(t)); diff != "" {
					t.Errorf("stored blobs mismatch (-want +got):\n%s", diff)
				}
				if temps := h.temps(t); len(temps) != 0 {
					t.Errorf("temporary files left behind: %v", temps)
				}
			})
		}
	})

	t.Run("Deduplicates", func(t *testing.T) {
		h := newHarness(t)
		data := randomBytes(3, 5000)
		first, err := h.store.Put(ctx, bytes.NewReader(data), 1<<20)
		if err != nil {
			t.Fatalf("first Put: %v", err)
		}
		second, err := h.store.Put(ctx, bytes.NewReader(data), 1<<20)
		if err != nil {
			t.Fatalf("second Put: %v", err)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("second Put of the same content differs (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff([]string{first.SHA256}, h.stored(t)); diff != "" {
			t.Errorf("stored blobs after two puts of one content (-want +got):\n%s", diff)
		}

		other, err := h.store.Put(ctx, bytes.NewReader(randomBytes(4, 5000)), 1<<20)
		if err != nil {
			t.Fatalf("Put of other content: %v", err)
		}
		want := []string{first.SHA256, other.SHA256}
		slices.Sort(want)
		if diff := cmp.Diff(want, h.stored(t)); diff != "" {
			t.Errorf("stored blobs after a second content (-want +got):\n%s", diff)
		}
		if temps := h.temps(t); len(temps) != 0 {
			t.Errorf("temporary files left behind: %v", temps)
		}
	})

	t.Run("Limit", func(t *testing.T) {
		tests := []struct {
			name     string
			limit    int64
			size     int64 // -1: an endless stream
			wantErr  bool
			wantText string // in the error: the limit, as configured
		}{
			{name: "one byte under", limit: 1024, size: 1023},
			{name: "exactly the limit", limit: 1024, size: 1024},
			{name: "one byte over", limit: 1024, size: 1025, wantErr: true, wantText: "1 KiB"},
			{name: "far over", limit: 1024, size: 10 * 1024, wantErr: true, wantText: "1 KiB"},
			{name: "endless stream", limit: 1024, size: -1, wantErr: true, wantText: "1 KiB"},
			// Past the in-memory buffer, the upload streams through a temporary file.
			{name: "large, exactly the limit", limit: 100 << 10, size: 100 << 10},
			{name: "large, one byte over", limit: 100 << 10, size: 100<<10 + 1, wantErr: true, wantText: "100 KiB"},
			{name: "large, endless stream", limit: 100 << 10, size: -1, wantErr: true, wantText: "100 KiB"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t)
				src := &countingReader{r: endless{}}
				if tt.size >= 0 {
					src.r = io.LimitReader(endless{}, tt.size)
				}
				info, err := h.store.Put(ctx, src, tt.limit)
				if !tt.wantErr {
					if err != nil {
						t.Fatalf("Put of %d bytes with limit %d: %v", tt.size, tt.limit, err)
					}
					if info.Size != tt.size {
						t.Errorf("Put size = %d; want %d", info.Size, tt.size)
					}
					return
				}
				if err == nil {
					t.Fatalf("Put of %d bytes with limit %d = %+v; want an error", tt.size, tt.limit, info)
				}
				if kind, field := domain.KindOf(err), domain.FieldOf(err); kind != domain.KindInvalid || field != "file" {
					t.Errorf("Put error %q has kind %q, field %q; want %q, %q", err, kind, field, domain.KindInvalid, "file")
				}
				if msg := domain.MessageOf(err); !strings.Contains(msg, tt.wantText) {
					t.Errorf("Put error message %q does not name the limit of %s", msg, tt.wantText)
				}
				if src.n > tt.limit+1 {
					t.Errorf("Put read %d bytes; want at most limit+1 = %d", src.n, tt.limit+1)
				}
				if stored := h.stored(t); len(stored) != 0 {
					t.Errorf("refused upload stored: %v", stored)
				}
				if temps := h.temps(t); len(temps) != 0 {
					t.Errorf("refused upload left temporary files: %v", temps)
				}
			})
		}
	})

	t.Run("NonPositiveLimit", func(t *testing.T) {
		h := newHarness(t)
		for _, limit := range []int64{0, -1} {
			if _, err := h.store.Put(ctx, strings.NewReader("x"), limit); err == nil {
				t.Errorf("Put with limit %d succeeded; want an error", limit)
			}
		}
		if stored := h.stored(t); len(stored) != 0 {
			t.Errorf("stored: %v", stored)
		}
	})

	t.Run("FailedUploadLeavesNothing", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		midway, stop := context.WithCancel(ctx)
		defer stop()
		readErr := errors.New("connection reset by client")
		tests := []struct {
			name string
			ctx  context.Context
			r    io.Reader
			want error
		}{
			{name: "reader fails midway", ctx: ctx, r: io.MultiReader(bytes.NewReader(randomBytes(5, 100<<10)), failingReader{readErr}), want: readErr},
			{name: "context cancelled", ctx: cancelled, r: bytes.NewReader(randomBytes(6, 100)), want: context.Canceled},
			{name: "context cancelled midway", ctx: midway, r: io.MultiReader(bytes.NewReader(randomBytes(6, 100<<10)), cancelling{stop}, endless{}), want: context.Canceled},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t)
				if _, err := h.store.Put(tt.ctx, tt.r, 1<<20); !errors.Is(err, tt.want) {
					t.Errorf("Put error = %v; want %v", err, tt.want)
				}
				if stored := h.stored(t); len(stored) != 0 {
					t.Errorf("failed upload stored: %v", stored)
				}
				if temps := h.temps(t); len(temps) != 0 {
					t.Errorf("failed upload left temporary files: %v", temps)
				}
			})
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		h := newHarness(t)
		sum := sha256.Sum256([]byte("never stored"))
		sha := hex.EncodeToString(sum[:])
		if _, _, err := h.store.Open(ctx, sha); !domain.IsNotFound(err) {
			t.Errorf("Open(absent) error = %v; want not found", err)
		}
		if _, err := h.store.Stat(ctx, sha); !domain.IsNotFound(err) {
			t.Errorf("Stat(absent) error = %v; want not found", err)
		}
		if ok, err := h.store.Exists(ctx, sha); ok || err != nil {
			t.Errorf("Exists(absent) = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("InvalidName", func(t *testing.T) {
		h := newHarness(t)
		valid := strings.Repeat("ab", 32)
		tests := []struct{ name, sha string }{
			{"traversal", "../etc/passwd"},
			{"traversal of hash length", "../../../../" + valid[:52]},
			{"empty", ""},
			{"upper case", strings.ToUpper(valid)},
			{"too short", valid[:63]},
			{"too long", valid + "a"},
			{"not hex", "g" + valid[1:]},
			{"absolute path", "/" + valid[1:]},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checks := map[string]error{}
				_, _, checks["Open"] = h.store.Open(ctx, tt.sha)
				_, checks["Stat"] = h.store.Stat(ctx, tt.sha)
				_, checks["Exists"] = h.store.Exists(ctx, tt.sha)
				for op, err := range checks {
					if kind, field := domain.KindOf(err), domain.FieldOf(err); kind != domain.KindInvalid || field != "sha256" {
						t.Errorf("%s(%q) error = %v (kind %q, field %q); want kind %q, field %q",
							op, tt.sha, err, kind, field, domain.KindInvalid, "sha256")
					}
				}
			})
		}
	})

	t.Run("ConcurrentPutsOfOneContent", func(t *testing.T) {
		h := newHarness(t)
		data := randomBytes(7, 150<<10)
		const n = 8
		infos := make([]Info, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { infos[i], errs[i] = h.store.Put(ctx, bytes.NewReader(data), 1<<20) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Put %d: %v", i, errs[i])
			}
			if diff := cmp.Diff(infos[0], infos[i]); diff != "" {
				t.Errorf("Put %d info differs from Put 0 (-0 +%d):\n%s", i, i, diff)
			}
		}
		if diff := cmp.Diff([]string{infos[0].SHA256}, h.stored(t)); diff != "" {
			t.Errorf("stored blobs (-want +got):\n%s", diff)
		}
		if temps := h.temps(t); len(temps) != 0 {
			t.Errorf("temporary files left behind: %v", temps)
		}
		if content, _ := readBlob(t, h.store, infos[0].SHA256); !bytes.Equal(content, data) {
			t.Errorf("content after concurrent puts differs from what was put")
		}
	})

	t.Run("DetectsDamage", func(t *testing.T) {
		data := randomBytes(8, 70<<10)
		flipped := bytes.Clone(data)
		flipped[len(flipped)/2] ^= 1
		tests := []struct {
			name    string
			damaged []byte
		}{
			{name: "one bit flipped", damaged: flipped},
			{name: "truncated", damaged: data[:len(data)-1]},
			{name: "extended", damaged: append(bytes.Clone(data), 0)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t)
				info, err := h.store.Put(ctx, bytes.NewReader(data), 1<<20)
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				h.damage(t, info.SHA256, tt.damaged)
				rc, _, err := h.store.Open(ctx, info.SHA256)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer rc.Close()
				if _, err := io.Copy(io.Discard, rc); !errors.Is(err, ErrCorrupt) {
					t.Errorf("reading damaged blob: error = %v; want %v", err, ErrCorrupt)
				}
			})
		}
	})
}

// readBlob reads the whole blob named sha.
func readBlob(tb testing.TB, s Store, sha string) ([]byte, Info) {
	tb.Helper()
	rc, info, err := s.Open(context.Background(), sha)
	if err != nil {
		tb.Fatalf("Open(%s): %v", sha, err)
	}
	defer rc.Close()
	content, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read %s: %v", sha, err)
	}
	return content, info
}

// randomBytes returns n bytes that depend only on seed.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// endless is an endless stream of one repeated byte pattern.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return len(p), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// failingReader fails every read with err.
type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// cancelling cancels a context when it is read, and then reads as empty.
type cancelling struct{ cancel context.CancelFunc }

func (c cancelling) Read([]byte) (int, error) {
	c.cancel()
	return 0, io.EOF
}
