// Package importer turns the files other tools write — scanner results, policy results, the
// HR roster and generic CSV — into monitor resources.
//
// # Formats
//
// Each kind reads one documented shape; Formats lists them for the CLI and the upload page.
// Scanner and policy results become resources of type finding.
//
//   - prowler: the JSON array Prowler v4 and v5 write with -M json-ocsf, one OCSF Detection
//     Finding per element. status_code (PASS, FAIL, MANUAL) becomes the status (pass, fail,
//     info); a muted finding (status "Suppressed") is skip. metadata.event_code is the check,
//     finding_info.title the title, resources[0] the resource (uid, type, region, name),
//     cloud.account.uid the account, status_detail (or message) the message,
//     remediation.desc and remediation.references the remediation, unmapped.compliance the
//     compliance mappings, severity (or severity_id) the severity, time_dt (or time, or
//     finding_info.created_time_dt) the observation time. IDs are "prowler:CHECK:RESOURCE".
//   - powerpipe: the JSON that powerpipe benchmark run --output json (and steampipe check
//     --output json) writes: a root group with nested groups, each with controls, each with
//     results {status, reason, resource, dimensions}. Status ok, alarm, info, skip and error
//     become pass, fail, info, skip and error; a control without a severity is info; the
//     dimensions account_id (or subscription_id, project) and region (or location) fill
//     account and region. A control that did not run (run_error set, no results) becomes one
//     error finding. The file records no time, so results are observed at the import. IDs
//     are "steampipe:CONTROL:RESOURCE", or the dimensions when a result names no resource.
//   - trivy: Trivy's JSON report (trivy image|fs|repo|config --format json, schema version 2):
//     every Results[].Vulnerabilities[] element is a failing finding (pass when its status is
//     not_affected) with package, installed and fixed versions; every
//     Results[].Misconfigurations[] element keeps its status (PASS, FAIL, EXCEPTION become
//     pass, fail, skip); every Results[].Secrets[] element is a failing finding whose message
//     never contains the secret. CreatedAt is the observation time. IDs are
//     "trivy:ID:ARTIFACT:TARGET" followed by the package, the misconfigured resource or the
//     secret's line.
//   - osquery: one or more JSON objects, one after another (JSON lines or concatenated),
//     each of one of these shapes:
//     Fleet's policy list, {"policies": [...]} from GET /api/v1/fleet/policies or a team's
//     policies, with passing_host_count and failing_host_count: one finding per policy,
//     failing while any host fails it, passing when hosts pass and none fails, skip when no
//     host has answered (ID "fleet:POLICY").
//     Fleet hosts, {"host": {...}} from GET /api/v1/fleet/hosts/ID or {"hosts": [...]}, each
//     with its policies answering response "pass", "fail" or "" (not run yet, skip): one
//     finding per host and policy (ID "fleet:POLICY:HOST").
//     osquery's scheduled query result log lines, as the filesystem logger writes them to
//     osqueryd.results.log, in event, snapshot or batch format. osquery queries have no pass
//     or fail of their own, so Evident reads them the way detection packs are written: a
//     row is a problem. A snapshot line is one finding per query and host, failing when the
//     snapshot has rows (ID "osquery:QUERY:HOST"); an added row fails and a removed row
//     passes, one finding per row with an ID ending in a hash of the row, so a removal
//     clears the finding its addition raised.
//     Fleet and osquery carry no severity: a Fleet policy marked critical is high, anything
//     else medium.
//   - csv: a header row, then one resource per row. The columns type and id are required,
//     name is optional (the ID when absent), and every other column is an attribute, named
//     by its header in lower case with runs of other characters as "_". For a custom.NAME
//     type each non-empty cell is a string attribute. For a registered type each column must
//     be one of its fields and the cell is converted to the field's kind: true or false (yes
//     or no), an integer, an RFC 3339 timestamp or a YYYY-MM-DD date, a semicolon-separated
//     list, key=value pairs separated by semicolons, or JSON for object fields. Empty cells
//     are absent attributes; rows of empty cells are skipped.
//   - hr: the HR roster CSV, one hr.person per row. Header names are matched ignoring case,
//     spaces, hyphens and underscores, with common synonyms: name (full name, or first name
//     and last name), email (work email), start date (hire date), end date (termination
//     date, last day), manager (manager email), department, employment type (worker type),
//     and the optional employee ID and title. Name, email and start date are required; dates
//     are YYYY-MM-DD; emails and the manager's email are validated and lower-cased; the
//     employment type is one of EmploymentTypes (full_time when the column is absent or the
//     cell empty). The external ID is the employee ID, or the email when there is none.
//     Other columns are ignored and listed in the Summary.
//
// # Streaming and errors
//
// Every importer reads its input once, front to back, and holds one element at a time: a
// Prowler finding, a Powerpipe control, a Trivy result, a Fleet host, a CSV row. Memory
// does not grow with a scanner's file, which is how a 100 MB Prowler export imports in a few
// megabytes. A single element larger than MaxElementBytes is an error. The CSV importers
// also remember each row's ID, to refuse a person or resource given twice; scanner formats
// do not, and a repeated ID replaces the earlier result in the inventory.
//
// A malformed input is an *Error naming the line and, where known, the field (JSON) or
// column (CSV): "line 7, column end_date: must be a date like 2026-03-31". For JSON syntax
// and type errors the line is where the error is; for a missing or invalid value it is the
// line where the object holding it starts. The first error ends the import, and emit is
// never called after it. Resources already emitted stay emitted: a caller that wants an
// import to be all or nothing must buffer what it is given or emit into a transaction it
// rolls back when Import returns an error.
package importer

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// MaxElementBytes bounds one element of the input: a JSON value decoded whole (a finding, a
// control, a Trivy result, a host) or one CSV record.
const MaxElementBytes = 64 << 20

// Format describes one kind of input the importer reads.
type Format struct {
	Kind        string `json:"kind"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Types are the resource types the format produces.
	Types []string `json:"types"`
}

type format struct {
	Format
	run func(p *run, in *lineReader) error
}

var formats = []format{
	{Format{Kind: "prowler", Title: "Prowler (OCSF JSON)", Types: []string{"finding"},
		Description: "Findings of prowler … -M json-ocsf: a JSON array of OCSF Detection Findings."}, importProwler},
	{Format{Kind: "powerpipe", Title: "Powerpipe or Steampipe benchmark (JSON)", Types: []string{"finding"},
		Description: "Results of powerpipe benchmark run --output json or steampipe check --output json."}, importPowerpipe},
	{Format{Kind: "trivy", Title: "Trivy report (JSON)", Types: []string{"finding"},
		Description: "Vulnerabilities, misconfigurations and secrets from trivy … --format json."}, importTrivy},
	{Format{Kind: "osquery", Title: "osquery or Fleet policy results (JSON)", Types: []string{"finding"},
		Description: "Fleet's policies or hosts from its API, or osquery scheduled query result log lines."}, importOsquery},
	{Format{Kind: "csv", Title: "Resources (CSV)", Types: []string{"any registered type", "custom.NAME"},
		Description: "A header row with type, id and optional name columns; other columns are attributes."}, importCSV},
	{Format{Kind: "hr", Title: "HR roster (CSV)", Types: []string{"hr.person"},
		Description: "Name, email, start date, end date, manager, department and employment type, one person per row."}, importHR},
}

// Formats lists the formats the importer reads, in a stable order.
func Formats() []Format {
	out := make([]Format, len(formats))
	for i, f := range formats {
		out[i] = f.Format
		out[i].Types = append([]string(nil), f.Types...)
	}
	return out
}

// Kinds lists the kinds Import accepts, sorted.
func Kinds() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.Kind
	}
	sort.Strings(out)
	return out
}

// Summary tells what an import produced.
type Summary struct {
	Kind string `json:"kind"`
	// Resources counts the resources emitted.
	Resources int `json:"resources"`
	// Types counts the resources emitted per type.
	Types map[string]int `json:"types"`
	// Statuses counts the finding resources per status (pass, fail, error, skip, info).
	Statuses map[string]int `json:"statuses,omitempty"`
	// Bytes is the size of the input read, without a byte order mark.
	Bytes int64 `json:"bytes"`
	// Ignored lists the columns of an HR roster that are not imported, as written in the
	// header, so a misspelt column does not go unnoticed.
	Ignored []string `json:"ignored_columns,omitempty"`
}

// Importer reads files into resources. The zero value is ready to use.
type Importer struct {
	// Connection is set on every resource emitted, naming the import (such as
	// "import:prowler"); empty leaves it unset for the caller to fill.
	Connection string
	// Now gives the observation time of results whose format does not record one (Powerpipe
	// results, osquery lines without a time, Trivy reports before CreatedAt existed); nil
	// means time.Now.
	Now func() time.Time
}

// Import reads one input of the given kind with the zero Importer.
func Import(ctx context.Context, kind string, r io.Reader, emit func(monitor.Resource) error) (Summary, error) {
	return Importer{}.Import(ctx, kind, r, emit)
}

// Import reads r as the given kind and calls emit for every resource, in input order. Every
// resource emitted passes monitor.ValidateResource. It stops at the first error: a malformed
// input (an *Error, which is also a domain invalid-input error), an error from emit (returned
// wrapped with the line it was emitted for), a read error or the context's error; emit is
// not called after it. See the package documentation for what each kind reads and why a
// caller needs a transaction for an all-or-nothing import.
func (im Importer) Import(ctx context.Context, kind string, r io.Reader, emit func(monitor.Resource) error) (Summary, error) {
	sum := Summary{Kind: kind, Types: map[string]int{}}
	var f *format
	for i := range formats {
		if formats[i].Kind == kind {
			f = &formats[i]
		}
	}
	if f == nil {
		return sum, domain.Invalid("kind", "unknown import kind %q; use one of %s", kind, strings.Join(Kinds(), ", "))
	}
	now := im.Now
	if now == nil {
		now = time.Now
	}
	p := &run{ctx: ctx, emit: emit, conn: im.Connection, now: now().UTC(), sum: &sum}
	in := newLineReader(r, MaxElementBytes)
	err := f.run(p, in)
	sum.Bytes = in.read
	if len(sum.Statuses) == 0 {
		sum.Statuses = nil
	}
	return sum, err
}

// Error is a malformed input. It names the line (1-based) and the JSON field or CSV column
// at fault where known. It unwraps to a domain invalid-input error for the "file" field, so
// the web layer answers it as a 400 with the whole message.
type Error struct {
	Line   int
	Field  string // the JSON field, as a dotted path within the object at Line
	Column string // the CSV column, as written in the header
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d", e.Line)
	}
	switch {
	case e.Column != "":
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString("column " + e.Column)
	case e.Field != "":
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString("field " + e.Field)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes the error an invalid-input error naming the uploaded file.
func (e *Error) Unwrap() error {
	return &domain.Error{Kind: domain.KindInvalid, Field: "file", Message: e.Error()}
}

// errorf returns an *Error for a JSON field.
func errorf(line int, field, format string, args ...any) error {
	return &Error{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// run is the state of one import shared by every format.
type run struct {
	ctx  context.Context
	emit func(monitor.Resource) error
	conn string
	now  time.Time
	sum  *Summary
	// columns makes validation errors name CSV columns rather than JSON fields; columnOf
	// maps attribute names to their column as written in the header.
	columns  bool
	columnOf map[string]string
}

// put validates a resource and hands it to emit. line is the line the resource came from.
func (p *run) put(line int, r monitor.Resource) error {
	if p.sum.Resources%256 == 0 {
		if err := p.ctx.Err(); err != nil {
			return err
		}
	}
	r.Connection = p.conn
	if err := checkText(&r); err != nil {
		return p.invalid(line, err.field, err.msg)
	}
	if err := monitor.ValidateResource(&r); err != nil {
		field := strings.TrimPrefix(domain.FieldOf(err), "attributes.")
		msg := strings.TrimPrefix(domain.MessageOf(err), domain.FieldOf(err)+": ")
		return p.invalid(line, field, msg)
	}
	if err := p.emit(r); err != nil {
		return fmt.Errorf("line %d: %w", line, err)
	}
	p.sum.Resources++
	p.sum.Types[r.Type]++
	if r.Type == "finding" {
		if s, ok := r.Attributes["status"].(string); ok {
			if p.sum.Statuses == nil {
				p.sum.Statuses = map[string]int{}
			}
			p.sum.Statuses[s]++
		}
	}
	return nil
}

// invalid reports a resource that does not validate, naming the attribute as a JSON field
// or as the CSV column it came from.
func (p *run) invalid(line int, field, msg string) error {
	if !p.columns {
		return &Error{Line: line, Field: field, Msg: msg}
	}
	top, rest := field, ""
	if i := strings.IndexAny(field, ".["); i >= 0 {
		top, rest = field[:i], field[i:]
	}
	if col, ok := p.columnOf[top]; ok {
		top = col
	}
	return &Error{Line: line, Column: top + rest, Msg: msg}
}

type textError struct{ field, msg string }

// checkText rejects NUL characters, which PostgreSQL cannot store in text or JSON, so a
// file that would fail in one store fails the same way in both, with its line.
func checkText(r *monitor.Resource) *textError {
	bad := func(s string) bool { return strings.IndexByte(s, 0) >= 0 }
	if bad(r.ExternalID) {
		return &textError{"id", "contains a NUL character"}
	}
	if bad(r.Name) {
		return &textError{"name", "contains a NUL character"}
	}
	for k, v := range r.Attributes {
		switch v := v.(type) {
		case string:
			if bad(v) {
				return &textError{k, "contains a NUL character"}
			}
		case []string:
			for _, s := range v {
				if bad(s) {
					return &textError{k, "contains a NUL character"}
				}
			}
		case map[string]string:
			for mk, s := range v {
				if bad(mk) || bad(s) {
					return &textError{k, "contains a NUL character"}
				}
			}
		}
	}
	return nil
}

// finding is the common shape of a scanner result before it becomes a resource.
type finding struct {
	source, checkID, title, status, severity  string
	resourceID, resourceType, account, region string
	message, remediation                      string
	pkg, installed, fixed                     string
	compliance                                []string
	observed                                  time.Time
	id, name                                  string
}

// resource builds the finding resource, leaving out empty optional attributes.
func (f *finding) resource() monitor.Resource {
	attrs := make(map[string]any, 16) // room for every finding field without growing
	attrs["source"] = f.source
	attrs["check_id"] = f.checkID
	attrs["title"] = f.title
	attrs["status"] = f.status
	attrs["severity"] = f.severity
	attrs["observed_at"] = f.observed
	opt := func(k, v string) {
		if v != "" {
			attrs[k] = v
		}
	}
	opt("resource_id", f.resourceID)
	opt("resource_type", f.resourceType)
	opt("account", f.account)
	opt("region", f.region)
	opt("message", f.message)
	opt("remediation", f.remediation)
	opt("package", f.pkg)
	opt("installed_version", f.installed)
	opt("fixed_version", f.fixed)
	if len(f.compliance) > 0 {
		attrs["compliance"] = f.compliance
	}
	id := f.id
	if id == "" {
		id = f.source + ":" + f.checkID
		if f.resourceID != "" {
			id += ":" + f.resourceID
		}
	}
	name := f.name
	if name == "" {
		name = f.title
	}
	return monitor.Resource{Type: "finding", ExternalID: id, Name: name, Attributes: attrs}
}

// severities maps the severity words tools use to the finding schema's.
var severities = map[string]string{
	"critical": "critical", "fatal": "critical",
	"high":   "high",
	"medium": "medium", "moderate": "medium",
	"low":  "low",
	"info": "info", "informational": "info", "information": "info", "none": "info", "unknown": "info", "other": "info", "negligible": "info",
}

// severity normalizes a tool's severity word; ok is false for a word it does not know.
func severity(s string) (string, bool) {
	v, ok := severities[strings.ToLower(strings.TrimSpace(s))]
	return v, ok
}

// clean trims surrounding space.
func clean(s string) string { return strings.TrimSpace(s) }

// firstNonEmpty returns the first argument that is not blank, trimmed.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = clean(s); s != "" {
			return s
		}
	}
	return ""
}
