package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/evidenthq/evident/internal/demo"
)

// TestEndToEndConnections drives a real browser through adding a connection with a secret
// (which no page shows afterwards, nor any log line), then the inventory and the resource
// type reference the binary serves.
func TestEndToEndConnections(t *testing.T) {
	ctx := browser(t)
	c := newCLI(t)
	var logs syncBuffer
	m := NewMain()
	m.Stdout, m.Stderr, m.Getenv = &bytes.Buffer{}, &logs, c.getenv
	if err := m.ParseFlags(context.Background(), []string{"demo", "--addr", "127.0.0.1:0"}); err != nil {
		t.Fatalf("ParseFlags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	base := m.URL()
	const secret = "00e2e-Okta-Token-5f4e3d2c1b0a9f8e"

	page := chromedp.CSS("html")
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), m.Demo.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), m.Demo.Password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#readiness-score")),
		chromedp.Navigate(base+"/connections"),
		chromedp.WaitVisible(chromedp.CSS("#add-connection")),
		chromedp.Click(chromedp.CSS("#add-connection")),
		chromedp.WaitVisible(chromedp.CSS("#kind-okta")),
		chromedp.Click(chromedp.CSS("#kind-okta")),
		chromedp.WaitVisible(chromedp.CSS("#connection-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Okta production"),
		chromedp.SendKeys(chromedp.CSS("#cfg_org_url"), "https://acme.okta.com"),
		chromedp.SendKeys(chromedp.CSS("#cfg_api_token"), secret),
		// Run only when asked: the test has no Okta to reach.
		chromedp.Click(chromedp.CSS("#enabled")),
		chromedp.Click(chromedp.CSS("#save-connection")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if err != nil {
		t.Fatalf("add a connection: %v", err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(page))
	if err != nil {
		t.Fatalf("read the connection's page: %v", err)
	}
	for _, want := range []string{"Okta production", "Added the connection", "Set, encrypted", "https://acme.okta.com", `id="resume-connection"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the connection's page does not show %q", want)
		}
	}
	if strings.Contains(html, secret) {
		t.Fatalf("the connection's page shows the API token")
	}

	org, err := m.Store.OrganizationBySlug(context.Background(), demo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := m.Store.ConnectionByName(context.Background(), org.ID, "Okta production")
	if err != nil || conn.Kind != "okta" || conn.Enabled {
		t.Fatalf("stored connection = %+v, %v; want a paused Okta connection", conn, err)
	}
	sealed, err := m.Store.ConnectionSecret(context.Background(), org.ID, conn.ID)
	if err != nil || bytes.Contains(sealed.Ciphertext, []byte(secret)) {
		t.Fatalf("the stored credentials (err %v) hold the token in clear", err)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/connections"),
		chromedp.WaitVisible(chromedp.CSS("#connections-table")),
	)
	if err != nil {
		t.Fatalf("open the connections: %v", err)
	}
	if html, err = chromedp.Run(ctx, chromedp.OuterHTML(page)); err != nil || strings.Contains(html, secret) || !strings.Contains(html, "Okta production") {
		t.Errorf("the connections page (err %v) lists the connection without its token: %v", err, strings.Contains(html, "Okta production"))
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/inventory"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="Filter the inventory"]`)),
		chromedp.Click(chromedp.CSS(`a.btn[href="/inventory/schema"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[id="type-okta.user"]`)),
	)
	if err != nil {
		t.Fatalf("open the inventory and the resource type reference: %v", err)
	}
	ref, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[id="type-okta.user"]`)))
	if err != nil {
		t.Fatalf("read the reference of okta.user: %v", err)
	}
	if !strings.Contains(ref, "okta.user") || !strings.Contains(ref, "last_login") {
		t.Errorf("the reference of okta.user reads %q; want its fields", ref)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/inventory/schema") {
		t.Errorf("the reference is at %q (err %v); want /inventory/schema", loc, err)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the server's log shows the API token")
	}
}
