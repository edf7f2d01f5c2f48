package notify

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/notify/notifytest"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want SMTP
	}{
		{"starttls with credentials", "smtp://mailer:s3cret@smtp.example.com:587",
			SMTP{Host: "smtp.example.com", Port: 587, Username: "mailer", Password: "s3cret", Security: StartTLS}},
		{"default port", "smtp://smtp.example.com", SMTP{Host: "smtp.example.com", Port: 587, Security: StartTLS}},
		{"implicit tls", "smtps://u:tls-pass@smtp.example.com", SMTP{Host: "smtp.example.com", Port: 465, Username: "u", Password: "tls-pass", Security: ImplicitTLS}},
		{"plain relay", "smtp://relay.internal:25?tls=none", SMTP{Host: "relay.internal", Port: 25, Security: NoTLS}},
		{"explicit starttls", "smtp://relay.internal:2525?tls=starttls", SMTP{Host: "relay.internal", Port: 2525, Security: StartTLS}},
		{"encoded password", "smtp://apikey:p%40ss%2Fword@smtp.example.com:587", SMTP{Host: "smtp.example.com", Port: 587, Username: "apikey", Password: "p@ss/word", Security: StartTLS}},
		{"ipv6", "smtp://[::1]:2525?tls=none", SMTP{Host: "::1", Port: 2525, Security: NoTLS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.url)
			if err != nil {
				t.Fatalf("ParseSMTPURL(%q): %v", tt.url, err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("ParseSMTPURL(%q) (-want +got):\n%s", tt.url, diff)
			}
			if got.Password != "" && strings.Contains(got.String(), got.Password) {
				t.Errorf("String() = %q shows the password", got.String())
			}
		})
	}
}

func TestParseSMTPURLErrors(t *testing.T) {
	const secret = "hunter2-secret"
	tests := []struct {
		name, url, want string
	}{
		{"scheme", "http://u:" + secret + "@mail.example.com", "scheme must be smtp or smtps"},
		{"no host", "smtp://u:" + secret + "@:587", "no host"},
		{"bad port", "smtp://u:" + secret + "@mail.example.com:99999", "port must be 1 to 65535"},
		{"path", "smtp://u:" + secret + "@mail.example.com/inbox", "takes no path"},
		{"unknown parameter", "smtp://u:" + secret + "@mail.example.com?auth=login", `unknown parameter "auth"`},
		{"bad tls", "smtp://u:" + secret + "@mail.example.com?tls=maybe", "tls must be starttls or none"},
		{"tls on smtps", "smtps://u:" + secret + "@mail.example.com?tls=none", "smtps always uses TLS"},
		{"password without user", "smtp://:" + secret + "@mail.example.com", "a password needs a user name"},
		{"unparsable", "smtp://u:" + secret + "@mail example.com", "smtp url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSMTPURL(tt.url)
			if err == nil {
				t.Fatalf("ParseSMTPURL(%q) = nil error; want %q", tt.url, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSMTPURL(%q) = %q; want it to say %q", tt.url, err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("ParseSMTPURL(%q) = %q repeats the password", tt.url, err)
			}
		})
	}
}

// parsed is a received message taken apart.
type parsed struct {
	Header mail.Header
	// Subject is the decoded subject; Text and HTML the decoded parts.
	Subject    string
	Text, HTML string
}

// parseMessage reads a message as a mail client would.
func parseMessage(tb testing.TB, data []byte) parsed {
	tb.Helper()
	if bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		tb.Errorf("the message has a bare line feed; SMTP needs CRLF line endings")
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("read message: %v\n%s", err, data)
	}
	p := parsed{Header: m.Header}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
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
		if enc := part.Header.Get("Content-Transfer-Encoding"); enc != "quoted-printable" {
			tb.Errorf("part encoding = %q; want quoted-printable", enc)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			tb.Fatalf("decode part: %v", err)
		}
		// Text travels with CRLF line endings; a mail client shows plain lines.
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

func testMessage() *Message {
	return &Message{
		From:    mail.Address{Name: "Evident", Address: "evident@acme.example"},
		To:      []mail.Address{{Name: "Zoë Müller", Address: "zoe@acme.example"}},
		Subject: "Evidence needed — 2 controls",
		Date:    time.Date(2026, time.March, 14, 7, 0, 0, 0, time.UTC),
		Text:    "Hello Zoë,\n\nA line long enough to need a soft break when quoted-printable encodes it, because it runs on past seventy-six characters.\n",
		HTML:    "<p>Hello Zoë,</p>\n",
	}
}

func TestMessageBytes(t *testing.T) {
	msg := testMessage()
	b, err := msg.Bytes()
	if err != nil {
		t.Fatalf("Bytes: %v", err)
	}
	p := parseMessage(t, b)
	wantHeaders := map[string]string{
		"From":           `"Evident" <evident@acme.example>`,
		"Date":           "Sat, 14 Mar 2026 07:00:00 +0000",
		"MIME-Version":   "1.0",
		"Auto-Submitted": "auto-generated",
	}
	for k, v := range wantHeaders {
		if got := p.Header.Get(k); got != v {
			t.Errorf("header %s = %q; want %q", k, got, v)
		}
	}
	to, err := p.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoë Müller" || to[0].Address != "zoe@acme.example" {
		t.Errorf("To = %v (%v); want Zoë Müller <zoe@acme.example>", to, err)
	}
	if id := p.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@acme.example>") {
		t.Errorf("Message-ID = %q; want <…@acme.example>", id)
	}
	if p.Subject != msg.Subject || p.Text != msg.Text || p.HTML != msg.HTML {
		t.Errorf("decoded subject %q, text %q, html %q; want what was encoded", p.Subject, p.Text, p.HTML)
	}
}

func TestMessageRefusesHeaderInjection(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Message)
	}{
		{"subject", func(m *Message) { m.Subject = "Hi\r\nBcc: everyone@example.com" }},
		{"recipient name", func(m *Message) { m.To[0].Name = "Zoe\nBcc: x@example.com" }},
		{"no recipient", func(m *Message) { m.To = nil }},
		{"no sender", func(m *Message) { m.From = mail.Address{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage()
			tt.change(m)
			if _, err := m.Bytes(); err == nil {
				t.Error("Bytes() = nil error; want the message refused")
			}
		})
	}
}

func TestSendOverStartTLSWithAuth(t *testing.T) {
	srv := notifytest.Start(t, notifytest.Options{TLS: true, User: "mailer", Password: "s3cret"})
	b, err := testMessage().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := client(srv, "mailer", "s3cret").Send(context.Background(), "evident@acme.example", []string{"zoe@acme.example"}, b); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the server received %d messages; want 1", len(msgs))
	}
	got := msgs[0]
	want := notifytest.Message{From: "evident@acme.example", To: []string{"zoe@acme.example"}, TLS: true, User: "mailer"}
	if diff := cmp.Diff(want, got, cmpIgnoreData); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	if p := parseMessage(t, got.Data); p.Subject != testMessage().Subject {
		t.Errorf("received subject %q; want %q", p.Subject, testMessage().Subject)
	}
}

var cmpIgnoreData = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Data" }, cmp.Ignore())

func TestSendFailures(t *testing.T) {
	plain := notifytest.Start(t, notifytest.Options{})
	withAuth := notifytest.Start(t, notifytest.Options{TLS: true, User: "mailer", Password: "s3cret"})
	b, err := testMessage().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		smtp *SMTP
		to   []string
		want string
	}{
		{"no STARTTLS offered", &SMTP{Host: plain.Host, Port: plain.Port, Security: StartTLS},
			[]string{"zoe@acme.example"}, "does not offer STARTTLS"},
		{"wrong password", client(withAuth, "mailer", "wrong"),
			[]string{"zoe@acme.example"}, "authenticate as mailer"},
		{"untrusted certificate", &SMTP{Host: withAuth.Host, Port: withAuth.Port, Security: StartTLS, Username: "mailer", Password: "s3cret"},
			[]string{"zoe@acme.example"}, "STARTTLS"},
		{"no recipients", client(plain, "", ""), nil, "no recipients"},
		{"nobody listening", &SMTP{Host: "127.0.0.1", Port: 1, Security: NoTLS}, []string{"zoe@acme.example"}, "send mail through 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.smtp.Send(context.Background(), "evident@acme.example", tt.to, b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send = %v; want an error saying %q", err, tt.want)
			}
			if tt.smtp.Password != "" && err != nil && strings.Contains(err.Error(), tt.smtp.Password) {
				t.Errorf("Send = %v repeats the password", err)
			}
		})
	}
	if n := len(plain.Messages()) + len(withAuth.Messages()); n != 0 {
		t.Errorf("the servers received %d messages; want none", n)
	}
}
