package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/evidenthq/evident/internal/demo"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// TestEndToEndAcceptFailingTest drives a real browser through what a control owner does
// with a failing automated test: a device management tool pushes a laptop without disk
// encryption, the owner opens the failing test from the tests list, accepts the laptop's
// failure with a justification, an approver and an expiry, and sees it counted as
// excepted, with the exception in the ledger.
func TestEndToEndAcceptFailingTest(t *testing.T) {
	ctx := browser(t)
	c := newCLI(t)
	m := c.main("demo", "--addr", "127.0.0.1:0")
	base := m.URL()
	bg := context.Background()
	org, err := m.Store.OrganizationBySlug(bg, demo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	approver, err := m.Store.UserByEmail(bg, demo.People[1].Email)
	if err != nil {
		t.Fatal(err)
	}
	const test, laptop, name = "device-disk-encrypted", "e2e-laptop-2", "E2E ThinkPad"
	laptops := []monitor.Resource{
		{Type: "device", ExternalID: "e2e-laptop-1", Name: "E2E MacBook", Attributes: map[string]any{
			"platform": "macos", "os_version": "15.3", "managed": true, "disk_encrypted": true,
			"screen_lock_enabled": true, "endpoint_protection": true, "last_seen": time.Now().UTC().Format(time.RFC3339)}},
		{Type: "device", ExternalID: laptop, Name: name, Attributes: map[string]any{
			"platform": "linux", "os_version": "24.04", "managed": true, "disk_encrypted": false,
			"screen_lock_enabled": true, "endpoint_protection": true, "last_seen": time.Now().UTC().Format(time.RFC3339)}},
	}
	if _, _, err := m.Collect.PushResources(bg, domain.SystemActor, org.ID, "e2e-mdm", laptops, false); err != nil {
		t.Fatalf("push the laptops: %v", err)
	}
	before, err := m.Store.TestSummary(bg, org.ID, test, time.Now())
	if err != nil {
		t.Fatalf("the push judged no %s: %v", test, err)
	}
	if before.Failed-before.Excepted < 1 {
		t.Fatalf("%s after the push = %+v; want the unencrypted laptop failing", test, before)
	}

	row := chromedp.CSS(`tr[data-test="` + test + `"] a.row-title`)
	failure := chromedp.CSS(`#failures-table tr[data-resource="` + laptop + `"]`)
	expires := time.Now().UTC().AddDate(0, 3, 0).Format(time.DateOnly)
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), m.Demo.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), m.Demo.Password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#readiness-score")),
		chromedp.Navigate(base+"/tests?status=failing"),
		chromedp.WaitVisible(row),
		chromedp.Click(row),
		chromedp.WaitVisible(failure),
	)
	if err != nil {
		t.Fatalf("open the failing test from the tests list: %v", err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(failure))
	if err != nil {
		t.Fatalf("read the failure: %v", err)
	}
	if !strings.Contains(shown, name) || !strings.Contains(shown, "is not encrypted") {
		t.Errorf("the failure reads %q; want the laptop and why it fails", shown)
	}
	const justification = "The laptop is wiped and replaced at the next office day; it holds no customer data."
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#failures-table tr[data-resource="`+laptop+`"] a.btn`)),
		chromedp.WaitVisible(chromedp.CSS("#accept-form")),
		chromedp.SendKeys(chromedp.CSS("#justification"), justification),
		chromedp.SetValue(chromedp.CSS("#approver_id"), strconv.FormatInt(approver.ID, 10)),
		chromedp.SetValue(chromedp.CSS("#expires_at"), expires),
		chromedp.Click(chromedp.CSS("#accept-failure")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if err != nil {
		t.Fatalf("accept the failure: %v", err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".flash")))
	if err != nil {
		t.Fatalf("read the confirmation: %v", err)
	}
	exceptions, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#exceptions-table")))
	if err != nil {
		t.Fatalf("read the active exceptions: %v", err)
	}
	excepted, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#outcome-excepted")))
	if err != nil {
		t.Fatalf("read the excepted count: %v", err)
	}

	es, err := m.Store.Exceptions(bg, org.ID, domain.ExceptionFilter{TestID: test, ExternalID: laptop})
	if err != nil || len(es) != 1 {
		t.Fatalf("exceptions of %s = %d (%v); want the one accepted", laptop, len(es), err)
	}
	ex := es[0]
	if ex.Justification != justification || ex.ApproverID != approver.ID || ex.ExpiresAt.Format(time.DateOnly) != expires {
		t.Errorf("stored exception = %+v; want the justification, approver and expiry entered", ex)
	}
	evs, err := m.Store.Events(bg, org.ID, domain.EventFilter{Subject: "exception:" + strconv.FormatInt(ex.ID, 10)})
	if err != nil || len(evs) != 1 || evs[0].Type != domain.EventExceptionCreated {
		t.Fatalf("ledger entries of the exception = %+v (%v); want exception.created", evs, err)
	}
	if entry := "#" + strconv.FormatInt(evs[0].Index, 10); !strings.Contains(flash, entry) {
		t.Errorf("the confirmation says %q; want the ledger entry %s", flash, entry)
	}
	if !strings.Contains(exceptions, name) || !strings.Contains(exceptions, justification) || !strings.Contains(exceptions, approver.Name) {
		t.Errorf("the active exceptions read %q; want the laptop, the justification and %s", exceptions, approver.Name)
	}
	if got, want := strings.TrimSpace(excepted), strconv.Itoa(before.Excepted+1); got != want {
		t.Errorf("the test counts %s excepted failures; want %s", got, want)
	}
	after, err := m.Store.TestSummary(bg, org.ID, test, time.Now())
	if err != nil || after.Excepted != before.Excepted+1 {
		t.Errorf("%s after accepting = %+v (%v); want one more excepted failure", test, after, err)
	}
	t.Logf("accepted %s on %s as exception #%d, ledger entry #%d", laptop, test, ex.ID, evs[0].Index)
}
