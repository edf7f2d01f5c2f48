package main

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dashboardClients is how many clients ask for the dashboard at once.
const dashboardClients = 20

// BenchmarkDashboard serves the demonstration's dashboard from the real server, as the
// binary runs it, to 20 signed-in clients at once, and reports the latency each client
// sees: the target is a p99 under 50 ms. The client runs in the same process, so its work
// counts in the figures too.
func BenchmarkDashboard(b *testing.B) {
	c := newCLI(b)
	m := c.main("demo", "--addr", "127.0.0.1:0")
	client := signIn(b, m.URL(), m.Demo.Email, m.Demo.Password)
	client.Transport = &http.Transport{MaxIdleConnsPerHost: dashboardClients, MaxConnsPerHost: dashboardClients}
	url := m.URL() + "/"
	fetch := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
			b.Errorf("GET / = %d at %s; want 200 at /", resp.StatusCode, resp.Request.URL)
		}
		return nil
	}
	// Open the connections and warm the caches before measuring.
	for range dashboardClients {
		if err := fetch(); err != nil {
			b.Fatalf("GET /: %v", err)
		}
	}

	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		wg        sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	cpu0, cpuOK := processCPU()
	for range dashboardClients {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := fetch(); err != nil {
					b.Errorf("GET /: %v", err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := processCPU()
	b.StopTimer()

	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	ms := func(q float64) float64 {
		i := min(len(latencies)-1, int(q*float64(len(latencies))))
		return float64(latencies[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
	if cpuOK {
		// CPU per request, server and client together: what the latency would be
		// without queueing, and the figure that other load on the machine does not move.
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(len(latencies)), "cpu-ms/req")
	}
}
