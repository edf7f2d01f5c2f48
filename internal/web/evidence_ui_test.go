package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/ledger"
)

// evidenceNow is the fixed time the evidence tests run at: 15 May 2026, when a quarterly
// control needs evidence for Q1 2026, due on 30 April.
var evidenceNow = time.Date(2026, 5, 15, 10, 0, 0, 0, time.UTC)

// day is a calendar date as a UTC midnight.
func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// htmlText is s as html/template writes it in text: "+" becomes "&#43;".
func htmlText(s string) string { return strings.ReplaceAll(template.HTMLEscapeString(s), "+", "&#43;") }

// ledgerKeys are the checkpoint signing key of a test server, both halves.
type ledgerKeys struct {
	secret string // never to be shown anywhere
	public string
}

// withEvidence gives a server its evidence service over st and a local blob store in a
// temporary directory, a checkpoint publisher with a fresh key, and a fixed clock.
func withEvidence(tb testing.TB, srv *Server, st domain.Store) ledgerKeys {
	tb.Helper()
	blobs, err := blob.NewLocal(filepath.Join(tb.TempDir(), "blobs"))
	if err != nil {
		tb.Fatalf("NewLocal: %v", err)
	}
	skey, vkey, err := evidence.LoadOrCreateKey(filepath.Join(tb.TempDir(), "ledger.key"))
	if err != nil {
		tb.Fatalf("LoadOrCreateKey: %v", err)
	}
	signer, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		tb.Fatalf("NewCheckpointSigner: %v", err)
	}
	now := func() time.Time { return evidenceNow }
	svc := &evidence.Service{Store: st, Blobs: blobs, Now: now}
	srv.cfg.Evidence = svc
	srv.cfg.Publisher = &evidence.Publisher{Store: st, Signer: signer, Now: now}
	srv.cfg.LedgerKey = vkey
	srv.cfg.BundleSource = func(ctx context.Context, org domain.Organization) (bundle.Source, error) {
		return evidence.NewBundleSource(st, svc, org, vkey), nil
	}
	srv.now = now
	return ledgerKeys{secret: skey, public: vkey}
}

// evidenceUIFixture is the page fixture with evidence switched on.
type evidenceUIFixture struct {
	*uiFixture
	keys ledgerKeys
}

func newEvidenceUIFixture(tb testing.TB) *evidenceUIFixture {
	tb.Helper()
	f := newUIFixture(tb)
	return &evidenceUIFixture{uiFixture: f, keys: withEvidence(tb, f.srv, f.st)}
}

// part is one field of a multipart form; a file when fileName is set.
type part struct {
	name, value, fileName string
}

// multipartBody encodes the parts in order.
func multipartBody(tb testing.TB, parts []part) (io.Reader, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.fileName != "" {
			w, err = mw.CreateFormFile(p.name, p.fileName)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = io.WriteString(w, p.value)
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// upload posts a multipart form to path as who.
func (f *evidenceUIFixture) upload(tb testing.TB, path, who string, parts []part) *httptest.ResponseRecorder {
	tb.Helper()
	body, ct := multipartBody(tb, parts)
	req := httptest.NewRequest("POST", path, body)
	req.Header.Set("Content-Type", ct)
	if who != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.sessions[who]})
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// fileParts is a complete upload of a file for control c.
func fileParts(c *domain.Control, title, start, end, fileName, content string) []part {
	return []part{
		{name: "control_id", value: id(c.ID)}, {name: "kind", value: "file"}, {name: "title", value: title},
		{name: "description", value: "Exported from the identity provider."},
		{name: "period_start", value: start}, {name: "period_end", value: end},
		{name: "file", value: content, fileName: fileName},
	}
}

// addItem adds an item through the evidence service, as who.
func (f *evidenceUIFixture) addItem(tb testing.TB, org *domain.Organization, who string, in evidence.Input) *domain.Evidence {
	tb.Helper()
	u := f.users[who]
	e, err := f.srv.cfg.Evidence.Add(f.ctx, domain.Actor{UserID: u.ID, Email: u.Email}, org.ID, in)
	if err != nil {
		tb.Fatalf("Add(%q): %v", in.Title, err)
	}
	return e
}

// note is the input of a note for control c over the given period.
func note(c *domain.Control, title, start, end string) evidence.Input {
	return evidence.Input{
		Kind: domain.EvidenceNote, Title: title, ControlIDs: []int64{c.ID},
		PeriodStart: day(start), PeriodEnd: day(end), Note: "Reviewed by " + title,
	}
}

// evidenceCount counts an organization's items, superseded and retracted included.
func evidenceCount(tb testing.TB, st domain.Store, orgID int64) int {
	tb.Helper()
	items, err := st.EvidenceList(context.Background(), orgID, domain.EvidenceFilter{IncludeSuperseded: true, IncludeRetracted: true, Limit: 1000})
	if err != nil {
		tb.Fatalf("EvidenceList: %v", err)
	}
	return len(items)
}

// quarterly returns a Northwind control made quarterly and owned by who.
func (f *evidenceUIFixture) quarterly(tb testing.TB, ref, title, who string) *domain.Control {
	tb.Helper()
	c := f.newControl(tb, ref, title)
	freq, owner, st := domain.FrequencyQuarterly, &f.users[who].ID, domain.StatusImplemented
	c, err := f.st.UpdateControl(f.ctx, domain.SystemActor, f.north.ID, c.ID, domain.ControlChange{Frequency: &freq, OwnerID: &owner, Status: &st})
	if err != nil {
		tb.Fatalf("UpdateControl(%s): %v", ref, err)
	}
	return c
}

func TestEvidencePages(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-1", "Quarterly access review", "member")
	item := f.addItem(t, f.north, "member", note(c, "Q1 access review", "2026-01-01", "2026-03-31"))
	eid := id(item.ID)
	cid := id(c.ID)
	if _, err := f.srv.cfg.Publisher.Checkpoint(f.ctx, f.north.ID); err != nil {
		t.Fatal(err)
	}

	f.run(t, []uiCase{
		// The list.
		{name: "list", method: "GET", path: "/evidence", who: "viewer", status: 200, want: []string{`id="evidence-table"`, "Q1 access review", "EV-1", "/ledger?index=" + fmt.Sprint(item.LedgerIndex), "/evidence.csv", `id="export-form"`}, notWant: []string{"Add evidence"}},
		{name: "list as member offers upload", method: "GET", path: "/evidence", who: "member", status: 200, want: []string{`href="/evidence/new"`}},
		{name: "list by control", method: "GET", path: "/evidence?control=" + cid + "&kind=note&from=2026-03-01&to=2026-03-31", who: "viewer", status: 200, want: []string{"Q1 access review", `<span id="evidence-count">1</span>`, `<option value="EV-1" selected>`}},
		{name: "list outside the period", method: "GET", path: "/evidence?from=2026-04-01", who: "viewer", status: 200, want: []string{`<span id="evidence-count">0</span>`}},
		{name: "list bad kind", method: "GET", path: "/evidence?kind=video", who: "viewer", status: 400, want: []string{"Kind must be one of"}},
		{name: "list bad date", method: "GET", path: "/evidence?from=last+spring", who: "viewer", status: 400, want: []string{"From must be a date"}},
		{name: "list dates reversed", method: "GET", path: "/evidence?from=2026-03-01&to=2026-01-01", who: "viewer", status: 400, want: []string{"To must not be before from"}},
		{name: "list bad control", method: "GET", path: "/evidence?control=abc", who: "viewer", status: 400, want: []string{"Control must be chosen"}},

		// An item's page.
		{name: "item as viewer", method: "GET", path: "/evidence/" + eid, who: "viewer", status: 200, want: []string{"Q1 access review", item.SHA256, `href="/ledger?index=` + fmt.Sprint(item.LedgerIndex), "/evidence/" + eid + "/download", "/evidence/" + eid + "/proof.json", "Reviewed by Q1 access review", "1 Jan 2026 – 31 Mar 2026", "Member Person", "added evidence", `id="evidence-entries"`}, notWant: []string{`id="supersede-form"`, `id="retract-form"`}},
		{name: "item as member", method: "GET", path: "/evidence/" + eid, who: "member", status: 200, want: []string{`id="supersede-form"`, `id="retract-form"`, `enctype="multipart/form-data"`}},
		{name: "unknown item", method: "GET", path: "/evidence/999999", who: "viewer", status: 404},
		{name: "malformed item", method: "GET", path: "/evidence/abc", who: "viewer", status: 404},
		{name: "item needs sign-in", method: "GET", path: "/evidence/" + eid, status: 303},

		// Upload page.
		{name: "upload page", method: "GET", path: "/evidence/new?control=" + cid, who: "member", status: 200, want: []string{`<option value="` + cid + `" selected>`, `value="2026-01-01"`, `value="2026-03-31"`, `name="file"`}},
		{name: "upload page unknown control", method: "GET", path: "/evidence/new?control=999999", who: "member", status: 404},
		{name: "upload page refused to viewer", method: "GET", path: "/evidence/new", who: "viewer", status: 403},

		// The control's card, the dashboard, tasks.
		{name: "control card", method: "GET", path: "/controls/" + cid, who: "viewer", status: 200, want: []string{`id="evidence"`, "Q1 access review", `class="badge fresh-current"`, "Current", "Q1 2026", "30 Apr 2026"}, notWant: []string{`id="upload-form"`}},
		{name: "control card as member", method: "GET", path: "/controls/" + cid, who: "member", status: 200, want: []string{`id="upload-form"`, `name="return" value="control"`}},
		{name: "dashboard", method: "GET", path: "/", who: "viewer", status: 200, want: []string{`id="evidence-due"`, "Evidence due and overdue"}},
		{name: "tasks", method: "GET", path: "/tasks", who: "member", status: 200, want: []string{"My tasks", `id="implement-count"`}},

		// The ledger.
		{name: "ledger", method: "GET", path: "/ledger", who: "viewer", status: 200, want: []string{htmlText(f.keys.public), `id="checkpoint-note"`, "evident/northwind", `id="consistency-form"`, `id="checkpoints-table"`}, notWant: []string{`id="publish-checkpoint"`, htmlText(f.keys.secret)}},
		{name: "ledger as admin", method: "GET", path: "/ledger", who: "admin", status: 200, want: []string{`id="publish-checkpoint"`}},
		{name: "ledger entry", method: "GET", path: "/ledger?index=" + fmt.Sprint(item.LedgerIndex), who: "viewer", status: 200, want: []string{`id="ledger-entry"`, "Entry #" + fmt.Sprint(item.LedgerIndex), `&#34;type&#34;:&#34;evidence.added&#34;`, "In the latest checkpoint"}},
		{name: "ledger entry missing", method: "GET", path: "/ledger?index=999999", who: "viewer", status: 404},
		{name: "ledger entry malformed", method: "GET", path: "/ledger?index=-1", who: "viewer", status: 400, want: []string{"Index must be a ledger index"}},
		{name: "checkpoint.txt", method: "GET", path: "/ledger/checkpoint.txt", who: "viewer", status: 200, want: []string{"evident/northwind"}},
		{name: "publish", method: "POST", path: "/ledger/checkpoints", who: "admin", status: 303, location: "/ledger"},
		{name: "publish refused to member", method: "POST", path: "/ledger/checkpoints", who: "member", status: 403},
		{name: "consistency", method: "GET", path: "/ledger/consistency.json?from=1", who: "viewer", status: 200, want: []string{`"old_size": 1`, `"new_root_hash"`}},
		{name: "consistency without from", method: "GET", path: "/ledger/consistency.json?from=", who: "viewer", status: 400, want: []string{`id="from-error"`, "From is required"}},
		{name: "consistency reversed", method: "GET", path: "/ledger/consistency.json?from=5&to=2", who: "viewer", status: 400, want: []string{`id="from-error"`}},
		{name: "consistency too large", method: "GET", path: "/ledger/consistency.json?from=1&to=999999", who: "viewer", status: 400, want: []string{`id="to-error"`, "at most the ledger"}},
		{name: "entry proof", method: "GET", path: "/ledger/entries/0/proof.json", who: "viewer", status: 200, want: []string{`"index": 0`, `"entry_canonical"`, f.keys.public}},
		{name: "entry proof missing", method: "GET", path: "/ledger/entries/999999/proof.json", who: "viewer", status: 404},
		{name: "activity links the ledger", method: "GET", path: "/activity?type=evidence.", who: "viewer", status: 200, want: []string{"Added evidence", `href="/ledger?index=` + fmt.Sprint(item.LedgerIndex) + `"`, `href="/evidence/` + eid + `"`}},

		// Viewers change nothing.
		{name: "upload refused to viewer", method: "POST", path: "/evidence", who: "viewer", form: vals("title", "x"), status: 403},
		{name: "supersede refused to viewer", method: "POST", path: "/evidence/" + eid + "/supersede", who: "viewer", form: vals("title", "x"), status: 403},
		{name: "retract refused to viewer", method: "POST", path: "/evidence/" + eid + "/retract", who: "viewer", form: vals("reason", "x"), status: 403},
		{name: "upload needs sign-in", method: "POST", path: "/evidence", form: vals("title", "x"), status: 303, location: "/signin"},
	})
	if got := evidenceCount(t, f.st, f.north.ID); got != 1 {
		t.Errorf("Northwind has %d items after the viewer's attempts; want 1", got)
	}
}

func TestEvidencePagesHaveLandmarksAndLabels(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-L", "Labelled control", "owner")
	item := f.addItem(t, f.north, "owner", note(c, "Labelled note", "2026-01-01", "2026-03-31"))
	labelled := regexp.MustCompile(`<label[^>]*for="([^"]+)"`)
	control := regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idAttr := regexp.MustCompile(`\bid="([^"]+)"`)
	for _, path := range []string{"/evidence", "/evidence/new", "/evidence/" + id(item.ID), "/controls/" + id(c.ID), "/tasks", "/ledger", "/ledger?index=0", "/"} {
		t.Run(path, func(t *testing.T) {
			rec := f.do(t, "GET", path, "owner", nil)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, rec.Code)
			}
			for _, want := range []string{`<main id="main"`, `<nav class="nav" aria-label="Main">`, "<h1"} {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s has no %s", path, want)
				}
			}
			seen := map[string]bool{}
			for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(body, -1) {
				if seen[m[1]] {
					t.Errorf("GET %s: id %q appears twice", path, m[1])
				}
				seen[m[1]] = true
			}
			labels := map[string]bool{}
			for _, m := range labelled.FindAllStringSubmatch(body, -1) {
				labels[m[1]] = true
			}
			for _, tag := range control.FindAllString(body, -1) {
				if strings.Contains(tag, `type="hidden"`) || strings.Contains(tag, " hidden") {
					continue
				}
				if m := idAttr.FindStringSubmatch(tag); m == nil || !labels[m[1]] {
					t.Errorf("GET %s: %s has no label", path, tag)
				}
			}
		})
	}
}

// TestEvidenceUploadRoundTrip uploads a file from a control's page and downloads it again.
func TestEvidenceUploadRoundTrip(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-2", "Quarterly access review", "member")
	path := "/controls/" + id(c.ID)
	if body := f.do(t, "GET", path, "member", nil).Body.String(); !strings.Contains(body, `class="badge fresh-none"`) || !strings.Contains(body, "No evidence") {
		t.Fatalf("GET %s before any upload shows no \"No evidence\" badge\n%s", path, excerpt(body))
	}

	content := "user,last_review\nada@northwind.example,2026-03-28\n"
	parts := append([]part{{name: "return", value: "control"}}, fileParts(c, "Q1 access review export", "2026-01-01", "2026-03-31", `..\reports\q1 "review".csv`, content)...)
	rec := f.upload(t, "/evidence", "member", parts)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != path+"#evidence" {
		t.Fatalf("POST /evidence = %d, Location %q; want 303 to %s#evidence\n%s", rec.Code, rec.Header().Get("Location"), path, excerpt(rec.Body.String()))
	}
	items, err := f.st.EvidenceList(f.ctx, f.north.ID, domain.EvidenceFilter{ControlID: c.ID})
	if err != nil || len(items) != 1 {
		t.Fatalf("EvidenceList(control) = %d items, %v; want 1", len(items), err)
	}
	e := items[0]
	want := domain.Evidence{Kind: domain.EvidenceFile, Title: "Q1 access review export", Description: "Exported from the identity provider.",
		ControlIDs: []int64{c.ID}, PeriodStart: day("2026-01-01"), PeriodEnd: day("2026-03-31"), Size: int64(len(content)), FileName: `q1 review.csv`, AddedBy: f.users["member"].ID}
	got := domain.Evidence{Kind: e.Kind, Title: e.Title, Description: e.Description, ControlIDs: e.ControlIDs,
		PeriodStart: e.PeriodStart, PeriodEnd: e.PeriodEnd, Size: e.Size, FileName: e.FileName, AddedBy: e.AddedBy}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("uploaded item differs (-want +got):\n%s", diff)
	}

	body := f.do(t, "GET", path, "viewer", nil).Body.String()
	for _, w := range []string{"Q1 access review export", `class="badge fresh-current"`, "Current", "Q1 2026", "Member Person"} {
		if !strings.Contains(body, w) {
			t.Errorf("GET %s after the upload does not show %q", path, w)
		}
	}

	dl := f.do(t, "GET", "/evidence/"+id(e.ID)+"/download", "viewer", nil)
	if dl.Code != http.StatusOK || dl.Body.String() != content {
		t.Fatalf("download = %d %q; want 200 and the uploaded bytes", dl.Code, dl.Body.String())
	}
	h := dl.Header()
	for name, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         fmt.Sprint(len(content)),
		"ETag":                   `"` + e.SHA256 + `"`,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("download %s = %q; want %q", name, got, want)
		}
	}
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "q1 review.csv") {
		t.Errorf("download Content-Disposition = %q; want an attachment named q1 review.csv", cd)
	}

	// An HTML file is stored as uploaded and only ever offered as a download.
	page := "<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
	rec = f.upload(t, "/evidence", "member", fileParts(c, "Settings page", "2026-01-01", "2026-03-31", "settings.html", page))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /evidence with an HTML file = %d; want 303\n%s", rec.Code, excerpt(rec.Body.String()))
	}
	htmlID := strings.TrimPrefix(rec.Header().Get("Location"), "/evidence/")
	dl = f.do(t, "GET", "/evidence/"+htmlID+"/download", "viewer", nil)
	h = dl.Header()
	if dl.Code != http.StatusOK || dl.Body.String() != page {
		t.Fatalf("HTML download = %d; want 200 and the bytes", dl.Code)
	}
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("HTML download Content-Disposition = %q; want attachment", cd)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("HTML download headers = %v; want nosniff and a sandboxing policy", h)
	}
}

// TestEvidenceUploadErrors sends bad uploads: each shows the form again with the message
// beside the field at fault, keeps what was typed, and adds nothing.
func TestEvidenceUploadErrors(t *testing.T) {
	f := newEvidenceUIFixture(t)
	f.srv.cfg.MaxUpload = 1 << 10
	c := f.quarterly(t, "EV-3", "Quarterly review", "member")
	good := func(edit func([]part) []part) []part {
		return edit(fileParts(c, "Kept title", "2026-01-01", "2026-03-31", "review.txt", "reviewed"))
	}
	set := func(name, value string) func([]part) []part {
		return func(ps []part) []part {
			out := make([]part, 0, len(ps))
			for _, p := range ps {
				if p.name == name {
					if value == "\x00drop" {
						continue
					}
					p.value = value
				}
				out = append(out, p)
			}
			return out
		}
	}
	tests := []struct {
		name   string
		parts  []part
		status int
		want   []string
	}{
		{"no period start", good(set("period_start", "")), 400, []string{`id="period_start-error"`, "Period start is required", `value="Kept title"`}},
		{"no period end", good(set("period_end", "\x00drop")), 400, []string{`id="period_end-error"`, "Period end is required"}},
		{"bad period date", good(set("period_start", "Q1")), 400, []string{`id="period_start-error"`, "must be a date"}},
		{"period reversed", good(set("period_end", "2025-12-31")), 400, []string{`id="period_end-error"`, "must not be before the period start"}},
		{"no file", good(set("file", "\x00drop")), 400, []string{`id="file-error"`, "File is required"}},
		{"file too large", good(set("file", strings.Repeat("x", 1025))), 400, []string{`id="file-error"`, "larger than the upload limit of 1 KiB"}},
		{"field after the file", append(good(set("title", "Kept title")), part{name: "note", value: "late"}), 400, []string{`id="file-error"`, "must be the last field"}},
		{"no title", good(set("title", " ")), 400, []string{`id="title-error"`, "Title is required"}},
		{"bad kind", good(set("kind", "video")), 400, []string{`id="kind-error"`}},
		{"link without address", []part{{name: "kind", value: "link"}, {name: "title", value: "Wiki"}, {name: "period_start", value: "2026-01-01"}, {name: "period_end", value: "2026-03-31"}}, 400, []string{`id="url-error"`, "Url is required"}},
		{"link to a file path", []part{{name: "kind", value: "link"}, {name: "title", value: "Wiki"}, {name: "url", value: "file:///etc/passwd"}, {name: "period_start", value: "2026-01-01"}, {name: "period_end", value: "2026-03-31"}}, 400, []string{`id="url-error"`, "http or https"}},
		{"note without text", []part{{name: "kind", value: "note"}, {name: "title", value: "Minutes"}, {name: "period_start", value: "2026-01-01"}, {name: "period_end", value: "2026-03-31"}}, 400, []string{`id="note-error"`}},
		{"file with a link", good(set("kind", "link")), 400, []string{`id="file-error"`, "only for evidence of kind file"}},
		{"control of nobody", good(set("control_id", "999999")), 400, []string{`id="control_id-error"`}},
		{"another organization's control", good(set("control_id", id(f.bravoControl.ID))), 400, []string{`id="control_id-error"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.upload(t, "/evidence", "member", tt.parts)
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("POST /evidence = %d; want %d\n%s", rec.Code, tt.status, excerpt(body))
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("POST /evidence body does not contain %q\n%s", w, excerpt(body))
				}
			}
			if strings.Contains(body, bravoSecret) {
				t.Errorf("POST /evidence body names Bravo's control")
			}
		})
	}
	if n := evidenceCount(t, f.st, f.north.ID); n != 0 {
		t.Errorf("Northwind has %d items after the bad uploads; want 0", n)
	}
	if n := evidenceCount(t, f.st, f.bravo.ID); n != 0 {
		t.Errorf("Bravo has %d items after the bad uploads; want 0", n)
	}
}

// TestSupersedeAndRetract corrects an item, withdraws the correction, and checks the chain
// both ways and the ledger entries.
func TestSupersedeAndRetract(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-4", "Quarterly review", "member")
	first := f.addItem(t, f.north, "member", note(c, "Review, first draft", "2026-01-01", "2026-03-31"))
	firstPath := "/evidence/" + id(first.ID)

	rec := f.upload(t, firstPath+"/supersede", "member", []part{
		{name: "kind", value: "file"}, {name: "title", value: "Review, signed"},
		{name: "period_start", value: "2026-01-01"}, {name: "period_end", value: "2026-03-31"},
		{name: "file", value: "signed review", fileName: "signed.txt"},
	})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST %s/supersede = %d; want 303\n%s", firstPath, rec.Code, excerpt(rec.Body.String()))
	}
	secondPath := rec.Header().Get("Location")

	f.run(t, []uiCase{
		{name: "superseded item", method: "GET", path: firstPath, who: "viewer", status: 200, want: []string{`id="evidence-state"`, "Superseded", `id="supersession-chain"`, "Review, signed", "(this item)"}},
		{name: "correction", method: "GET", path: secondPath, who: "viewer", status: 200, want: []string{"Current", "Review, first draft", `href="` + firstPath + `"`, "EV-4"}},
		{name: "superseded item cannot be retracted", method: "POST", path: firstPath + "/retract", who: "member", form: vals("reason", "again"), status: 409, want: []string{`id="retract-error"`, "was superseded by evidence"}},
		{name: "superseded item cannot be corrected again", method: "POST", path: firstPath + "/supersede", who: "member", form: vals("title", "again"), status: 409, want: []string{`id="supersede-error"`, "cannot be superseded"}},
		{name: "retract needs a reason", method: "POST", path: secondPath + "/retract", who: "member", form: vals("reason", "  "), status: 400, want: []string{`id="reason-error"`, "Reason is required"}},
		{name: "retract", method: "POST", path: secondPath + "/retract", who: "member", form: vals("reason", "Signed by the wrong manager"), status: 303, location: secondPath},
		{name: "retracted item", method: "GET", path: secondPath, who: "viewer", status: 200, want: []string{`id="retraction"`, "Signed by the wrong manager", "retracted evidence"}},
		{name: "retracted twice", method: "POST", path: secondPath + "/retract", who: "member", form: vals("reason", "again"), status: 409, want: []string{`id="retract-error"`, "was retracted"}},
		{name: "control shows past items collapsed", method: "GET", path: "/controls/" + id(c.ID), who: "viewer", status: 200, want: []string{"2 superseded or retracted", "No current evidence", `class="badge fresh-none"`}},
		{name: "list hides them", method: "GET", path: "/evidence", who: "viewer", status: 200, want: []string{`<span id="evidence-count">0</span>`}},
		{name: "list with them", method: "GET", path: "/evidence?superseded=1&retracted=1", who: "viewer", status: 200, want: []string{`<span id="evidence-count">2</span>`, "Superseded", "Retracted"}},
		{name: "activity", method: "GET", path: "/activity?type=evidence.", who: "viewer", status: 200, want: []string{"Added evidence", "Superseded evidence", "Retracted evidence"}},
	})

	evs, err := f.st.Events(f.ctx, f.north.ID, domain.EventFilter{Type: "evidence."})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i := len(evs) - 1; i >= 0; i-- {
		types = append(types, evs[i].Type)
	}
	want := []string{domain.EventEvidenceAdded, domain.EventEvidenceSuperseded, domain.EventEvidenceRetracted}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("evidence ledger entries (-want +got):\n%s", diff)
	}
}

// TestSupersedeErrorsShowTheForm checks that a bad correction shows the item's page again
// with the message in the supersede form, and changes nothing.
func TestSupersedeErrorsShowTheForm(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-5", "Quarterly review", "member")
	item := f.addItem(t, f.north, "member", note(c, "Review", "2026-01-01", "2026-03-31"))
	rec := f.upload(t, "/evidence/"+id(item.ID)+"/supersede", "member", []part{
		{name: "kind", value: "note"}, {name: "title", value: "Corrected"}, {name: "period_start", value: "2026-01-01"}, {name: "note", value: "text"},
	})
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, `id="sup-period_end-error"`) || !strings.Contains(body, `value="Corrected"`) {
		t.Fatalf("POST supersede without period end = %d; want 400 naming period_end in the supersede form\n%s", rec.Code, excerpt(body))
	}
	got, err := f.st.Evidence(f.ctx, f.north.ID, item.ID)
	if err != nil || !got.Current() || evidenceCount(t, f.st, f.north.ID) != 1 {
		t.Errorf("after the failed correction: item %+v, %v, %d items; want it current and alone", got, err, evidenceCount(t, f.st, f.north.ID))
	}
}

// TestEvidenceProofVerifies downloads an item's inclusion proof and checks it offline with
// package ledger against the checkpoint and key it carries.
func TestEvidenceProofVerifies(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-6", "Quarterly review", "member")
	item := f.addItem(t, f.north, "member", note(c, "Review", "2026-01-01", "2026-03-31"))
	// The latest checkpoint predates the item: the proof must publish a newer one.
	rec := f.do(t, "GET", "/evidence/"+id(item.ID)+"/proof.json", "viewer", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET proof = %d\n%s", rec.Code, excerpt(rec.Body.String()))
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("proof Content-Disposition = %q; want attachment", cd)
	}
	doc := verifyProof(t, rec.Body.Bytes(), f.keys.public)
	if doc.EvidenceID != item.ID || doc.Index != item.LedgerIndex || doc.Entry.Type != domain.EventEvidenceAdded {
		t.Errorf("proof is of evidence %d, entry %d (%s); want evidence %d, entry %d (evidence.added)", doc.EvidenceID, doc.Index, doc.Entry.Type, item.ID, item.LedgerIndex)
	}
	var data struct {
		EvidenceID int64  `json:"evidence_id"`
		SHA256     string `json:"sha256"`
	}
	if err := json.Unmarshal(doc.Entry.Data, &data); err != nil || data.EvidenceID != item.ID || data.SHA256 != item.SHA256 {
		t.Errorf("proof entry data = %s; want evidence %d with hash %s", doc.Entry.Data, item.ID, item.SHA256)
	}

	// A changed entry no longer verifies: the proof proves something.
	tampered := strings.Replace(doc.EntryCanonical, `"title":"Review"`, `"title":"Reviews"`, 1)
	if tampered == doc.EntryCanonical {
		t.Fatalf("entry %s has no title to change", doc.EntryCanonical)
	}
	e, err := ledger.ParseEntry([]byte(tampered))
	if err != nil {
		t.Fatalf("ParseEntry(tampered): %v", err)
	}
	cp, err := ledger.ParseCheckpoint([]byte(doc.Checkpoint), f.keys.public)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyEntry(e, doc.Hashes, cp); err == nil {
		t.Errorf("VerifyEntry(tampered entry) = nil; want an error")
	}

	// A consistency proof from that checkpoint to a later one verifies too.
	older := cp
	f.addItem(t, f.north, "member", note(c, "Another review", "2026-01-01", "2026-03-31"))
	if rec := f.do(t, "POST", "/ledger/checkpoints", "admin", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /ledger/checkpoints = %d", rec.Code)
	}
	rec = f.do(t, "GET", fmt.Sprintf("/ledger/consistency.json?from=%d", older.Size), "viewer", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET consistency = %d\n%s", rec.Code, excerpt(rec.Body.String()))
	}
	var cons consistencyDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &cons); err != nil {
		t.Fatal(err)
	}
	newer, err := ledger.ParseCheckpoint([]byte(cons.NewCheckpoint), f.keys.public)
	if err != nil {
		t.Fatalf("ParseCheckpoint(new_checkpoint): %v", err)
	}
	if err := ledger.VerifyConsistency(older, newer, cons.Hashes); err != nil || newer.Size <= older.Size {
		t.Errorf("VerifyConsistency(%d → %d) = %v; want nil", older.Size, newer.Size, err)
	}
}

// verifyProof checks an inclusion proof document with package ledger alone and returns it.
func verifyProof(tb testing.TB, body []byte, key string) inclusionDoc {
	tb.Helper()
	var doc inclusionDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		tb.Fatalf("proof is not JSON: %v\n%s", err, body)
	}
	if doc.PublicKey != key {
		tb.Errorf("proof public key = %q; want %q", doc.PublicKey, key)
	}
	cp, err := ledger.ParseCheckpoint([]byte(doc.Checkpoint), key)
	if err != nil {
		tb.Fatalf("ParseCheckpoint: %v", err)
	}
	e, err := ledger.ParseEntry([]byte(doc.EntryCanonical))
	if err != nil {
		tb.Fatalf("ParseEntry: %v", err)
	}
	if diff := cmp.Diff(doc.Entry, e); diff != "" {
		tb.Errorf("entry and entry_canonical differ:\n%s", diff)
	}
	if cp.Size != doc.TreeSize || cp.Root != doc.RootHash {
		tb.Errorf("proof is for size %d root %s; its checkpoint is size %d root %s", doc.TreeSize, doc.RootHash, cp.Size, cp.Root)
	}
	if err := ledger.VerifyEntry(e, doc.Hashes, cp); err != nil {
		tb.Errorf("VerifyEntry: %v", err)
	}
	return doc
}

// TestEvidenceTenancy has Northwind's owner reach for Bravo's evidence: every answer is
// 404, names nothing of Bravo, and nothing changes.
func TestEvidenceTenancy(t *testing.T) {
	f := newEvidenceUIFixture(t)
	// Bravo's ledger is made the longer one, so that its last index does not exist in
	// Northwind's.
	var bravoItem *domain.Evidence
	for i := 0; i < 20; i++ {
		bravoItem = f.addItem(t, f.bravo, "bravo", note(f.bravoControl, fmt.Sprintf("%s vault review %d", bravoSecret, i), "2026-01-01", "2026-03-31"))
	}
	bid := id(bravoItem.ID)
	bravoSize, err := f.st.LedgerSize(f.ctx, f.bravo.ID)
	if err != nil {
		t.Fatal(err)
	}
	northSize, err := f.st.LedgerSize(f.ctx, f.north.ID)
	if err != nil || northSize >= bravoSize {
		t.Fatalf("ledger sizes: Northwind %d, Bravo %d, %v; want Bravo's larger", northSize, bravoSize, err)
	}
	routes := []struct {
		method, path string
		parts        []part
	}{
		{"GET", "/evidence/" + bid, nil},
		{"GET", "/evidence/" + bid + "/download", nil},
		{"GET", "/evidence/" + bid + "/proof.json", nil},
		{"POST", "/evidence/" + bid + "/supersede", []part{{name: "kind", value: "note"}, {name: "title", value: "Taken over"}, {name: "period_start", value: "2026-01-01"}, {name: "period_end", value: "2026-03-31"}, {name: "note", value: "mine"}}},
		{"POST", "/evidence/" + bid + "/retract", []part{{name: "reason", value: "not yours"}}},
		{"GET", "/ledger?index=" + fmt.Sprint(bravoSize-1), nil},
		{"GET", fmt.Sprintf("/ledger/entries/%d/proof.json", bravoSize-1), nil},
		{"GET", "/evidence/new?control=" + id(f.bravoControl.ID), nil},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			if rt.method == "POST" {
				rec = f.upload(t, rt.path, "owner", rt.parts)
			} else {
				rec = f.do(t, rt.method, rt.path, "owner", nil)
			}
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s %s as Northwind's owner = %d; want 404\n%s", rt.method, rt.path, rec.Code, excerpt(rec.Body.String()))
			}
			if strings.Contains(rec.Body.String(), bravoSecret) {
				t.Errorf("%s %s names Bravo", rt.method, rt.path)
			}
		})
	}
	got, err := f.st.Evidence(f.ctx, f.bravo.ID, bravoItem.ID)
	if err != nil || !got.Current() || evidenceCount(t, f.st, f.bravo.ID) != 20 || evidenceCount(t, f.st, f.north.ID) != 0 {
		t.Errorf("Bravo's evidence after the attempts = %+v, %v; want it current and alone", got, err)
	}
	if n, _ := f.st.LedgerSize(f.ctx, f.bravo.ID); n != bravoSize {
		t.Errorf("Bravo's ledger grew from %d to %d", bravoSize, n)
	}
	// Lists and pages of Northwind show nothing of Bravo.
	for _, path := range []string{"/evidence?superseded=1&retracted=1", "/evidence.csv?superseded=1&retracted=1", "/tasks", "/ledger", "/", "/activity"} {
		rec := f.do(t, "GET", path, "owner", nil)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), bravoSecret) {
			t.Errorf("GET %s = %d, shows Bravo: %v", path, rec.Code, strings.Contains(rec.Body.String(), bravoSecret))
		}
	}
}

// TestTasksAndFreshness checks the states a control's evidence can be in, on "My tasks",
// the dashboard and the control's page.
func TestTasksAndFreshness(t *testing.T) {
	f := newEvidenceUIFixture(t)
	current := f.quarterly(t, "FR-CUR", "Covered quarterly", "member")
	overdue := f.quarterly(t, "FR-OVR", "Stale quarterly", "member")
	missing := f.quarterly(t, "FR-NONE", "Quarterly without evidence", "member")
	others := f.quarterly(t, "FR-OTH", "Somebody else's quarterly", "admin")
	notStarted := f.newControl(t, "FR-NS", "Not started yet")
	me := &f.users["member"].ID
	if _, err := f.st.UpdateControl(f.ctx, domain.SystemActor, f.north.ID, notStarted.ID, domain.ControlChange{OwnerID: &me}); err != nil {
		t.Fatal(err)
	}
	f.addItem(t, f.north, "member", note(current, "Q1 review", "2026-01-01", "2026-03-31"))
	f.addItem(t, f.north, "member", note(overdue, "Q3 review", "2025-07-01", "2025-09-30"))
	f.addItem(t, f.north, "admin", note(others, "Old review", "2025-07-01", "2025-09-30"))

	rec := f.do(t, "GET", "/tasks", "member", nil)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /tasks = %d", rec.Code)
	}
	table := body[strings.Index(body, `id="evidence-tasks"`):strings.Index(body, `id="implement-title"`)]
	order := regexp.MustCompile(`>(FR-[A-Z]+)</a>`).FindAllStringSubmatch(table, -1)
	var refs []string
	for _, m := range order {
		refs = append(refs, m[1])
	}
	// Overdue first, then missing, each by due date: the annual FR-NS was due on 2 March.
	if diff := cmp.Diff([]string{"FR-OVR", "FR-NS", "FR-NONE"}, refs); diff != "" {
		t.Errorf("evidence tasks (-want +got):\n%s", diff)
	}
	for _, w := range []string{`class="badge fresh-overdue"`, "Overdue", `class="badge fresh-none"`, "Q1 2026", "30 Apr 2026", "30 Sep 2025", `href="/evidence/new?control=` + id(missing.ID) + `"`, "FR-NS", `<span class="count" id="implement-count">1</span>`} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /tasks does not show %q", w)
		}
	}
	if strings.Contains(body, "FR-CUR") || strings.Contains(body, "FR-OTH") {
		t.Errorf("GET /tasks lists a current control or somebody else's")
	}

	// On 15 April, Q1 is due but not overdue for a control whose evidence reaches Q4.
	f.srv.now = func() time.Time { return day("2026-04-15") }
	due := f.quarterly(t, "FR-DUE", "Quarterly in its grace", "member")
	f.addItem(t, f.north, "member", note(due, "Q4 review", "2025-10-01", "2025-12-31"))
	f.run(t, []uiCase{
		{name: "due control", method: "GET", path: "/controls/" + id(due.ID), who: "member", status: 200, want: []string{`class="badge fresh-due"`, "Due", "Q1 2026", "30 Apr 2026", "31 Dec 2025"}},
		{name: "dashboard lists due and overdue", method: "GET", path: "/", who: "viewer", status: 200, want: []string{"FR-DUE", "FR-OVR", "FR-OTH", `class="badge fresh-due"`, `class="badge fresh-overdue"`}, notWant: []string{"FR-NONE", "FR-CUR"}},
		{name: "tasks of somebody without controls", method: "GET", path: "/tasks", who: "viewer", status: 200, want: []string{"You own no controls"}},
	})
}

// TestEvidenceCSV exports the list and checks the cells.
func TestEvidenceCSV(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-7", "Quarterly review", "member")
	f.addItem(t, f.north, "member", note(c, "=HYPERLINK(\"http://x\")", "2026-01-01", "2026-03-31"))
	rec := f.do(t, "GET", "/evidence.csv?control="+id(c.ID), "viewer", nil)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("GET /evidence.csv = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("CSV = %d rows, %v; want a header and one row", len(rows), err)
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	want := map[string]string{"title": `'=HYPERLINK("http://x")`, "controls": "EV-7", "period_start": "2026-01-01", "period_end": "2026-03-31", "state": "current", "kind": "note"}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("CSV %s = %q; want %q", k, row[k], v)
		}
	}
	if rec := f.do(t, "GET", "/evidence.csv?kind=bogus", "viewer", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("GET /evidence.csv?kind=bogus = %d; want 400", rec.Code)
	}
}

// TestLedgerSecretsNeverShown reads every ledger page and proof: the public key is there,
// the signing key never.
func TestLedgerSecretsNeverShown(t *testing.T) {
	f := newEvidenceUIFixture(t)
	c := f.quarterly(t, "EV-8", "Quarterly review", "member")
	item := f.addItem(t, f.north, "member", note(c, "Review", "2026-01-01", "2026-03-31"))
	secretPart := signingKeyBytes(t, f.keys.secret)
	for _, path := range []string{"/evidence/" + id(item.ID) + "/proof.json", "/ledger", "/ledger?index=0", "/ledger/checkpoint.txt", "/evidence/" + id(item.ID), "/ledger/entries/0/proof.json", "/ledger/consistency.json?from=0"} {
		rec := f.do(t, "GET", path, "owner", nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", path, rec.Code)
		}
		if body := html.UnescapeString(rec.Body.String()); strings.Contains(body, secretPart) || strings.Contains(body, "PRIVATE+KEY") {
			t.Errorf("GET %s shows the signing key", path)
		}
		if strings.Contains(rec.Body.String(), f.sessions["owner"]) {
			t.Errorf("GET %s shows the session token", path)
		}
	}
}

// TestEvidenceUnconfigured checks that a server without the evidence service still shows
// evidence, and refuses uploads as an internal error that is logged, not described.
func TestEvidenceUnconfigured(t *testing.T) {
	f := newUIFixture(t)
	c := f.controlByRef(t, f.north, f.control.Ref)
	body, ct := multipartBody(t, fileParts(c, "x", "2026-01-01", "2026-03-31", "a.txt", "a"))
	req := httptest.NewRequest("POST", "/evidence", body)
	req.Header.Set("Content-Type", ct)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.sessions["member"]})
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "configured") {
		t.Errorf("POST /evidence without a service = %d; want 500 without details", rec.Code)
	}
	if !strings.Contains(f.logs.String(), "no evidence service configured") {
		t.Errorf("log = %q; want the cause logged", f.logs.String())
	}
	if rec := f.do(t, "GET", "/controls/"+id(c.ID), "viewer", nil); rec.Code != http.StatusOK {
		t.Errorf("GET control page without a service = %d; want 200", rec.Code)
	}
}

// signingKeyBytes returns the encoded private key of a signed-note secret key
// ("PRIVATE+KEY+<name>+<hash>+<key>"), whose base64 may itself hold "+".
func signingKeyBytes(tb testing.TB, skey string) string {
	tb.Helper()
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || len(parts[4]) < 40 {
		tb.Fatalf("secret key %q is not PRIVATE+KEY+<name>+<hash>+<key>", skey)
	}
	return parts[4]
}
