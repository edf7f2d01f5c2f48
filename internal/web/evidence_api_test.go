package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/ledger"
)

// evidenceAPIFixture is the API fixture with evidence switched on.
type evidenceAPIFixture struct {
	*apiFixture
	keys ledgerKeys
}

func newEvidenceAPIFixture(tb testing.TB) *evidenceAPIFixture {
	tb.Helper()
	f := newAPIFixture(tb)
	return &evidenceAPIFixture{apiFixture: f, keys: withEvidence(tb, f.srv, f.st)}
}

// add adds an item of Acme's through the evidence service, as its member.
func (f *evidenceAPIFixture) add(tb testing.TB, in evidence.Input) *domain.Evidence {
	tb.Helper()
	u := f.users["member"]
	e, err := f.srv.cfg.Evidence.Add(f.ctx, domain.Actor{UserID: u.ID, Email: u.Email}, f.acme.ID, in)
	if err != nil {
		tb.Fatalf("Add(%q): %v", in.Title, err)
	}
	return e
}

// send makes a request as the holder of who's API token, with the headers given.
func (f *evidenceAPIFixture) send(tb testing.TB, method, path, who string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[who])
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// uploadAPI posts a multipart body to path as who.
func (f *evidenceAPIFixture) uploadAPI(tb testing.TB, path, who string, parts []part) *httptest.ResponseRecorder {
	tb.Helper()
	body, ct := multipartBody(tb, parts)
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(body)
	return f.send(tb, "POST", path, who, buf.Bytes(), map[string]string{"Content-Type": ct})
}

// errorField reads the field an API error names.
func errorField(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	var e apiErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
		tb.Fatalf("error body = %s; want {\"error\":{…}}", rec.Body)
	}
	return e.Error.Field
}

func TestAPIEvidenceEndpoints(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	c := f.acmeControl
	item := f.add(t, note(c, "Acme access review", "2026-01-01", "2026-03-31"))
	retractMe := f.add(t, note(c, "Review to withdraw", "2026-01-01", "2026-03-31"))
	eid, cid := id(item.ID), id(c.ID)
	link := `{"kind":"link","title":"Runbook","control_ids":[` + cid + `],"period_start":"2026-04-01","period_end":"2026-04-30","url":"https://wiki.acme.example/runbook"}`

	f.run(t, []apiCase{
		{name: "list", method: "GET", path: "/api/v1/evidence", who: "viewer", status: 200, want: []string{`"title":"Acme access review"`, `"next_before":null`, `"state":"current"`, `"period_start":"2026-01-01"`}},
		{name: "list by control and period", method: "GET", path: "/api/v1/evidence?control=" + cid + "&kind=note&from=2026-03-31&to=2026-03-31&limit=1", who: "viewer", status: 200, want: []string{`"next_before":`}},
		{name: "list bad kind", method: "GET", path: "/api/v1/evidence?kind=video", who: "viewer", status: 400, field: "kind"},
		{name: "list bad from", method: "GET", path: "/api/v1/evidence?from=yesterday", who: "viewer", status: 400, field: "from"},
		{name: "list bad limit", method: "GET", path: "/api/v1/evidence?limit=5000", who: "viewer", status: 400, field: "limit"},
		{name: "list bad flag", method: "GET", path: "/api/v1/evidence?include_retracted=maybe", who: "viewer", status: 400, field: "include_retracted"},
		{name: "list needs auth", method: "GET", path: "/api/v1/evidence", status: 401},
		{name: "get", method: "GET", path: "/api/v1/evidence/" + eid, who: "viewer", status: 200, want: []string{`"id":` + eid, `"sha256":"` + item.SHA256 + `"`, fmt.Sprintf(`"ledger_index":%d`, item.LedgerIndex), `"control_ids":[` + cid + `]`}},
		{name: "get unknown", method: "GET", path: "/api/v1/evidence/999999", who: "viewer", status: 404},
		{name: "add link", method: "POST", path: "/api/v1/evidence", who: "member", body: link, status: 201, want: []string{`"kind":"link"`, `"url":"https://wiki.acme.example/runbook"`, `"added_by_name":"Member of Acme Corp"`}},
		{name: "add note", method: "POST", path: "/api/v1/evidence", who: "admin", body: `{"kind":"note","title":"Tabletop exercise","period_start":"2026-02-10","period_end":"2026-02-10","note":"All present."}`, status: 201, want: []string{`"kind":"note"`, `"control_ids":[]`}},
		{name: "add without period start", method: "POST", path: "/api/v1/evidence", who: "member", body: `{"kind":"note","title":"x","period_end":"2026-02-10","note":"x"}`, status: 400, field: "period_start"},
		{name: "add without period end", method: "POST", path: "/api/v1/evidence", who: "member", body: `{"kind":"note","title":"x","period_start":"2026-02-10","note":"x"}`, status: 400, field: "period_end"},
		{name: "add file as JSON", method: "POST", path: "/api/v1/evidence", who: "member", body: `{"kind":"file","title":"x","period_start":"2026-02-10","period_end":"2026-02-10"}`, status: 400, field: "file"},
		{name: "add link without URL", method: "POST", path: "/api/v1/evidence", who: "member", body: `{"kind":"link","title":"x","period_start":"2026-02-10","period_end":"2026-02-10"}`, status: 400, field: "url"},
		{name: "add unknown field", method: "POST", path: "/api/v1/evidence", who: "member", body: `{"kind":"note","sha256":"00"}`, status: 400, field: "sha256"},
		{name: "add to another organization's control", method: "POST", path: "/api/v1/evidence", who: "member", body: `{"kind":"note","title":"x","control_ids":[` + id(f.globexCtl.ID) + `],"period_start":"2026-02-10","period_end":"2026-02-10","note":"x"}`, status: 400, field: "controls"},
		{name: "add refused to viewer", method: "POST", path: "/api/v1/evidence", who: "viewer", body: link, status: 403},
		{name: "supersede refused to viewer", method: "POST", path: "/api/v1/evidence/" + eid + "/supersede", who: "viewer", body: link, status: 403},
		{name: "retract refused to viewer", method: "POST", path: "/api/v1/evidence/" + eid + "/retract", who: "viewer", body: `{"reason":"x"}`, status: 403},
		{name: "retract without reason", method: "POST", path: "/api/v1/evidence/" + id(retractMe.ID) + "/retract", who: "member", body: `{"reason":" "}`, status: 400, field: "reason"},
		{name: "retract", method: "POST", path: "/api/v1/evidence/" + id(retractMe.ID) + "/retract", who: "member", body: `{"reason":"Uploaded to the wrong control"}`, status: 200, want: []string{`"state":"retracted"`, `"retract_reason":"Uploaded to the wrong control"`}},
		{name: "retract twice", method: "POST", path: "/api/v1/evidence/" + id(retractMe.ID) + "/retract", who: "member", body: `{"reason":"again"}`, status: 409},
		{name: "supersede retracted", method: "POST", path: "/api/v1/evidence/" + id(retractMe.ID) + "/supersede", who: "member", body: link, status: 409},
		{name: "supersede", method: "POST", path: "/api/v1/evidence/" + eid + "/supersede", who: "member", body: `{"kind":"note","title":"Acme access review, signed","period_start":"2026-01-01","period_end":"2026-03-31","note":"Signed."}`, status: 201, want: []string{`"supersedes":` + eid, `"control_ids":[` + cid + `]`}},
		{name: "superseded shows", method: "GET", path: "/api/v1/evidence/" + eid, who: "viewer", status: 200, want: []string{`"state":"superseded"`, `"superseded_by":`}},
		{name: "evidence method not allowed", method: "DELETE", path: "/api/v1/evidence/" + eid, who: "owner", status: 405},

		{name: "ledger", method: "GET", path: "/api/v1/ledger", who: "viewer", status: 200, want: []string{`"public_key":"` + f.keys.public + `"`, `"latest_checkpoint":null`}},
		{name: "latest checkpoint before any", method: "GET", path: "/api/v1/ledger/checkpoints/latest", who: "viewer", status: 404},
		{name: "publish refused to member", method: "POST", path: "/api/v1/ledger/checkpoints", who: "member", status: 403},
		{name: "publish", method: "POST", path: "/api/v1/ledger/checkpoints", who: "admin", status: 200, want: []string{`"origin":"evident/acme`, `"root_hash":"`, `"note":"evident/acme`}},
		{name: "ledger after publishing", method: "GET", path: "/api/v1/ledger", who: "viewer", status: 200, want: []string{`"latest_checkpoint":{`}},
		{name: "entries", method: "GET", path: "/api/v1/ledger/entries?from=0&to=2", who: "viewer", status: 200, want: []string{`"from":0`, `"to":2`, `{"actor":"system","actor_id":0,"at":"`, `"index":1,`}},
		{name: "entries reversed", method: "GET", path: "/api/v1/ledger/entries?from=5&to=2", who: "viewer", status: 400, field: "to"},
		{name: "entries too many", method: "GET", path: "/api/v1/ledger/entries?from=0&to=5000", who: "viewer", status: 400, field: "to"},
		{name: "entries bad from", method: "GET", path: "/api/v1/ledger/entries?from=-1", who: "viewer", status: 400, field: "from"},
		{name: "entry proof", method: "GET", path: "/api/v1/ledger/entries/0/proof", who: "viewer", status: 200, want: []string{`"index":0`, `"entry_canonical":"{`, `"public_key":"` + f.keys.public + `"`}},
		{name: "entry proof at a size", method: "GET", path: "/api/v1/ledger/entries/0/proof?size=1", who: "viewer", status: 200, want: []string{`"tree_size":1`, `"hashes":[]`}},
		{name: "entry proof size too small", method: "GET", path: "/api/v1/ledger/entries/3/proof?size=3", who: "viewer", status: 400, field: "size"},
		{name: "entry proof unknown", method: "GET", path: "/api/v1/ledger/entries/999999/proof", who: "viewer", status: 404},
		{name: "entry proof malformed", method: "GET", path: "/api/v1/ledger/entries/x/proof", who: "viewer", status: 404},
		{name: "consistency", method: "GET", path: "/api/v1/ledger/consistency?from=1&to=3", who: "viewer", status: 200, want: []string{`"old_size":1`, `"new_size":3`, `"old_root_hash":"`}},
		{name: "consistency to latest", method: "GET", path: "/api/v1/ledger/consistency?from=2", who: "viewer", status: 200, want: []string{`"new_checkpoint":"evident/acme`}},
		{name: "consistency without from", method: "GET", path: "/api/v1/ledger/consistency", who: "viewer", status: 400, field: "from"},
		{name: "consistency beyond the ledger", method: "GET", path: "/api/v1/ledger/consistency?from=1&to=999999", who: "viewer", status: 400, field: "to"},
		{name: "export bad control", method: "GET", path: "/api/v1/export?control=NOPE-1", who: "viewer", status: 400, field: "control"},
		{name: "export bad date", method: "GET", path: "/api/v1/export?from=soon", who: "viewer", status: 400, field: "from"},
	})
}

// TestAPIEvidenceFileUpload sends a file as multipart/form-data, reads it back, and
// checks the limits on uploads.
func TestAPIEvidenceFileUpload(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	c := f.acmeControl
	content := "<html><body>Access review, Q1</body></html>"
	rec := f.uploadAPI(t, "/api/v1/evidence", "member", fileParts(c, "Access review page", "2026-01-01", "2026-03-31", "review.html", content))
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /api/v1/evidence (multipart) = %d %s; want 201", rec.Code, rec.Body)
	}
	var created apiEvidenceItem
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	if created.Kind != domain.EvidenceFile || created.FileName != "review.html" || created.Size != int64(len(content)) || rec.Header().Get("Location") != "/api/v1/evidence/"+id(created.ID) {
		t.Errorf("created = %+v, Location %q", created, rec.Header().Get("Location"))
	}

	dl := f.send(t, "GET", "/api/v1/evidence/"+id(created.ID)+"/content", "viewer", nil, nil)
	if dl.Code != http.StatusOK || dl.Body.String() != content {
		t.Fatalf("GET content = %d %q; want the uploaded bytes", dl.Code, dl.Body)
	}
	if h := dl.Header(); h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("GET content headers = %v; want an attachment with nosniff and a sandbox", h)
	}

	f.srv.cfg.MaxUpload = 16
	tests := []struct {
		name  string
		parts []part
		field string
	}{
		{"too large", fileParts(c, "Big", "2026-01-01", "2026-03-31", "big.bin", strings.Repeat("b", 17)), "file"},
		{"no period start", fileParts(c, "No start", "", "2026-03-31", "a.txt", "a"), "period_start"},
		{"no file", fileParts(c, "No file", "2026-01-01", "2026-03-31", "", "")[:6], "file"},
		{"field after the file", append(fileParts(c, "Late field", "2026-01-01", "2026-03-31", "a.txt", "a"), part{name: "note", value: "late"}), "file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.uploadAPI(t, "/api/v1/evidence", "member", tt.parts)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("POST = %d %s; want 400", rec.Code, rec.Body)
			}
			if got := errorField(t, rec); got != tt.field {
				t.Errorf("error field = %q; want %q (%s)", got, tt.field, rec.Body)
			}
		})
	}
	if n := evidenceCount(t, f.st, f.acme.ID); n != 1 {
		t.Errorf("Acme has %d items after the refused uploads; want 1", n)
	}
	if rec := f.send(t, "POST", "/api/v1/evidence", "member", []byte("title=x"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); rec.Code != http.StatusBadRequest || errorField(t, rec) != "body" {
		t.Errorf("POST urlencoded = %d %s; want 400 naming body", rec.Code, rec.Body)
	}
}

// TestAPIEvidenceProofVerifies checks an item's proof from the API with package ledger.
func TestAPIEvidenceProofVerifies(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	item := f.add(t, note(f.acmeControl, "Proved review", "2026-01-01", "2026-03-31"))
	rec := f.send(t, "GET", "/api/v1/evidence/"+id(item.ID)+"/proof", "viewer", nil, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET proof = %d %s", rec.Code, rec.Body)
	}
	doc := verifyProof(t, rec.Body.Bytes(), f.keys.public)
	if doc.EvidenceID != item.ID || doc.Index != item.LedgerIndex {
		t.Errorf("proof of evidence %d entry %d; want %d and %d", doc.EvidenceID, doc.Index, item.ID, item.LedgerIndex)
	}

	// The same entry proved at a size of the auditor's choosing checks out against the root
	// of that size.
	rec = f.send(t, "GET", fmt.Sprintf("/api/v1/ledger/entries/%d/proof?size=%d", item.LedgerIndex, item.LedgerIndex+1), "viewer", nil, nil)
	var at inclusionDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &at); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET proof at size = %d %s", rec.Code, rec.Body)
	}
	if err := ledger.CheckInclusion(at.Hashes, at.TreeSize, at.RootHash, at.LeafHash, at.Index); err != nil {
		t.Errorf("CheckInclusion at size %d: %v", at.TreeSize, err)
	}

	// Canonical entries from the API hash to the leaf hashes the proofs use.
	rec = f.send(t, "GET", fmt.Sprintf("/api/v1/ledger/entries?from=%d&to=%d", item.LedgerIndex, item.LedgerIndex+1), "viewer", nil, nil)
	var page struct {
		Entries []json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Entries) != 1 {
		t.Fatalf("GET entries = %s", rec.Body)
	}
	e, err := ledger.ParseEntry(page.Entries[0])
	if err != nil {
		t.Fatalf("ParseEntry(%s): %v; want the exact canonical form", page.Entries[0], err)
	}
	if h, err := e.Hash(); err != nil || h != doc.LeafHash {
		t.Errorf("entry hash = %v, %v; want %v", h, err, doc.LeafHash)
	}
}

// TestAPILatestCheckpointNegotiates serves the signed note as text unless JSON is preferred.
func TestAPILatestCheckpointNegotiates(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	cp, err := f.srv.cfg.Publisher.Checkpoint(f.ctx, f.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		accept   string
		wantJSON bool
	}{
		{"", false},
		{"*/*", false},
		{"text/plain", false},
		{"application/json", true},
		{"application/json, text/plain;q=0.5", true},
		{"text/plain, application/json;q=0.9", false},
		{"application/*", true},
		{"text/*;q=0.1, */*;q=0.5", true},
		{"application/json;q=0", false},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			rec := f.send(t, "GET", "/api/v1/ledger/checkpoints/latest", "viewer", nil, map[string]string{"Accept": tt.accept})
			if rec.Code != http.StatusOK {
				t.Fatalf("GET latest = %d", rec.Code)
			}
			ct := rec.Header().Get("Content-Type")
			if tt.wantJSON {
				var got apiCheckpoint
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || ct != "application/json" || got.Note != cp.Note || got.Size != cp.Size {
					t.Errorf("Accept %q: %s %s; want the checkpoint as JSON", tt.accept, ct, rec.Body)
				}
				return
			}
			if !strings.HasPrefix(ct, "text/plain") || rec.Body.String() != cp.Note {
				t.Errorf("Accept %q: %s %q; want the signed note as text", tt.accept, ct, rec.Body)
			}
			if _, err := ledger.ParseCheckpoint(rec.Body.Bytes(), f.keys.public); err != nil {
				t.Errorf("ParseCheckpoint(served note): %v", err)
			}
		})
	}
}

// TestAPILedgerNeverShowsSecrets reads the ledger routes: the signing key and the caller's
// token never appear.
func TestAPILedgerNeverShowsSecrets(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	item := f.add(t, note(f.acmeControl, "Review", "2026-01-01", "2026-03-31"))
	secretPart := signingKeyBytes(t, f.keys.secret)
	for _, path := range []string{"/api/v1/ledger", "/api/v1/evidence/" + id(item.ID) + "/proof", "/api/v1/ledger/entries", "/api/v1/ledger/entries/0/proof", "/api/v1/ledger/consistency?from=0", "/api/v1/ledger/checkpoints/latest", "/api/v1/evidence/999999"} {
		rec := f.send(t, "GET", path, "owner", nil, nil)
		body := rec.Body.String()
		if strings.Contains(body, secretPart) || strings.Contains(body, "PRIVATE+KEY") || strings.Contains(body, f.tokens["owner"]) {
			t.Errorf("GET %s shows a secret", path)
		}
	}
}

// TestExportBundle downloads bundles from the page and from the API and verifies them
// offline, with the key the ledger page shows.
func TestExportBundle(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	c := f.acmeControl
	other := f.control(t, f.acme, 1)
	f.add(t, note(c, "Q1 review", "2026-01-01", "2026-03-31"))
	f.add(t, note(c, "Q4 review", "2025-10-01", "2025-12-31"))
	f.add(t, note(other, "Other control's review", "2026-01-01", "2026-03-31"))
	rec := f.uploadAPI(t, "/api/v1/evidence", "member", fileParts(c, "Large export", "2026-01-01", "2026-03-31", "users.csv", strings.Repeat("user,role\n", 10000)))
	if rec.Code != http.StatusCreated {
		t.Fatalf("upload = %d %s", rec.Code, rec.Body)
	}

	tests := []struct {
		name, path string
		cookie     bool
		items      int64
	}{
		{"API, everything", "/api/v1/export", false, 4},
		{"API, one control", "/api/v1/export?control=" + url.QueryEscape(c.Ref), false, 3},
		{"API, one control and a period", "/api/v1/export?control=" + url.QueryEscape(c.Ref) + "&from=2026-01-01&to=2026-03-31", false, 2},
		{"page", "/evidence/export.zip?control=" + url.QueryEscape(other.Ref), true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.cookie {
				sess := f.session(t, "viewer")
				req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess})
			} else {
				req.Header.Set("Authorization", "Bearer "+f.tokens["viewer"])
			}
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tt.path, rec.Code, rec.Body)
			}
			h := rec.Header()
			if h.Get("Content-Type") != "application/zip" || !strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="evident-evidence-acme`) {
				t.Errorf("GET %s headers = %v; want a zip attachment", tt.path, h)
			}
			body := rec.Body.Bytes()
			rep, err := bundle.Verify(f.ctx, bytes.NewReader(body), int64(len(body)), bundle.VerifyOptions{Key: f.keys.public})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !rep.OK || rep.Items != tt.items {
				t.Errorf("Verify = %s, %d items, problems %v; want OK with %d items", rep.Summary, rep.Items, rep.Problems, tt.items)
			}
		})
	}
}

// session makes a browser session for one of the API fixture's users.
func (f *evidenceAPIFixture) session(tb testing.TB, who string) string {
	tb.Helper()
	uf := &uiFixture{ctx: f.ctx, st: f.st}
	return uf.newSession(tb, f.users[who].ID, f.acme.ID)
}

// TestExportWithoutSource checks that a server without a bundle source refuses exports
// with an internal error that is logged, before anything is sent.
func TestExportWithoutSource(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	f.srv.cfg.BundleSource = nil
	rec := f.send(t, "GET", "/api/v1/export", "viewer", nil, nil)
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Disposition") != "" {
		t.Errorf("GET /api/v1/export without a source = %d %v; want 500 and no download", rec.Code, rec.Header())
	}
	if !strings.Contains(f.logs.String(), "no bundle source configured") {
		t.Errorf("log = %q; want the cause", f.logs.String())
	}
}

// TestAPILedgerTenancy reaches for Globex's ledger through Acme's: entries beyond Acme's
// ledger do not exist, and every entry served is Acme's.
func TestAPILedgerTenancy(t *testing.T) {
	f := newEvidenceAPIFixture(t)
	g := f.users["globex"]
	for i := 0; i < 20; i++ {
		in := note(f.globexCtl, fmt.Sprintf("Globex vault audit %d", i), "2026-01-01", "2026-03-31")
		if _, err := f.srv.cfg.Evidence.Add(f.ctx, domain.Actor{UserID: g.ID, Email: g.Email}, f.globex.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	acmeSize, err := f.st.LedgerSize(f.ctx, f.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	globexSize, err := f.st.LedgerSize(f.ctx, f.globex.ID)
	if err != nil || globexSize <= acmeSize {
		t.Fatalf("ledger sizes: Acme %d, Globex %d, %v; want Globex's larger", acmeSize, globexSize, err)
	}
	tests := []struct {
		path   string
		status int
	}{
		{fmt.Sprintf("/api/v1/ledger/entries/%d/proof", globexSize-1), 404},
		{fmt.Sprintf("/api/v1/ledger/entries/0/proof?size=%d", globexSize), 400},
		{fmt.Sprintf("/api/v1/ledger/consistency?from=0&to=%d", globexSize), 400},
		{fmt.Sprintf("/api/v1/ledger/entries?from=0&to=%d", globexSize), 400},
		{"/api/v1/ledger/entries?from=0", 200},
		{"/api/v1/ledger", 200},
	}
	for _, tt := range tests {
		rec := f.send(t, "GET", tt.path, "owner", nil, nil)
		if rec.Code != tt.status {
			t.Errorf("GET %s = %d %s; want %d", tt.path, rec.Code, rec.Body, tt.status)
		}
		if strings.Contains(rec.Body.String(), "Globex") || strings.Contains(rec.Body.String(), "globex") {
			t.Errorf("GET %s names Globex: %s", tt.path, rec.Body)
		}
	}
	rec := f.send(t, "GET", "/api/v1/ledger/entries?from=0", "owner", nil, nil)
	var page struct {
		Entries []ledger.Entry `json:"entries"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || int64(len(page.Entries)) != acmeSize {
		t.Fatalf("GET entries = %d entries, %v; want Acme's %d", len(page.Entries), err, acmeSize)
	}
	for _, e := range page.Entries {
		if e.OrgID != f.acme.ID {
			t.Errorf("entry %d belongs to organization %d; want %d", e.Index, e.OrgID, f.acme.ID)
		}
	}
}
