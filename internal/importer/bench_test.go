package importer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/monitor"
)

// BenchmarkProwler100MB imports a 100 MB Prowler OCSF file and reports throughput, bytes
// allocated per import, and the peak of the heap in use while importing. Compared with
// BenchmarkProwler10MB it shows memory staying flat: the peak does not grow with the file.
func BenchmarkProwler100MB(b *testing.B) { benchProwler(b, 100<<20) }

// BenchmarkProwler10MB is BenchmarkProwler100MB with a tenth of the data.
func BenchmarkProwler10MB(b *testing.B) { benchProwler(b, 10<<20) }

func benchProwler(b *testing.B, size int64) {
	path := prowlerFile(b, size)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var peak, base uint64
	var findings int
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base = ms.HeapInuse
		stop := sampleHeap(&peak)
		b.StartTimer()
		sum, err := Import(context.Background(), "prowler", f, func(monitor.Resource) error { return nil })
		b.StopTimer()
		stop()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		findings = sum.Resources
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(base)/(1<<20), "base-heap-MiB")
	b.ReportMetric(float64(findings), "findings")
}

// sampleHeap records the largest heap in use (runtime.MemStats.HeapInuse: heap objects
// plus unused heap space) seen until the returned function is called. It reads
// runtime/metrics, which does not stop the world, so sampling does not slow the import.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		for {
			metrics.Read(samples)
			*peak = max(*peak, samples[0].Value.Uint64()+samples[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

var (
	benchDirOnce sync.Once
	benchDir     string
	benchDirErr  error
	benchFiles   sync.Map // size → path
)

// prowlerFile writes, once per process and size, an OCSF file of at least size bytes as
// Prowler writes it ("[" then indented findings joined by "," then "]"), streaming it to
// disk so it is never in memory. It is removed when the test binary exits.
func prowlerFile(b *testing.B, size int64) string {
	if p, ok := benchFiles.Load(size); ok {
		return p.(string)
	}
	benchDirOnce.Do(func() { benchDir, benchDirErr = os.MkdirTemp("", "evident-importer-bench-") })
	if benchDirErr != nil {
		b.Fatal(benchDirErr)
	}
	path := filepath.Join(benchDir, fmt.Sprintf("prowler-%d.ocsf.json", size))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("[")
	var n int64 = 1
	statuses := []string{"PASS", "FAIL", "PASS", "MANUAL"}
	severities := []string{"Low", "Medium", "High", "Critical", "Informational"}
	for i := 0; n < size; i++ {
		if i > 0 {
			w.WriteString(",")
			n++
		}
		k, err := fmt.Fprintf(w, benchFinding, i%97, severities[i%len(severities)], statuses[i%len(statuses)],
			i%97, i, i, i%5, i, i, i%100, i)
		if err != nil {
			b.Fatal(err)
		}
		n += int64(k)
	}
	w.WriteString("]")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	benchFiles.Store(size, path)
	return path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchFinding is one finding as Prowler's OCSF writer lays it out (about 2.8 KB), with
// status, severity, check, bucket and account varying.
const benchFinding = `{
    "message": "S3 Bucket acme-bucket has Server Side Encryption with aws:kms.",
    "metadata": {
        "event_code": "s3_check_%d",
        "product": {
            "name": "Prowler",
            "uid": "prowler",
            "vendor_name": "Prowler",
            "version": "5.4.2"
        },
        "profiles": [
            "cloud",
            "datetime"
        ],
        "tenant_uid": "o-a1b2c3d4e5",
        "version": "1.4.0"
    },
    "severity_id": 3,
    "severity": "%s",
    "status": "New",
    "status_code": "%s",
    "status_detail": "S3 Bucket acme-bucket has Server Side Encryption with aws:kms.",
    "status_id": 1,
    "unmapped": {
        "related_url": "",
        "categories": [
            "encryption"
        ],
        "depends_on": [],
        "related_to": [],
        "additional_urls": [],
        "notes": "",
        "compliance": {
            "CIS-3.0": [
                "2.1.1"
            ],
            "SOC2": [
                "cc_6_1",
                "cc_6_7"
            ]
        }
    },
    "activity_name": "Create",
    "activity_id": 1,
    "finding_info": {
        "created_time": 1780214400,
        "created_time_dt": "2026-05-31T08:00:00.123456",
        "desc": "Check if S3 buckets have default encryption (SSE) enabled or use a bucket policy to enforce it.",
        "product_uid": "prowler",
        "title": "Check if S3 buckets have default encryption (SSE) enabled or use a bucket policy to enforce it.",
        "types": [
            "Data Protection"
        ],
        "uid": "prowler-aws-check_%d-111111111111-eu-west-1-bucket-%d"
    },
    "resources": [
        {
            "cloud_partition": "aws",
            "region": "eu-west-1",
            "data": {
                "details": "",
                "metadata": {
                    "name": "acme-bucket-%d",
                    "region": "eu-west-1",
                    "encryption": "aws:kms"
                }
            },
            "group": {
                "name": "s3"
            },
            "labels": [
                "team:data-%d"
            ],
            "name": "acme-bucket-%d",
            "type": "AwsS3Bucket",
            "uid": "arn:aws:s3:::acme-bucket-%d"
        }
    ],
    "category_name": "Findings",
    "category_uid": 2,
    "class_name": "Detection Finding",
    "class_uid": 2004,
    "cloud": {
        "account": {
            "name": "acme-production",
            "type": "AWS Account",
            "type_id": 10,
            "uid": "1111111111%02d",
            "labels": []
        },
        "org": {
            "name": "acme",
            "uid": "o-a1b2c3d4e5"
        },
        "provider": "aws",
        "region": "eu-west-1"
    },
    "time": 1780214400,
    "time_dt": "2026-05-31T08:00:00.123456",
    "remediation": {
        "desc": "Ensure that S3 buckets have encryption at rest enabled.",
        "references": [
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html"
        ]
    },
    "risk_details": "Amazon S3 default encryption provides a way to set the default encryption behavior for an S3 bucket. Check %d.",
    "type_uid": 200401,
    "type_name": "Detection Finding: Create"
}`
