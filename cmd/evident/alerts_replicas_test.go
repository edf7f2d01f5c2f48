package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/alert"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// TestReplicasDeliverAlertsOnce runs two `evident serve` processes against one PostgreSQL
// database and one sealing key, raises alerts, and checks that each reaches each alert
// target exactly once, whichever replica delivered it.
func TestReplicasDeliverAlertsOnce(t *testing.T) {
	dsn := postgresURL(t)
	c := newCLI(t)
	c.env[envDatabase] = dsn
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "acme", "--name", "Acme Cloud, Inc.")
	c.ok(strings.NewReader("correct horse battery\n"), "user", "create", "--org", "acme", "--email", "lead@acme.example", "--role", "owner", "--name", "Lead")
	token := strings.TrimSpace(c.ok(nil, "token", "create", "--email", "lead@acme.example"))

	var mu sync.Mutex
	deliveries := map[string]int{} // by receiver and delivery ID, or by Slack message
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.URL.Path + " " + r.Header.Get(alert.HeaderDelivery)
		if r.Header.Get(alert.HeaderDelivery) == "" {
			key = r.URL.Path + " " + string(body)
		}
		mu.Lock()
		deliveries[key]++
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)

	keyPath := filepath.Join(t.TempDir(), "secret.key")
	common := []string{"--database", dsn, "--secret-key", keyPath, "--alerts-allow-private"}
	replicas := []*replica{
		startReplica(t, "replica A", append([]string{"--data", filepath.Join(t.TempDir(), "a")}, common...)...),
		startReplica(t, "replica B", append([]string{"--data", filepath.Join(t.TempDir(), "b")}, common...)...),
	}
	for i, body := range []string{
		`{"kind":"webhook","name":"SIEM","url":"` + receiver.URL + `/siem"}`,
		`{"kind":"slack","name":"Slack","url":"` + receiver.URL + `/slack/T0/B0/secret"}`,
	} {
		cl := &apiClient{tb: t, base: replicas[i].url, token: token, http: &http.Client{Timeout: time.Minute}}
		cl.do("POST", "/alert-targets", "application/json", strings.NewReader(body), http.StatusCreated, nil)
	}
	if t.Failed() {
		t.FailNow()
	}

	st := c.openStore()
	ctx := context.Background()
	org, err := st.OrganizationBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertResources(ctx, domain.SystemActor, org.ID, "hr", []monitor.Resource{
		{Type: "custom.person", ExternalID: "p1", Name: "alice", Attributes: map[string]any{}},
	}); err != nil {
		t.Fatal(err)
	}
	var tests []monitor.Test
	for i := range 15 {
		tests = append(tests, monitor.Test{ID: fmt.Sprintf("person-%02d", i), Title: fmt.Sprintf("People are vetted (%d)", i),
			Type: "custom.person", Severity: monitor.SeverityHigh, Remediation: "Vet them.", Controls: []string{"AC-01"}})
	}
	raised := 0
	for _, status := range []monitor.Status{monitor.StatusFail, monitor.StatusPass} {
		res := monitor.Results{At: time.Now().UTC()}
		for _, tt := range tests {
			res.Tests = append(res.Tests, monitor.TestResult{TestID: tt.ID, Type: tt.Type,
				Resources: []monitor.ResourceResult{{ExternalID: "p1", Status: status}}})
		}
		_, alerts, err := st.RecordTestRun(ctx, org.ID, domain.TriggerPush, nil, tests, res)
		if err != nil {
			t.Fatal(err)
		}
		raised += len(alerts)
	}
	if raised != 30 {
		t.Fatalf("raised %d alerts; want 30", raised)
	}

	// The replicas look for pending alerts every few seconds.
	deadline := time.Now().Add(90 * time.Second)
	for {
		details, err := st.AlertDetails(ctx, org.ID, domain.AlertFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, d := range details {
			if !d.Pending() {
				done++
			}
		}
		if done == raised {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d alerts delivered after 90 s\nreplica A:\n%s\nreplica B:\n%s", done, raised, replicas[0].stderr, replicas[1].stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // a duplicate in flight would arrive by now
	mu.Lock()
	defer mu.Unlock()
	perPath := map[string]int{}
	for key, n := range deliveries {
		if n != 1 {
			t.Errorf("delivery %.60s… arrived %d times", key, n)
		}
		perPath[strings.Fields(key)[0]]++
	}
	if perPath["/siem"] != raised || perPath["/slack/T0/B0/secret"] != raised {
		t.Errorf("deliveries per receiver = %v; want %d each", perPath, raised)
	}
	for _, r := range replicas {
		t.Logf("%s made %d deliveries", r.name, strings.Count(r.stderr.String(), `msg="alert delivered"`))
		if strings.Contains(r.stderr.String(), "/slack/T0/B0/secret") {
			t.Errorf("%s logged the Slack URL's path", r.name)
		}
	}
}
