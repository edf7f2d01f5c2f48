package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/demo"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
)

func TestCatalogText(t *testing.T) {
	out := newCLI(t).ok(nil, "catalog")
	cat := catalog.Default()
	for _, c := range domain.Categories {
		n := len(cat.InScope([]domain.Category{c}))
		if want := fmt.Sprintf("%s (%s)\n", c.Title(), plural(n, "criterion", "criteria")); !strings.Contains(out, want) {
			t.Errorf("evident catalog lacks the heading %q", want)
		}
	}
	for _, cr := range cat.Criteria {
		if !strings.Contains(out, cr.ID+"  "+cr.Title+"\n") && !strings.Contains(out, cr.ID+"   "+cr.Title+"\n") {
			t.Errorf("evident catalog lacks %s %s", cr.ID, cr.Title)
		}
	}
	if strings.Index(out, "Security (") > strings.Index(out, "Privacy (") {
		t.Error("evident catalog does not list the categories in catalog order")
	}
}

func TestCatalogJSON(t *testing.T) {
	out := newCLI(t).ok(nil, "catalog", "--json")
	var got []domain.Criterion
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("evident catalog --json is not a JSON list of criteria: %v", err)
	}
	if diff := cmp.Diff(catalog.Default().Criteria, got); diff != "" {
		t.Errorf("evident catalog --json (-want +got):\n%s", diff)
	}
}

// seedDemo starts and stops the demonstration in the cli's data directory.
func (c *cli) seedDemo() {
	c.tb.Helper()
	m := c.main("demo", "--addr", "127.0.0.1:0")
	if err := m.Close(); err != nil {
		c.tb.Fatalf("Close: %v", err)
	}
}

func TestReadiness(t *testing.T) {
	c := newCLI(t)
	c.seedDemo()
	st := c.openStore()
	org, err := st.OrganizationBySlug(context.Background(), demo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readiness.Compute(context.Background(), st, catalog.Default(), org.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("text", func(t *testing.T) {
		out := c.ok(nil, "readiness", "--org", "acme")
		for _, w := range []string{
			"Readiness of Acme Cloud, Inc. (acme)",
			"Scope: Security, Availability, Confidentiality; Type II; report due ",
			fmt.Sprintf("Score: %.1f / 100\n", want.Score),
			fmt.Sprintf("Gaps: %d (", len(want.Gaps)),
			"\nHIGH (",
			"  - No formal user access review process (AC-01)\n",
			"  - The incident response plan has never been tested (IR-02)\n",
			"    Next step: ",
		} {
			if !strings.Contains(out, w) {
				t.Errorf("evident readiness lacks %q", w)
			}
		}
		if strings.Index(out, "\nHIGH (") > strings.Index(out, "\nMEDIUM (") || strings.Index(out, "\nMEDIUM (") > strings.Index(out, "\nLOW (") {
			t.Error("evident readiness does not list the gaps from the most to the least urgent")
		}
	})
	t.Run("json", func(t *testing.T) {
		out := c.ok(nil, "readiness", "--org", "acme", "--format", "json")
		var got readiness.Report
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("evident readiness --format json: %v", err)
		}
		if got.Score != want.Score || len(got.Gaps) != len(want.Gaps) || got.OrgID != org.ID {
			t.Errorf("JSON report: score %v, %d gaps, org %d; want %v, %d, %d", got.Score, len(got.Gaps), got.OrgID, want.Score, len(want.Gaps), org.ID)
		}
	})
	t.Run("html", func(t *testing.T) {
		out := c.ok(nil, "readiness", "--org", "acme", "--format", "html")
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(out)), "<!doctype html") || !strings.Contains(out, "Acme Cloud, Inc.") {
			t.Errorf("evident readiness --format html is not the HTML report:\n%.300s", out)
		}
		for _, forbidden := range []string{"<script", `src="http`, `href="http`} {
			if strings.Contains(out, forbidden) {
				t.Errorf("the HTML report contains %q; want a self-contained document", forbidden)
			}
		}
	})
	t.Run("unknown organization", func(t *testing.T) {
		c.wantFailure(nil, `no organization with slug "nope"; list them with 'evident org list'`, "readiness", "--org", "nope")
	})
}

// TestReadinessThroughTheAPI checks that the command line and the API, reached with a
// token the command line created, report the same readiness.
func TestReadinessThroughTheAPI(t *testing.T) {
	c := newCLI(t)
	c.seedDemo()
	token := strings.TrimSpace(c.ok(nil, "token", "create", "--email", demo.Lead().Email, "--name", "readiness export"))
	var cli readiness.Report
	if err := json.Unmarshal([]byte(c.ok(nil, "readiness", "--org", demo.Slug, "--format", "json")), &cli); err != nil {
		t.Fatal(err)
	}
	m := c.main("serve", "--addr", "127.0.0.1:0")

	if status, _ := get(t, http.DefaultClient, m.URL()+"/api/v1/openapi.json"); status != http.StatusOK {
		t.Errorf("GET /api/v1/openapi.json = %d; want 200 without a token", status)
	}
	if status, _ := get(t, http.DefaultClient, m.URL()+"/api/v1/readiness"); status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/readiness without a token = %d; want 401", status)
	}
	req, err := http.NewRequest(http.MethodGet, m.URL()+"/api/v1/readiness", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var api readiness.Report
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/readiness with the token = %d; want 200", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&api); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cli, api, cmpopts.IgnoreFields(readiness.Report{}, "GeneratedAt")); diff != "" {
		t.Errorf("readiness from the API differs from the command line (-cli +api):\n%s", diff)
	}
}
