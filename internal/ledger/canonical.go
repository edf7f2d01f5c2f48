package ledger

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects that CanonicalJSON accepts, so that
// hostile input cannot make it recurse without limit.
const maxDepth = 1000

// CanonicalJSON returns the canonical form of one JSON value. The same value always has the
// same canonical form, byte for byte, so its hash does not depend on how it was written.
//
// Input: exactly one JSON value (RFC 8259), optionally surrounded by whitespace (space,
// tab, line feed, carriage return). It is rejected, with the byte offset of the fault, when
// it is not valid UTF-8; when it is not valid JSON; when a \u escape names a lone
// surrogate (U+D800–U+DFFF not forming a high-then-low pair); when an object has two
// members with the same name (compared after unescaping); or when arrays and objects nest
// deeper than 1000 levels.
//
// Output, with no whitespace anywhere outside strings:
//   - true, false and null as themselves.
//   - Numbers exactly as written in the input (they already follow the JSON number
//     grammar): 1, 1.0 and 1e0 stay distinct. Nothing is converted to floating point, so
//     large integers keep every digit.
//   - Strings as the sequence of code points they denote, re-encoded as: quotation mark
//     as \", reverse solidus as \\, U+0008 as \b, U+0009 as \t, U+000A as \n, U+000C as
//     \f, U+000D as \r, every other code point below U+0020 as \u00XX with lower-case
//     hexadecimal digits, and every other code point (including "/", U+007F, U+2028 and
//     all non-ASCII) as its literal UTF-8 bytes. This is the string rule of RFC 8785.
//   - Arrays as [, the elements in order separated by commas, ].
//   - Objects as {, the members "name":value separated by commas, }, ordered by name
//     compared as sequences of Unicode code points, which is the byte order of their UTF-8
//     encodings. (RFC 8785 orders by UTF-16 code units instead; the two differ only
//     between names with characters above U+FFFF and names with characters in
//     U+E000–U+FFFF.)
//
// CanonicalJSON of a canonical form returns it unchanged. For accepted input whose numbers
// are all integers other than -0, Python's json.dumps(json.loads(input), sort_keys=True,
// separators=(",", ":"), ensure_ascii=False) produces the same bytes, which gives auditors
// an independent check.
func CanonicalJSON(data []byte) ([]byte, error) {
	return AppendCanonicalJSON(make([]byte, 0, len(data)), data)
}

// AppendCanonicalJSON appends the canonical form of data, as CanonicalJSON returns it, to
// dst and returns the extended slice; it rejects what CanonicalJSON rejects, with the
// same errors (offsets are in data). Encoders that write many values reuse one buffer.
func AppendCanonicalJSON(dst, data []byte) ([]byte, error) {
	if !utf8.Valid(data) {
		return nil, &JSONError{Offset: invalidUTF8Offset(data), Reason: "invalid UTF-8"}
	}
	c := canonicalizers.Get().(*canonicalizer)
	defer c.release()
	c.in, c.pos, c.out = data, 0, dst
	c.skipSpace()
	if err := c.value(0); err != nil {
		return nil, err
	}
	c.skipSpace()
	if c.pos < len(c.in) {
		return nil, c.errorf("unexpected %s after the JSON value", c.describe())
	}
	return c.out, nil
}

// canonicalizers keep the scratch stacks of finished canonicalizations for the next.
var canonicalizers = sync.Pool{New: func() any { return new(canonicalizer) }}

// maxKeptScratch bounds the scratch space a pooled canonicalizer keeps.
const maxKeptScratch = 64 << 10

// release returns c to the pool, holding no reference to the input or the output.
func (c *canonicalizer) release() {
	c.in, c.out, c.pos = nil, nil, 0
	if cap(c.scratch)+cap(c.names)+cap(c.tmp) > maxKeptScratch || cap(c.members) > maxKeptScratch/32 {
		return // let an unusually large document's scratch go
	}
	c.scratch, c.names, c.members, c.tmp = c.scratch[:0], c.names[:0], c.members[:0], c.tmp[:0]
	canonicalizers.Put(c)
}

// JSONError reports why CanonicalJSON rejected its input and where.
type JSONError struct {
	Offset int // byte offset in the input
	Reason string
}

// Error says where the input is wrong and why.
func (e *JSONError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Reason)
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// canonicalizer reads JSON from in and writes its canonical form to out in one pass.
type canonicalizer struct {
	in  []byte
	pos int
	out []byte
	// scratch holds the decoded text of the string value being read.
	scratch []byte
	// names and members are stacks of the object members being read, at every level.
	names   []byte
	members []member
	// tmp holds an object's members while they are rewritten in order.
	tmp []byte
}

func (c *canonicalizer) errorf(format string, args ...any) error {
	return &JSONError{Offset: c.pos, Reason: fmt.Sprintf(format, args...)}
}

// describe names the byte at the current position for error messages.
func (c *canonicalizer) describe() string {
	if c.pos >= len(c.in) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(c.in[c.pos:])
	return fmt.Sprintf("%q", r)
}

func (c *canonicalizer) skipSpace() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canonicalizer) value(depth int) error {
	if c.pos >= len(c.in) {
		return c.errorf("unexpected end of input, want a value")
	}
	switch b := c.in[c.pos]; {
	case b == '{':
		return c.object(depth + 1)
	case b == '[':
		return c.array(depth + 1)
	case b == '"':
		// A string without escapes is its own canonical form.
		if end, ok := c.plainString(); ok {
			c.out = append(c.out, c.in[c.pos:end]...)
			c.pos = end
			return nil
		}
		s, err := c.str(c.scratch[:0])
		if err != nil {
			return err
		}
		c.scratch = s
		c.out = appendCanonicalString(c.out, s)
		return nil
	case b == '-' || b >= '0' && b <= '9':
		return c.number()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	default:
		return c.errorf("unexpected %s, want a value", c.describe())
	}
}

func (c *canonicalizer) literal(word string) error {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(word)) {
		return c.errorf("unexpected %s, want %s", c.describe(), word)
	}
	c.pos += len(word)
	c.out = append(c.out, word...)
	return nil
}

// number copies a number as written after checking it against the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *canonicalizer) number() error {
	start := c.pos
	if c.in[c.pos] == '-' {
		c.pos++
	}
	switch {
	case c.pos < len(c.in) && c.in[c.pos] == '0':
		c.pos++
	case c.pos < len(c.in) && c.in[c.pos] >= '1' && c.in[c.pos] <= '9':
		c.digits()
	default:
		return c.errorf("unexpected %s in number, want a digit", c.describe())
	}
	if c.pos < len(c.in) && c.in[c.pos] == '.' {
		c.pos++
		if c.digits() == 0 {
			return c.errorf("unexpected %s in number, want a digit after the decimal point", c.describe())
		}
	}
	if c.pos < len(c.in) && (c.in[c.pos] == 'e' || c.in[c.pos] == 'E') {
		c.pos++
		if c.pos < len(c.in) && (c.in[c.pos] == '+' || c.in[c.pos] == '-') {
			c.pos++
		}
		if c.digits() == 0 {
			return c.errorf("unexpected %s in number, want a digit in the exponent", c.describe())
		}
	}
	c.out = append(c.out, c.in[start:c.pos]...)
	return nil
}

func (c *canonicalizer) digits() int {
	start := c.pos
	for c.pos < len(c.in) && c.in[c.pos] >= '0' && c.in[c.pos] <= '9' {
		c.pos++
	}
	return c.pos - start
}

// plainString reports whether the JSON string at the current position has neither
// escapes nor control characters, and if so where it ends (after its closing quote).
func (c *canonicalizer) plainString() (int, bool) {
	for i := c.pos + 1; i < len(c.in); i++ {
		switch b := c.in[i]; {
		case b == '"':
			return i + 1, true
		case b == '\\' || b < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// str reads a JSON string at the current position and appends the code points it denotes,
// as UTF-8, to dst.
func (c *canonicalizer) str(dst []byte) ([]byte, error) {
	c.pos++ // opening quote
	for {
		// The input is valid UTF-8, so bytes other than quotes, escapes and control
		// characters can be copied as they are, a run at a time.
		start := c.pos
		for c.pos < len(c.in) {
			if b := c.in[c.pos]; b == '"' || b == '\\' || b < 0x20 {
				break
			}
			c.pos++
		}
		dst = append(dst, c.in[start:c.pos]...)
		if c.pos >= len(c.in) {
			return nil, c.errorf("unexpected end of input in string")
		}
		switch b := c.in[c.pos]; {
		case b == '"':
			c.pos++
			return dst, nil
		case b < 0x20:
			return nil, c.errorf("control character %U in string must be escaped", rune(b))
		default: // a reverse solidus
			var err error
			if dst, err = c.escape(dst); err != nil {
				return nil, err
			}
		}
	}
}

func (c *canonicalizer) escape(dst []byte) ([]byte, error) {
	if c.pos+1 >= len(c.in) {
		c.pos++
		return nil, c.errorf("unexpected end of input in escape")
	}
	switch e := c.in[c.pos+1]; e {
	case '"', '\\', '/':
		c.pos += 2
		return append(dst, e), nil
	case 'b':
		c.pos += 2
		return append(dst, '\b'), nil
	case 'f':
		c.pos += 2
		return append(dst, '\f'), nil
	case 'n':
		c.pos += 2
		return append(dst, '\n'), nil
	case 'r':
		c.pos += 2
		return append(dst, '\r'), nil
	case 't':
		c.pos += 2
		return append(dst, '\t'), nil
	case 'u':
		r, err := c.hex4()
		if err != nil {
			return nil, err
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			c.pos -= 6
			return nil, c.errorf("lone low surrogate \\u%04x", r)
		case r >= 0xD800 && r <= 0xDBFF:
			if !bytes.HasPrefix(c.in[c.pos:], []byte(`\u`)) {
				c.pos -= 6
				return nil, c.errorf("high surrogate \\u%04x not followed by a low surrogate", r)
			}
			lo, err := c.hex4()
			if err != nil {
				return nil, err
			}
			if lo < 0xDC00 || lo > 0xDFFF {
				c.pos -= 12
				return nil, c.errorf("high surrogate \\u%04x not followed by a low surrogate", r)
			}
			r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
		}
		return utf8.AppendRune(dst, r), nil
	default:
		c.pos++
		return nil, c.errorf("invalid escape \\%s", c.describe())
	}
}

// hex4 reads an escape of the form \uXXXX at the current position.
func (c *canonicalizer) hex4() (rune, error) {
	c.pos += 2 // \u
	var r rune
	for range 4 {
		if c.pos >= len(c.in) {
			return 0, c.errorf("unexpected end of input in \\u escape")
		}
		d, ok := hexDigit(c.in[c.pos])
		if !ok {
			return 0, c.errorf("unexpected %s in \\u escape, want a hexadecimal digit", c.describe())
		}
		r = r<<4 | rune(d)
		c.pos++
	}
	return r, nil
}

func hexDigit(b byte) (byte, bool) {
	switch {
	case b >= '0' && b <= '9':
		return b - '0', true
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10, true
	case b >= 'A' && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

func (c *canonicalizer) array(depth int) error {
	if depth > maxDepth {
		return c.errorf("arrays and objects nest deeper than %d levels", maxDepth)
	}
	c.pos++ // [
	c.out = append(c.out, '[')
	c.skipSpace()
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return nil
	}
	for {
		c.skipSpace()
		if err := c.value(depth); err != nil {
			return err
		}
		c.skipSpace()
		if c.pos >= len(c.in) {
			return c.errorf("unexpected end of input in array")
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			return nil
		default:
			return c.errorf("unexpected %s in array, want , or ]", c.describe())
		}
	}
}

// member is one object member already written to out: the span of names that holds its
// decoded name, and the span of out that holds "name":value.
type member struct {
	nameStart, nameEnd int
	start, end         int
}

func (c *canonicalizer) object(depth int) error {
	if depth > maxDepth {
		return c.errorf("arrays and objects nest deeper than %d levels", maxDepth)
	}
	open := c.pos
	c.pos++ // {
	base := len(c.out)
	c.out = append(c.out, '{')
	c.skipSpace()
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, '}')
		return nil
	}
	// This object's members and names go on stacks shared by all levels; nested objects
	// push theirs above and pop them before this object adds its next member.
	mbase, nbase := len(c.members), len(c.names)
	defer func() { c.members, c.names = c.members[:mbase], c.names[:nbase] }()
	for {
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return c.errorf("unexpected %s in object, want a member name", c.describe())
		}
		nameStart, start := len(c.names), len(c.out)
		if end, ok := c.plainString(); ok {
			// A name without escapes is its own canonical form.
			c.names = append(c.names, c.in[c.pos+1:end-1]...)
			c.out = append(c.out, c.in[c.pos:end]...)
			c.pos = end
		} else {
			names, err := c.str(c.names)
			if err != nil {
				return err
			}
			c.names = names
			c.out = appendCanonicalString(c.out, c.names[nameStart:])
		}
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return c.errorf("unexpected %s after member name, want :", c.describe())
		}
		c.pos++
		c.out = append(c.out, ':')
		c.skipSpace()
		if err := c.value(depth); err != nil {
			return err
		}
		c.members = append(c.members, member{nameStart: nameStart, nameEnd: len(c.names), start: start, end: len(c.out)})
		c.skipSpace()
		if c.pos >= len(c.in) {
			return c.errorf("unexpected end of input in object")
		}
		if c.in[c.pos] == ',' {
			c.pos++
			c.out = append(c.out, ',')
			continue
		}
		if c.in[c.pos] != '}' {
			return c.errorf("unexpected %s in object, want , or }", c.describe())
		}
		c.pos++
		c.out = append(c.out, '}')
		break
	}
	members := c.members[mbase:]
	name := func(m member) []byte { return c.names[m.nameStart:m.nameEnd] }
	order := func(a, b member) int { return bytes.Compare(name(a), name(b)) }
	if slices.IsSortedFunc(members, order) {
		for i := 1; i < len(members); i++ {
			if bytes.Equal(name(members[i]), name(members[i-1])) {
				c.pos = open
				return c.errorf("object has the member %q more than once", name(members[i]))
			}
		}
		return nil
	}
	slices.SortFunc(members, order)
	for i := 1; i < len(members); i++ {
		if bytes.Equal(name(members[i]), name(members[i-1])) {
			c.pos = open
			return c.errorf("object has the member %q more than once", name(members[i]))
		}
	}
	// Rewrite the members, written in input order, in sorted order.
	c.tmp = append(c.tmp[:0], c.out[base:]...)
	c.out = append(c.out[:base], '{')
	for i, m := range members {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, c.tmp[m.start-base:m.end-base]...)
	}
	c.out = append(c.out, '}')
	return nil
}

// AppendString appends s, which must be valid UTF-8, as a JSON string in canonical form
// (the string rule of CanonicalJSON), for encoders that write canonical JSON directly.
func AppendString(dst []byte, s string) []byte {
	return appendCanonicalString(dst, s)
}

// appendCanonicalString appends s, which is valid UTF-8, as a canonical JSON string.
func appendCanonicalString[S ~string | ~[]byte](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		// Copy a run of bytes written as they are in one append.
		start := i
		for i < len(s) && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' {
			i++
		}
		dst = append(dst, s[start:i]...)
		if i == len(s) {
			break
		}
		switch b := s[i]; {
		case b == '"':
			dst = append(dst, '\\', '"')
		case b == '\\':
			dst = append(dst, '\\', '\\')
		case b == '\b':
			dst = append(dst, '\\', 'b')
		case b == '\t':
			dst = append(dst, '\\', 't')
		case b == '\n':
			dst = append(dst, '\\', 'n')
		case b == '\f':
			dst = append(dst, '\\', 'f')
		case b == '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
		}
	}
	return append(dst, '"')
}
