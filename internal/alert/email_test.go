package alert

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sentMail is one message a fakeSender was given.
type sentMail struct {
	From string
	To   []string
	Msg  []byte
}

// fakeSender keeps the messages it is given and fails with the errors it is given in turn.
type fakeSender struct {
	mu   sync.Mutex
	sent []sentMail
	errs []error
}

func (f *fakeSender) Send(ctx context.Context, from string, to []string, msg []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return err
		}
	}
	f.sent = append(f.sent, sentMail{From: from, To: append([]string(nil), to...), Msg: append([]byte(nil), msg...)})
	return nil
}

func (f *fakeSender) Sent() []sentMail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMail(nil), f.sent...)
}

// parsedMail is a message taken apart as a mail client would.
type parsedMail struct {
	Header     mail.Header
	Subject    string
	Text, HTML string
}

func parseMail(tb testing.TB, data []byte) parsedMail {
	tb.Helper()
	if bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		tb.Errorf("the message has a bare line feed; SMTP needs CRLF line endings")
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("read message: %v\n%s", err, data)
	}
	p := parsedMail{Header: m.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		tb.Fatalf("decode subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		tb.Fatalf("Content-Type = %q (%v); want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("read part: %v", err)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			tb.Fatalf("decode part: %v", err)
		}
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		switch ct := part.Header.Get("Content-Type"); ct {
		case "text/plain; charset=utf-8":
			p.Text = string(b)
		case "text/html; charset=utf-8":
			p.HTML = string(b)
		default:
			tb.Errorf("unexpected part %q", ct)
		}
	}
	return p
}

var evidentSender = mail.Address{Name: "Evident", Address: "evident@acme.test"}

func TestEmailFailing(t *testing.T) {
	fs := &fakeSender{}
	d, _ := testDispatcher(t, &Email{Sender: fs, From: evidentSender}, nil)
	res := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "owners", Kind: KindEmail}})
	if !res[0].Delivered() || res[0].Status != 0 {
		t.Fatalf("Deliver = %+v; want delivered", res[0])
	}
	sent := fs.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d messages; want 1", len(sent))
	}
	if sent[0].From != "evident@acme.test" || !cmp.Equal(sent[0].To, []string{"alice@acme.test", "bob@acme.test"}) {
		t.Errorf("envelope from %q to %v; want evident@acme.test to the owners", sent[0].From, sent[0].To)
	}
	p := parseMail(t, sent[0].Msg)
	if want := "[Evident] Failing (high): IAM users have MFA, 12 resources in Acme Corp"; p.Subject != want {
		t.Errorf("Subject = %q; want %q", p.Subject, want)
	}
	for k, want := range map[string]string{
		"Auto-Submitted":  "auto-generated",
		"X-Evident-Event": "test.failing",
		"X-Evident-Test":  "aws-iam-user-mfa",
		"Message-ID":      "<" + res[0].DeliveryID + "@acme.test>",
		"Date":            "Mon, 02 Mar 2026 14:06:00 +0000", // when it was sent
	} {
		if got := p.Header.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
	to, err := p.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Name != "Alice Smith" || to[1].Address != "bob@acme.test" {
		t.Errorf("To = %v (%v); want the two owners with their names", to, err)
	}
	wantText := `The test "IAM users have MFA" started failing in Acme Corp on 2 March 2026 at 14:05 UTC.

Severity: High
Test:     IAM users have MFA (aws-iam-user-mfa)
Controls: AC-02 User access provisioning; AC-07 Multi-factor authentication
Owners:   Alice Smith, Bob Jones

Failing resources (12):
  - aws.iam.user alice (AIDA1)
  - aws.iam.user bob (AIDA2)
  - aws.iam.user AIDA3
  … and 9 more

How to fix:
  Enable a virtual MFA device for each user:
  aws iam enable-mfa-device --user-name NAME

View the test: https://evident.acme.test/tests/aws-iam-user-mfa

-- 
Evident sends this when a test starts failing or recovers.
`
	if diff := cmp.Diff(wantText, p.Text); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		`<strong style="color: #b91c1c;">Failing</strong>`,
		`The test &#34;IAM users have MFA&#34; started failing in Acme Corp`,
		`<strong>AC-02</strong> User access provisioning`,
		`<li>aws.iam.user alice (AIDA1)</li>`,
		`<li>… and 9 more</li>`,
		`aws iam enable-mfa-device --user-name NAME`,
		`<a href="https://evident.acme.test/tests/aws-iam-user-mfa"`,
	} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("the HTML does not hold %q:\n%s", want, p.HTML)
		}
	}
}

func TestEmailRecovered(t *testing.T) {
	fs := &fakeSender{}
	d, _ := testDispatcher(t, &Email{Sender: fs, From: evidentSender}, nil)
	a := recoveredAlert()
	a.BaseURL = ""
	res := d.Deliver(context.Background(), a, []Target{{Name: "team", Kind: KindEmail, To: []string{"security@acme.test"}}})
	if !res[0].Delivered() {
		t.Fatalf("Deliver = %+v; want delivered", res[0])
	}
	sent := fs.Sent()
	if !cmp.Equal(sent[0].To, []string{"security@acme.test"}) {
		t.Errorf("envelope to %v; want the target's recipients only", sent[0].To)
	}
	p := parseMail(t, sent[0].Msg)
	if want := "[Evident] Recovered: IAM users have MFA in Acme Corp"; p.Subject != want {
		t.Errorf("Subject = %q; want %q", p.Subject, want)
	}
	wantText := `The test "IAM users have MFA" passes again in Acme Corp since 2 March 2026 at 17:05 UTC: no resource fails it any more.

Severity: High
Test:     IAM users have MFA (aws-iam-user-mfa)
Controls: AC-02 User access provisioning; AC-07 Multi-factor authentication
Owners:   Alice Smith, Bob Jones

-- 
Evident sends this when a test starts failing or recovers.
`
	if diff := cmp.Diff(wantText, p.Text); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	if strings.Contains(p.HTML, "How to fix") || strings.Contains(p.HTML, "<a href") || !strings.Contains(p.HTML, "#15803d;\">Recovered") {
		t.Errorf("recovered HTML without a base URL:\n%s", p.HTML)
	}
}

func TestEmailEscapesAndFoldsUserText(t *testing.T) {
	fs := &fakeSender{}
	d, _ := testDispatcher(t, &Email{Sender: fs, From: evidentSender}, nil)
	a := failingAlert()
	a.Test.Title = "Keys <script>alert(1)</script>\r\nBcc: everyone@example.com"
	a.Org.Name = "Zürich & Co"
	a.Owners = []Owner{{Name: "Zoë\nBcc: x@example.com", Email: "zoe@acme.test"}}
	res := d.Deliver(context.Background(), a, []Target{{Name: "owners", Kind: KindEmail}})
	if !res[0].Delivered() {
		t.Fatalf("Deliver = %+v", res[0])
	}
	raw := fs.Sent()[0].Msg
	p := parseMail(t, raw)
	if p.Header.Get("Bcc") != "" {
		t.Errorf("user text started a Bcc header")
	}
	if want := "[Evident] Failing (high): Keys <script>alert(1)</script> Bcc: everyone@example.com, 12 resources in Zürich & Co"; p.Subject != want {
		t.Errorf("Subject = %q; want %q", p.Subject, want)
	}
	if strings.Contains(p.HTML, "<script>") || !strings.Contains(p.HTML, "&lt;script&gt;") {
		t.Errorf("the HTML does not escape the title:\n%s", p.HTML)
	}
	if !strings.Contains(p.HTML, "Zürich &amp; Co") {
		t.Errorf("the HTML does not hold the escaped organization name")
	}
}

func TestEmailRecipients(t *testing.T) {
	tests := []struct {
		name      string
		owners    []Owner
		to        []string
		want      []string
		permanent string // the error, when permanent
	}{
		{"owners, duplicates dropped", []Owner{{Email: "a@acme.test"}, {Email: "A@acme.test"}, {Email: "b@acme.test"}}, nil, []string{"a@acme.test", "b@acme.test"}, ""},
		{"bad owner address skipped", []Owner{{Email: "not an address"}, {Email: "b@acme.test"}}, nil, []string{"b@acme.test"}, ""},
		{"target list wins", []Owner{{Email: "a@acme.test"}}, []string{"sec@acme.test"}, []string{"sec@acme.test"}, ""},
		{"nobody", []Owner{{Name: "No Mail"}}, nil, nil, "no recipients"},
		{"bad target address", nil, []string{"Security <sec@acme.test>"}, nil, "is not an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &fakeSender{}
			d, _ := testDispatcher(t, &Email{Sender: fs, From: evidentSender}, nil)
			a := failingAlert()
			a.Owners = tt.owners
			res := d.Deliver(context.Background(), a, []Target{{Name: "mail", Kind: KindEmail, To: tt.to}})
			if tt.permanent != "" {
				if res[0].Delivered() || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), tt.permanent) {
					t.Errorf("Deliver = %+v; want a permanent failure saying %q", res[0], tt.permanent)
				}
				return
			}
			sent := fs.Sent()
			if !res[0].Delivered() || len(sent) != 1 {
				t.Fatalf("Deliver = %+v, sent %d; want one message", res[0], len(sent))
			}
			if diff := cmp.Diff(tt.want, sent[0].To); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmailFailures(t *testing.T) {
	mailbox := &textproto.Error{Code: 550, Msg: "5.1.1 no such mailbox"}
	busy := &textproto.Error{Code: 451, Msg: "4.3.0 try again later"}
	tests := []struct {
		name      string
		errs      []error
		delivered bool
		attempts  int
		permanent bool
		waits     int
	}{
		{"mailbox refused", []error{mailbox}, false, 1, true, 0},
		{"greylisted then accepted", []error{busy, nil}, true, 2, false, 1},
		{"server unreachable then accepted", []error{errors.New("dial tcp: connection refused"), nil}, true, 2, false, 1},
		{"unreachable throughout", []error{io.EOF, io.EOF, io.EOF, io.EOF}, false, DefaultAttempts, false, DefaultAttempts - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &fakeSender{errs: tt.errs}
			d, s := testDispatcher(t, &Email{Sender: fs, From: evidentSender}, nil)
			res := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "owners", Kind: KindEmail}})
			r := res[0]
			if r.Delivered() != tt.delivered || r.Attempts != tt.attempts || r.Permanent != tt.permanent || len(s.Waits()) != tt.waits {
				t.Errorf("Deliver = %+v after %d waits; want delivered %v, %d attempts, permanent %v, %d waits",
					r, len(s.Waits()), tt.delivered, tt.attempts, tt.permanent, tt.waits)
			}
		})
	}
}

func TestEmailNotConfigured(t *testing.T) {
	for name, e := range map[string]*Email{
		"no channel": nil,
		"no sender":  {From: evidentSender},
		"no from":    {Sender: &fakeSender{}},
	} {
		t.Run(name, func(t *testing.T) {
			d, _ := testDispatcher(t, e, nil)
			if e == nil {
				d.Email = nil
			}
			res := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "owners", Kind: KindEmail}})
			if res[0].Delivered() || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), "not configured") {
				t.Errorf("Deliver = %+v; want a permanent failure saying email is not configured", res[0])
			}
		})
	}
}
