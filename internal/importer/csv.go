package importer

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/evidenthq/evident/internal/monitor"
)

// csvStream reads CSV records one at a time, with the header, and turns encoding/csv's
// errors into *Error values.
type csvStream struct {
	in     *lineReader
	r      *csv.Reader
	header []string // as written, trimmed
	rec    []string
}

func newCSVStream(in *lineReader) *csvStream {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1 // checked here, to say which line and how many
	r.ReuseRecord = true
	return &csvStream{in: in, r: r}
}

// readHeader reads the header row.
func (c *csvStream) readHeader(want string) error {
	rec, err := c.r.Read()
	if err == io.EOF {
		return &Error{Line: 1, Msg: "the file is empty; want a header row with " + want}
	}
	if err != nil {
		return c.fail(err)
	}
	c.header = make([]string, len(rec))
	for i, h := range rec {
		h = clean(h)
		if !utf8.ValidString(h) {
			return &Error{Line: 1, Msg: fmt.Sprintf("header %d is not valid UTF-8; save the file as UTF-8", i+1)}
		}
		if h == "" {
			return &Error{Line: 1, Msg: fmt.Sprintf("header %d is empty; every column needs a name", i+1)}
		}
		c.header[i] = h
	}
	c.in.advance(c.r.InputOffset())
	return nil
}

// next reads the next record that has a non-blank cell, returning io.EOF at the end. The
// record has exactly one cell per header column.
func (c *csvStream) next() (line int, err error) {
	for {
		rec, err := c.r.Read()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, c.fail(err)
		}
		c.in.advance(c.r.InputOffset())
		line, _ = c.r.FieldPos(0)
		blank := true
		for _, v := range rec {
			if strings.TrimSpace(v) != "" {
				blank = false
				break
			}
		}
		if blank {
			continue // spreadsheets leave rows of empty cells behind
		}
		if len(rec) < len(c.header) {
			return line, &Error{Line: line, Msg: fmt.Sprintf("has %d fields; the header has %d", len(rec), len(c.header))}
		}
		for i := len(c.header); i < len(rec); i++ {
			if strings.TrimSpace(rec[i]) != "" {
				return line, &Error{Line: line, Msg: fmt.Sprintf("has %d fields; the header has %d (is a comma in an unquoted value?)", len(rec), len(c.header))}
			}
		}
		c.rec = rec[:len(c.header)]
		for i, v := range c.rec {
			if !utf8.ValidString(v) {
				return line, c.cellError(i, "is not valid UTF-8; save the file as UTF-8")
			}
			c.rec[i] = clean(v)
		}
		return line, nil
	}
}

// cellError reports a problem with cell i of the current record, on the line it starts.
func (c *csvStream) cellError(i int, format string, args ...any) error {
	line, _ := c.r.FieldPos(i)
	return &Error{Line: line, Column: c.header[i], Msg: fmt.Sprintf(format, args...)}
}

// fail turns an encoding/csv error into an *Error.
func (c *csvStream) fail(err error) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errTooLarge):
		return &Error{Line: c.in.lineAt(c.in.base), Msg: "a record is larger than " + sizeText(c.in.limit) + " (is a quote not closed?)"}
	case c.in.err != nil && errors.Is(err, c.in.err):
		return fmt.Errorf("read input: %w", err)
	case errors.As(err, &pe):
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
			msg += fmt.Sprintf(" (at character %d)", pe.Column)
			if pe.StartLine != pe.Line {
				msg += fmt.Sprintf(" in the record starting on line %d", pe.StartLine)
			}
		}
		return &Error{Line: pe.Line, Msg: msg}
	}
	return err
}

// normalizeHeader turns a header into an attribute name: lower case, runs of anything but
// letters and digits as one underscore.
func normalizeHeader(h string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
			continue
		}
		sep = true
	}
	return b.String()
}

// typeInfo is what the generic CSV importer knows about one resource type.
type typeInfo struct {
	schema monitor.TypeSchema
}

// importCSV reads generic resources: type and id columns, an optional name, and attributes.
func importCSV(p *run, in *lineReader) error {
	p.columns = true
	c := newCSVStream(in)
	if err := c.readHeader("type and id columns"); err != nil {
		return err
	}
	typeCol, idCol, nameCol := -1, -1, -1
	attrs := make([]string, len(c.header)) // the attribute name of each column, "" for type, id, name
	seen := map[string]int{}
	for i, h := range c.header {
		n := normalizeHeader(h)
		if n == "" {
			return &Error{Line: 1, Column: h, Msg: "needs a name made of letters or digits"}
		}
		if j, dup := seen[n]; dup {
			return &Error{Line: 1, Column: h, Msg: fmt.Sprintf("repeats column %s", c.header[j])}
		}
		seen[n] = i
		switch n {
		case "type":
			typeCol = i
		case "id":
			idCol = i
		case "name":
			nameCol = i
		default:
			attrs[i] = n
		}
	}
	if typeCol < 0 || idCol < 0 {
		missing := "type"
		if typeCol >= 0 {
			missing = "id"
		}
		return &Error{Line: 1, Msg: "the header has no " + missing + " column; a resources CSV needs type and id, and may have name and attribute columns"}
	}
	p.columnOf = map[string]string{}
	for i, a := range attrs {
		if a != "" {
			p.columnOf[a] = c.header[i]
		}
	}
	types := map[string]*typeInfo{}
	ids := map[string]int{}
	for {
		line, err := c.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		typ := c.rec[typeCol]
		if typ == "" {
			return c.cellError(typeCol, "is required")
		}
		ti, ok := types[typ]
		if !ok {
			s, known := monitor.SchemaFor(typ)
			if !known {
				return c.cellError(typeCol, "unknown resource type %q; use a registered type (see the resource reference) or custom.NAME", typ)
			}
			ti = &typeInfo{schema: s}
			types[typ] = ti
		}
		id := c.rec[idCol]
		if id == "" {
			return c.cellError(idCol, "is required")
		}
		key := typ + "\x00" + id
		if first, dup := ids[key]; dup {
			return c.cellError(idCol, "%s %q is already on line %d", typ, id, first)
		}
		ids[key] = line
		name := id
		if nameCol >= 0 && c.rec[nameCol] != "" {
			name = c.rec[nameCol]
		}
		r := monitor.Resource{Type: typ, ExternalID: id, Name: name, Attributes: map[string]any{}}
		for i, a := range attrs {
			v := c.rec[i]
			if a == "" || v == "" {
				continue
			}
			if ti.schema.Open {
				r.Attributes[a] = v
				continue
			}
			f, ok := ti.schema.Field(a)
			if !ok {
				return c.cellError(i, "is not a field of %s; leave it empty on %s rows", typ, typ)
			}
			val, err := cellValue(f, v)
			if err != nil {
				return c.cellError(i, "%v", err)
			}
			r.Attributes[a] = val
		}
		if err := p.put(line, r); err != nil {
			return err
		}
	}
}

// cellValue converts a cell to an attribute of the field's kind.
func cellValue(f monitor.Field, v string) (any, error) {
	switch f.Kind {
	case monitor.KindString:
		return v, nil
	case monitor.KindBool:
		switch strings.ToLower(v) {
		case "true", "yes", "y", "1":
			return true, nil
		case "false", "no", "n", "0":
			return false, nil
		}
		return nil, fmt.Errorf("must be true or false, not %q", v)
	case monitor.KindInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be an integer, not %q", v)
		}
		return n, nil
	case monitor.KindTimestamp:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC(), nil
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			return t, nil
		}
		return nil, fmt.Errorf("must be a date like 2026-03-31 or a timestamp like 2026-03-31T12:00:00Z, not %q", v)
	case monitor.KindStringList:
		var out []string
		for _, s := range strings.Split(v, ";") {
			if s = clean(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case monitor.KindStringMap:
		out := map[string]string{}
		for _, kv := range strings.Split(v, ";") {
			if kv = clean(kv); kv == "" {
				continue
			}
			k, val, ok := strings.Cut(kv, "=")
			if !ok || clean(k) == "" {
				return nil, fmt.Errorf("must be key=value pairs separated by semicolons, not %q", kv)
			}
			out[clean(k)] = clean(val)
		}
		return out, nil
	case monitor.KindObject, monitor.KindObjectList:
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			return nil, fmt.Errorf("must be JSON for this %s field: %v", f.Kind, err)
		}
		return x, nil
	}
	return nil, fmt.Errorf("has a kind (%s) a CSV cannot hold", f.Kind)
}
