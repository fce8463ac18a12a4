package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// A credential reads "<kind>_<id>_<secret>_<checksum>", all in
// [A-Za-z0-9_]: "sie" for API keys, "ses" for session tokens. The id finds
// the stored record, the secret (256 bits of randomness) is checked
// against its stored SHA-256, and the checksum is an HMAC of what precedes
// it under a server secret that every instance shares (it lives in the
// database). A mistyped key, or a look-alike made without the server
// secret, is rejected before any database read; the CRC that scanners use
// would stop typos but not forgeries.
const (
	idLen       = 16
	secretLen   = 43 // 62^43 > 2^256
	checksumLen = 6  // 62^6 > 2^35: a blind guess passes once in 5·10^10
	tokenLen    = 3 + 1 + idLen + 1 + secretLen + 1 + checksumLen
)

// Kind tells API keys and session tokens apart by their prefix.
type Kind string

// Kinds of credential.
const (
	APIKey  Kind = "sie"
	Session Kind = "ses"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Token is a parsed credential.
type Token struct {
	Kind   Kind
	ID     string
	Secret string
}

// SecretHash is what the store keeps instead of the secret.
func (t Token) SecretHash() []byte {
	sum := sha256.Sum256([]byte(t.Secret))
	return sum[:]
}

// Codec makes, renders and checks credentials under one server secret.
type Codec struct {
	secret []byte
}

// MinCodecSecret is the shortest server secret NewCodec accepts.
const MinCodecSecret = 32

// NewCodec returns a Codec keyed by secret (at least MinCodecSecret bytes).
func NewCodec(secret []byte) (*Codec, error) {
	if len(secret) < MinCodecSecret {
		return nil, errors.New("auth: the checksum secret is too short")
	}
	return &Codec{secret: secret}, nil
}

// NewCodecSecret makes a fresh server secret.
func NewCodecSecret() ([]byte, error) {
	b := make([]byte, MinCodecSecret)
	_, err := rand.Read(b)
	return b, err
}

// New makes a credential of kind with a fresh random id and secret.
func (c *Codec) New(kind Kind) (Token, error) {
	id, err := randomBase62(idLen)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomBase62(secretLen)
	if err != nil {
		return Token{}, err
	}
	return Token{Kind: kind, ID: id, Secret: secret}, nil
}

// Format renders t in its wire format, checksum included.
func (c *Codec) Format(t Token) string {
	body := string(t.Kind) + "_" + t.ID + "_" + t.Secret
	return body + "_" + c.checksum(body)
}

// Errors from Parse; each wraps ErrUnauthenticated.
var (
	errFormat   = refused(ReasonMalformed, "malformed credential")
	errChecksum = refused(ReasonMalformed, "checksum mismatch")
)

// Parse checks the format and checksum of s as a credential of kind. It
// never touches storage.
func (c *Codec) Parse(kind Kind, s string) (Token, error) {
	prefix := string(kind) + "_"
	if len(s) != tokenLen || !strings.HasPrefix(s, prefix) {
		return Token{}, errFormat
	}
	rest := s[len(prefix):]
	id, rest := rest[:idLen], rest[idLen:]
	if rest[0] != '_' || rest[1+secretLen] != '_' {
		return Token{}, errFormat
	}
	secret := rest[1 : 1+secretLen]
	sum := rest[2+secretLen:]
	if !isBase62(id) || !isBase62(secret) || !isBase62(sum) {
		return Token{}, errFormat
	}
	if !hmac.Equal([]byte(c.checksum(s[:len(s)-checksumLen-1])), []byte(sum)) {
		return Token{}, errChecksum
	}
	return Token{Kind: kind, ID: id, Secret: secret}, nil
}

// IDHint returns the id part of something that looks like a credential,
// for logging a failed attempt; "" when there is none. It never returns
// secret material.
func IDHint(s string) string {
	if len(s) < 4+idLen || s[3] != '_' {
		return ""
	}
	id := s[4 : 4+idLen]
	if !isBase62(id) {
		return ""
	}
	return id
}

func (c *Codec) checksum(body string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(body))
	v := binary.BigEndian.Uint64(m.Sum(nil))
	b := make([]byte, checksumLen)
	for i := checksumLen - 1; i >= 0; i-- {
		b[i] = base62[v%62]
		v /= 62
	}
	return string(b)
}

func randomBase62(n int) (string, error) {
	b := make([]byte, n)
	limit := big.NewInt(62)
	for i := range b {
		v, err := rand.Int(rand.Reader, limit)
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
