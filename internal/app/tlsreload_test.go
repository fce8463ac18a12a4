package app

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
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/smartimage/enhance/internal/logtest"
)

// testCA signs the certificates of the reload test, as a real CA would.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "reload test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return testCA{cert: cert, key: key}
}

// issue writes a new certificate for localhost with serial, and a new key,
// over certPath and keyPath as a renewal does: each written beside and
// renamed over the old, the key first.
func (ca testCA) issue(t *testing.T, serial int64, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	for _, f := range []struct {
		path string
		pem  *pem.Block
	}{
		{keyPath, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}},
		{certPath, &pem.Block{Type: "CERTIFICATE", Bytes: der}},
	} {
		require.NoError(t, os.WriteFile(f.path+".new", pem.EncodeToMemory(f.pem), 0o600))
		require.NoError(t, os.Rename(f.path+".new", f.path))
	}
}

// TestCertificateReloadOnBothDoors renews a configured certificate in
// place and sees the new one served on both doors, without a restart,
// while the REST door still reaches the gRPC server through the gateway,
// whose pin follows the renewal.
func TestCertificateReloadOnBothDoors(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.issue(t, 0xA, certPath, keyPath)

	cfg := testConfig(t)
	cfg.TLSCert, cfg.TLSKey = certPath, keyPath
	logs := &logtest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), WithHashCost(testHashCost),
		func(o *options) { o.tlsReload = 20 * time.Millisecond })
	require.NoError(t, err)
	require.Empty(t, a.CAPath(), "no development CA with a configured certificate")
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Fatal("server did not stop")
		}
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	doors := map[string]string{"REST": a.HTTPAddr(), "gRPC": a.GRPCAddr()}
	// served is the serial each door presents to a new connection.
	served := func() (map[string]int64, error) {
		got := map[string]int64{}
		for door, addr := range doors {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2"}})
			if err != nil {
				return nil, err
			}
			got[door] = c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
			c.Close()
		}
		return got, nil
	}
	got, err := served()
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"REST": 0xA, "gRPC": 0xA}, got)

	// The gateway has not dialed the gRPC server yet (its client connects
	// on the first call): its first dial, below, meets certificate B.
	require.Equal(t, connectivity.Idle, a.conn.GetState())

	ca.issue(t, 0xB, certPath, keyPath)
	require.Eventually(t, func() bool {
		got, err := served()
		return err == nil && got["REST"] == 0xB && got["gRPC"] == 0xB
	}, time.Minute, 20*time.Millisecond, "certificate B is served on both doors")
	require.Contains(t, logs.String(), "TLS certificate reloaded")

	// REST through the gateway, on a new connection: the gateway dials the
	// gRPC server, which presents B, and its pin accepts it.
	rest := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS.Clone(), ForceAttemptHTTP2: true}, Timeout: 2 * time.Minute}
	t.Cleanup(rest.CloseIdleConnections)
	req, err := http.NewRequest(http.MethodGet, "https://"+a.HTTPAddr()+"/v1/usage", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", a.DevKey())
	resp, err := rest.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the REST door reaches the gRPC server")
	require.Equal(t, int64(0xB), resp.TLS.PeerCertificates[0].SerialNumber.Int64())

	// And a gRPC client trusting the CA is served B.
	conn, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(clientTLS.Clone())))
	require.NoError(t, err)
	defer conn.Close()
	h, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, h.GetStatus())
}
