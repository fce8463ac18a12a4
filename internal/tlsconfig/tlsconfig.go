// Package tlsconfig provides the server's TLS certificate: a configured one
// from files, served again as they are renewed, or a development CA and
// certificate made on first start.
package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files of the development certificate under <data-dir>/tls/.
const (
	CAFile   = "ca.pem"
	caKey    = "ca-key.pem"
	certFile = "server.pem"
	keyFile  = "server-key.pem"
)

// Source is where the server's certificate came from.
type Source struct {
	Certificate tls.Certificate
	// CAPath is the development CA clients should trust; empty when a
	// real certificate was configured.
	CAPath string
	// Generated is true when this start created the development files.
	Generated bool
	// Reloader, for a configured certificate, serves the pair in its files
	// as they are renewed (Certificate is then the pair read at start);
	// nil for the development certificate, which lives as long as the
	// process. Watch starts it.
	Reloader *Reloader
}

// Load returns the certificate in certPath/keyPath when both are given,
// otherwise the development certificate under dir, made if missing or
// about to expire.
func Load(certPath, keyPath, dir string, now time.Time) (Source, error) {
	if certPath != "" || keyPath != "" {
		if certPath == "" || keyPath == "" {
			return Source{}, errors.New("tlsconfig: --tls-cert and --tls-key must be given together")
		}
		r, err := NewReloader(certPath, keyPath)
		if err != nil {
			return Source{}, err
		}
		return Source{Certificate: *r.Certificate(), Reloader: r}, nil
	}
	return development(dir, now)
}

// ServerConfig is the package's ServerConfig for this source: with a
// Reloader, each handshake is served the pair read last.
func (s Source) ServerConfig(nextProtos []string) *tls.Config {
	cfg := ServerConfig(s.Certificate, nextProtos)
	if s.Reloader != nil {
		cfg.Certificates, cfg.GetCertificate = nil, s.Reloader.GetCertificate
	}
	return cfg
}

// PinnedClientConfig is the package's PinnedClientConfig for this source:
// with a Reloader, the pin follows the certificate served (the one it
// replaced is still accepted, for a handshake begun just before).
func (s Source) PinnedClientConfig() *tls.Config {
	if s.Reloader != nil {
		return pinnedTo(s.Reloader.pinned)
	}
	return PinnedClientConfig(s.Certificate)
}

// ServerConfig is the TLS configuration both listeners use: TLS 1.2 as the
// floor with only AEAD, forward-secret suites; 1.3 preferred by Go.
func ServerConfig(cert tls.Certificate, nextProtos []string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: nextProtos,
	}
}

// PinnedClientConfig trusts exactly cert and nothing else. The gateway
// uses it to dial its own gRPC server, which works for any certificate
// whatever names it carries.
func PinnedClientConfig(cert tls.Certificate) *tls.Config {
	want := string(cert.Certificate[0])
	return pinnedTo(func(leaf []byte) bool { return string(leaf) == want })
}

// pinnedTo trusts the leaf certificates that pinned accepts, and nothing else.
func pinnedTo(pinned func(leaf []byte) bool) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is done by the pin below, not by name and chain.
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyPeerCertificate
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !pinned(raw[0]) {
				return errors.New("tlsconfig: gRPC server presented an unexpected certificate")
			}
			return nil
		},
	}
}

func development(dir string, now time.Time) (Source, error) {
	if dir == "" {
		return Source{}, errors.New("tlsconfig: no data directory for the development certificate")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Source{}, fmt.Errorf("tlsconfig: %w", err)
	}
	src := Source{CAPath: filepath.Join(dir, CAFile)}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err == nil && validFor(cert, now, 7*24*time.Hour) {
		if _, err := os.Stat(src.CAPath); err == nil {
			src.Certificate = cert
			return src, nil
		}
	}
	ca, caPriv, err := loadOrMakeCA(dir, now)
	if err != nil {
		return Source{}, err
	}
	cert, err = makeLeaf(dir, ca, caPriv, now)
	if err != nil {
		return Source{}, err
	}
	src.Certificate = cert
	src.Generated = true
	return src, nil
}

func validFor(cert tls.Certificate, now time.Time, margin time.Duration) bool {
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	return err == nil && now.After(leaf.NotBefore) && now.Add(margin).Before(leaf.NotAfter)
}

func loadOrMakeCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, caKey))
	if err == nil && validFor(pair, now, 30*24*time.Hour) {
		ca, err := x509.ParseCertificate(pair.Certificate[0])
		if priv, ok := pair.PrivateKey.(*ecdsa.PrivateKey); ok && err == nil {
			return ca, priv, nil
		}
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Smart Image Enhancement development CA", Organization: []string{"Smart Image Enhancement (development)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconfig: create CA: %w", err)
	}
	if err := writePair(dir, CAFile, caKey, der, priv); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, priv, err
}

func makeLeaf(dir string, ca *x509.Certificate, caPriv *ecdsa.PrivateKey, now time.Time) (tls.Certificate, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		// Under 398 days, the most browsers and Node accept for a leaf.
		NotAfter:    now.Add(397 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &priv.PublicKey, caPriv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconfig: create certificate: %w", err)
	}
	if err := writePair(dir, certFile, keyFile, der, priv); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
}

func writePair(dir, certName, keyName string, der []byte, priv *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return err
	}
	// Key first: a crash between the two writes leaves no certificate
	// without its key.
	if err := writeFile(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile replaces path atomically, so a reader never sees half a file.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("tlsconfig: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("tlsconfig: %w", err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return n
}
