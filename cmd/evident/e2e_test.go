package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/evidenthq/evident/internal/demo"
	"github.com/evidenthq/evident/internal/domain"
)

// requireChromiumEnv makes the end-to-end test fail, not skip, when no Chromium is found.
// CI sets it.
const requireChromiumEnv = "EVIDENT_TEST_REQUIRE_CHROMIUM"

// chromiumNames are the browser binaries the end-to-end test looks for, best first.
var chromiumNames = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "headless-shell"}

// findChromium returns the path of a Chromium binary, or skips the test (fails it when
// EVIDENT_TEST_REQUIRE_CHROMIUM=1) when there is none.
func findChromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "end-to-end test: no Chromium found (looked for " + strings.Join(chromiumNames, ", ") +
		"); install it, on Debian with 'apt-get install chromium', to run this test"
	if os.Getenv(requireChromiumEnv) == "1" {
		tb.Fatal(msg + "; " + requireChromiumEnv + "=1 requires it")
	}
	tb.Skip(msg)
	return ""
}

// browser starts headless Chromium with a fresh profile, closed when the test ends.
func browser(tb testing.TB) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(tb)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	tb.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// TestEndToEnd drives the real server with a real browser through the flow a compliance
// lead follows: sign in, read the score, open a gap, implement the control with an
// owner, and see the score rise.
func TestEndToEnd(t *testing.T) {
	ctx := browser(t)
	c := newCLI(t)
	m := c.main("demo", "--addr", "127.0.0.1:0")
	base := m.URL()
	lead, err := m.Store.UserByEmail(context.Background(), demo.Lead().Email)
	if err != nil {
		t.Fatal(err)
	}
	owner := strconv.FormatInt(lead.ID, 10)

	const gapLink = chromedp.CSS(`a.gap[href^="/controls/"]`)
	score := chromedp.CSS("#readiness-score")
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), m.Demo.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), m.Demo.Password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(score),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	before, err := chromedp.Run(ctx, chromedp.Text(score))
	if err != nil {
		t.Fatalf("read the score: %v", err)
	}
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(gapLink, "href"))
	if err != nil || !link.Exists {
		t.Fatalf("the dashboard shows no gap that links to a control: %v", err)
	}
	href := link.Value
	err = chromedp.Do(ctx,
		chromedp.Click(gapLink),
		chromedp.WaitVisible(chromedp.CSS("#control-form")),
		chromedp.SetValue(chromedp.CSS("#status"), string(domain.StatusImplemented)),
		chromedp.SetValue(chromedp.CSS("#owner_id"), owner),
		chromedp.Click(chromedp.CSS("#save-control")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if err != nil {
		t.Fatalf("implement the control of the gap %s: %v", href, err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".flash")))
	if err != nil {
		t.Fatalf("read the confirmation: %v", err)
	}
	if !strings.Contains(flash, "Saved") {
		t.Errorf("after saving the control the page says %q; want it saved", flash)
	}
	err = chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(score))
	if err != nil {
		t.Fatalf("back to the dashboard: %v", err)
	}
	after, err := chromedp.Run(ctx, chromedp.Text(score))
	if err != nil {
		t.Fatalf("read the score again: %v", err)
	}

	id, err := strconv.ParseInt(strings.TrimPrefix(href, "/controls/"), 10, 64)
	if err != nil {
		t.Fatalf("gap link %q: %v", href, err)
	}
	org, err := m.Store.OrganizationBySlug(context.Background(), demo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := m.Store.Control(context.Background(), org.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if ctl.Status != domain.StatusImplemented || ctl.OwnerID == nil || *ctl.OwnerID != lead.ID {
		t.Errorf("control %s after saving: status %s, owner %v; want implemented, owned by %s", ctl.Ref, ctl.Status, ctl.OwnerID, lead.Email)
	}

	b, a := parseScore(t, before), parseScore(t, after)
	t.Logf("readiness score %v before and %v after implementing %s", b, a, ctl.Ref)
	if a <= b {
		t.Errorf("readiness score after implementing %s = %v; want more than %v", ctl.Ref, a, b)
	}
}

func parseScore(tb testing.TB, s string) float64 {
	tb.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil {
		tb.Fatalf("readiness score %q is not a number", s)
	}
	return v
}

// TestEndToEndEvidenceUpload drives a real browser through the upload of a file of
// evidence on a control's page: the file streams through the server into the blob store
// and the ledger, and the control lists it with its ledger entry.
func TestEndToEndEvidenceUpload(t *testing.T) {
	ctx := browser(t)
	c := newCLI(t)
	m := c.main("demo", "--addr", "127.0.0.1:0")
	base := m.URL()
	org, err := m.Store.OrganizationBySlug(context.Background(), demo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := m.Store.ControlByRef(context.Background(), org.ID, "AC-01")
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(strings.Repeat("user,system,reviewer,decision\nsam.rivera,aws-prod,priya.raman,keep\n", 2000))
	path := filepath.Join(t.TempDir(), "q1-access-review.csv")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	const title = "Q1 user access review sign-off"
	list := chromedp.CSS("#current-evidence")
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), m.Demo.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), m.Demo.Password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#readiness-score")),
		chromedp.Navigate(base+"/controls/"+strconv.FormatInt(ctl.ID, 10)),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.SendKeys(chromedp.CSS("#ev-title"), title),
		chromedp.SetUploadFiles(chromedp.CSS("#ev-file"), []string{path}),
		chromedp.Click(chromedp.CSS("#upload-evidence")),
		chromedp.WaitVisible(list),
	)
	if err != nil {
		t.Fatalf("upload evidence on %s's page: %v", ctl.Ref, err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(list))
	if err != nil {
		t.Fatalf("read the control's evidence: %v", err)
	}
	items, err := m.Store.EvidenceList(context.Background(), org.ID, domain.EvidenceFilter{ControlID: ctl.ID})
	if err != nil || len(items) != 1 {
		t.Fatalf("%s has %d items of evidence (err %v); want the one uploaded", ctl.Ref, len(items), err)
	}
	e := items[0]
	if e.Title != title || e.SHA256 != sha256Of(content) || e.FileName != "q1-access-review.csv" || e.AddedByName != demo.Lead().Name {
		t.Errorf("stored item = %q, sha256 %s, file %q, added by %q; want the upload by %s", e.Title, e.SHA256, e.FileName, e.AddedByName, demo.Lead().Name)
	}
	if !strings.Contains(shown, title) || !strings.Contains(shown, "entry #"+strconv.FormatInt(e.LedgerIndex, 10)) {
		t.Errorf("the control's page lists %q; want the item and its ledger entry #%d", shown, e.LedgerIndex)
	}
}
