package blob

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOpenLocal(t *testing.T) {
	dataDir := t.TempDir()
	other := t.TempDir()
	tests := []struct {
		name    string
		url     string
		wantDir string
	}{
		{name: "default", url: "", wantDir: filepath.Join(dataDir, "blobs")},
		{name: "empty file URL", url: "file://", wantDir: filepath.Join(dataDir, "blobs")},
		{name: "file URL", url: "file://" + filepath.ToSlash(other) + "/files", wantDir: filepath.Join(other, "files")},
		{name: "file URL on localhost", url: "file://localhost" + filepath.ToSlash(other), wantDir: other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.url, dataDir)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			local, ok := s.(*Local)
			if !ok {
				t.Fatalf("Open(%q) = %T; want *Local", tt.url, s)
			}
			if local.Dir() != tt.wantDir {
				t.Errorf("Open(%q) dir = %s; want %s", tt.url, local.Dir(), tt.wantDir)
			}
		})
	}
}

func TestParseS3URL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want S3Config
	}{
		{
			name: "bucket only",
			url:  "s3://evidence",
			want: S3Config{Bucket: "evidence"},
		},
		{
			name: "everything",
			url:  "s3://KEY:se%2Fcret@evidence/acme/blobs/?endpoint=http%3A%2F%2Fminio%3A9000&region=eu-west-1&path_style=true",
			want: S3Config{
				Bucket: "evidence", Prefix: "acme/blobs/", Endpoint: "http://minio:9000", Region: "eu-west-1",
				PathStyle: true, AccessKeyID: "KEY", SecretAccessKey: "se/cret",
			},
		},
		{
			name: "unescaped endpoint",
			url:  "s3://evidence/p?endpoint=https://storage.example.net&path_style=false",
			want: S3Config{Bucket: "evidence", Prefix: "p", Endpoint: "https://storage.example.net"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatalf("url.Parse(%q): %v", tt.url, err)
			}
			got, err := parseS3URL(u)
			if err != nil {
				t.Fatalf("parseS3URL(%q): %v", tt.url, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseS3URL(%q) mismatch (-want +got):\n%s", tt.url, diff)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	const secret = "hunter2-secret"
	tests := []struct {
		name    string
		url     string
		dataDir string
		wantErr string
	}{
		{name: "no data directory", url: "", wantErr: "no data directory"},
		{name: "unknown scheme", url: "gs://bucket", dataDir: "/data", wantErr: "scheme must be file or s3"},
		{name: "bare path", url: "/srv/blobs", dataDir: "/data", wantErr: "scheme must be file or s3"},
		{name: "file URL with host", url: "file://server/share", dataDir: "/data", wantErr: "names no host"},
		{name: "file URL with parameters", url: "file:///srv/blobs?sync=false", dataDir: "/data", wantErr: "no credentials or parameters"},
		{name: "no bucket", url: "s3://KEY:" + secret + "@/prefix", wantErr: "no bucket"},
		{name: "key without secret", url: "s3://KEY@evidence", wantErr: "both an access key id and a secret"},
		{name: "unknown parameter", url: "s3://KEY:" + secret + "@evidence?pathstyle=true", wantErr: `unknown parameter "pathstyle"`},
		{name: "repeated parameter", url: "s3://evidence?region=a&region=b", wantErr: "region given 2 times"},
		{name: "bad path_style", url: "s3://KEY:" + secret + "@evidence?path_style=yes", wantErr: "path_style must be true or false"},
		{name: "endpoint without scheme", url: "s3://evidence?endpoint=minio:9000", wantErr: "endpoint must be an http or https URL"},
		{name: "secret in endpoint", url: "s3://evidence?endpoint=ftp://u:" + secret + "@minio", wantErr: "endpoint must be an http or https URL"},
		{name: "malformed URL", url: "s3://KEY:" + secret + "@evidence:port%zz/", wantErr: "blob url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.url, tt.dataDir)
			if err == nil {
				t.Fatalf("Open(%q) = %T; want an error", tt.url, s)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open(%q) error = %q; want it to contain %q", tt.url, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "KEY") {
				t.Errorf("Open(%q) error = %q repeats the credentials", tt.url, err)
			}
		})
	}
}
