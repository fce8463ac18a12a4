package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDevelopmentCertificateIsMadeOnceAndTrusted(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	src, err := Load("", "", dir, now)
	require.NoError(t, err)
	require.True(t, src.Generated)
	require.Equal(t, filepath.Join(dir, "ca.pem"), src.CAPath)

	info, err := os.Stat(filepath.Join(dir, "server-key.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "private keys are private")

	again, err := Load("", "", dir, now)
	require.NoError(t, err)
	require.False(t, again.Generated, "a valid certificate is reused")
	require.Equal(t, src.Certificate.Certificate[0], again.Certificate.Certificate[0])

	// A client trusting only ca.pem accepts the certificate for both names.
	caPEM, err := os.ReadFile(src.CAPath)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	leaf, err := x509.ParseCertificate(src.Certificate.Certificate[0])
	require.NoError(t, err)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool})
		require.NoError(t, err, name)
	}

	// Near expiry, the leaf is renewed under the same CA.
	renewed, err := Load("", "", dir, now.Add(395*24*time.Hour))
	require.NoError(t, err)
	require.True(t, renewed.Generated)
	caAfter, err := os.ReadFile(src.CAPath)
	require.NoError(t, err)
	require.Equal(t, caPEM, caAfter, "clients keep trusting the same CA")
}

func TestLoadNeedsBothFiles(t *testing.T) {
	t.Parallel()
	_, err := Load("cert.pem", "", t.TempDir(), time.Now())
	require.Error(t, err)
	_, err = Load("missing.pem", "missing-key.pem", t.TempDir(), time.Now())
	require.Error(t, err)
}

func TestServerConfigRefusesOldTLSAndPinnedClientRefusesStrangers(t *testing.T) {
	t.Parallel()
	src, err := Load("", "", t.TempDir(), time.Now())
	require.NoError(t, err)
	other, err := Load("", "", t.TempDir(), time.Now())
	require.NoError(t, err)

	l, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(src.Certificate, nil))
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
	dial := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", l.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	require.NoError(t, dial(PinnedClientConfig(src.Certificate)))
	require.Error(t, dial(PinnedClientConfig(other.Certificate)), "a different certificate is refused")
	old := PinnedClientConfig(src.Certificate)
	old.MaxVersion = tls.VersionTLS11
	old.MinVersion = tls.VersionTLS10
	require.Error(t, dial(old), "TLS 1.1 is refused")
}
