package importer

import (
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/monitor"
)

// hrColumn is a column of the HR roster and the header names it is recognized by, compared
// after squash.
type hrColumn struct {
	name     string
	aliases  []string
	required bool
}

var hrColumns = []hrColumn{
	{"employee_id", []string{"employee id", "employee number", "employee no", "worker id", "personnel number", "id"}, false},
	{"name", []string{"name", "full name", "employee name", "display name"}, false}, // or first and last name
	{"first_name", []string{"first name", "given name"}, false},
	{"last_name", []string{"last name", "surname", "family name"}, false},
	{"email", []string{"email", "work email", "email address", "work email address"}, true},
	{"start_date", []string{"start date", "hire date", "date hired", "start"}, true},
	{"end_date", []string{"end date", "termination date", "last day", "last working day", "leave date", "end"}, false},
	{"manager", []string{"manager", "manager email", "manager email address", "supervisor email"}, false},
	{"department", []string{"department", "dept"}, false},
	{"employment_type", []string{"employment type", "employee type", "worker type", "contract type", "type"}, false},
	{"title", []string{"title", "job title", "position"}, false},
}

// hrAlias maps a squashed header name to its column.
var hrAlias = func() map[string]string {
	m := map[string]string{}
	for _, c := range hrColumns {
		for _, a := range c.aliases {
			m[squash(a)] = c.name
		}
		m[squash(c.name)] = c.name
	}
	return m
}()

// squash lower-cases a header name and drops spaces, underscores, hyphens, dots and
// apostrophes, so "Start Date", "start_date" and "START-DATE" compare equal.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '\'', '’', '\t':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// employmentTypeNames are the employment types hr.person stores from a roster.
var employmentTypeNames = []string{"full_time", "part_time", "contractor", "intern"}

// EmploymentTypes returns the employment types an HR roster may give, as hr.person stores
// them; other spellings such as "Full-time" or "contract" are read as one of these.
func EmploymentTypes() []string { return append([]string(nil), employmentTypeNames...) }

// employmentTypes maps squashed spellings to employmentTypeNames.
var employmentTypes = map[string]string{
	"fulltime": "full_time", "ft": "full_time", "employee": "full_time", "permanent": "full_time", "fulltimeemployee": "full_time",
	"parttime": "part_time", "pt": "part_time", "parttimeemployee": "part_time",
	"contractor": "contractor", "contract": "contractor", "consultant": "contractor", "freelancer": "contractor", "freelance": "contractor",
	"intern": "intern", "internship": "intern", "trainee": "intern", "apprentice": "intern",
}

// importHR reads the HR roster into hr.person resources.
func importHR(p *run, in *lineReader) error {
	p.columns = true
	c := newCSVStream(in)
	if err := c.readHeader("name, email and start date columns"); err != nil {
		return err
	}
	col := map[string]int{}
	for i, h := range c.header {
		name, ok := hrAlias[squash(h)]
		if !ok {
			p.sum.Ignored = append(p.sum.Ignored, h)
			continue
		}
		if j, dup := col[name]; dup {
			return &Error{Line: 1, Column: h, Msg: fmt.Sprintf("is a second %s column after %s", strings.ReplaceAll(name, "_", " "), c.header[j])}
		}
		col[name] = i
	}
	_, hasName := col["name"]
	_, hasFirst := col["first_name"]
	_, hasLast := col["last_name"]
	if !hasName && !(hasFirst && hasLast) {
		return &Error{Line: 1, Msg: "the header has no name column (or first name and last name); " + hrExpected}
	}
	for _, hc := range hrColumns {
		if _, ok := col[hc.name]; hc.required && !ok {
			return &Error{Line: 1, Msg: "the header has no " + strings.ReplaceAll(hc.name, "_", " ") + " column (also read as: " + strings.Join(hc.aliases, ", ") + "); " + hrExpected}
		}
	}
	p.columnOf = map[string]string{}
	for name, i := range col {
		p.columnOf[name] = c.header[i]
	}
	if i, ok := col["employee_id"]; ok {
		p.columnOf["id"] = c.header[i]
	} else {
		p.columnOf["id"] = c.header[col["email"]]
	}
	cell := func(name string) (string, int) {
		i, ok := col[name]
		if !ok {
			return "", -1
		}
		return c.rec[i], i
	}
	ids := map[string]int{}
	emails := map[string]int{}
	for {
		line, err := c.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		attrs := map[string]any{}
		name, ni := cell("name")
		if name == "" && hasFirst && hasLast {
			first, _ := cell("first_name")
			last, _ := cell("last_name")
			name = joinNonEmpty(" ", first, last)
			ni = col["first_name"]
		}
		if name == "" {
			return c.cellError(ni, "is required")
		}
		email, ei := cell("email")
		if email == "" {
			return c.cellError(ei, "is required")
		}
		if email, err = parseEmail(email); err != nil {
			return c.cellError(ei, "%v", err)
		}
		if first, dup := emails[email]; dup {
			return c.cellError(ei, "%s is already on line %d", email, first)
		}
		emails[email] = line
		attrs["email"] = email
		startText, si := cell("start_date")
		if startText == "" {
			return c.cellError(si, "is required")
		}
		start, err := parseDate(startText)
		if err != nil {
			return c.cellError(si, "%v", err)
		}
		attrs["start_date"] = start
		if v, i := cell("end_date"); v != "" {
			end, err := parseDate(v)
			if err != nil {
				return c.cellError(i, "%v", err)
			}
			if end.Before(start) {
				return c.cellError(i, "is before the start date %s", start.Format(time.DateOnly))
			}
			attrs["end_date"] = end
		}
		if v, i := cell("manager"); v != "" {
			m, err := parseEmail(v)
			if err != nil {
				return c.cellError(i, "must be the manager's email address: %v", err)
			}
			attrs["manager"] = m
		}
		if v, _ := cell("department"); v != "" {
			attrs["department"] = v
		}
		if v, _ := cell("title"); v != "" {
			attrs["title"] = v
		}
		attrs["employment_type"] = "full_time"
		if v, i := cell("employment_type"); v != "" {
			t, ok := employmentTypes[squash(v)]
			if !ok {
				return c.cellError(i, "must be one of %s, not %q", strings.Join(employmentTypeNames, ", "), v)
			}
			attrs["employment_type"] = t
		}
		id := email
		if v, i := cell("employee_id"); v != "" {
			id = v
			if first, dup := ids[id]; dup {
				return c.cellError(i, "%q is already on line %d", id, first)
			}
			ids[id] = line
		}
		if err := p.put(line, monitor.Resource{Type: "hr.person", ExternalID: id, Name: name, Attributes: attrs}); err != nil {
			return err
		}
	}
}

const hrExpected = "an HR roster has the columns name, email, start date, end date, manager, department and employment type"

// parseDate reads a YYYY-MM-DD date as midnight UTC.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be a date like 2026-03-31, not %q", s)
	}
	return t, nil
}

// parseEmail checks a bare email address (no display name) and lower-cases it, since
// accounts in other sources are matched by it.
func parseEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || strings.ContainsAny(s, " <>\"") {
		return "", fmt.Errorf("must be an email address like alice@example.com, not %q", s)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") {
		return "", fmt.Errorf("must be an email address with a domain like example.com, not %q", s)
	}
	return strings.ToLower(s), nil
}
