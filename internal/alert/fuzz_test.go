package alert

import (
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/evidenthq/evident/internal/domain"
)

func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{
		"https://hooks.slack.com/services/T000/B000/XXXX",
		"http://127.0.0.1:8080/hook",
		"http://[::ffff:169.254.169.254]/",
		"http://[fe80::1%25eth0]:80/",
		"https://user:pass@example.com/",
		"http://0x7f.1/",
		"http://localhost./x",
		"https://bücher.example/",
		"javascript:alert(1)",
		"",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, allowPrivate bool) {
		g := &Guard{AllowPrivate: allowPrivate}
		err := g.ValidateURL("url", raw)
		if err != nil {
			if domain.FieldOf(err) != "url" || domain.KindOf(err) != domain.KindInvalid {
				t.Fatalf("ValidateURL(%q) = %v; want an invalid-input error naming url", raw, err)
			}
			// A URL may hold a secret: a long one is never repeated whole.
			if len(raw) >= 40 && strings.Contains(err.Error(), raw) {
				t.Fatalf("ValidateURL(%q) = %q repeats the URL", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("ValidateURL(%q) = nil but it does not parse: %v", raw, perr)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("ValidateURL(%q) = nil for scheme %q, host %q, user %v", raw, u.Scheme, u.Host, u.User)
		}
		if ip, ok := hostIP(u.Hostname()); ok && g.Check(ip) != nil {
			t.Fatalf("ValidateURL(%q) = nil for a refused address %s", raw, ip)
		}
		if strings.ContainsAny(RedactURL(raw), "?#") {
			t.Fatalf("RedactURL(%q) = %q keeps a query or fragment", raw, RedactURL(raw))
		}
	})
}

// unescapeSlack undoes escapeSlack.
func unescapeSlack(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func FuzzEscapeSlack(f *testing.F) {
	for _, s := range []string{"", "plain", "<!channel>", "R&D <b>", "&amp;lt;", "<https://x|y>", "é<é>é", "\xff<"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		e := escapeSlack(s)
		if strings.ContainsAny(e, "<>") {
			t.Fatalf("escapeSlack(%q) = %q holds < or >", s, e)
		}
		if got := unescapeSlack(e); got != s {
			t.Fatalf("unescapeSlack(escapeSlack(%q)) = %q", s, got)
		}
		if utf8.ValidString(s) != utf8.ValidString(e) {
			t.Fatalf("escapeSlack(%q) = %q changes UTF-8 validity", s, e)
		}
		if limit < 1 || limit > 5000 {
			return
		}
		l := slackLimit(s, limit)
		if n := utf8.RuneCountInString(l); n > limit {
			t.Fatalf("slackLimit(%q, %d) = %q has %d characters", s, limit, l, n)
		}
		if strings.ContainsAny(l, "<>") {
			t.Fatalf("slackLimit(%q, %d) = %q holds < or >", s, limit, l)
		}
		// What is kept is the escaped text's start: never half an escape.
		kept := strings.TrimSuffix(l, "…")
		if !strings.HasPrefix(escapeSlack(s), kept) || !strings.HasPrefix(s, unescapeSlack(kept)) {
			t.Fatalf("slackLimit(%q, %d) = %q is not a clean cut of %q", s, limit, l, escapeSlack(s))
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	body := []byte(`{"version":1}`)
	at := time.Unix(1767225600, 0)
	f.Add(Sign("secret-of-enough-length", at, body), body)
	f.Add("t=1767225600,v1=00,v1=zz", body)
	f.Add("t=,v1=", []byte{})
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		const secret = "secret-of-enough-length"
		err := VerifySignature(secret, header, body, at, 0)
		switch {
		case err == nil:
		case errors.Is(err, ErrSignatureMalformed), errors.Is(err, ErrSignatureMismatch), errors.Is(err, ErrSignatureExpired):
			return
		default:
			t.Fatalf("VerifySignature(%q) = %v; want one of its errors", header, err)
		}
		// A header verifies only when it carries the body's signature for its own time.
		var ts string
		for part := range strings.SplitSeq(header, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
				ts = v
			}
		}
		if !strings.Contains(header, "v1="+hex.EncodeToString(signature(secret, ts, body))) {
			t.Fatalf("VerifySignature(%q) = nil without the body's signature", header)
		}
	})
}
