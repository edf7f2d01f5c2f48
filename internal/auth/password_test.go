package auth

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/evidenthq/evident/internal/domain"
)

func TestHashPasswordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		pw   string
	}{
		{"ascii minimum", "abcdefgh"},
		{"spaces kept", "  correct horse battery staple  "},
		{"non-ascii", "pässwörd-日本語-🔐"},
		{"128 ascii", strings.Repeat("x", 128)},
		{"128 non-ascii runes", strings.Repeat("é", 128)},
		{"128 four-byte runes", strings.Repeat("🔐", 128)},
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := HashPassword(tt.pw)
			if err != nil {
				t.Fatalf("HashPassword(%q) error: %v", tt.pw, err)
			}
			if !phc.MatchString(enc) {
				t.Errorf("HashPassword(%q) = %q; want PHC argon2id with m=19456,t=2,p=1, 16-byte salt, 32-byte key", tt.pw, enc)
			}
			ok, err := VerifyPassword(enc, tt.pw)
			if err != nil || !ok {
				t.Errorf("VerifyPassword(hash, %q) = %v, %v; want true, nil", tt.pw, ok, err)
			}
			ok, err = VerifyPassword(enc, tt.pw+"x")
			if err != nil || ok {
				t.Errorf("VerifyPassword(hash, %q) = %v, %v; want false, nil", tt.pw+"x", ok, err)
			}
		})
	}
}

func TestHashPasswordSaltsDiffer(t *testing.T) {
	a, err := HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal (%q); want fresh salts", a)
	}
}

func TestVerifyPasswordWrong(t *testing.T) {
	enc, err := HashPassword("the right password")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"the wrong password", "The right password", "the right passwor", "", "the right password "} {
		ok, err := VerifyPassword(enc, pw)
		if err != nil || ok {
			t.Errorf("VerifyPassword(hash, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

func TestHashPasswordLength(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr bool
	}{
		{"empty", "", true},
		{"7 characters", "abcdefg", true},
		{"8 characters", "abcdefgh", false},
		{"7 runes in 14 bytes", strings.Repeat("é", 7), true},
		{"8 runes", strings.Repeat("é", 8), false},
		{"128 characters", strings.Repeat("a", 128), false},
		{"129 characters", strings.Repeat("a", 129), true},
		{"128 runes in 512 bytes", strings.Repeat("🔐", 128), false},
		{"129 runes", strings.Repeat("ü", 129), true},
		{"invalid UTF-8", "abcdefgh\xff", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := HashPassword(tt.pw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("HashPassword(%d runes) error = %v; want error %v", utf8.RuneCountInString(tt.pw), err, tt.wantErr)
			}
			if err != nil && (domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != "password") {
				t.Errorf("HashPassword error = %v (kind %s, field %q); want invalid password", err, domain.KindOf(err), domain.FieldOf(err))
			}
		})
	}
}

// Long passwords are hashed whole: two that share their first 99 characters are different.
func TestPasswordNoTruncation(t *testing.T) {
	common := strings.Repeat("p", 99)
	a, b := common+"a", common+"b"
	enc, err := HashPassword(a)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(enc, b); err != nil || ok {
		t.Errorf("VerifyPassword(hash of 100-char a, 100-char b) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := VerifyPassword(enc, a); err != nil || !ok {
		t.Errorf("VerifyPassword(hash of a, a) = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyPasswordTooLongNeverMatches(t *testing.T) {
	enc, err := HashPassword(strings.Repeat("a", 128))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(enc, strings.Repeat("a", 129)); err != nil || ok {
		t.Errorf("VerifyPassword(hash, 129 chars) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, err := HashPassword("a good password")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plain text", "a good password"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"wrong version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"missing version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"parameters out of order", "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key},
		{"memory too large", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key},
		{"memory below 8 per lane", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key},
		{"overflow", "$argon2id$v=19$m=99999999999999999999,t=2,p=1$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key},
		{"salt padded", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"salt too short", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$" + key},
		{"empty hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$"},
		{"extra field", good + "$x"},
		{"trailing dollar", good + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.encoded, "a good password")
			if err == nil || ok {
				t.Errorf("VerifyPassword(%q) = %v, %v; want false and an error", tt.encoded, ok, err)
			}
		})
	}
}

// A hash made with other parameters, within the limits, verifies with those parameters:
// stored hashes keep working when the parameters for new ones change.
func TestVerifyPasswordReadsParameters(t *testing.T) {
	salt := []byte("somesaltsomesalt")
	key := argon2.IDKey([]byte("password"), salt, 1, 64, 1, 16)
	enc := "$argon2id$v=19$m=64,t=1,p=1$" + phcB64.EncodeToString(salt) + "$" + phcB64.EncodeToString(key)
	if ok, err := VerifyPassword(enc, "password"); err != nil || !ok {
		t.Errorf("VerifyPassword(m=64,t=1,p=1 hash, right password) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := VerifyPassword(enc, "passwore"); err != nil || ok {
		t.Errorf("VerifyPassword(m=64,t=1,p=1 hash, wrong password) = %v, %v; want false, nil", ok, err)
	}
}

func TestGeneratePassword(t *testing.T) {
	shape := regexp.MustCompile(`^[a-km-np-z2-9]{5}(-[a-km-np-z2-9]{5}){3}$`)
	seen := map[string]bool{}
	for range 50 {
		pw := GeneratePassword()
		if !shape.MatchString(pw) {
			t.Fatalf("GeneratePassword() = %q; want four hyphenated groups of five unambiguous characters", pw)
		}
		if err := CheckPassword(pw); err != nil {
			t.Fatalf("CheckPassword(GeneratePassword()) = %v", err)
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword() repeated %q", pw)
		}
		seen[pw] = true
	}
}

func FuzzVerifyPassword(f *testing.F) {
	good, err := HashPassword("fuzzing password")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "fuzzing password")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAA", "password")
	f.Add("$argon2id$v=19$m=,t=,p=$$", "")
	f.Add("$$$$$", "x")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		ok, err := VerifyPassword(encoded, pw)
		if err != nil && ok {
			t.Errorf("VerifyPassword(%q, %q) = true with error %v", encoded, pw, err)
		}
	})
}
