package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPages measures the server's own cost of the busiest pages, one request at a
// time, over a real SQLite store with two adopted control libraries. Besides the time per
// request it reports the process's CPU time per request, which other load on the machine
// does not change. "dashboard-uncached" forgets the kept readiness and dashboard before
// each request, as the first request after a change finds them.
func BenchmarkPages(b *testing.B) {
	f := newUIFixture(b)
	pages := []struct {
		name, path string
		forget     bool
	}{
		{name: "dashboard", path: "/"},
		{name: "dashboard-uncached", path: "/", forget: true},
		{name: "readiness", path: "/readiness"},
		{name: "controls", path: "/controls"},
		{name: "control", path: "/controls/" + id(f.control.ID)},
		{name: "criteria", path: "/criteria"},
		{name: "report", path: "/readiness/report.html"},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				if pg.forget {
					f.srv.kept = viewCache{}
				}
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
