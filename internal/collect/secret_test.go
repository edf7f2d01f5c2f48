package collect

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateSecretKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	key, err := LoadOrCreateSecretKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateSecretKey(new) = %v", err)
	}
	if len(key) != SecretKeySize {
		t.Fatalf("key length = %d; want %d", len(key), SecretKeySize)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat key file: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file permissions = %o; want 600", perm)
	}
	again, err := LoadOrCreateSecretKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateSecretKey(existing) = %v", err)
	}
	if !bytes.Equal(key, again) {
		t.Errorf("LoadOrCreateSecretKey read another key than it wrote")
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the key's directory holds %d files; want only the key", len(entries))
	}
}

func TestLoadOrCreateSecretKeyConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = LoadOrCreateSecretKey(path)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreateSecretKey #%d = %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("LoadOrCreateSecretKey #%d returned another key than #0", i)
		}
	}
}

func TestLoadOrCreateSecretKeyRejectsBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecretKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadOrCreateSecretKey(bad file) = %v; want an error naming the file", err)
	}
}

func TestParseSecretKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, SecretKeySize)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"base64", base64.StdEncoding.EncodeToString(key), true},
		{"hex with space", " " + hex.EncodeToString(key) + "\n", true},
		{"short", base64.StdEncoding.EncodeToString(key[:16]), false},
		{"garbage", "correct horse battery staple", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSecretKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseSecretKey(%q) error = %v; want ok %v", tc.in, err, tc.ok)
			}
			if tc.ok && !bytes.Equal(got, key) {
				t.Errorf("ParseSecretKey(%q) = %x; want %x", tc.in, got, key)
			}
		})
	}
}

func TestSealer(t *testing.T) {
	a, err := NewSealer(bytes.Repeat([]byte{1}, SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSealer(bytes.Repeat([]byte{2}, SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Errorf("NewSealer(short key) = nil error; want an error")
	}
	plain := []byte(`{"secret_access_key":"wJalrXUtnFEMI"}`)
	sec, err := a.Seal(7, "aws", plain)
	if err != nil {
		t.Fatalf("Seal = %v", err)
	}
	if bytes.Contains(sec.Ciphertext, []byte("wJalrXUtnFEMI")) || sec.KeyID != a.KeyID() {
		t.Fatalf("sealed secret = %+v; want ciphertext under key %s", sec, a.KeyID())
	}
	again, _ := a.Seal(7, "aws", plain)
	if bytes.Equal(again.Nonce, sec.Nonce) {
		t.Errorf("two seals used the same nonce")
	}
	got, err := a.Open(7, "aws", sec)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want the plaintext", got, err)
	}
	tampered := sec
	tampered.Ciphertext = append([]byte(nil), sec.Ciphertext...)
	tampered.Ciphertext[0] ^= 1
	for _, tc := range []struct {
		name  string
		s     *Sealer
		org   int64
		kind  string
		wants string
	}{
		{"other organization", a, 8, "aws", "do not authenticate"},
		{"other kind", a, 7, "github", "do not authenticate"},
		{"other key", b, 7, "aws", "another key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.Open(tc.org, tc.kind, sec); err == nil || !strings.Contains(err.Error(), tc.wants) {
				t.Errorf("Open = %v; want an error saying %q", err, tc.wants)
			}
		})
	}
	if _, err := a.Open(7, "aws", tampered); err == nil {
		t.Errorf("Open(tampered) = nil error; want an error")
	}
}
