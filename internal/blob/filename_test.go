package blob

import (
	"mime"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestSanitizeFilename(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "report.pdf", want: "report.pdf"},
		{name: "unix path", in: "/etc/passwd", want: "passwd"},
		{name: "windows path", in: `C:\Users\ann\Q1 access review.xlsx`, want: "Q1 access review.xlsx"},
		{name: "traversal", in: "../../secret.txt", want: "secret.txt"},
		{name: "mixed separators", in: `a/b\c/d.txt`, want: "d.txt"},
		{name: "double quotes", in: `say "hi".txt`, want: "say hi.txt"},
		{name: "apostrophe kept", in: "Ann's review.pdf", want: "Ann's review.pdf"},
		{name: "control characters", in: "a\x00b\x7f\x1b.txt", want: "ab.txt"},
		{name: "line breaks become spaces", in: "a\r\nb.txt", want: "a b.txt"},
		{name: "bidirectional override", in: "invoice\u202efdp.exe", want: "invoicefdp.exe"},
		{name: "zero width space", in: "re\u200bport.pdf", want: "report.pdf"},
		{name: "white space collapsed", in: "  lots   of\tspace  .pdf ", want: "lots of space .pdf"},
		{name: "leading dot", in: ".htaccess", want: "htaccess"},
		{name: "trailing dots", in: "report.pdf...", want: "report.pdf"},
		{name: "unicode kept", in: "Überprüfung 2024 — 監査.pdf", want: "Überprüfung 2024 — 監査.pdf"},
		{name: "invalid UTF-8 dropped", in: "a\xffb.txt", want: "ab.txt"},
		{name: "empty", in: "", want: "evidence"},
		{name: "only dots", in: "..", want: "evidence"},
		{name: "directory", in: "reports/", want: "evidence"},
		{name: "only controls", in: "\x01\x02", want: "evidence"},
		{name: "long name keeps extension", in: strings.Repeat("a", 300) + ".pdf", want: strings.Repeat("a", 251) + ".pdf"},
		{name: "long name cut on a character boundary", in: strings.Repeat("é", 200), want: strings.Repeat("é", 127)},
		{name: "long extension not kept", in: strings.Repeat("a", 250) + "." + strings.Repeat("b", 20), want: strings.Repeat("a", 250) + "." + strings.Repeat("b", 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SanitizeFilename(tt.in); got != tt.want {
				t.Errorf("SanitizeFilename(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "report.pdf", want: `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`},
		{name: "spaces and parentheses", in: "Q1 review (final).xlsx", want: `attachment; filename="Q1 review (final).xlsx"; filename*=UTF-8''Q1%20review%20%28final%29.xlsx`},
		{name: "non-ASCII", in: "Überprüfung.pdf", want: `attachment; filename="_berpr_fung.pdf"; filename*=UTF-8''%C3%9Cberpr%C3%BCfung.pdf`},
		{name: "percent sign", in: "100%.txt", want: `attachment; filename="100_.txt"; filename*=UTF-8''100%25.txt`},
		{name: "quotes and path", in: `../a"b";.txt`, want: `attachment; filename="ab;.txt"; filename*=UTF-8''ab%3B.txt`},
		{name: "header injection", in: "a.txt\r\nSet-Cookie: x=1", want: `attachment; filename="a.txt Set-Cookie: x=1"; filename*=UTF-8''a.txt%20Set-Cookie%3A%20x%3D1`},
		{name: "empty", in: "", want: `attachment; filename="evidence"; filename*=UTF-8''evidence`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContentDisposition(tt.in); got != tt.want {
				t.Errorf("ContentDisposition(%q) = %s; want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestSetAttachmentHeaders(t *testing.T) {
	const sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	tests := []struct {
		name string
		file string
		info Info
		want http.Header
	}{
		{
			name: "html is still an attachment",
			file: "page.html",
			info: Info{SHA256: sha, Size: 3, MediaType: "text/html; charset=utf-8"},
			want: http.Header{
				"Content-Type":            {"text/html; charset=utf-8"},
				"X-Content-Type-Options":  {"nosniff"},
				"Content-Disposition":     {`attachment; filename="page.html"; filename*=UTF-8''page.html`},
				"Content-Length":          {"3"},
				"Etag":                    {`"` + sha + `"`},
				"Content-Security-Policy": {"default-src 'none'; sandbox"},
				"Cache-Control":           {"private, no-store"},
			},
		},
		{
			name: "no media type",
			file: "",
			info: Info{SHA256: sha, Size: 0},
			want: http.Header{
				"Content-Type":            {"application/octet-stream"},
				"X-Content-Type-Options":  {"nosniff"},
				"Content-Disposition":     {`attachment; filename="evidence"; filename*=UTF-8''evidence`},
				"Content-Length":          {"0"},
				"Etag":                    {`"` + sha + `"`},
				"Content-Security-Policy": {"default-src 'none'; sandbox"},
				"Cache-Control":           {"private, no-store"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			SetAttachmentHeaders(h, tt.file, tt.info)
			if diff := cmp.Diff(tt.want, h); diff != "" {
				t.Errorf("SetAttachmentHeaders(%q) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func FuzzSanitizeFilename(f *testing.F) {
	for _, seed := range []string{
		"report.pdf", "../../etc/passwd", `C:\evil\a.exe`, "a\x00b", "\u202egpj.exe", "  ", "..",
		strings.Repeat("é", 200), `"quoted"`, "100%.txt", "\xff\xfe", "a\u2028b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := SanitizeFilename(name)
		if got == "" {
			t.Fatalf("SanitizeFilename(%q) is empty", name)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("SanitizeFilename(%q) = %q is not valid UTF-8", name, got)
		}
		if len(got) > maxFilename {
			t.Fatalf("SanitizeFilename(%q) is %d bytes; want at most %d", name, len(got), maxFilename)
		}
		for _, r := range got {
			if r == '/' || r == '\\' || r == '"' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("SanitizeFilename(%q) = %q contains %q", name, got, r)
			}
		}
		if got == "." || got == ".." {
			t.Fatalf("SanitizeFilename(%q) = %q", name, got)
		}
		if again := SanitizeFilename(got); again != got {
			t.Fatalf("SanitizeFilename is not idempotent: %q -> %q -> %q", name, got, again)
		}

		// The header must parse back, by the standard library's own reader, to the
		// exact sanitized name.
		cd := ContentDisposition(name)
		disposition, params, err := mime.ParseMediaType(cd)
		if err != nil {
			t.Fatalf("ContentDisposition(%q) = %s does not parse: %v", name, cd, err)
		}
		if disposition != "attachment" || params["filename"] != got {
			t.Fatalf("ContentDisposition(%q) = %s parses to %s with filename %q; want attachment with %q",
				name, cd, disposition, params["filename"], got)
		}
	})
}
