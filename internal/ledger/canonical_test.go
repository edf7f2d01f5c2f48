package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// canonicalCases are inputs CanonicalJSON accepts, with their canonical forms.
var canonicalCases = []struct {
	name, in, want string
}{
	{"literals", ` [ true , false , null ] `, `[true,false,null]`},
	{"empty containers", "{ }\n", `{}`},
	{"empty array", "[\t]", `[]`},
	{"keys sorted", `{"b":1,"a":2,"c":{"z":[],"y":{}}}`, `{"a":2,"b":1,"c":{"y":{},"z":[]}}`},
	{"keys sorted by code point", `{"é":1,"z":2,"Z":3,"😀":4,"":5,"a":6}`, `{"":5,"Z":3,"a":6,"z":2,"é":1,"😀":4}`},
	{"key prefix sorts first", `{"ab":1,"a":2}`, `{"a":2,"ab":1}`},
	{"keys compared unescaped", `{"\u0062":1,"a":2}`, `{"a":2,"b":1}`},
	{"numbers as written", `[0,-0,1.0,1e2,1E+2,-1.5e-3,12345678901234567890123]`, `[0,-0,1.0,1e2,1E+2,-1.5e-3,12345678901234567890123]`},
	{"short escapes", `"\"\\\/\b\f\n\r\t"`, `"\"\\/\b\f\n\r\t"`},
	{"other controls lower-case hex", `"\u0000\u001F\u0007"`, `"\u0000\u001f\u0007"`},
	{"non-ASCII literal", `"\u00e9\u2028\u007f"`, "\"é\u2028\u007f\""},
	{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
	{"literal non-ASCII kept", `"grüße 😀"`, `"grüße 😀"`},
	{"HTML characters kept", `"<a href='x'>&</a>"`, `"<a href='x'>&</a>"`},
	{"nested", `{"list":[{"b":true,"a":null},1,"x"],"n":-2}`, `{"list":[{"a":null,"b":true},1,"x"],"n":-2}`},
	{"scalar string", ` "x" `, `"x"`},
}

func TestCanonicalJSON(t *testing.T) {
	for _, tt := range canonicalCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalJSON([]byte(tt.in))
			if err != nil {
				t.Fatalf("CanonicalJSON(%q): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("CanonicalJSON(%q) = %s; want %s", tt.in, got, tt.want)
			}
			again, err := CanonicalJSON(got)
			if err != nil || string(again) != string(got) {
				t.Errorf("CanonicalJSON(%s) = %s, %v; want it unchanged", got, again, err)
			}
		})
	}
}

// canonicalErrorCases are inputs CanonicalJSON rejects, with where and why.
var canonicalErrorCases = []struct {
	name   string
	in     string
	offset int
	reason string
}{
	{"empty", ``, 0, "unexpected end of input"},
	{"only space", `   `, 3, "unexpected end of input"},
	{"two values", `1 2`, 2, "after the JSON value"},
	{"trailing comma in array", `[1,]`, 3, "want a value"},
	{"trailing comma in object", `{"a":1,}`, 7, "want a member name"},
	{"unquoted name", `{a:1}`, 1, "want a member name"},
	{"missing colon", `{"a" 1}`, 5, "want :"},
	{"duplicate member", `{"a":1,"b":2,"a":3}`, 0, `member "a" more than once`},
	{"duplicate after unescaping", `{"a":1,"\u0061":2}`, 0, `member "a" more than once`},
	{"leading zero", `01`, 1, "after the JSON value"},
	{"bare minus", `-`, 1, "want a digit"},
	{"fraction without digits", `1.`, 2, "after the decimal point"},
	{"exponent without digits", `1e+`, 3, "in the exponent"},
	{"plus sign", `+1`, 0, "want a value"},
	{"NaN", `NaN`, 0, "want a value"},
	{"single quotes", `'a'`, 0, "want a value"},
	{"bad literal", `tru`, 0, "want true"},
	{"unterminated string", `"abc`, 4, "end of input in string"},
	{"raw control character", "\"a\tb\"", 2, "must be escaped"},
	{"bad escape", `"\x"`, 2, `invalid escape \'x'`},
	{"short unicode escape", `"\u12"`, 5, "want a hexadecimal digit"},
	{"lone low surrogate", `"\udc00"`, 1, "lone low surrogate"},
	{"lone high surrogate", `"\ud800x"`, 1, "not followed by a low surrogate"},
	{"high then non-surrogate", `"\ud800\u0041"`, 1, "not followed by a low surrogate"},
	{"invalid UTF-8", "\"a\xffb\"", 2, "invalid UTF-8"},
	{"unterminated name in nested object", `{"0":{"`, 7, "end of input in string"},
	{"bad escape in name", `{"a":1,"\q":2}`, 9, `invalid escape`},
	{"unclosed array", `[1`, 2, "end of input in array"},
	{"unclosed object", `{"a":1`, 6, "end of input in object"},
	{"too deep", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), maxDepth, "deeper than 1000"},
}

func TestCanonicalJSONErrors(t *testing.T) {
	for _, tt := range canonicalErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalJSON([]byte(tt.in))
			var je *JSONError
			if !errors.As(err, &je) {
				t.Fatalf("CanonicalJSON(%q) = %s, %v; want a *JSONError", tt.in, got, err)
			}
			if je.Offset != tt.offset || !strings.Contains(je.Reason, tt.reason) {
				t.Errorf("CanonicalJSON(%q) error = %v; want offset %d and a reason containing %q", tt.in, err, tt.offset, tt.reason)
			}
		})
	}
}

func TestCanonicalJSONDepthLimit(t *testing.T) {
	in := strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth)
	got, err := CanonicalJSON([]byte(in))
	if err != nil {
		t.Fatalf("CanonicalJSON of %d nested objects: %v", maxDepth, err)
	}
	if string(got) != in {
		t.Errorf("CanonicalJSON of %d nested objects changed them", maxDepth)
	}
}

// TestAppendCanonicalJSON checks that AppendCanonicalJSON appends what CanonicalJSON
// returns, after the bytes already in dst, and rejects what it rejects with the same
// error; and that a canonicalizer used on a large document serves the next ones alike.
func TestAppendCanonicalJSON(t *testing.T) {
	const prefix = `{"earlier":"entry"}`
	for _, tt := range canonicalCases {
		for _, dst := range [][]byte{[]byte(prefix), append(make([]byte, 0, 4096), prefix...)} {
			got, err := AppendCanonicalJSON(dst, []byte(tt.in))
			if err != nil || string(got) != prefix+tt.want {
				t.Errorf("%s: AppendCanonicalJSON(%q, %q) = %s, %v; want %s", tt.name, dst, tt.in, got, err, prefix+tt.want)
			}
		}
	}
	for _, tt := range canonicalErrorCases {
		_, want := CanonicalJSON([]byte(tt.in))
		got, err := AppendCanonicalJSON([]byte(prefix), []byte(tt.in))
		if got != nil || err == nil || err.Error() != want.Error() {
			t.Errorf("%s: AppendCanonicalJSON(%q, %q) = %q, %v; want nil, %v", tt.name, prefix, tt.in, got, err, want)
		}
	}

	// A document with more members and longer escaped names than a pooled canonicalizer
	// keeps scratch space for.
	var big strings.Builder
	big.WriteString("{")
	for i := range 5000 {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `"\u0061%05d":"v\n%d"`, 5000-i, i)
	}
	big.WriteString("}")
	for range 3 {
		out, err := CanonicalJSON([]byte(big.String()))
		if err != nil || !strings.HasPrefix(string(out), `{"a00001":"v\n4999","a00002":"v\n4998",`) {
			t.Fatalf("CanonicalJSON(large document) = %.60s…, %v", out, err)
		}
		for _, tt := range canonicalCases {
			if got, err := CanonicalJSON([]byte(tt.in)); err != nil || string(got) != tt.want {
				t.Errorf("after a large document, CanonicalJSON(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
		}
	}
}

// TestAppendString checks that AppendString writes a string as CanonicalJSON writes it.
func TestAppendString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `"quoted"`, `back\slash`, "tab\there\nnew line", "\x00\x01\x08\x0c\x1f\x7f",
		"<script>&amp;</script>", "grüße 😀", "\u2028\u2029", "a/b", strings.Repeat("long ", 100) + "\"",
	} {
		marshalled, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := CanonicalJSON(marshalled)
		if err != nil {
			t.Fatalf("CanonicalJSON(%s): %v", marshalled, err)
		}
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s; want %s", s, got[1:], want)
		}
	}
}
