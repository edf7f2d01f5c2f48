package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
)

// The errors that ParseCheckpoint and the proof checks wrap, so that callers can tell the
// reasons apart with errors.Is. All are of domain.KindInvalid.
var (
	// ErrMalformedCheckpoint: the text is not a signed note with a well-formed checkpoint
	// body; the wrapping error names the line.
	ErrMalformedCheckpoint = &domain.Error{Kind: domain.KindInvalid, Field: "checkpoint", Message: "malformed"}
	// ErrUnknownKey: the checkpoint carries no signature by the expected key.
	ErrUnknownKey = &domain.Error{Kind: domain.KindInvalid, Field: "checkpoint", Message: "not signed by the expected key"}
	// ErrBadSignature: the expected key's signature does not match the text, which was
	// changed after signing or signed by another key of the same name and key hash.
	ErrBadSignature = &domain.Error{Kind: domain.KindInvalid, Field: "checkpoint", Message: "bad signature"}
	// ErrInvalidKey: a signer or verifier key is not in the signed-note key format.
	ErrInvalidKey = &domain.Error{Kind: domain.KindInvalid, Field: "key", Message: "invalid"}
	// ErrProof: an inclusion or consistency proof does not lead to the claimed root.
	ErrProof = &domain.Error{Kind: domain.KindInvalid, Field: "proof", Message: "does not verify"}
)

// maxCheckpointSize bounds the signed note ParseCheckpoint accepts; a checkpoint with a
// hundred cosignatures is well under it.
const maxCheckpointSize = 64 << 10

// checkpointTimeLayout is the layout of the time extension line: RFC 3339, UTC, seconds.
const checkpointTimeLayout = "2006-01-02T15:04:05Z"

// Checkpoint is a signed statement of a log's state: at Time, the log named Origin had
// Size entries whose Merkle tree root was Root. Note holds the signed note it was read
// from or written as, which is what an auditor saves and what the API serves.
//
// The note is a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) in the C2SP
// signed-note format with an Ed25519 signature. Its text is, each line ending in a line feed:
//
//	<origin>
//	<size in decimal, no leading zeros>
//	<root hash in standard base64 with padding>
//	time <UTC time as 2006-01-02T15:04:05Z>    (only when Time is set)
//
// followed by an empty line and one or more signature lines "— <key name> <base64>".
type Checkpoint struct {
	Origin string    `json:"origin"`
	Size   int64     `json:"size"`
	Root   tlog.Hash `json:"root_hash"`
	Time   time.Time `json:"time,omitzero"`
	Note   string    `json:"note"`
}

// GenerateKey returns a new Ed25519 key pair for signing checkpoints, in the signed-note
// key encoding: skey ("PRIVATE+KEY+<name>+<hash>+<key>") is secret and is what
// NewCheckpointSigner takes; vkey ("<name>+<hash>+<key>") is public, shown to auditors and
// given to ParseCheckpoint. The name identifies the key in signatures, such as the
// server's host name or a log origin; it must be non-empty, valid UTF-8 and without spaces
// or "+".
func GenerateKey(name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("%w: key name %q must be non-empty and have no spaces or +", ErrInvalidKey, name)
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("ledger: generate key: %w", err)
	}
	return skey, vkey, nil
}

// validName reports whether s can be a signed-note key name or a checkpoint origin:
// non-empty, valid UTF-8, no Unicode spaces, no control characters, no "+".
func validName(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsRune(s, '+') &&
		strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// Signer signs checkpoints with one Ed25519 key. It is safe for concurrent use.
type Signer struct {
	signer note.Signer
	vkey   string
}

// NewCheckpointSigner returns a Signer for a secret key from GenerateKey.
func NewCheckpointSigner(skey string) (*Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: signer key: %v", ErrInvalidKey, err)
	}
	// NewSigner has checked the format and that the key hash matches the public key
	// derived from the seed; derive that public key again to publish it.
	// The key is "PRIVATE+KEY+<name>+<hash>+<base64>"; the name has no "+", the base64
	// may have some.
	rest := strings.TrimPrefix(skey, "PRIVATE+KEY+")
	_, rest, _ = strings.Cut(rest, "+")
	_, key64, _ := strings.Cut(rest, "+")
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("%w: signer key is not an Ed25519 key", ErrInvalidKey)
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return &Signer{signer: s, vkey: vkey}, nil
}

// Name returns the key's name, which appears in every signature line.
func (s *Signer) Name() string { return s.signer.Name() }

// VerifierKey returns the public key in the signed-note encoding that ParseCheckpoint
// takes, for showing in the UI and serving from the API.
func (s *Signer) VerifierKey() string { return s.vkey }

// SignCheckpoint returns the signed checkpoint for the log named origin at the given size
// and root. A non-zero at is recorded, in UTC and truncated to whole seconds, as the time
// extension line. The origin identifies the log, such as "evident.example.com/acme"; it
// must be non-empty, valid UTF-8, and without spaces, control characters or "+".
func (s *Signer) SignCheckpoint(origin string, size int64, root tlog.Hash, at time.Time) (Checkpoint, error) {
	if !validName(origin) {
		return Checkpoint{}, domain.Invalid("origin", "%q must be non-empty and have no spaces, control characters or +", origin)
	}
	if size < 0 {
		return Checkpoint{}, domain.Invalid("size", "%d is negative", size)
	}
	if !at.IsZero() {
		at = at.UTC().Truncate(time.Second)
		if y := at.Year(); y < 1 || y > 9999 {
			return Checkpoint{}, domain.Invalid("time", "year %d is outside 0001–9999", y)
		}
	}
	cp := Checkpoint{Origin: origin, Size: size, Root: root, Time: at}
	signed, err := note.Sign(&note.Note{Text: string(cp.body())}, s.signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: sign checkpoint: %w", err)
	}
	cp.Note = string(signed)
	return cp, nil
}

// body returns the checkpoint's note text.
func (c Checkpoint) body() []byte {
	b := make([]byte, 0, len(c.Origin)+90)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root[:])
	b = append(b, '\n')
	if !c.Time.IsZero() {
		b = append(b, "time "...)
		b = c.Time.UTC().AppendFormat(b, checkpointTimeLayout)
		b = append(b, '\n')
	}
	return b
}

// ParseCheckpoint verifies that text is a checkpoint signed by the key verifierKey (as
// from Signer.VerifierKey) and returns it. Signatures by other keys, such as witnesses'
// cosignatures, are allowed and ignored. The error wraps ErrInvalidKey when verifierKey is
// malformed, ErrUnknownKey when that key did not sign, ErrBadSignature when its signature
// does not match, and ErrMalformedCheckpoint, naming the line, when the text is not a
// well-formed signed note or checkpoint. The signature is checked before the body is read,
// so an altered checkpoint reports a bad signature.
//
// The body is read strictly: three or four lines as documented on Checkpoint, the size in
// decimal without sign or leading zeros, the root hash as exactly 32 bytes in canonical
// standard base64, and no extension line other than one time line. The caller checks that
// Origin is the log it expects.
func ParseCheckpoint(text []byte, verifierKey string) (Checkpoint, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: verifier key %q: %v", ErrInvalidKey, verifierKey, err)
	}
	if len(text) > maxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes is more than the %d a checkpoint may have", ErrMalformedCheckpoint, len(text), maxCheckpointSize)
	}
	n, err := note.Open(text, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			var by []string
			for _, s := range unverified.Note.UnverifiedSigs {
				by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			return Checkpoint{}, fmt.Errorf("%w: want a signature by %s+%08x, found only %s", ErrUnknownKey, v.Name(), v.KeyHash(), strings.Join(by, ", "))
		case errors.As(err, &invalid):
			return Checkpoint{}, fmt.Errorf("%w: by key %s+%08x", ErrBadSignature, invalid.Name, invalid.Hash)
		default:
			return Checkpoint{}, fmt.Errorf("%w: %s", ErrMalformedCheckpoint, diagnoseNote(text))
		}
	}
	cp, err := parseCheckpointBody(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	cp.Note = string(text)
	return cp, nil
}

// diagnoseNote says what is wrong with a signed note that note.Open rejected as malformed,
// which it does without detail.
func diagnoseNote(text []byte) string {
	line := 1
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Sprintf("line %d: invalid UTF-8", line)
		case r == '\n':
			line++
		case r < 0x20:
			return fmt.Sprintf("line %d: control character %U", line, r)
		}
		i += size
	}
	split := bytes.LastIndex(text, []byte("\n\n"))
	if split < 0 {
		return "no empty line before the signatures"
	}
	sigs := text[split+2:]
	if len(sigs) == 0 {
		return "no signature lines"
	}
	if sigs[len(sigs)-1] != '\n' {
		return "the last line does not end with a line feed"
	}
	line = bytes.Count(text[:split+2], []byte("\n")) + 1
	for l := range strings.Lines(string(sigs)) {
		l = strings.TrimSuffix(l, "\n")
		name, sig, ok := strings.Cut(strings.TrimPrefix(l, "— "), " ")
		raw, err := base64.StdEncoding.DecodeString(sig)
		switch {
		case !strings.HasPrefix(l, "— "):
			return fmt.Sprintf("line %d: a signature line must start with \"— \"", line)
		case !ok || !validName(name):
			return fmt.Sprintf("line %d: signature line has no valid key name", line)
		case err != nil || len(raw) < 5:
			return fmt.Sprintf("line %d: signature is not base64 of a key hash and a signature", line)
		}
		line++
	}
	return "not a signed note"
}

// parseCheckpointBody reads the text of a checkpoint note, which ends with a line feed.
func parseCheckpointBody(text string) (Checkpoint, error) {
	malformed := func(line int, what, format string, args ...any) error {
		return fmt.Errorf("%w: line %d (%s): %s", ErrMalformedCheckpoint, line, what, fmt.Sprintf(format, args...))
	}
	body, ok := strings.CutSuffix(text, "\n")
	if !ok {
		return Checkpoint{}, fmt.Errorf("%w: the text does not end with a line feed", ErrMalformedCheckpoint)
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%w: %d lines of text; want origin, tree size and root hash", ErrMalformedCheckpoint, len(lines))
	}
	var cp Checkpoint
	cp.Origin = lines[0]
	if !validName(cp.Origin) {
		return Checkpoint{}, malformed(1, "origin", "%q must be non-empty and have no spaces or +", cp.Origin)
	}
	size := lines[1]
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || strings.Trim(size, "0123456789") != "" || size[0] == '0' && len(size) > 1 {
		return Checkpoint{}, malformed(2, "tree size", "%q is not a decimal number without sign or leading zeros", size)
	}
	cp.Size = n
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return Checkpoint{}, malformed(3, "root hash", "%q is not a 32-byte hash in standard base64", lines[2])
	}
	copy(cp.Root[:], root)
	for i, ext := range lines[3:] {
		line := 4 + i
		value, ok := strings.CutPrefix(ext, "time ")
		switch {
		case ext == "":
			return Checkpoint{}, malformed(line, "extension", "empty line")
		case i > 0 || !ok:
			return Checkpoint{}, malformed(line, "extension", "unexpected %q; the only extension line is one \"time\" line", ext)
		}
		at, err := time.Parse(checkpointTimeLayout, value)
		if err != nil || at.Format(checkpointTimeLayout) != value || at.IsZero() {
			return Checkpoint{}, malformed(line, "time", "%q is not a UTC time of the form %s", value, checkpointTimeLayout)
		}
		cp.Time = at
	}
	return cp, nil
}
