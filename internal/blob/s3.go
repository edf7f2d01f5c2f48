package blob

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/evidenthq/evident/internal/domain"
)

// S3Config says where an S3 store keeps its blobs and how it reaches them.
type S3Config struct {
	// Bucket is the bucket's name. Required.
	Bucket string
	// Prefix is put before each blob's hash to form its key; a prefix that does not end
	// in "/" gets one.
	Prefix string
	// Endpoint is the base URL of an S3-compatible service, such as
	// "http://minio.internal:9000". Empty means AWS itself.
	Endpoint string
	// Region is the bucket's region. Empty means the AWS_REGION environment variable or
	// the shared configuration, and "us-east-1" when neither sets one.
	Region string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key) rather than in the
	// host name, as most S3-compatible services need.
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when set, are the static credentials to sign with.
	// When empty, credentials come from the standard AWS sources: the AWS_ACCESS_KEY_ID
	// and AWS_SECRET_ACCESS_KEY environment variables, shared files, or the instance role.
	AccessKeyID     string
	SecretAccessKey string
	// TempDir holds uploads while they are hashed, before they are sent. Empty means the
	// system's temporary directory.
	TempDir string
}

// S3 keeps blobs as objects in an S3-compatible bucket, under the key <prefix><sha>.
// Because an object's key is its hash, and the hash is known only once the content has
// been read, an upload is hashed before it is sent: in memory up to 64 KiB, streamed to a
// temporary file beyond that, so memory does not grow with the size of the file.
type S3 struct {
	client  *s3.Client
	bucket  string
	prefix  string
	tempDir string
}

var _ Store = (*S3)(nil)

// NewS3 returns a store in the bucket cfg names. It does not contact the service.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: s3 store needs a bucket")
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("blob: s3 credentials need both an access key id and a secret access key")
	}
	opts := []func(*config.LoadOptions) error{
		// Uploads carry their own SHA-256 checksum (see Put) and reads are verified
		// against the hash, so the SDK's extra checksums, which not every S3-compatible
		// service accepts, are asked for only where the API requires them.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: load s3 configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	tempDir := cfg.TempDir
	if tempDir == "" {
		tempDir = os.TempDir()
	} else {
		if err := os.MkdirAll(tempDir, dirMode); err != nil {
			return nil, fmt.Errorf("blob: create %s: %w", tempDir, err)
		}
		if err := removeStale(tempDir, time.Now()); err != nil {
			return nil, err
		}
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: prefix, tempDir: tempDir}, nil
}

// Key returns the object key of the blob named sha.
func (s *S3) Key(sha string) string { return s.prefix + sha }

// Put implements Store. It asks for the object first and uploads only when it is absent.
// The upload carries the content's SHA-256, so a service that checks it (AWS S3 and most
// compatible ones do) refuses bytes damaged on the way.
func (s *S3) Put(ctx context.Context, r io.Reader, limit int64) (Info, error) {
	if err := checkLimit(limit); err != nil {
		return Info{}, err
	}
	bufp := buffers.Get().(*[]byte)
	defer buffers.Put(bufp)
	sp, err := spool(ctx, r, limit, *bufp, s.tempDir)
	if err != nil {
		return Info{}, fmt.Errorf("blob: store upload: %w", err)
	}
	defer sp.discard()

	size, found, err := s.head(ctx, sp.SHA256)
	if err != nil {
		return Info{}, err
	}
	if found && size == sp.Size {
		return sp.Info, nil
	}
	// Both bodies are seekable, so the SDK can sign them and retry a failed attempt.
	var body io.ReadSeeker = bytes.NewReader(sp.small)
	if sp.file != nil {
		if _, err := sp.file.Seek(0, io.SeekStart); err != nil {
			return Info{}, fmt.Errorf("blob: rewind %s: %w", sp.file.Name(), err)
		}
		body = sp.file
	}
	sum, err := hex.DecodeString(sp.SHA256)
	if err != nil {
		return Info{}, fmt.Errorf("blob: decode hash: %w", err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         aws.String(s.bucket),
		Key:            aws.String(s.Key(sp.SHA256)),
		Body:           body,
		ContentLength:  aws.Int64(sp.Size),
		ContentType:    aws.String(sp.MediaType),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
	})
	if err != nil {
		return Info{}, fmt.Errorf("blob %s: upload to bucket %s: %w", sp.SHA256, s.bucket, err)
	}
	return sp.Info, nil
}

// head returns the size of the object holding sha and whether it exists.
func (s *S3) head(ctx context.Context, sha string) (int64, bool, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.Key(sha)),
	})
	if isNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("blob %s: look up in bucket %s: %w", sha, s.bucket, err)
	}
	return aws.ToInt64(out.ContentLength), true, nil
}

// Open implements Store. The object is streamed as it is read.
func (s *S3) Open(ctx context.Context, sha string) (io.ReadCloser, Info, error) {
	if err := checkSHA(sha); err != nil {
		return nil, Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.Key(sha)),
	})
	if isNotFound(err) {
		return nil, Info{}, domain.NotFound("blob " + sha)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob %s: read from bucket %s: %w", sha, s.bucket, err)
	}
	info := Info{
		SHA256:    sha,
		Size:      aws.ToInt64(out.ContentLength),
		MediaType: mediaTypeOr(aws.ToString(out.ContentType)),
	}
	return newVerifier(out.Body, out.Body, info), info, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, sha string) (Info, error) {
	if err := checkSHA(sha); err != nil {
		return Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.Key(sha)),
	})
	if isNotFound(err) {
		return Info{}, domain.NotFound("blob " + sha)
	}
	if err != nil {
		return Info{}, fmt.Errorf("blob %s: look up in bucket %s: %w", sha, s.bucket, err)
	}
	return Info{
		SHA256:    sha,
		Size:      aws.ToInt64(out.ContentLength),
		MediaType: mediaTypeOr(aws.ToString(out.ContentType)),
	}, nil
}

// Exists implements Store.
func (s *S3) Exists(ctx context.Context, sha string) (bool, error) {
	if err := checkSHA(sha); err != nil {
		return false, err
	}
	_, found, err := s.head(ctx, sha)
	return found, err
}

// mediaTypeOr returns the stored media type, or the type of unknown bytes when the object
// carries none (it was written by something other than this store).
func mediaTypeOr(t string) string {
	if t == "" {
		return "application/octet-stream"
	}
	return t
}

// isNotFound reports whether err is the service's answer for a missing object. HeadObject
// has no body to carry an error code, so the HTTP status is what tells; a missing bucket,
// which GetObject names, is a configuration error rather than a missing blob.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket" {
		return false
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && status.HTTPStatusCode() == 404
}
