package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
)

// An API key reads "sie_<id>_<secret>_<checksum>", all in [A-Za-z0-9_]:
// the id finds the stored record, the secret (256 bits of randomness) is
// checked against its stored SHA-256, and the checksum (CRC-32 of what
// precedes it) rejects a mistyped or truncated key before any database read.
const (
	keyPrefix      = "sie_"
	keyIDLen       = 16
	keySecretLen   = 43 // 62^43 > 2^256
	keyChecksumLen = 6  // 62^6 > 2^32
	keyLen         = len(keyPrefix) + keyIDLen + 1 + keySecretLen + 1 + keyChecksumLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Key is a parsed API key.
type Key struct {
	ID     string
	Secret string
}

// String renders the key in its wire format, checksum included.
func (k Key) String() string {
	body := keyPrefix + k.ID + "_" + k.Secret
	return body + "_" + checksum(body)
}

// SecretHash is what the store keeps instead of the secret.
func (k Key) SecretHash() []byte {
	sum := sha256.Sum256([]byte(k.Secret))
	return sum[:]
}

// NewKey makes a key with a fresh random id and secret.
func NewKey() (Key, error) {
	id, err := randomBase62(keyIDLen)
	if err != nil {
		return Key{}, err
	}
	secret, err := randomBase62(keySecretLen)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, Secret: secret}, nil
}

// Errors from ParseKey; each wraps ErrUnauthenticated.
var (
	errKeyFormat   = fmt.Errorf("%w: malformed key", ErrUnauthenticated)
	errKeyChecksum = fmt.Errorf("%w: key checksum mismatch", ErrUnauthenticated)
)

// ParseKey checks the format and checksum of s. It never touches storage.
func ParseKey(s string) (Key, error) {
	if len(s) != keyLen || !strings.HasPrefix(s, keyPrefix) {
		return Key{}, errKeyFormat
	}
	rest := s[len(keyPrefix):]
	id, rest := rest[:keyIDLen], rest[keyIDLen:]
	if rest[0] != '_' || rest[1+keySecretLen] != '_' {
		return Key{}, errKeyFormat
	}
	secret := rest[1 : 1+keySecretLen]
	sum := rest[2+keySecretLen:]
	if !isBase62(id) || !isBase62(secret) || !isBase62(sum) {
		return Key{}, errKeyFormat
	}
	if checksum(keyPrefix+id+"_"+secret) != sum {
		return Key{}, errKeyChecksum
	}
	return Key{ID: id, Secret: secret}, nil
}

// KeyIDHint returns the id part of something that looks like a key, for
// logging a failed attempt; "" when there is none. It never returns secret
// material.
func KeyIDHint(s string) string {
	if !strings.HasPrefix(s, keyPrefix) || len(s) < len(keyPrefix)+keyIDLen {
		return ""
	}
	id := s[len(keyPrefix) : len(keyPrefix)+keyIDLen]
	if !isBase62(id) {
		return ""
	}
	return id
}

func checksum(body string) string {
	return fixedBase62(uint64(crc32.ChecksumIEEE([]byte(body))), keyChecksumLen)
}

func fixedBase62(v uint64, n int) string {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = base62[v%62]
		v /= 62
	}
	return string(b)
}

func randomBase62(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(62)
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("auth: random: %w", err)
		}
		b[i] = base62[v.Int64()]
	}
	return string(b), nil
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return s != ""
}
