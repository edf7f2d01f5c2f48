package blob

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"
)

// BenchmarkLocalPut1KiB stores distinct 1 KiB blobs durably (file sync, rename,
// directory sync): the cost each evidence file adds to ingest.
func BenchmarkLocalPut1KiB(b *testing.B) {
	s, err := NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	data := randomBytes(11, 1024)
	r := bytes.NewReader(nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		binary.LittleEndian.PutUint64(data, i) // a new blob every time, never a duplicate
		r.Reset(data)
		if _, err := s.Put(ctx, r, DefaultLimit); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalPutDuplicate1KiB stores the same 1 KiB again and again: the cost of an
// upload that is already stored (hash, then find it present).
func BenchmarkLocalPutDuplicate1KiB(b *testing.B) {
	s, err := NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	data := randomBytes(12, 1024)
	r := bytes.NewReader(data)
	if _, err := s.Put(ctx, r, DefaultLimit); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(data)
		if _, err := s.Put(ctx, r, DefaultLimit); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalPut100MiB streams a 100 MiB upload that never exists in memory as a whole;
// B/op shows that memory does not grow with the file's size.
func BenchmarkLocalPut100MiB(b *testing.B) {
	const size = 100 << 20
	s, err := NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	var i byte
	for b.Loop() {
		i++
		src := io.MultiReader(bytes.NewReader([]byte{i}), io.LimitReader(endless{}, size-1))
		if _, err := s.Put(ctx, src, DefaultLimit); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkS3Put1KiB stores distinct 1 KiB blobs through the SDK into the in-process
// service: the client-side cost of the S3 store (spool, hash, head, put), and a check that
// it stays small beside a real service's round trips.
func BenchmarkS3Put1KiB(b *testing.B) {
	endpoint, _ := fakeS3(b)
	s, err := NewS3(context.Background(), S3Config{
		Bucket: testBucket, Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "TESTKEY", SecretAccessKey: "test-secret", TempDir: b.TempDir(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	data := randomBytes(13, 1024)
	r := bytes.NewReader(nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		binary.LittleEndian.PutUint64(data, i)
		r.Reset(data)
		if _, err := s.Put(ctx, r, DefaultLimit); err != nil {
			b.Fatal(err)
		}
	}
}
