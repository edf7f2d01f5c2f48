package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
)

// api sends a JSON request to the API as `who`, with their browser session.
func (f *alertsFixture) api(tb testing.TB, method, path, who, body string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.sessions[who]})
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// apiAlertCase is one row of the alerts API table.
type apiAlertCase struct {
	name, method, path, who, body string
	status                        int
	field                         string   // for 400: the field named
	want, notWant                 []string // substrings of the body
}

func (f *alertsFixture) apiRun(t *testing.T, cases []apiAlertCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.api(t, tc.method, tc.path, tc.who, tc.body)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Fatalf("%s %s as %q = %d %s; want %d", tc.method, tc.path, tc.who, rec.Code, body, tc.status)
			}
			if rec.Code >= 400 {
				var e apiErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
					t.Fatalf("error body = %s", body)
				}
				if e.Error.Field != tc.field {
					t.Errorf("error field = %q (%s); want %q", e.Error.Field, e.Error.Message, tc.field)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body %s does not contain %s", body, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("body contains %q: %s", w, body)
				}
			}
		})
	}
}

func TestAPIAlertTargets(t *testing.T) {
	f := newAlertsFixture(t)
	slackURL := f.receiver.srv.URL + "/services/" + slackToken
	bt := "/api/v1/alert-targets/" + id(f.bravoTarget.ID)
	f.apiRun(t, []apiAlertCase{
		{name: "none yet", method: "GET", path: "/api/v1/alert-targets", who: "viewer", status: 200, want: []string{`"targets":[]`}},
		{name: "member may not add", method: "POST", path: "/api/v1/alert-targets", who: "member", status: 403,
			body: `{"kind":"email","name":"x"}`},
		{name: "unknown kind", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 400, field: "kind",
			body: `{"kind":"pager","name":"x"}`},
		{name: "unknown event", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 400, field: "events",
			body: `{"kind":"email","name":"x","events":["flapping"]}`},
		{name: "no url", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 400, field: "url",
			body: `{"kind":"slack","name":"x"}`},
		{name: "url with credentials", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 400, field: "url",
			body: `{"kind":"webhook","name":"x","url":"https://user:pw@hooks.example.com/` + slackToken + `"}`, notWant: []string{slackToken, "pw@"}},
		{name: "url on email", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 400, field: "url",
			body: `{"kind":"email","name":"x","url":"https://hooks.example.com/"}`},
		{name: "unknown field", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 400, field: "secret",
			body: `{"kind":"webhook","name":"x","secret":"mine"}`},
		{name: "slack", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 201,
			body: `{"kind":"slack","name":"Slack","url":"` + slackURL + `","events":["failing"],"min_severity":"high"}`,
			want: []string{`"destination":"` + f.receiver.srv.URL + `/…"`, `"events":["failing"]`, `"enabled":true`}, notWant: []string{slackToken, `"secret"`}},
		{name: "email", method: "POST", path: "/api/v1/alert-targets", who: "owner", status: 201,
			body: `{"kind":"email","name":"Owners"}`, want: []string{`"recipients":[]`, `"events":["failing","recovered"]`, `"min_severity":"low"`}},
		{name: "same name", method: "POST", path: "/api/v1/alert-targets", who: "admin", status: 409,
			body: `{"kind":"email","name":"Owners"}`},
		{name: "another organization's target", method: "GET", path: bt, who: "viewer", status: 404, notWant: []string{bravoSecret}},
		{name: "patch another organization's target", method: "PATCH", path: bt, who: "owner", status: 404, body: `{"enabled":false}`},
		{name: "delete another organization's target", method: "DELETE", path: bt, who: "owner", status: 404},
		{name: "test another organization's target", method: "POST", path: bt + "/test", who: "owner", status: 404},
		{name: "list", method: "GET", path: "/api/v1/alert-targets", who: "viewer", status: 200,
			want: []string{`"name":"Owners"`, `"name":"Slack"`}, notWant: []string{slackToken, bravoSecret}},
	})
	if got, err := f.st.AlertTarget(f.ctx, f.bravo.ID, f.bravoTarget.ID); err != nil || !got.Enabled {
		t.Errorf("Bravo's target after Northwind's tries = %+v, %v; want it there and enabled", got, err)
	}

	// A webhook's secret comes back once, at creation and at rotation.
	rec := f.api(t, "POST", "/api/v1/alert-targets", "admin", `{"kind":"webhook","name":"SIEM","url":"`+f.receiver.srv.URL+`/hook"}`)
	var saved struct {
		Target struct{ ID int64 }
		Secret string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &saved); err != nil || rec.Code != 201 || !strings.HasPrefix(saved.Secret, "evwhsec_") {
		t.Fatalf("POST webhook = %d %s; want 201 with the secret", rec.Code, rec.Body)
	}
	if rec.Header().Get("Location") != "/api/v1/alert-targets/"+id(saved.Target.ID) {
		t.Errorf("Location = %q", rec.Header().Get("Location"))
	}
	path := "/api/v1/alert-targets/" + id(saved.Target.ID)
	f.apiRun(t, []apiAlertCase{
		{name: "get hides the secret", method: "GET", path: path, who: "viewer", status: 200, notWant: []string{saved.Secret, "/hook", `"secret"`}},
		{name: "member may not patch", method: "PATCH", path: path, who: "member", status: 403, body: `{"enabled":false}`},
		{name: "patch", method: "PATCH", path: path, who: "admin", status: 200, body: `{"enabled":false,"events":["recovered"],"min_severity":"critical"}`,
			want: []string{`"enabled":false`, `"events":["recovered"]`, `"min_severity":"critical"`}, notWant: []string{`"secret"`}},
		{name: "patch without events", method: "PATCH", path: path, who: "admin", status: 400, field: "events", body: `{"events":[]}`},
		{name: "patch private url", method: "PATCH", path: path, who: "admin", status: 200, body: `{"url":"http://10.0.0.7/hook"}`,
			want: []string{`"destination":"http://10.0.0.7/…"`}},
	})
	rec = f.api(t, "PATCH", path, "owner", `{"rotate_secret":true}`)
	var rotated struct{ Secret string }
	if err := json.Unmarshal(rec.Body.Bytes(), &rotated); err != nil || rec.Code != 200 || rotated.Secret == "" || rotated.Secret == saved.Secret {
		t.Errorf("PATCH rotate_secret = %d %s; want a new secret", rec.Code, rec.Body)
	}
	f.apiRun(t, []apiAlertCase{
		{name: "delete", method: "DELETE", path: path, who: "admin", status: 204},
		{name: "deleted", method: "GET", path: path, who: "admin", status: 404},
	})
}

func TestAPIAlertTargetTest(t *testing.T) {
	f := newAlertsFixture(t)
	sl, _ := f.target(t, collect.TargetInput{Kind: domain.TargetSlack, Name: "Slack", URL: f.receiver.srv.URL + "/services/" + slackToken, OnFailing: true})
	em, _ := f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Owners", OnFailing: true})
	f.apiRun(t, []apiAlertCase{
		{name: "viewer may not test", method: "POST", path: "/api/v1/alert-targets/" + id(sl.ID) + "/test", who: "viewer", status: 403},
		{name: "slack", method: "POST", path: "/api/v1/alert-targets/" + id(sl.ID) + "/test", who: "admin", status: 200,
			want: []string{`"delivered":true`, `"attempts":1`, `"status":200`}},
		{name: "email to the caller", method: "POST", path: "/api/v1/alert-targets/" + id(em.ID) + "/test", who: "admin", status: 200,
			want: []string{`"delivered":true`}},
	})
	if msgs := f.mail.Messages(); len(msgs) != 1 || msgs[0].To[0] != f.users["admin"].Email {
		t.Errorf("test email = %+v; want one to the admin who asked", msgs)
	}
	f.receiver.answer(410)
	f.apiRun(t, []apiAlertCase{
		{name: "refused", method: "POST", path: "/api/v1/alert-targets/" + id(sl.ID) + "/test", who: "admin", status: 200,
			want: []string{`"delivered":false`, `"status":410`, "410 Gone"}, notWant: []string{slackToken}},
	})
}

func TestAPIAlertsAndTasks(t *testing.T) {
	f := newAlertsFixture(t)
	f.target(t, collect.TargetInput{Kind: domain.TargetEmail, Name: "Owners", OnFailing: true, Enabled: true})
	f.raise(t, f.north, f.test, "p1")
	f.deliver(t)
	f.apiRun(t, []apiAlertCase{
		{name: "alerts", method: "GET", path: "/api/v1/alerts", who: "viewer", status: 200,
			want: []string{`"test_id":"idp-mfa"`, `"state":"failing"`, `"failing":1`, `"name":"alice"`, `"target_name":"Owners"`,
				`"status":"delivered"`, `"next_before":null`},
			notWant: []string{bravoSecret, "vault-rotation"}},
		{name: "alerts of a test", method: "GET", path: "/api/v1/alerts?test_id=vault-rotation", who: "viewer", status: 200,
			want: []string{`"alerts":[]`}},
		{name: "a page", method: "GET", path: "/api/v1/alerts?limit=1", who: "viewer", status: 200, want: []string{`"next_before":`}},
		{name: "bad limit", method: "GET", path: "/api/v1/alerts?limit=0", who: "viewer", status: 400, field: "limit"},
		{name: "bad before", method: "GET", path: "/api/v1/alerts?before=x", who: "viewer", status: 400, field: "before"},
		{name: "signed out", method: "GET", path: "/api/v1/alerts", status: 401},
		{name: "owner's tasks", method: "GET", path: "/api/v1/tasks", who: "member", status: 200,
			want: []string{`"monitoring":[{`, `"test_id":"idp-mfa"`, `"kind":"fix_failing_test"`, `"evidence":[`}},
		{name: "no tasks", method: "GET", path: "/api/v1/tasks", who: "viewer", status: 200, want: []string{`"monitoring":[]`}},
	})
}
