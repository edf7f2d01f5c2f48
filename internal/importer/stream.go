package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

var errTooLarge = errors.New("element too large")

// lineReader passes the input through to a decoder, dropping a leading byte order mark,
// and keeps the bytes read since the start of the current element so that an offset the
// decoder reports can be turned into a line number. Newlines are counted once, as elements
// are left behind, so finding a line costs nothing until there is an error.
type lineReader struct {
	r     *bufio.Reader
	buf   []byte // buf[start:] holds the bytes from offset base to offset read
	start int
	base  int64
	line  int // the 1-based line of the byte at offset base
	read  int64
	limit int
	err   error // the first error of the underlying reader, other than io.EOF
}

var bom = []byte{0xEF, 0xBB, 0xBF}

func newLineReader(r io.Reader, limit int) *lineReader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(len(bom)); err == nil && bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	return &lineReader{r: br, line: 1, limit: limit}
}

// Read implements io.Reader for the decoder.
func (l *lineReader) Read(p []byte) (int, error) {
	if len(l.buf)-l.start >= l.limit {
		return 0, errTooLarge
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if l.start > 0 && l.start >= len(l.buf)-l.start {
			// The bytes already left behind outweigh those kept: slide the kept ones down
			// rather than let the buffer grow with the file.
			k := copy(l.buf, l.buf[l.start:])
			l.buf = l.buf[:k]
			l.start = 0
		}
		l.buf = append(l.buf, p[:n]...)
		l.read += int64(n)
	}
	if err != nil && err != io.EOF && l.err == nil {
		l.err = err
	}
	return n, err
}

// kept returns how many bytes after base are held.
func (l *lineReader) kept() int64 { return int64(len(l.buf) - l.start) }

// advance forgets the bytes before off, counting their newlines. Offsets only move forward.
func (l *lineReader) advance(off int64) {
	if off <= l.base {
		return
	}
	d := min(off-l.base, l.kept())
	l.line += bytes.Count(l.buf[l.start:l.start+int(d)], []byte{'\n'})
	l.start += int(d)
	l.base += d
}

// lineAt returns the line of the byte at offset off, which should not be before the last
// offset passed to advance.
func (l *lineReader) lineAt(off int64) int {
	if off <= l.base {
		return l.line
	}
	d := min(off-l.base, l.kept())
	return l.line + bytes.Count(l.buf[l.start:l.start+int(d)], []byte{'\n'})
}

// lastLine returns the line of the last byte read.
func (l *lineReader) lastLine() int {
	if l.read == 0 {
		return 1
	}
	return l.lineAt(l.read - 1)
}

// byteAt returns the byte at offset off if it has been read and is still held.
func (l *lineReader) byteAt(off int64) (byte, bool) {
	if off < l.base || off >= l.base+l.kept() {
		return 0, false
	}
	return l.buf[l.start+int(off-l.base)], true
}

// from returns the held bytes from offset off on.
func (l *lineReader) from(off int64) []byte {
	off = max(off, l.base)
	d := min(off-l.base, l.kept())
	return l.buf[l.start+int(d):]
}

// sizeText writes a byte count for people.
func sizeText(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// jsonStream decodes a JSON input a token or an element at a time with encoding/json's
// Decoder, and turns its errors into *Error values with the line they occurred on.
type jsonStream struct {
	in  *lineReader
	dec *json.Decoder
	// mark is the decoder's offset before the current token or value, dataStart where the
	// bytes the decoder hands to Unmarshal begin (after a separator), and valueLine the line
	// of the value's first byte.
	mark      int64
	dataStart int64
	valueLine int
}

func newJSONStream(in *lineReader) *jsonStream {
	return &jsonStream{in: in, dec: json.NewDecoder(in), valueLine: 1}
}

// locate finds, from the decoder's offset, the start of the bytes of the next value (after
// whitespace and one comma or colon) and the value's first byte.
func (s *jsonStream) locate() (data, value int64) {
	i := s.dec.InputOffset()
	s.mark = i
	for c, ok := s.in.byteAt(i); ok && isSpace(c); c, ok = s.in.byteAt(i) {
		i++
	}
	if c, ok := s.in.byteAt(i); ok && (c == ',' || c == ':') {
		i++
	}
	data = i
	for c, ok := s.in.byteAt(i); ok && isSpace(c); c, ok = s.in.byteAt(i) {
		i++
	}
	return data, i
}

// begin marks the start of the next value — an array element after More, or the value of
// the key just read — forgets the input before it, and returns the value's line.
func (s *jsonStream) begin() int {
	s.dec.More() // reads up to the next separator or value, so locate can see it
	s.in.advance(s.dec.InputOffset())
	data, value := s.locate()
	s.dataStart = data
	s.valueLine = s.in.lineAt(value)
	return s.valueLine
}

// token reads the next token. io.EOF is returned as is, for the caller to judge.
func (s *jsonStream) token() (json.Token, error) {
	s.mark = s.dec.InputOffset()
	t, err := s.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, s.fail(err, true)
	}
	return t, nil
}

// decode decodes the value begun with begin into v.
func (s *jsonStream) decode(v any) error {
	if err := s.dec.Decode(v); err != nil {
		return s.fail(err, false)
	}
	return nil
}

// decodeAs decodes the value of key (after begin) into v, naming key in a type error.
func (s *jsonStream) decodeAs(key string, v any) error {
	err := s.decode(v)
	var e *Error
	if errors.As(err, &e) && e.Column == "" && strings.HasPrefix(e.Msg, "must be ") {
		e.Field = strings.TrimSuffix(key+"."+e.Field, ".")
	}
	return err
}

// skip reads the next value (after begin) and throws it away.
func (s *jsonStream) skip() error {
	var v skipValue
	return s.decode(&v)
}

// fail turns a decoder error into an error with a line.
func (s *jsonStream) fail(err error, inToken bool) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, errTooLarge):
		return &Error{Line: s.valueLine, Msg: "a single value is larger than " + sizeText(s.in.limit)}
	case s.in.err != nil && errors.Is(err, s.in.err):
		return fmt.Errorf("read input: %w", err)
	case errors.As(err, &te):
		return &Error{Line: s.in.lineAt(s.dataStart + te.Offset), Field: te.Field,
			Msg: "must be " + wantKind(te.Type) + ", not " + gotKind(te.Value)}
	case errors.As(err, &se):
		return &Error{Line: s.syntaxLine(inToken), Msg: "invalid JSON: " + se.Error()}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Line: s.in.lastLine(), Msg: "unexpected end of input"}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Line: s.valueLine, Msg: err.Error()}
}

// syntaxLine finds the line of a syntax error. The decoder's offsets for syntax errors are
// not positions in the stream, so the failed token or value is scanned again from where it
// started, by a fresh decoder whose offsets are relative to that start. When the scan finds
// nothing wrong the fault was the separator before it.
func (s *jsonStream) syntaxLine(inToken bool) int {
	i := s.mark
	for c, ok := s.in.byteAt(i); ok && isSpace(c); c, ok = s.in.byteAt(i) {
		i++
	}
	if c, ok := s.in.byteAt(i); ok && (c == ',' || c == ':') {
		i++
	}
	d := json.NewDecoder(bytes.NewReader(s.in.from(i)))
	var err error
	if inToken {
		_, err = d.Token()
	} else {
		var v skipValue
		err = d.Decode(&v)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return s.in.lineAt(i + max(se.Offset-1, 0))
	}
	for c, ok := s.in.byteAt(i); ok && isSpace(c); c, ok = s.in.byteAt(i) {
		i++
	}
	return s.in.lineAt(i)
}

// expectDelim reads the next token and checks it is the delimiter want ('[' or '{'). A
// null is reported as ok false with no error when nullOK is set.
func (s *jsonStream) expectDelim(want json.Delim, field string, nullOK bool) (ok bool, err error) {
	t, err := s.token()
	if err == io.EOF {
		return false, &Error{Line: s.in.lastLine(), Msg: "unexpected end of input"}
	}
	if err != nil {
		return false, err
	}
	if t == nil && nullOK {
		return false, nil
	}
	if d, isDelim := t.(json.Delim); isDelim && d == want {
		return true, nil
	}
	line := s.in.lineAt(s.dec.InputOffset() - 1)
	return false, &Error{Line: line, Field: field, Msg: "must be " + delimKind(want) + ", not " + tokenKind(t)}
}

// array reads a JSON array (or null), calling each for every element after begin; each must
// consume the element.
func (s *jsonStream) array(field string, each func(line int) error) error {
	ok, err := s.expectDelim('[', field, true)
	if !ok || err != nil {
		return err
	}
	for s.dec.More() {
		if err := each(s.begin()); err != nil {
			return err
		}
	}
	return s.closeDelim()
}

// object reads a JSON object, calling each with every key; each must consume the value
// (after begin).
func (s *jsonStream) object(field string, each func(key string) error) error {
	ok, err := s.expectDelim('{', field, false)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Line: s.valueLine, Field: field, Msg: "must be an object, not null"}
	}
	return s.objectBody(each)
}

// objectBody reads the keys and values of an object whose '{' has been read, and its '}'.
func (s *jsonStream) objectBody(each func(key string) error) error {
	for s.dec.More() {
		t, err := s.token()
		if err == io.EOF {
			return &Error{Line: s.in.lastLine(), Msg: "unexpected end of input"}
		}
		if err != nil {
			return err
		}
		key, _ := t.(string)
		if err := each(key); err != nil {
			return err
		}
	}
	return s.closeDelim()
}

// closeDelim reads the ']' or '}' that ends the array or object being read.
func (s *jsonStream) closeDelim() error {
	_, err := s.token()
	if err == io.EOF {
		return &Error{Line: s.in.lastLine(), Msg: "unexpected end of input"}
	}
	return err
}

// start reads the first token of the input. empty describes what the input should hold,
// for the error an empty input gets.
func (s *jsonStream) start(empty string) (json.Token, error) {
	t, err := s.token()
	if err == io.EOF {
		return nil, &Error{Line: 1, Msg: "the file is empty; want " + empty}
	}
	return t, err
}

// isDelim reports whether t is the delimiter d.
func isDelim(t json.Token, d json.Delim) bool {
	v, ok := t.(json.Delim)
	return ok && v == d
}

// end checks that nothing but whitespace follows the top-level value.
func (s *jsonStream) end() error {
	if !s.dec.More() {
		_, err := s.dec.Token()
		if err == io.EOF {
			return nil
		}
	}
	_, value := s.locate()
	return &Error{Line: s.in.lineAt(value), Msg: "unexpected data after the end of the JSON value"}
}

// skipValue throws a JSON value away after the decoder has checked it.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// stringList decodes a JSON list of strings, or a single string as a list of one.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = stringList{s}
		return nil
	case bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var ss []string
		if err := json.Unmarshal(b, &ss); err != nil {
			return &json.UnmarshalTypeError{Value: "a list holding something other than strings", Type: reflect.TypeFor[[]string]()}
		}
		*l = ss
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKindOf(b), Type: reflect.TypeFor[[]string]()}
}

// scalar keeps a JSON number or string as text, for values whose JSON type varies between
// versions of a tool (osquery's unixTime, Fleet's IDs). null is empty.
type scalar string

func (v *scalar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch jsonKindOf(b) {
	case "number":
		*v = scalar(b)
	case "string":
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = scalar(s)
	case "null":
		*v = ""
	default:
		return &json.UnmarshalTypeError{Value: jsonKindOf(b), Type: reflect.TypeFor[float64]()}
	}
	return nil
}

// jsonKindOf names the kind of a JSON value from its first byte.
func jsonKindOf(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// wantKind names the JSON kind a Go type decodes from.
func wantKind(t reflect.Type) string {
	if t == nil {
		return "another kind"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return wantKind(t.Elem())
	}
	return "another kind"
}

// gotKind turns the decoder's description of a value ("number", "string", "number 1.5"…)
// into words.
func gotKind(v string) string {
	switch {
	case strings.HasPrefix(v, "number"):
		if rest := strings.TrimSpace(strings.TrimPrefix(v, "number")); rest != "" {
			return "the number " + rest
		}
		return "a number"
	case v == "string":
		return "a string"
	case v == "bool":
		return "a boolean"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "null":
		return "null"
	}
	return v
}

func delimKind(d json.Delim) string {
	if d == '[' {
		return "a list"
	}
	return "an object"
}

// tokenKind names the kind of a token read where a delimiter was expected.
func tokenKind(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '[' {
			return "a list"
		}
		if v == '{' {
			return "an object"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "another value"
}
