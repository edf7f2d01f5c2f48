package monitor

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"sync"
)

// The resource type reference: the page people read to write tests. Both renderings come
// from Schemas, so the reference cannot drift from what the checker accepts.

// ReferenceField is a field flattened for the reference: nested fields get a path such as
// "access_keys[].id".
type ReferenceField struct {
	Path        string
	Kind        Kind
	Optional    bool
	Description string
	Depth       int
}

// Flatten lists a schema's fields with their nested fields, in order, prefixed with the
// fields every resource has.
func (s *TypeSchema) Flatten() []ReferenceField {
	var out []ReferenceField
	for _, f := range builtinFields {
		out = append(out, ReferenceField{Path: f.Name, Kind: f.Kind, Description: f.Description})
	}
	var walk func(prefix string, depth int, fields []Field)
	walk = func(prefix string, depth int, fields []Field) {
		for _, f := range fields {
			path := prefix + f.Name
			out = append(out, ReferenceField{Path: path, Kind: f.Kind, Optional: f.Optional, Description: f.Description, Depth: depth})
			switch f.Kind {
			case KindObject:
				walk(path+".", depth+1, f.Fields)
			case KindObjectList:
				walk(path+"[].", depth+1, f.Fields)
			}
		}
	}
	walk("", 0, s.Fields)
	return out
}

// referenceIntro explains the test language; it is shared by both renderings.
var referenceIntro = []struct{ Name, Text string }{
	{"resource", "The resource being judged, with the fields of its type below. Read a field as resource.mfa_enabled; test an optional field with has(resource.last_login) or read it with a default as resource.?last_login.orValue(resource.created_at)."},
	{"now", "The time of the run, a timestamp. Ages are differences: now - resource.created_at > days(90)."},
	{"params", "The test's parameters, such as params.max_age_days, so thresholds can be changed without rewriting the expression."},
	{"days(n)", "A duration of n days."},
	{"related(type, field, value)", "The resources of another type whose field equals value, compared without regard to case or surrounding space; the field may be a string or a list of strings. Type and field are quoted. For example, for a person who left: related(\"okta.user\", \"email\", resource.email).all(u, u.status != \"ACTIVE\")."},
	{"Library", "CEL's standard functions and macros (has, all, exists, exists_one, map, filter, size, matches, startsWith, timestamp, duration…), optional values, and the strings (lowerAscii, split, join, replace…), lists, sets and bindings (cel.bind) extensions."},
}

// ReferenceMarkdown renders the resource type reference as Markdown.
func ReferenceMarkdown() string {
	var b strings.Builder
	b.WriteString("# Resource types\n\n")
	b.WriteString("A test is a CEL expression judged once per resource of its type; true passes. It may narrow the resources it judges with a `where` expression and explain failures with a `message` expression. Expressions see:\n\n")
	for _, it := range referenceIntro {
		fmt.Fprintf(&b, "- `%s`: %s\n", it.Name, mdEscape(it.Text))
	}
	b.WriteString("\n")
	for _, s := range Schemas() {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", s.Type, mdEscape(s.Description))
		fmt.Fprintf(&b, "Source: %s. ID: %s\n\n", s.Source, mdEscape(s.ID))
		if s.Open {
			b.WriteString("Every attribute the client sends is a field, read as a dynamic value.\n\n")
		}
		b.WriteString("| field | kind | description |\n| --- | --- | --- |\n")
		for _, f := range s.Flatten() {
			desc := mdEscape(f.Description)
			if f.Optional {
				desc = "Optional. " + desc
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Path, mdEscape(string(f.Kind)), desc)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

var referenceTemplate = template.Must(template.New("reference").Parse(`<section class="reference">
<h1>Resource types</h1>
<p>A test is a CEL expression judged once per resource of its type; true passes. It may narrow the resources it judges with a <code>where</code> expression and explain failures with a <code>message</code> expression. Expressions see:</p>
<dl>
{{- range .Intro}}
<dt><code>{{.Name}}</code></dt><dd>{{.Text}}</dd>
{{- end}}
</dl>
<nav aria-label="Resource types"><ul>
{{- range .Schemas}}
<li><a href="#type-{{.Type}}">{{.Type}}</a></li>
{{- end}}
</ul></nav>
{{- range .Schemas}}
<article id="type-{{.Type}}">
<h2><code>{{.Type}}</code></h2>
<p>{{.Description}}</p>
<p>Source: {{.Source}}. ID: {{.ID}}</p>
{{- if .Open}}
<p>Every attribute the client sends is a field, read as a dynamic value.</p>
{{- end}}
<table>
<thead><tr><th scope="col">Field</th><th scope="col">Kind</th><th scope="col">Description</th></tr></thead>
<tbody>
{{- range .Flatten}}
<tr><td><code>{{.Path}}</code></td><td>{{.Kind}}</td><td>{{if .Optional}}Optional. {{end}}{{.Description}}</td></tr>
{{- end}}
</tbody>
</table>
</article>
{{- end}}
</section>
`))

var (
	referenceOnce sync.Once
	referenceHTML template.HTML
)

// ReferenceHTML renders the resource type reference as an HTML fragment (a section with a
// table of contents and one article per type, anchored at #type-TYPE) for the web layer to
// place in its page.
func ReferenceHTML() template.HTML {
	referenceOnce.Do(func() {
		var buf bytes.Buffer
		schemas := Schemas()
		ptrs := make([]*TypeSchema, len(schemas))
		for i := range schemas {
			ptrs[i] = &schemas[i]
		}
		err := referenceTemplate.Execute(&buf, map[string]any{"Intro": referenceIntro, "Schemas": ptrs})
		if err != nil {
			panic("monitor: render the reference: " + err.Error())
		}
		referenceHTML = template.HTML(buf.String())
	})
	return referenceHTML
}
