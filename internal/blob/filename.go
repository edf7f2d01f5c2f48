package blob

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fallbackFilename is the name of a file whose uploaded name leaves nothing readable.
const fallbackFilename = "evidence"

// maxFilename is the longest name, in bytes, SanitizeFilename returns: the limit of most
// filesystems the file may be saved to.
const maxFilename = 255

// maxExtension is the longest extension kept when a name is shortened.
const maxExtension = 16

// SanitizeFilename makes an uploaded file's name safe to store and to offer back for
// download. It keeps only the last path element (of either / or \ paths), drops control
// and invisible formatting characters (including the bidirectional overrides that can
// disguise an extension) and double quotes, collapses runs of white space (tabs and line
// breaks included) to one space, trims spaces and dots from both ends, and shortens the
// name to 255 bytes keeping its extension. A name with nothing left becomes "evidence".
func SanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	b.Grow(len(name))
	space := false
	for _, r := range name {
		switch {
		case unicode.IsSpace(r): // tabs and line breaks too
			space = true
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == '"':
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	s := strings.Trim(shorten(strings.Trim(b.String(), ". "), maxFilename), ". ")
	if s == "" {
		return fallbackFilename
	}
	return s
}

// shorten cuts s to at most max bytes on a character boundary, keeping a short extension.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	ext := ""
	if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i <= maxExtension {
		ext = s[i:]
	}
	stem := s[:len(s)-len(ext)]
	cut := max - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return strings.TrimRight(stem[:cut], ". ") + ext
}

// ContentDisposition returns the Content-Disposition header value that offers a file for
// download under its sanitized name: an ASCII fallback in filename= for old clients, and
// the exact name in filename*= (RFC 6266, RFC 8187). Files are always attachments, never
// shown inline.
func ContentDisposition(name string) string {
	name = SanitizeFilename(name)
	var b strings.Builder
	b.WriteString(`attachment; filename="`)
	for _, r := range name {
		// Non-ASCII has no portable form in filename=; a percent sign may be decoded
		// by some clients. Double quotes and controls are already gone.
		if r >= utf8.RuneSelf || r == '%' || r == '\\' {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(r)
	}
	b.WriteString(`"; filename*=UTF-8''`)
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// isAttrChar reports whether c may appear unencoded in an RFC 8187 ext-value.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// SetAttachmentHeaders sets the headers for serving a blob as a download named name: its
// sniffed media type with nosniff, Content-Disposition: attachment, its length, its hash
// as the ETag, a sandboxing Content-Security-Policy in case a browser renders it anyway,
// and no caching, since evidence is confidential.
func SetAttachmentHeaders(h http.Header, name string, info Info) {
	h.Set("Content-Type", mediaTypeOr(info.MediaType))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", ContentDisposition(name))
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	h.Set("ETag", `"`+info.SHA256+`"`)
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
}
