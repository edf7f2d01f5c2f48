package bundle

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	htmltemplate "html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/evidenthq/evident/internal/blob"
)

//go:embed index.html.tmpl
var indexSource string

//go:embed README.txt.tmpl
var readmeSource string

var (
	indexTemplate  = htmltemplate.Must(htmltemplate.New("index").Parse(indexSource))
	readmeTemplate = texttemplate.Must(texttemplate.New("readme").Parse(readmeSource))
)

// pageHeader is what index.html and README.txt show about the bundle as a whole. It is
// made from the manifest and key.txt only, so that the verifier can render the same pages
// and compare.
type pageHeader struct {
	Org            organization
	Format         string
	Version        int
	GeneratedAt    string
	Items          string
	Skipped        string
	Files          string
	FileBytes      string
	Filters        string
	LastEntry      string
	Origin         string
	Size           string
	CheckpointTime string
	Root           string
	KeyName        string
	Key            string
}

func newPageHeader(m *manifest, key string) pageHeader {
	h := pageHeader{
		Org:         m.Organization,
		Format:      m.Format,
		Version:     m.Version,
		GeneratedAt: formatTime(m.GeneratedAt),
		Items:       formatCount(m.Items.Count),
		Files:       formatCount(m.Files.Count),
		FileBytes:   formatBytes(m.Files.Bytes),
		Filters:     m.Filters.String(),
		LastEntry:   formatCount(m.Checkpoint.Size - 1),
		Origin:      m.Checkpoint.Origin,
		Size:        formatCount(m.Checkpoint.Size),
		Root:        base64.StdEncoding.EncodeToString(m.Checkpoint.Root[:]),
		KeyName:     m.Checkpoint.KeyName,
		Key:         strings.TrimSpace(key),
	}
	if m.Items.Skipped > 0 {
		h.Skipped = formatCount(m.Items.Skipped)
	}
	if !m.Checkpoint.Time.IsZero() {
		h.CheckpointTime = formatTime(m.Checkpoint.Time)
	}
	return h
}

// String describes the filters in words.
func (f filters) String() string {
	var parts []string
	if f.Control != nil {
		parts = append(parts, fmt.Sprintf("control %s (%s)", f.Control.Ref, f.Control.Title))
	}
	switch {
	case f.From != nil && f.To != nil:
		parts = append(parts, fmt.Sprintf("effective periods overlapping %s to %s", f.From, f.To))
	case f.From != nil:
		parts = append(parts, fmt.Sprintf("effective periods ending on or after %s", f.From))
	case f.To != nil:
		parts = append(parts, fmt.Sprintf("effective periods starting on or before %s", f.To))
	}
	if len(parts) == 0 {
		return "none, all evidence"
	}
	return strings.Join(parts, "; ")
}

// pageWriter renders index.html: the header, one row per item, the footer. The header
// and footer come from the template; rows, of which there may be a hundred thousand, are
// written directly, every value escaped for HTML text or a quoted attribute.
type pageWriter struct {
	w      io.Writer
	header pageHeader
	buf    []byte
}

func (p *pageWriter) start(w io.Writer, h pageHeader) error {
	p.w, p.header = w, h
	return indexTemplate.ExecuteTemplate(w, "head", h)
}

func (p *pageWriter) finish() error {
	return indexTemplate.ExecuteTemplate(p.w, "foot", p.header)
}

// row writes one item's row. Item IDs, ledger indexes and hashes are numbers and hex, and
// every other value is escaped.
func (p *pageWriter) row(it *itemRecord) error {
	b := p.buf[:0]
	text := func(s string) { b = appendEscaped(b, s) }
	raw := func(s string) { b = append(b, s...) }
	num := func(n int64) { b = strconv.AppendInt(b, n, 10) }
	itemLink := func(id int64) {
		raw(`<a href="#item-`)
		num(id)
		raw(`">#`)
		num(id)
		raw(`</a>`)
	}

	raw(`<tr id="item-`)
	num(it.ID)
	raw("\">\n<td class=\"nowrap\">#")
	num(it.ID)
	raw("</td>\n<td class=\"evidence\"><strong>")
	text(it.Title)
	raw(`</strong> <span class="badge kind">`)
	text(it.Kind)
	raw(`</span>`)
	if it.Description != "" {
		raw(`<div class="desc">`)
		text(it.Description)
		raw(`</div>`)
	}
	if it.URL != "" {
		raw(`<div class="hash">`)
		text(it.URL)
		raw(`</div>`)
	}
	raw("</td>\n<td>")
	controls := slices.Clone(it.Controls)
	slices.SortFunc(controls, func(a, b controlRef) int { return strings.Compare(a.Ref, b.Ref) })
	for _, c := range controls {
		raw(`<div><code>`)
		text(c.Ref)
		raw(`</code> `)
		text(c.Title)
		raw(`</div>`)
	}
	if len(controls) == 0 {
		raw(`<span class="muted">none</span>`)
	}
	raw("</td>\n<td class=\"nowrap\">")
	raw(it.Period.Start.String())
	raw(`<br>to `)
	raw(it.Period.End.String())
	raw("</td>\n<td>")
	b = appendTime(b, it.CollectedAt)
	raw(`<div class="muted">`)
	text(it.Source)
	raw("</div></td>\n<td>")
	b = appendTime(b, it.AddedAt)
	raw(`<div class="muted">`)
	if it.AddedBy.Name != "" {
		text(it.AddedBy.Name)
	} else {
		raw(`user `)
		num(it.AddedBy.ID)
	}
	name := it.FileName
	if name == "" {
		name = it.SHA256
	}
	raw("</div></td>\n<td class=\"file\"><a href=\"" + filesDir + it.SHA256 + `" download="`)
	text(blob.SanitizeFilename(name))
	raw(`" type="`)
	text(it.MediaType)
	raw(`">`)
	text(name)
	raw(`</a><div class="muted">`)
	raw(formatBytes(it.Size))
	raw(` · `)
	text(it.MediaType)
	raw("</div></td>\n<td class=\"hash\">" + it.SHA256 + "</td>\n<td class=\"nowrap\">")
	num(it.LedgerIndex)
	raw("</td>\n<td class=\"status\">")
	switch {
	case it.Retraction != nil:
		raw(`<span class="badge retracted">retracted</span> `)
		b = appendTime(b, it.Retraction.At)
		raw(` (entry `)
		num(it.Retraction.LedgerIndex)
		raw(`): `)
		text(it.Retraction.Reason)
	case it.SupersededBy != nil:
		raw(`<span class="badge superseded">superseded</span>`)
	default:
		raw(`<span class="badge current">current</span>`)
	}
	if s := it.SupersededBy; s != nil {
		raw(`<div>by `)
		itemLink(s.ID)
		raw(` (entry `)
		num(s.LedgerIndex)
		raw(`)</div>`)
	}
	if it.Supersedes != nil {
		raw(`<div>corrects `)
		itemLink(*it.Supersedes)
		raw(`</div>`)
	}
	raw("</td>\n</tr>\n")
	p.buf = b
	_, err := p.w.Write(b)
	return err
}

// appendTime appends a time as its date and its time of day, each kept on one line.
func appendTime(b []byte, t time.Time) []byte {
	day, clock, _ := strings.Cut(formatTime(t), " ")
	b = append(b, `<span class="time">`...)
	b = append(b, day...)
	b = append(b, `</span> <span class="time">`...)
	b = append(b, clock...)
	return append(b, `</span>`...)
}

// appendEscaped appends s escaped for HTML text and quoted attribute values.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&#34;"...)
		case '\'':
			b = append(b, "&#39;"...)
		case 0:
			b = append(b, "\uFFFD"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func writeReadme(w io.Writer, h pageHeader) error {
	return readmeTemplate.Execute(w, h)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatCount writes n with thousands separators: 1,234,567.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatBytes(n int64) string {
	const unit = 1024
	if n == 1 {
		return "1 byte"
	}
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
