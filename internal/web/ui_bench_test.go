package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkPages measures the server's own cost of the busiest pages, one request at a
// time, over a real SQLite store with two adopted control libraries.
func BenchmarkPages(b *testing.B) {
	f := newUIFixture(b)
	pages := []struct{ name, path string }{
		{"dashboard", "/"},
		{"controls", "/controls"},
		{"control", "/controls/" + id(f.control.ID)},
		{"criteria", "/criteria"},
		{"report", "/readiness/report.html"},
	}
	for _, pg := range pages {
		path := pg.path
		b.Run(pg.name, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				f.srv.ServeHTTP(rec, f.request("GET", path, "owner", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s = %d", path, rec.Code)
				}
			}
		})
	}
}
