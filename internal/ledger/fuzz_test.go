package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzCanonicalJSON checks that CanonicalJSON never panics, accepts only JSON that
// encoding/json also accepts, keeps its meaning, and is idempotent.
func FuzzCanonicalJSON(f *testing.F) {
	for _, seed := range []string{
		`{"b":1,"a":[true,false,null,"x\u00e9\ud83d\ude00"],"c":{"z":-1.5e-3,"y":{}}}`,
		`"\u0000\n\t\\\"/"`,
		`[1,2,3]`,
		`{"a":1,"a":2}`,
		`"\ud800"`,
		"\"\xff\"",
		`{"":"","\u0000":0}`,
		`123456789012345678901234567890`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := CanonicalJSON(in)
		if err != nil {
			var je *JSONError
			if !errors.As(err, &je) || je.Offset < 0 || je.Offset > len(in) {
				t.Fatalf("CanonicalJSON(%q) error = %v; want a *JSONError with an offset in the input", in, err)
			}
			return
		}
		if !json.Valid(in) {
			t.Fatalf("CanonicalJSON accepted %q, which encoding/json rejects", in)
		}
		again, err := CanonicalJSON(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("CanonicalJSON(%q) = %q, %v; want it unchanged", out, again, err)
		}
		if !bytes.Equal(out, bytes.TrimSpace(out)) || !json.Valid(out) {
			t.Fatalf("CanonicalJSON(%q) = %q is not compact valid JSON", in, out)
		}
		// reflect.DeepEqual first: cmp.Diff is slow on deeply nested arrays.
		if a, b := decode(t, in), decode(t, out); !reflect.DeepEqual(a, b) {
			t.Fatalf("CanonicalJSON(%q) = %q changed the value (-in +out)\n%s", in, out, cmp.Diff(a, b))
		}
	})
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// FuzzEntryData checks entries with arbitrary data: Canonical never panics, its output is
// canonical JSON, and ParseEntry reads it back to the same encoding.
func FuzzEntryData(f *testing.F) {
	f.Add([]byte(`{"status":"implemented","owner":7}`), "alice@example.com", int64(3))
	f.Add([]byte(``), "system", int64(0))
	f.Add([]byte(`[1, 2.50, "x"]`), "\u2028", int64(1<<40))
	f.Fuzz(func(t *testing.T, data []byte, actor string, index int64) {
		e := goldenEntry
		e.Data, e.Actor, e.Index = data, actor, index
		c, err := e.Canonical()
		if err != nil {
			return
		}
		again, err := CanonicalJSON(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("CanonicalJSON(%q) = %q, %v; want it unchanged", c, again, err)
		}
		parsed, err := ParseEntry(c)
		if err != nil {
			t.Fatalf("ParseEntry(%q): %v", c, err)
		}
		back, err := parsed.Canonical()
		if err != nil || !bytes.Equal(back, c) {
			t.Fatalf("ParseEntry(%q).Canonical() = %q, %v; want the same bytes", c, back, err)
		}
	})
}

// FuzzParseCheckpoint checks that ParseCheckpoint never panics on any text and that what
// it accepts is exactly what SignCheckpoint would have written.
func FuzzParseCheckpoint(f *testing.F) {
	s := testSigner(f, "evident.local", 1)
	_, vkey := testKey(f, "evident.local", 1)
	for _, cp := range []Checkpoint{
		mustSign(f, s, testOrigin, 8, hexHash(f, rfcRoots[8]), testStart),
		mustSign(f, s, testOrigin, 0, hexHash(f, rfcRoots[0]), time.Time{}),
	} {
		f.Add([]byte(cp.Note))
	}
	f.Add([]byte("evident.local/acme\n8\nAAAA\n\n— evident.local AAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		cp, err := ParseCheckpoint(text, vkey)
		if err != nil {
			return
		}
		if cp.Note != string(text) || !bytes.HasPrefix(text, cp.body()) {
			t.Fatalf("ParseCheckpoint(%q) = %+v, whose body is %q", text, cp, cp.body())
		}
	})
}

// FuzzParseCheckpointBody reaches the body parser directly, which the signature check
// otherwise guards: it must never panic, and a body it accepts must format back to itself.
func FuzzParseCheckpointBody(f *testing.F) {
	f.Add("evident.local/acme\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntime 2025-03-01T09:30:00Z\n")
	f.Add("evident.local/acme\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("a\n01\nxx\nfoo\n")
	f.Fuzz(func(t *testing.T, text string) {
		cp, err := parseCheckpointBody(text)
		if err != nil {
			if !errors.Is(err, ErrMalformedCheckpoint) {
				t.Fatalf("parseCheckpointBody(%q) error = %v; want ErrMalformedCheckpoint", text, err)
			}
			return
		}
		if got := string(cp.body()); got != text {
			t.Fatalf("parseCheckpointBody(%q) = %+v, which formats as %q", text, cp, got)
		}
	})
}
