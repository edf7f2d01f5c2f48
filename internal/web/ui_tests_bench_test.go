package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/monitor"
)

// BenchmarkTestsPages measures the tests pages over an inventory of 2,000 devices, a
// quarter of them unencrypted, after 30 runs: the list of every test, a failing test's
// page (its first page of failures, its exceptions and 30 runs of history), and a control
// page with its tests. It reports the process's CPU time per request beside the time.
func BenchmarkTestsPages(b *testing.B) {
	f := newTestsFixture(b)
	var devices []monitor.Resource
	for i := range 2000 {
		devices = append(devices, device(fmt.Sprintf("bench-%04d", i), fmt.Sprintf("Laptop %d", i), i%4 != 0))
	}
	for range 30 {
		f.push(b, f.north, devices...)
	}
	for i := range 20 {
		f.except(b, fmt.Sprintf("bench-%04d", i*4), 30*24*time.Hour)
	}
	ctl := f.controlByRef(b, f.north, "END-02")
	for _, pg := range []struct{ name, path string }{
		{"tests", "/tests"},
		{"test", "/tests/" + encTest},
		{"exceptions", "/exceptions"},
		{"control", "/controls/" + id(ctl.ID)},
	} {
		b.Run(pg.name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				cpu0, _ := processCPU()
				rec := httptest.NewRecorder()
				f.srv.ServeHTTP(rec, f.request("GET", pg.path, "owner", nil))
				cpu1, ok := processCPU()
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s = %d", pg.path, rec.Code)
				}
				if ok {
					cpu += cpu1 - cpu0
				}
			}
			if cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			}
		})
	}
}
