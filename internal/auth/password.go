package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/evidenthq/evident/internal/domain"
)

// Password length limits, counted in characters (runes). Nothing beyond the maximum is
// ever silently dropped: longer passwords are refused.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// The argon2id parameters for new hashes: the OWASP and ASVS recommendation of 19 MiB of
// memory, two passes and one lane, with a 16-byte salt and a 32-byte key.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Limits on the parameters VerifyPassword accepts from an encoded hash, so that a damaged
// or hostile stored value cannot make one verification take unbounded memory or time.
const (
	maxArgonMemory  = 64 * 1024 // KiB
	maxArgonTime    = 10
	maxArgonThreads = 8
	minArgonSaltLen = 8
	maxArgonSaltLen = 64
	minArgonKeyLen  = 16
	maxArgonKeyLen  = 64
)

// phcB64 is the base64 of the PHC string format: standard alphabet, no padding.
var phcB64 = base64.RawStdEncoding

// errMalformedHash is returned for an encoded hash VerifyPassword cannot read.
var errMalformedHash = errors.New("auth: malformed password hash")

// CheckPassword reports whether pw is acceptable as a new password: valid UTF-8 of 8 to
// 128 characters. The error is KindInvalid naming the field "password".
func CheckPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return domain.Invalid("password", "must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return domain.Invalid("password", "must be at least %d characters", MinPasswordLength)
	}
	if n > MaxPasswordLength {
		return domain.Invalid("password", "must be at most %d characters", MaxPasswordLength)
	}
	return nil
}

// HashPassword hashes a password with argon2id and a fresh random salt, and returns it in
// PHC string format: $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads,
		phcB64.EncodeToString(salt), phcB64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches the encoded argon2id hash, comparing in
// constant time with the parameters the encoded string names. A password outside the
// length limits never matches. An encoded string that cannot be read is an error.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if CheckPassword(pw) != nil {
		return false, nil
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// argonHash is an encoded hash, read.
type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseHash reads a PHC string of the form $argon2id$v=19$m=M,t=T,p=P$salt$hash.
func parseHash(encoded string) (*argonHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("%w: unsupported version %q", errMalformedHash, parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, errMalformedHash
	}
	m, okM := param(params[0], "m", 8, maxArgonMemory)
	t, okT := param(params[1], "t", 1, maxArgonTime)
	p, okP := param(params[2], "p", 1, maxArgonThreads)
	if !okM || !okT || !okP || m < 8*p {
		return nil, fmt.Errorf("%w: parameters %q", errMalformedHash, parts[3])
	}
	salt, err := phcB64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return nil, fmt.Errorf("%w: salt", errMalformedHash)
	}
	key, err := phcB64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return nil, fmt.Errorf("%w: hash", errMalformedHash)
	}
	return &argonHash{memory: m, time: t, threads: uint8(p), salt: salt, key: key}, nil
}

// param reads "name=value" with value a decimal number in [lo, hi].
func param(s, name string, lo, hi uint32) (uint32, bool) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || uint32(n) < lo || uint32(n) > hi {
		return 0, false
	}
	return uint32(n), true
}

// passwordAlphabet leaves out the characters most easily confused (0, o, 1, l). Its 32
// symbols make each character worth exactly 5 random bits.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// GeneratePassword returns a random password that is easy to read aloud and type: four
// groups of five characters separated by hyphens, 100 bits of randomness in all.
func GeneratePassword() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%5 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(passwordAlphabet[c%32])
	}
	return sb.String()
}
