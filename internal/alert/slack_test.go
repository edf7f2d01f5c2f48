package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestSlackDelivery(t *testing.T) {
	rc := newReceiver(t)
	d, _ := testDispatcher(t, nil, nil)
	target := Target{Name: "security channel", Kind: KindSlack, URL: rc.URL + "/services/T000/B000/XXXXXXXX"}
	res := d.Deliver(context.Background(), failingAlert(), []Target{target})
	if !res[0].Delivered() || res[0].Status != http.StatusOK || res[0].Attempts != 1 {
		t.Fatalf("Deliver = %+v; want delivered at the first attempt with 200", res[0])
	}
	reqs := rc.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests; want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/services/T000/B000/XXXXXXXX" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request = %s %s (%s); want POST of application/json to the webhook's path", r.Method, r.Path, r.Header.Get("Content-Type"))
	}
	var got slackPayload
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("the body is not JSON: %v\n%s", err, r.Body)
	}
	want := slackPayload{
		Text: "Failing (high): IAM users have MFA, 12 resources in Acme Corp",
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: "🔴 Failing: IAM users have MFA", Emoji: true}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*Acme Corp*: the test *IAM users have MFA* started failing on 2 March 2026 at 14:05 UTC."},
				Fields: []slackText{
					mrkdwn("*Severity*\nHigh"),
					mrkdwn("*Test*\naws-iam-user-mfa"),
					mrkdwn("*Failing resources*\n12"),
					mrkdwn("*Controls*\nAC-02, AC-07"),
					mrkdwn("*Owners*\nAlice Smith, Bob Jones"),
				}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*Failing resources*\n• aws.iam.user: alice (AIDA1)\n• aws.iam.user: bob (AIDA2)\n• aws.iam.user: AIDA3\n…and 9 more"}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*How to fix*\nEnable a virtual MFA device for each user:\naws iam enable-mfa-device --user-name NAME"}},
			{Type: "actions", Elements: []slackElement{{Type: "button", Text: &slackText{Type: "plain_text", Text: "View test in Evident"},
				URL: "https://evident.acme.test/tests/aws-iam-user-mfa", ActionID: "evident-view-test", Style: "primary"}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Slack message (-want +got):\n%s", diff)
	}
}

func TestSlackRecovered(t *testing.T) {
	a := recoveredAlert()
	a.BaseURL = ""
	got := slackMessage(&a)
	want := slackPayload{
		Text: "Recovered: IAM users have MFA in Acme Corp",
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: "✅ Recovered: IAM users have MFA", Emoji: true}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*Acme Corp*: the test *IAM users have MFA* passes again since 2 March 2026 at 17:05 UTC."},
				Fields: []slackText{
					mrkdwn("*Severity*\nHigh"),
					mrkdwn("*Test*\naws-iam-user-mfa"),
					mrkdwn("*Controls*\nAC-02, AC-07"),
					mrkdwn("*Owners*\nAlice Smith, Bob Jones"),
				}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("slackMessage(recovered, no base URL) (-want +got):\n%s", diff)
	}
}

func TestSlackEscapesUserText(t *testing.T) {
	a := failingAlert()
	a.Org.Name = "R&D <Labs>"
	a.Test.Title = "Keys <!channel> rotated"
	a.Test.Remediation = "See <https://evil.example|the docs> & rotate"
	a.Resources = []Resource{{Type: "aws.iam.user", ID: "AIDA9", Name: "<@U123>"}}
	a.Controls = []Control{{Ref: "AC<1>"}}
	a.Owners = []Owner{{Name: "Ann & <!here>"}}
	body, err := json.Marshal(slackMessage(&a))
	if err != nil {
		t.Fatal(err)
	}
	var msg slackPayload
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatal(err)
	}
	// Every mrkdwn text and the fallback text must hold no markup of the alert's.
	texts := []string{msg.Text}
	for _, b := range msg.Blocks {
		if b.Text != nil && b.Text.Type == "mrkdwn" {
			texts = append(texts, b.Text.Text)
		}
		for _, f := range b.Fields {
			texts = append(texts, f.Text)
		}
	}
	for _, s := range texts {
		if strings.ContainsAny(s, "<>") {
			t.Errorf("mrkdwn text %q holds < or >", s)
		}
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(s, "&amp;", ""), "&lt;", ""), "&gt;", ""), "&") {
			t.Errorf("mrkdwn text %q holds an unescaped &", s)
		}
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"R&amp;D &lt;Labs&gt;", "Keys &lt;!channel&gt; rotated", "&lt;https://evil.example|the docs&gt; &amp; rotate", "&lt;@U123&gt;", "AC&lt;1&gt;", "Ann &amp; &lt;!here&gt;"} {
		if !strings.Contains(all, want) {
			t.Errorf("the message does not hold %q:\n%s", want, all)
		}
	}
	// The header is plain text, which Slack does not parse for markup.
	if got := msg.Blocks[0].Text.Text; got != "🔴 Failing: Keys <!channel> rotated" {
		t.Errorf("header = %q; want the title as plain text", got)
	}
}

func TestEscapeSlack(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "IAM users have MFA", "IAM users have MFA"},
		{"ampersand", "R&D", "R&amp;D"},
		{"link", "<https://x.example|x>", "&lt;https://x.example|x&gt;"},
		{"mention", "<!channel>", "&lt;!channel&gt;"},
		{"already escaped", "&amp;", "&amp;amp;"},
		{"unicode", "Zürich → <b>", "Zürich → &lt;b&gt;"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := escapeSlack(tt.in); got != tt.want {
				t.Errorf("escapeSlack(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSlackLimit(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"fits", "a&b", 7, "a&amp;b"},
		{"escape does not fit", "a&b", 5, "a…"},
		{"cut before an escape", "ab&cd", 5, "ab…"},
		{"cut after an escape", "a&bcdef", 8, "a&amp;b…"},
		{"runes", "ééééé", 3, "éé…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slackLimit(tt.in, tt.limit)
			if got != tt.want {
				t.Errorf("slackLimit(%q, %d) = %q; want %q", tt.in, tt.limit, got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > tt.limit {
				t.Errorf("slackLimit(%q, %d) has %d characters", tt.in, tt.limit, n)
			}
		})
	}
}

func TestSlackStaysWithinLimits(t *testing.T) {
	a := failingAlert()
	a.Test.Title = strings.Repeat("T&", 400)
	a.Test.Remediation = strings.Repeat("<fix> ", 2000)
	a.Resources = nil
	for i := 0; i < 500; i++ {
		a.Resources = append(a.Resources, Resource{Type: "aws.iam.user", ID: strings.Repeat("i", 300), Name: strings.Repeat("n", 300)})
	}
	a.TotalResources = 1000
	msg := slackMessage(&a)
	if n := utf8.RuneCountInString(msg.Blocks[0].Text.Text); n > slackHeaderLimit {
		t.Errorf("header has %d characters; Slack takes %d", n, slackHeaderLimit)
	}
	for i, b := range msg.Blocks {
		if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > slackSectionLimit {
			t.Errorf("block %d has %d characters; Slack takes %d", i, utf8.RuneCountInString(b.Text.Text), slackSectionLimit)
		}
		for _, f := range b.Fields {
			if utf8.RuneCountInString(f.Text) > slackFieldLimit {
				t.Errorf("a field of block %d has %d characters", i, utf8.RuneCountInString(f.Text))
			}
		}
	}
	if !strings.HasSuffix(msg.Blocks[2].Text.Text, "\n…and 990 more") {
		t.Errorf("resources block = %q; want it to count the resources left out", msg.Blocks[2].Text.Text)
	}
}

func TestSlackFailuresHideTheWebhookURL(t *testing.T) {
	const secret = "/services/T000/B000/SECRETSECRET"
	var log bytes.Buffer
	d, _ := testDispatcher(t, nil, &log)
	// The zero guard refuses the loopback receiver; the receiver answering 404 shows
	// the other path.
	d.Slack = &Slack{Client: (&Guard{}).Client()}
	rc := newReceiver(t)
	res := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "refused", Kind: KindSlack, URL: rc.URL + secret}})
	var be *BlockedError
	if !errors.As(res[0].Err, &be) || !res[0].Permanent {
		t.Fatalf("Deliver to loopback with the zero guard = %+v; want a permanent *BlockedError", res[0])
	}
	if len(rc.Requests()) != 0 {
		t.Errorf("the refused receiver got %d requests", len(rc.Requests()))
	}
	gone := newReceiver(t, answer{status: http.StatusNotFound, body: "no_service"})
	d2, _ := testDispatcher(t, nil, &log)
	res2 := d2.Deliver(context.Background(), failingAlert(), []Target{{Name: "gone", Kind: KindSlack, URL: gone.URL + secret}})
	if res2[0].Err == nil || !strings.Contains(res2[0].Err.Error(), "404 Not Found: no_service") {
		t.Errorf("Deliver to a 404 = %v; want the answer in the error", res2[0].Err)
	}
	for _, s := range []string{res[0].Err.Error(), res2[0].Err.Error(), log.String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("the webhook URL's path shows in %q", s)
		}
	}
	if !strings.Contains(log.String(), "/…") {
		t.Errorf("the log does not show the redacted URL:\n%s", log.String())
	}
}
