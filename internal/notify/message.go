package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is an email with a plain-text body and the same in HTML.
type Message struct {
	From    mail.Address
	To      []mail.Address
	Subject string
	Date    time.Time
	Text    string
	HTML    string
}

// Bytes encodes the message as RFC 5322 text with CRLF line endings: the headers, then a
// multipart/alternative body of the text and the HTML, each quoted-printable. It is
// marked Auto-Submitted so that auto-responders do not answer it. Names and the subject
// may hold any Unicode; they are encoded as RFC 2047 words where needed.
func (m *Message) Bytes() ([]byte, error) {
	if m.From.Address == "" {
		return nil, errors.New("message: no sender")
	}
	if len(m.To) == 0 {
		return nil, errors.New("message: no recipients")
	}
	for _, s := range append([]string{m.Subject, m.From.Name, m.From.Address}, addressParts(m.To)...) {
		if !validHeaderText(s) {
			return nil, errors.New("message: a header holds a line break")
		}
	}
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	to := make([]string, len(m.To))
	for i, a := range m.To {
		to[i] = a.String()
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	header("From", m.From.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", messageID(m.From.Address))
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	header("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, text string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.text)); err != nil {
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

// addressParts lists the names and addresses, for checking them.
func addressParts(as []mail.Address) []string {
	out := make([]string, 0, 2*len(as))
	for _, a := range as {
		out = append(out, a.Name, a.Address)
	}
	return out
}

// messageID returns a new, unique Message-ID in the sender's domain.
func messageID(from string) string {
	domain := "evident.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "<" + hex.EncodeToString(b) + "@" + domain + ">"
}
