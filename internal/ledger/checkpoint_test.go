package ledger

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
)

const testOrigin = "evident.local/acme"

func TestGenerateKey(t *testing.T) {
	skey, vkey, err := GenerateKey("evident.local")
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+evident.local+") || !strings.HasPrefix(vkey, "evident.local+") {
		t.Errorf("GenerateKey = %q, %q; want signed-note keys named evident.local", skey, vkey)
	}
	s, err := NewCheckpointSigner(skey)
	if err != nil {
		t.Fatalf("NewCheckpointSigner: %v", err)
	}
	if s.VerifierKey() != vkey || s.Name() != "evident.local" {
		t.Errorf("signer key %q named %q; want %q named evident.local", s.VerifierKey(), s.Name(), vkey)
	}
	other, _, err := GenerateKey("evident.local")
	if err != nil || other == skey {
		t.Errorf("two GenerateKey calls gave the same key (err %v)", err)
	}
	for _, name := range []string{"", "two words", "a+b", "tab\there"} {
		if _, _, err := GenerateKey(name); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("GenerateKey(%q) error = %v; want ErrInvalidKey", name, err)
		}
	}
}

func TestSignerVerifierKey(t *testing.T) {
	// Keys from many seeds, so that some have "+" and "/" in their base64.
	var plus int
	for seed := range 256 {
		skey, vkey := testKey(t, "evident.local", byte(seed))
		plus += strings.Count(strings.SplitN(skey, "+", 5)[4], "+")
		s, err := NewCheckpointSigner(skey)
		if err != nil {
			t.Fatalf("NewCheckpointSigner(seed %d): %v", seed, err)
		}
		if s.VerifierKey() != vkey {
			t.Errorf("VerifierKey() = %q; want %q", s.VerifierKey(), vkey)
		}
	}
	if plus == 0 {
		t.Errorf("no test key had a + in its base64")
	}
}

func TestNewCheckpointSignerErrors(t *testing.T) {
	skey, vkey := testKey(t, "evident.local", 1)
	for _, tt := range []struct{ name, skey string }{
		{"empty", ""},
		{"verifier key", vkey},
		{"hash altered", "PRIVATE+KEY+evident.local+00000000+" + strings.SplitN(skey, "+", 5)[4]},
		{"name altered", strings.Replace(skey, "evident.local", "evident.other", 1)},
		{"truncated", skey[:len(skey)-4]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCheckpointSigner(tt.skey); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("NewCheckpointSigner(%q) error = %v; want ErrInvalidKey", tt.skey, err)
			}
		})
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	root := tlog.RecordHash([]byte("root"))
	for _, tt := range []struct {
		name     string
		size     int64
		at, want time.Time
	}{
		{"with time", 42, time.Date(2025, 3, 1, 9, 30, 15, 999_000_000, time.FixedZone("CET", 3600)), time.Date(2025, 3, 1, 8, 30, 15, 0, time.UTC)},
		{"without time", 42, time.Time{}, time.Time{}},
		{"empty log", 0, testStart, testStart},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cp := mustSign(t, s, testOrigin, tt.size, root, tt.at)
			want := Checkpoint{Origin: testOrigin, Size: tt.size, Root: root, Time: tt.want, Note: cp.Note}
			if diff := cmp.Diff(want, cp); diff != "" {
				t.Errorf("SignCheckpoint: diff (-want +got)\n%s", diff)
			}
			got, err := ParseCheckpoint([]byte(cp.Note), s.VerifierKey())
			if err != nil {
				t.Fatalf("ParseCheckpoint(%q): %v", cp.Note, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseCheckpoint: diff (-want +got)\n%s", diff)
			}
		})
	}
}

func TestCheckpointFormat(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	root := hexHash(t, rfcRoots[8])
	cp := mustSign(t, s, testOrigin, 8, root, testStart)
	body, sigs, ok := strings.Cut(cp.Note, "\n\n")
	if !ok {
		t.Fatalf("checkpoint %q has no empty line before the signatures", cp.Note)
	}
	wantBody := "evident.local/acme\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\ntime 2025-03-01T09:30:00Z"
	if body != wantBody {
		t.Errorf("checkpoint body =\n%s\nwant\n%s", body, wantBody)
	}
	if !strings.HasPrefix(sigs, "— evident.local ") || strings.Count(sigs, "\n") != 1 {
		t.Errorf("signature block = %q; want one line by evident.local", sigs)
	}
	// The note package's own parser reads it, independently of ParseCheckpoint.
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(cp.Note), note.VerifierList(v))
	if err != nil || n.Text != wantBody+"\n" {
		t.Errorf("note.Open = %+v, %v; want the body verified", n, err)
	}
}

func TestCheckpointJSON(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	cp := mustSign(t, s, testOrigin, 8, hexHash(t, rfcRoots[8]), testStart)
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"root_hash":"Xcnaeac`) {
		t.Errorf("JSON %s does not carry the root hash in base64", b)
	}
	var back Checkpoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cp, back); diff != "" {
		t.Errorf("JSON round trip: diff (-want +got)\n%s", diff)
	}
}

func TestSignCheckpointErrors(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	for _, tt := range []struct {
		name   string
		origin string
		size   int64
		at     time.Time
		field  string
	}{
		{"empty origin", "", 1, testStart, "origin"},
		{"origin with space", "evident local", 1, testStart, "origin"},
		{"origin with newline", "evident\n5", 1, testStart, "origin"},
		{"origin with plus", "a+b", 1, testStart, "origin"},
		{"negative size", testOrigin, -1, testStart, "size"},
		{"year 10000", testOrigin, 1, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "time"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SignCheckpoint(tt.origin, tt.size, tlog.Hash{}, tt.at)
			if domain.FieldOf(err) != tt.field {
				t.Errorf("SignCheckpoint error = %v; want invalid %q", err, tt.field)
			}
		})
	}
}

// signRaw signs arbitrary note text, to make checkpoints that are validly signed but
// malformed.
func signRaw(tb testing.TB, skey, text string) string {
	tb.Helper()
	signer, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		tb.Fatalf("note.Sign(%q): %v", text, err)
	}
	return string(msg)
}

func TestParseCheckpointErrors(t *testing.T) {
	skey, vkey := testKey(t, "evident.local", 1)
	otherKey, _ := testKey(t, "other.example", 2)
	sameNameKey, sameNameVkey := testKey(t, "evident.local", 3)
	s := testSigner(t, "evident.local", 1)
	good := mustSign(t, s, testOrigin, 8, hexHash(t, rfcRoots[8]), testStart).Note
	root := base64.StdEncoding.EncodeToString(hexBytes(t, rfcRoots[8]))

	for _, tt := range []struct {
		name   string
		text   string
		key    string
		target error
		says   string
	}{
		{"signed by another key", signRaw(t, otherKey, testOrigin+"\n8\n"+root+"\n"), vkey, ErrUnknownKey, "found only other.example+"},
		{"signed by another key of the same name", signRaw(t, sameNameKey, testOrigin+"\n8\n"+root+"\n"), vkey, ErrUnknownKey, "want a signature by evident.local+"},
		{"verified with another key of the same name", good, sameNameVkey, ErrUnknownKey, "found only evident.local+"},
		{"size changed after signing", strings.Replace(good, "\n8\n", "\n9\n", 1), vkey, ErrBadSignature, "by key evident.local+"},
		{"root changed after signing", strings.Replace(good, root, base64.StdEncoding.EncodeToString(hexBytes(t, rfcRoots[7])), 1), vkey, ErrBadSignature, ""},
		{"time changed after signing", strings.Replace(good, "09:30:00Z", "09:29:00Z", 1), vkey, ErrBadSignature, ""},
		{"signature bytes changed", flipSignatureByte(t, good), vkey, ErrBadSignature, ""},
		{"invalid verifier key", good, "evident.local+00000000+AQ==", ErrInvalidKey, "verifier key"},
		{"not a note", "hello", vkey, ErrMalformedCheckpoint, "no empty line before the signatures"},
		{"no signatures", testOrigin + "\n8\n" + root + "\n\n", vkey, ErrMalformedCheckpoint, "no signature lines"},
		{"no final newline", strings.TrimSuffix(good, "\n"), vkey, ErrMalformedCheckpoint, "does not end with a line feed"},
		{"signature line without dash", strings.Replace(good, "— ", "- ", 1), vkey, ErrMalformedCheckpoint, "line 6: a signature line must start"},
		{"signature not base64", strings.Replace(good, "— evident.local ", "— evident.local !!", 1), vkey, ErrMalformedCheckpoint, "line 6: signature is not base64"},
		{"control character", strings.Replace(good, "acme", "ac\x01me", 1), vkey, ErrMalformedCheckpoint, "line 1: control character"},
		{"invalid UTF-8", strings.Replace(good, "\n8\n", "\n8\xff\n", 1), vkey, ErrMalformedCheckpoint, "line 2: invalid UTF-8"},
		{"too large", good + strings.Repeat("x", maxCheckpointSize), vkey, ErrMalformedCheckpoint, "more than the"},
		{"two lines", signRaw(t, skey, testOrigin+"\n8\n"), vkey, ErrMalformedCheckpoint, "2 lines of text"},
		{"origin with space", signRaw(t, skey, "evident local\n8\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 1 (origin)"},
		{"size with leading zero", signRaw(t, skey, testOrigin+"\n08\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 2 (tree size)"},
		{"size with plus", signRaw(t, skey, testOrigin+"\n+8\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 2 (tree size)"},
		{"size minus zero", signRaw(t, skey, testOrigin+"\n-0\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 2 (tree size)"},
		{"negative size", signRaw(t, skey, testOrigin+"\n-8\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 2 (tree size)"},
		{"size not a number", signRaw(t, skey, testOrigin+"\neight\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 2 (tree size)"},
		{"size too large", signRaw(t, skey, testOrigin+"\n9223372036854775808\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 2 (tree size)"},
		{"root too short", signRaw(t, skey, testOrigin+"\n8\nAAAA\n"), vkey, ErrMalformedCheckpoint, "line 3 (root hash)"},
		{"root not base64", signRaw(t, skey, testOrigin+"\n8\n"+strings.Repeat("*", 44)+"\n"), vkey, ErrMalformedCheckpoint, "line 3 (root hash)"},
		{"root in URL base64", signRaw(t, skey, testOrigin+"\n8\n"+base64.URLEncoding.EncodeToString(hexBytes(t, rfcRoots[8]))+"\n"), vkey, ErrMalformedCheckpoint, "line 3 (root hash)"},
		{"root without padding", signRaw(t, skey, testOrigin+"\n8\n"+strings.TrimRight(root, "=")+"\n"), vkey, ErrMalformedCheckpoint, "line 3 (root hash)"},
		{"unknown extension", signRaw(t, skey, testOrigin+"\n8\n"+root+"\nfoo bar\n"), vkey, ErrMalformedCheckpoint, "line 4 (extension)"},
		{"two time lines", signRaw(t, skey, testOrigin+"\n8\n"+root+"\ntime 2025-03-01T09:30:00Z\ntime 2025-03-01T09:30:00Z\n"), vkey, ErrMalformedCheckpoint, "line 5 (extension)"},
		{"time with offset", signRaw(t, skey, testOrigin+"\n8\n"+root+"\ntime 2025-03-01T09:30:00+01:00\n"), vkey, ErrMalformedCheckpoint, "line 4 (time)"},
		{"time with fraction", signRaw(t, skey, testOrigin+"\n8\n"+root+"\ntime 2025-03-01T09:30:00.5Z\n"), vkey, ErrMalformedCheckpoint, "line 4 (time)"},
		{"time out of range", signRaw(t, skey, testOrigin+"\n8\n"+root+"\ntime 2025-02-30T09:30:00Z\n"), vkey, ErrMalformedCheckpoint, "line 4 (time)"},
		{"empty line in body", signRaw(t, skey, testOrigin+"\n\n8\n"+root+"\n"), vkey, ErrMalformedCheckpoint, "line 2 (tree size)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cp, err := ParseCheckpoint([]byte(tt.text), tt.key)
			if !errors.Is(err, tt.target) {
				t.Fatalf("ParseCheckpoint(%q) = %+v, %v; want %v", tt.text, cp, err, tt.target)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("ParseCheckpoint(%q) error = %q; want it to say %q", tt.text, err, tt.says)
			}
			if domain.KindOf(err) != domain.KindInvalid {
				t.Errorf("ParseCheckpoint error kind = %s; want %s", domain.KindOf(err), domain.KindInvalid)
			}
		})
	}
}

func TestParseCheckpointCosigned(t *testing.T) {
	s := testSigner(t, "evident.local", 1)
	witnessKey, _ := testKey(t, "witness.example", 4)
	witness, err := note.NewSigner(witnessKey)
	if err != nil {
		t.Fatal(err)
	}
	cp := mustSign(t, s, testOrigin, 8, hexHash(t, rfcRoots[8]), testStart)
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(cp.Note), note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, witness)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCheckpoint(cosigned, s.VerifierKey())
	if err != nil {
		t.Fatalf("ParseCheckpoint of a cosigned checkpoint: %v", err)
	}
	if got.Size != 8 || got.Root != cp.Root || got.Note != string(cosigned) {
		t.Errorf("ParseCheckpoint = %+v; want size 8, root %s and the cosigned note", got, cp.Root)
	}
}

// flipSignatureByte changes the last byte of the Ed25519 signature in a one-signature
// note, keeping the key name and key hash.
func flipSignatureByte(tb testing.TB, signed string) string {
	tb.Helper()
	i := strings.LastIndex(signed, " ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(signed[i+1:], "\n"))
	if err != nil {
		tb.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	return signed[:i+1] + base64.StdEncoding.EncodeToString(raw) + "\n"
}
