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

// referenceIntro explains the test language; it is shared by both renderings. Each example
// is an expression over resources of Type, checked by the tests.
var referenceIntro = []struct{ Name, Text, Example, Type string }{
	{"resource", "The resource being judged, with the fields of its type listed below. Optional fields may be absent: test them with has(), or read them with a default through ?field.orValue().",
		`has(resource.last_login) && resource.?last_login.orValue(resource.created_at) > now - days(90)`, "okta.user"},
	{"now", "The time of the run, a timestamp. Ages are differences.", `now - resource.created_at > days(90)`, "aws.iam.user"},
	{"params", "The test's parameters, so thresholds change without rewriting the expression.", `resource.backup_retention_days >= params.min_days`, "aws.rds.instance"},
	{"days(n)", "A duration of n days.", `resource.created_at > now - days(params.max_age_days)`, "aws.kms.key"},
	{"related(type, field, value)", "The resources of another type whose field (a string, or a list of strings) equals value, ignoring case and surrounding space. Type and field are quoted.",
		`related("okta.user", "email", resource.email).all(u, u.status != "ACTIVE")`, "hr.person"},
	{"CEL library", "The standard functions and macros (has, all, exists, exists_one, map, filter, size, matches, timestamp, duration…), optional values, and the strings, lists, sets, bindings and two-variable comprehension extensions.",
		`resource.tags.all(k, v, !k.startsWith("tmp")) && cel.bind(n, resource.name.lowerAscii(), n != "admin")`, "aws.iam.user"},
}

// referenceExample is a test in the YAML format of the library and of users' test files.
const referenceExample = `id: aws-iam-access-keys-rotated
title: Active access keys are rotated within 90 days
description: Long-lived access keys leak through laptops, logs and repositories.
type: aws.iam.user
where: resource.console_access || resource.access_keys.size() > 0
expression: |-
  resource.access_keys.all(k, k.status != "Active" || now - k.created_at <= days(params.max_age_days))
message: |-
  "keys older than " + string(params.max_age_days) + " days: " +
  resource.access_keys.filter(k, k.status == "Active" && now - k.created_at > days(params.max_age_days)).map(k, k.id).join(", ")
severity: medium
remediation: Create a second key, move the workload to it, then deactivate and delete the old one.
remediation_snippet: aws iam update-access-key --user-name USER --access-key-id OLD_KEY_ID --status Inactive
controls: [AC-10]
params:
  max_age_days: 90`

// referenceLead introduces the reference.
const referenceLead = "A test judges every resource of its type (narrowed by an optional where expression) with a CEL expression: true passes, false fails, and an optional message expression explains a failure. Expressions see:"

// ReferenceMarkdown renders the resource type reference as Markdown.
func ReferenceMarkdown() string {
	var b strings.Builder
	b.WriteString("# Resource types\n\n")
	b.WriteString(referenceLead + "\n\n")
	for _, it := range referenceIntro {
		fmt.Fprintf(&b, "- `%s`: %s For example `%s`\n", it.Name, mdEscape(it.Text), it.Example)
	}
	b.WriteString("\nA test in YAML (the format of the shipped library and of uploaded test files):\n\n```yaml\n")
	b.WriteString(referenceExample)
	b.WriteString("\n```\n\n")
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
<p>{{.Lead}}</p>
<dl>
{{- range .Intro}}
<dt><code>{{.Name}}</code></dt><dd>{{.Text}} For example <code>{{.Example}}</code></dd>
{{- end}}
</dl>
<p>A test in YAML (the format of the shipped library and of uploaded test files):</p>
<pre><code>{{.Example}}</code></pre>
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
		err := referenceTemplate.Execute(&buf, map[string]any{
			"Lead": referenceLead, "Intro": referenceIntro, "Example": referenceExample, "Schemas": ptrs,
		})
		if err != nil {
			panic("monitor: render the reference: " + err.Error())
		}
		referenceHTML = template.HTML(buf.String())
	})
	return referenceHTML
}
