package tlsconfig

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/logtest"
)

// minted is a certificate and key made for a test, in PEM.
type minted struct {
	serial          *big.Int
	certPEM, keyPEM []byte
}

// mint makes a self-signed certificate for localhost with the given serial.
func mint(t *testing.T, serial int64) minted {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	return minted{
		serial:  tmpl.SerialNumber,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

// install replaces the pair's files as a renewal does: each written
// beside and renamed over the old.
func install(t *testing.T, certPath, keyPath string, certPEM, keyPEM []byte) {
	t.Helper()
	require.NoError(t, writeFile(keyPath, keyPEM, 0o600))
	require.NoError(t, writeFile(certPath, certPEM, 0o644))
}

// serve listens with cfg on loopback, completing each handshake.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) { c.(*tls.Conn).Handshake(); c.Close() }(c)
		}
	}()
	return l.Addr().String()
}

// servedSerial dials addr and returns the serial of the certificate it
// presents, or the dial's error.
func servedSerial(addr string, cfg *tls.Config) (*big.Int, error) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func TestReloaderServesTheRenewedPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b, c := mint(t, 0xA), mint(t, 0xB), mint(t, 0xC)
	install(t, certPath, keyPath, a.certPEM, a.keyPEM)

	src, err := Load(certPath, keyPath, "", time.Now())
	require.NoError(t, err)
	require.NotNil(t, src.Reloader, "a configured certificate is watched")
	addr := serve(t, src.ServerConfig(nil))
	pin := src.PinnedClientConfig()
	stranger := PinnedClientConfig(src.Certificate)

	got, err := servedSerial(addr, pin)
	require.NoError(t, err)
	require.Equal(t, a.serial, got)

	changed, err := src.Reloader.Check()
	require.NoError(t, err)
	require.False(t, changed, "nothing changed yet")

	// Renewed: the next handshake gets B, and the pin follows.
	install(t, certPath, keyPath, b.certPEM, b.keyPEM)
	changed, err = src.Reloader.Check()
	require.NoError(t, err)
	require.True(t, changed)
	got, err = servedSerial(addr, pin)
	require.NoError(t, err)
	require.Equal(t, b.serial, got)
	_, err = servedSerial(addr, stranger)
	require.Error(t, err, "a pin made from the old certificate alone no longer matches")

	// Broken renewals keep B: a certificate with another's key, then
	// garbage, then the certificate alone with its key missing.
	for _, broken := range []struct {
		name            string
		certPEM, keyPEM []byte
	}{
		{"mismatched key", c.certPEM, b.keyPEM},
		{"garbage", []byte("not a certificate"), b.keyPEM},
	} {
		install(t, certPath, keyPath, broken.certPEM, broken.keyPEM)
		changed, err = src.Reloader.Check()
		require.Error(t, err, broken.name)
		require.False(t, changed, broken.name)
		changed, err = src.Reloader.Check()
		require.NoError(t, err, "%s: reported once, not at every look", broken.name)
		require.False(t, changed)
		got, err = servedSerial(addr, pin)
		require.NoError(t, err, broken.name)
		require.Equal(t, b.serial, got, "%s: the previous pair is still served", broken.name)
	}
	require.NoError(t, os.Remove(keyPath))
	_, err = src.Reloader.Check()
	require.Error(t, err, "a missing file")
	_, err = src.Reloader.Check()
	require.NoError(t, err, "reported once")

	// Repaired: C is served.
	install(t, certPath, keyPath, c.certPEM, c.keyPEM)
	changed, err = src.Reloader.Check()
	require.NoError(t, err)
	require.True(t, changed)
	got, err = servedSerial(addr, pin)
	require.NoError(t, err)
	require.Equal(t, c.serial, got)
}

func TestReloaderPinAcceptsTheReplacedLeaf(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b, c := mint(t, 1), mint(t, 2), mint(t, 3)
	install(t, certPath, keyPath, a.certPEM, a.keyPEM)
	r, err := NewReloader(certPath, keyPath)
	require.NoError(t, err)
	leaf := func(m minted) []byte {
		block, _ := pem.Decode(m.certPEM)
		return block.Bytes
	}
	require.True(t, r.pinned(leaf(a)))
	require.False(t, r.pinned(leaf(b)))
	install(t, certPath, keyPath, b.certPEM, b.keyPEM)
	_, err = r.Check()
	require.NoError(t, err)
	require.True(t, r.pinned(leaf(b)))
	require.True(t, r.pinned(leaf(a)), "a handshake begun just before the swap still meets the pin")
	install(t, certPath, keyPath, c.certPEM, c.keyPEM)
	_, err = r.Check()
	require.NoError(t, err)
	require.False(t, r.pinned(leaf(a)), "two renewals ago")
}

func TestReloaderWatchLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b := mint(t, 1), mint(t, 2)
	install(t, certPath, keyPath, a.certPEM, a.keyPEM)
	r, err := NewReloader(certPath, keyPath)
	require.NoError(t, err)
	var logs logtest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Watch(ctx, time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil))) }()
	t.Cleanup(func() { cancel(); <-done })

	install(t, certPath, keyPath, b.certPEM, a.keyPEM)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "still serving the previous one") }, time.Minute, time.Millisecond)
	install(t, certPath, keyPath, b.certPEM, b.keyPEM)
	require.Eventually(t, func() bool { return r.Certificate().Leaf.SerialNumber.Cmp(b.serial) == 0 }, time.Minute, time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "TLS certificate reloaded") }, time.Minute, time.Millisecond)
}

func TestNewReloaderNeedsAPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := NewReloader(filepath.Join(dir, "none.crt"), filepath.Join(dir, "none.key"))
	require.Error(t, err)
	a, b := mint(t, 1), mint(t, 2)
	install(t, filepath.Join(dir, "a.crt"), filepath.Join(dir, "b.key"), a.certPEM, b.keyPEM)
	_, err = NewReloader(filepath.Join(dir, "a.crt"), filepath.Join(dir, "b.key"))
	require.Error(t, err, "a key that does not match")
}
