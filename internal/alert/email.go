package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"
)

// Sender delivers an encoded email message from the envelope sender to the recipients.
// The SMTP sender of package notify is one.
type Sender interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// Email is the email channel: it writes an alert as a plain-text and HTML message and
// sends it through the Sender, to the target's recipients or, when it lists none, to the
// owners of the test's controls.
type Email struct {
	Sender Sender
	// From is the messages' sender, such as "Evident <evident@example.com>".
	From mail.Address
}

// shownResources is how many failing resources a message to people lists.
const shownResources = 10

// Send writes the alert and sends it once. A 5xx answer of the mail server, an address it
// cannot use and a message without recipients are permanent failures.
func (e *Email) Send(ctx context.Context, d *Delivery) error {
	if e.Sender == nil || e.From.Address == "" {
		return permanent(errors.New("email is not configured: no mail server or no sender address"))
	}
	to, err := recipients(d)
	if err != nil {
		return permanent(err)
	}
	msg, err := e.message(d, to)
	if err != nil {
		return permanent(err)
	}
	envelope := make([]string, len(to))
	for i, a := range to {
		envelope[i] = a.Address
	}
	if err := e.Sender.Send(ctx, e.From.Address, envelope, msg); err != nil {
		if tp := (*textproto.Error)(nil); errors.As(err, &tp) && tp.Code >= 500 {
			return permanent(err)
		}
		return err
	}
	return nil
}

// recipients returns the target's recipients, or the owners with an email address,
// without duplicates.
func recipients(d *Delivery) ([]mail.Address, error) {
	var out []mail.Address
	seen := map[string]bool{}
	add := func(name, addr string) error {
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != strings.TrimSpace(addr) {
			return fmt.Errorf("%q is not an email address", addr)
		}
		key := strings.ToLower(a.Address)
		if seen[key] {
			return nil
		}
		seen[key] = true
		out = append(out, mail.Address{Name: oneLine(name), Address: a.Address})
		return nil
	}
	if len(d.Target.To) > 0 {
		for _, addr := range d.Target.To {
			if err := add("", addr); err != nil {
				return nil, fmt.Errorf("recipients: %w", err)
			}
		}
		return out, nil
	}
	for _, o := range d.Alert.Owners {
		// An owner whose address the server cannot use must not keep the others from
		// hearing of the failure.
		_ = add(o.Name, o.Email)
	}
	if len(out) == 0 {
		return nil, errors.New("no recipients: the target lists none and the test's controls have no owner with an email address")
	}
	return out, nil
}

// message writes the encoded message.
func (e *Email) message(d *Delivery, to []mail.Address) ([]byte, error) {
	v := newEmailView(d)
	var text, html bytes.Buffer
	if err := emailText.Execute(&text, v); err != nil {
		return nil, fmt.Errorf("email text: %w", err)
	}
	if err := emailHTML.Execute(&html, v); err != nil {
		return nil, fmt.Errorf("email html: %w", err)
	}
	domain := "evident.invalid"
	if _, host, ok := strings.Cut(e.From.Address, "@"); ok && host != "" {
		domain = host
	}
	return encodeEmail(emailHeader{
		From:      e.From,
		To:        to,
		Subject:   v.Subject,
		Date:      d.At,
		MessageID: "<" + d.ID + "@" + domain + ">",
		Event:     d.Alert.State.Event(),
		TestID:    oneLine(d.Alert.Test.ID),
	}, text.String(), html.String())
}

// emailView is what the message's templates show.
type emailView struct {
	Subject     string
	Failing     bool
	Headline    string
	Org         string
	TestTitle   string
	TestID      string
	Severity    string
	Controls    []Control
	Resources   []string
	More        int
	Total       int
	Remediation string
	Owners      string
	Link        string
}

// timeLayout is how messages write the time of a change.
const timeLayout = "2 January 2006 at 15:04 UTC"

func newEmailView(d *Delivery) emailView {
	a := d.Alert
	title := oneLine(a.Test.Title)
	if title == "" {
		title = oneLine(a.Test.ID)
	}
	org := oneLine(a.Org.Name)
	if org == "" {
		org = oneLine(a.Org.Slug)
	}
	when := a.At.UTC().Format(timeLayout)
	v := emailView{
		Failing:   a.State == Failing,
		Org:       org,
		TestTitle: title,
		TestID:    a.Test.ID,
		Severity:  severityLabel(a.Test.Severity),
		Controls:  a.Controls,
		Total:     a.Total(),
		Link:      a.Link(),
	}
	var owners []string
	for _, o := range a.Owners {
		if n := oneLine(o.Name); n != "" {
			owners = append(owners, n)
		} else if o.Email != "" {
			owners = append(owners, oneLine(o.Email))
		}
	}
	v.Owners = strings.Join(owners, ", ")
	if v.Failing {
		v.Subject = fmt.Sprintf("[Evident] Failing (%s): %s, %d %s in %s", strings.ToLower(v.Severity), title, v.Total, plural(v.Total, "resource"), org)
		v.Headline = fmt.Sprintf("The test \"%s\" started failing in %s on %s.", title, org, when)
		v.Remediation = strings.TrimSpace(a.Test.Remediation)
		for i, r := range a.Resources {
			if i == shownResources {
				break
			}
			label := oneLine(resourceLabel(r))
			if r.Type != "" {
				label = oneLine(r.Type) + " " + label
			}
			v.Resources = append(v.Resources, label)
		}
		v.More = v.Total - len(v.Resources)
	} else {
		v.Subject = fmt.Sprintf("[Evident] Recovered: %s in %s", title, org)
		v.Headline = fmt.Sprintf("The test \"%s\" passes again in %s since %s: no resource fails it any more.", title, org, when)
	}
	v.Subject = truncateRunes(v.Subject, 200)
	return v
}

// truncateRunes cuts s to at most n runes, ending with "…" when cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// indent prefixes every line of s with prefix.
func indent(prefix, s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

var emailText = texttemplate.Must(texttemplate.New("alert.txt").Funcs(texttemplate.FuncMap{"indent": indent}).Parse(
	`{{.Headline}}

Severity: {{.Severity}}
Test:     {{.TestTitle}} ({{.TestID}})
{{- if .Controls}}
Controls: {{range $i, $c := .Controls}}{{if $i}}; {{end}}{{$c.Ref}}{{if $c.Title}} {{$c.Title}}{{end}}{{end}}{{end}}
{{- if .Owners}}
Owners:   {{.Owners}}{{end}}
{{if .Failing}}
Failing resources ({{.Total}}):
{{range .Resources}}  - {{.}}
{{end}}{{if gt .More 0}}  … and {{.More}} more
{{end}}{{if .Remediation}}
How to fix:
{{indent "  " .Remediation}}
{{end}}{{end}}{{if .Link}}
View the test: {{.Link}}
{{end}}
-- 
Evident sends this when a test starts failing or recovers.
`))

var emailHTML = htmltemplate.Must(htmltemplate.New("alert.html").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1f2933; line-height: 1.5; max-width: 640px; margin: 0 auto; padding: 16px;">
<p style="margin: 0 0 8px;"><strong style="color: {{if .Failing}}#b91c1c{{else}}#15803d{{end}};">{{if .Failing}}Failing{{else}}Recovered{{end}}</strong></p>
<p style="margin: 0 0 16px;">{{.Headline}}</p>
<table style="border-collapse: collapse; margin-bottom: 16px;">
<tr><td style="padding: 2px 16px 2px 0; color: #52606d;">Severity</td><td>{{.Severity}}</td></tr>
<tr><td style="padding: 2px 16px 2px 0; color: #52606d;">Test</td><td>{{.TestTitle}} <code>{{.TestID}}</code></td></tr>
{{- if .Controls}}
<tr><td style="padding: 2px 16px 2px 0; color: #52606d; vertical-align: top;">Controls</td><td>{{range $i, $c := .Controls}}{{if $i}}<br>{{end}}<strong>{{$c.Ref}}</strong>{{if $c.Title}} {{$c.Title}}{{end}}{{end}}</td></tr>
{{- end}}
{{- if .Owners}}
<tr><td style="padding: 2px 16px 2px 0; color: #52606d;">Owners</td><td>{{.Owners}}</td></tr>
{{- end}}
</table>
{{- if .Failing}}
<h2 style="font-size: 16px; margin: 16px 0 8px;">Failing resources ({{.Total}})</h2>
<ul style="margin: 0 0 16px; padding-left: 20px;">
{{range .Resources}}<li>{{.}}</li>
{{end}}{{if gt .More 0}}<li>… and {{.More}} more</li>
{{end}}</ul>
{{- if .Remediation}}
<h2 style="font-size: 16px; margin: 16px 0 8px;">How to fix</h2>
<p style="white-space: pre-wrap; margin: 0 0 16px;">{{.Remediation}}</p>
{{- end}}
{{- end}}
{{- if .Link}}
<p><a href="{{.Link}}" style="display: inline-block; padding: 8px 14px; background: #1d4ed8; color: #ffffff; text-decoration: none; border-radius: 4px;">View the test in Evident</a></p>
{{- end}}
<p style="color: #52606d; font-size: 13px; margin-top: 24px;">Evident sends this when a test starts failing or recovers.</p>
</body>
</html>
`))

// emailHeader is what goes in a message's header.
type emailHeader struct {
	From      mail.Address
	To        []mail.Address
	Subject   string
	Date      time.Time
	MessageID string
	Event     string
	TestID    string
}

// encodeEmail writes an RFC 5322 message with CRLF line endings: the header, then a
// multipart/alternative body of the text and the HTML, each quoted-printable. Header
// values are single lines; names and the subject are RFC 2047 encoded where needed.
func encodeEmail(h emailHeader, text, html string) ([]byte, error) {
	if h.From.Address == "" || len(h.To) == 0 {
		return nil, errors.New("email: a message needs a sender and a recipient")
	}
	var b bytes.Buffer
	field := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(value))
		b.WriteString("\r\n")
	}
	to := make([]string, len(h.To))
	for i, a := range h.To {
		to[i] = a.String()
	}
	field("From", h.From.String())
	field("To", strings.Join(to, ", "))
	field("Subject", mime.QEncoding.Encode("utf-8", h.Subject))
	field("Date", h.Date.Format(time.RFC1123Z))
	field("Message-ID", h.MessageID)
	field("MIME-Version", "1.0")
	field("Auto-Submitted", "auto-generated")
	field("X-Evident-Event", h.Event)
	if h.TestID != "" {
		field("X-Evident-Test", mime.QEncoding.Encode("utf-8", h.TestID))
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	field("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, content string }{{"text/plain", text}, {"text/html", html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		// The writer turns every line break into CRLF, as SMTP wants.
		if _, err := qp.Write([]byte(part.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	b.Write(body.Bytes())
	return b.Bytes(), nil
}
