package collect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

// SecretKeySize is the size of the key that seals connection credentials: AES-256.
const SecretKeySize = 32

// ParseSecretKey reads a key as configuration gives it: 32 bytes in standard base64 or in
// hex, surrounding space ignored.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == SecretKeySize {
		return b, nil
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == SecretKeySize {
		return b, nil
	}
	return nil, fmt.Errorf("the secret key must be %d bytes in base64 or hex", SecretKeySize)
}

// LoadOrCreateSecretKey reads the key that seals connection credentials from the file at
// path (base64, as ParseSecretKey reads it), or generates one and writes it there,
// readable by its owner only. Two processes starting at once agree on one key: the file
// appears whole, or not at all, and the second one reads what the first wrote.
func LoadOrCreateSecretKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseSecretKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("secret key %s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	key := make([]byte, SecretKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-key-*")
	if err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	// A hard link never replaces an existing file, unlike a rename: the first process to
	// link its key wins, and the others read it.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateSecretKey(path)
		}
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return key, nil
}

// Sealer encrypts and decrypts connection credentials with AES-256-GCM. The additional
// data binds each ciphertext to its organization and connector kind, so credentials
// copied to another organization's connection do not open.
type Sealer struct {
	aead cipher.AEAD
	id   string
}

// NewSealer returns a sealer with the key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("the secret key must be %d bytes, not %d", SecretKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("evident connection key id\x00"), key...))
	return &Sealer{aead: aead, id: hex.EncodeToString(sum[:8])}, nil
}

// KeyID names the key without revealing it.
func (s *Sealer) KeyID() string { return s.id }

func additionalData(orgID int64, kind string) []byte {
	return []byte("evident connection\x00" + strconv.FormatInt(orgID, 10) + "\x00" + kind)
}

// Seal encrypts a connection's configuration for the organization and kind.
func (s *Sealer) Seal(orgID int64, kind string, plaintext []byte) (domain.SealedSecret, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return domain.SealedSecret{}, fmt.Errorf("seal credentials: %w", err)
	}
	return domain.SealedSecret{
		KeyID:      s.id,
		Nonce:      nonce,
		Ciphertext: s.aead.Seal(nil, nonce, plaintext, additionalData(orgID, kind)),
	}, nil
}

// Open decrypts a connection's configuration sealed for the organization and kind.
func (s *Sealer) Open(orgID int64, kind string, sec domain.SealedSecret) ([]byte, error) {
	if sec.KeyID != s.id {
		return nil, fmt.Errorf("open credentials: they were sealed with another key (%s, not %s); configure the key they were sealed with, or enter them again", sec.KeyID, s.id)
	}
	if len(sec.Nonce) != s.aead.NonceSize() {
		return nil, errors.New("open credentials: the nonce has the wrong size")
	}
	out, err := s.aead.Open(nil, sec.Nonce, sec.Ciphertext, additionalData(orgID, kind))
	if err != nil {
		return nil, errors.New("open credentials: they do not authenticate (altered, or sealed for another connection)")
	}
	return out, nil
}
