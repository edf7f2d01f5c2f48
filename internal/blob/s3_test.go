package blob

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/evidenthq/evident/internal/domain"
)

const testBucket = "evidence"

func TestS3(t *testing.T) {
	testStore(t, func(tb testing.TB) harness { return newS3Harness(tb, "org-files/") })
}

// fakeS3 starts an in-process S3 service with one empty bucket and returns its URL and
// backend.
func fakeS3(tb testing.TB) (string, *s3mem.Backend) {
	tb.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		tb.Fatalf("create bucket: %v", err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	tb.Cleanup(srv.Close)
	return srv.URL, backend
}

// newS3Harness opens an S3 store through Open, as the server does, with the real SDK
// against the in-process service.
func newS3Harness(tb testing.TB, prefix string) harness {
	tb.Helper()
	endpoint, backend := fakeS3(tb)
	dataDir := tb.TempDir()
	store, err := Open(context.Background(),
		"s3://TESTKEY:test-secret@"+testBucket+"/"+prefix+
			"?endpoint="+url.QueryEscape(endpoint)+"&region=us-east-1&path_style=true",
		dataDir)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	s := store.(*S3)
	return harness{
		store: s,
		stored: func(tb testing.TB) []string {
			tb.Helper()
			list, err := backend.ListBucket(testBucket, nil, gofakes3.ListBucketPage{})
			if err != nil {
				tb.Fatalf("list bucket: %v", err)
			}
			var names []string
			for _, c := range list.Contents {
				name, ok := strings.CutPrefix(c.Key, prefix)
				if !ok {
					tb.Errorf("object %q is outside the prefix %q", c.Key, prefix)
				}
				names = append(names, name)
			}
			slices.Sort(names)
			return names
		},
		temps: func(tb testing.TB) []string { return listDir(tb, filepath.Join(dataDir, "blobs", "tmp")) },
		damage: func(tb testing.TB, sha string, data []byte) {
			tb.Helper()
			meta := map[string]string{"Content-Type": "application/octet-stream"}
			if _, err := backend.PutObject(testBucket, s.Key(sha), meta, bytes.NewReader(data), int64(len(data)), nil); err != nil {
				tb.Fatalf("damage %s: %v", sha, err)
			}
		},
	}
}

func TestS3Keys(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		wantKey string
	}{
		{name: "no prefix", prefix: "", wantKey: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "prefix with slash", prefix: "acme/blobs/", wantKey: "acme/blobs/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "prefix without slash", prefix: "acme", wantKey: "acme/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, backend := fakeS3(t)
			s, err := NewS3(context.Background(), S3Config{
				Bucket: testBucket, Prefix: tt.prefix, Endpoint: endpoint, Region: "us-east-1",
				PathStyle: true, AccessKeyID: "TESTKEY", SecretAccessKey: "test-secret", TempDir: t.TempDir(),
			})
			if err != nil {
				t.Fatalf("NewS3: %v", err)
			}
			if _, err := s.Put(context.Background(), strings.NewReader("abc"), 1024); err != nil {
				t.Fatalf("Put: %v", err)
			}
			list, err := backend.ListBucket(testBucket, nil, gofakes3.ListBucketPage{})
			if err != nil {
				t.Fatalf("list bucket: %v", err)
			}
			var keys []string
			for _, c := range list.Contents {
				keys = append(keys, c.Key)
			}
			if diff := cmp.Diff([]string{tt.wantKey}, keys); diff != "" {
				t.Errorf("object keys (-want +got):\n%s", diff)
			}
			obj, err := backend.HeadObject(testBucket, tt.wantKey)
			if err != nil {
				t.Fatalf("head %s: %v", tt.wantKey, err)
			}
			if got, want := obj.Metadata["Content-Type"], "text/plain; charset=utf-8"; got != want {
				t.Errorf("object Content-Type = %q; want %q", got, want)
			}
		})
	}
}

func TestS3MissingBucket(t *testing.T) {
	endpoint, _ := fakeS3(t)
	s, err := NewS3(context.Background(), S3Config{
		Bucket: "no-such-bucket", Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "TESTKEY", SecretAccessKey: "test-secret", TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	ctx := context.Background()
	const sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if _, _, err := s.Open(ctx, sha); err == nil || domain.KindOf(err) != domain.KindInternal {
		t.Errorf("Open in a missing bucket: error = %v; want an internal error, not a missing blob", err)
	}
	if _, err := s.Put(ctx, strings.NewReader("abc"), 1024); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("Put in a missing bucket: error = %v; want one naming the bucket", err)
	}
}
