package blob

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Open returns the store that rawURL names, with dataDir as the service's data directory:
//
//   - "" or "file://": a local store in <dataDir>/blobs.
//   - "file:///srv/evidence": a local store in that directory.
//   - "s3://bucket/prefix/?endpoint=http://host:9000&region=eu-west-1&path_style=true":
//     an S3 store; every query parameter is optional. Credentials come from the URL's
//     user information ("s3://KEYID:SECRET@bucket/…") or else from the standard AWS
//     environment variables. Uploads are hashed in <dataDir>/blobs/tmp.
//
// Errors never repeat the URL's credentials.
func Open(ctx context.Context, rawURL, dataDir string) (Store, error) {
	if rawURL == "" {
		return openLocal("", dataDir)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, credentials included; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("blob url: %w", err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("blob url %s: a file URL names no host", redact(u))
		}
		if u.User != nil || u.RawQuery != "" {
			return nil, fmt.Errorf("blob url %s: a file URL takes no credentials or parameters", redact(u))
		}
		return openLocal(u.Path, dataDir)
	case "s3":
		cfg, err := parseS3URL(u)
		if err != nil {
			return nil, err
		}
		if dataDir != "" {
			cfg.TempDir = filepath.Join(dataDir, "blobs", "tmp")
		}
		return NewS3(ctx, cfg)
	}
	return nil, fmt.Errorf("blob url %s: scheme must be file or s3", redact(u))
}

// openLocal opens a local store in dir, or in <dataDir>/blobs when dir is empty.
func openLocal(dir, dataDir string) (Store, error) {
	if dir == "" {
		if dataDir == "" {
			return nil, errors.New("blob: no data directory for the local store")
		}
		dir = filepath.Join(dataDir, "blobs")
	}
	return NewLocal(filepath.FromSlash(dir))
}

// parseS3URL reads an s3:// URL into a configuration.
func parseS3URL(u *url.URL) (S3Config, error) {
	shown := redact(u)
	cfg := S3Config{Bucket: u.Host, Prefix: strings.TrimPrefix(u.Path, "/")}
	if cfg.Bucket == "" {
		return S3Config{}, fmt.Errorf("blob url %s: no bucket", shown)
	}
	if u.User != nil {
		cfg.AccessKeyID = u.User.Username()
		cfg.SecretAccessKey, _ = u.User.Password()
		if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
			return S3Config{}, fmt.Errorf("blob url %s: credentials need both an access key id and a secret access key", shown)
		}
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return S3Config{}, fmt.Errorf("blob url %s: query: %w", shown, err)
	}
	for name, values := range query {
		if len(values) != 1 {
			return S3Config{}, fmt.Errorf("blob url %s: parameter %s given %d times", shown, name, len(values))
		}
		value := values[0]
		switch name {
		case "endpoint":
			e, err := url.Parse(value)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return S3Config{}, fmt.Errorf("blob url %s: endpoint must be an http or https URL", shown)
			}
			cfg.Endpoint = value
		case "region":
			cfg.Region = value
		case "path_style":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return S3Config{}, fmt.Errorf("blob url %s: path_style must be true or false", shown)
			}
			cfg.PathStyle = b
		default:
			return S3Config{}, fmt.Errorf("blob url %s: unknown parameter %q (want endpoint, region or path_style)", shown, name)
		}
	}
	return cfg, nil
}

// redact returns u for an error message: without its user information, which may hold
// credentials, and without its query, whose endpoint may hold some too.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("redacted")
	}
	c.RawQuery = ""
	c.ForceQuery = false
	return c.String()
}
