package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/store/storepostgres/postgrestest"
)

// TestDatabaseOutageFailsFastAndChargesNothing cuts the server off from
// PostgreSQL: image requests fail at once with 503, nothing is charged or
// worked on unbilled, /readyz says not ready, and when the database is
// back the server serves again by itself.
func TestDatabaseOutageFailsFastAndChargesNothing(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.Schema(t, nil)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	proxy := newCuttableProxy(t, u.Host)
	u.Host = proxy.addr
	s := startServer(t, func(c *config.Config) { c.DatabaseURL = u.String() })
	enhance := func() answer {
		return s.send(http.MethodPost, "/v1/enhance", "image/png", tinyPNG(t, 16, 16), map[string]string{"x-api-key": s.key})
	}
	ready := func() int { return s.send(http.MethodGet, "/readyz", "", nil, nil).status }

	require.Equal(t, http.StatusOK, enhance().status)
	require.Equal(t, http.StatusOK, ready())

	proxy.cut()
	for range 3 {
		a := enhance()
		require.NoError(t, a.err)
		require.Equal(t, http.StatusServiceUnavailable, a.status, string(a.body))
		require.Equal(t, "UNAVAILABLE", a.problem.Code)
		require.Contains(t, a.problem.Detail, "nothing was charged")
	}
	require.Equal(t, http.StatusServiceUnavailable, ready())

	proxy.restore()
	deadline := time.Now().Add(2 * time.Minute) // the pool reconnects on its own
	for ready() != http.StatusOK {
		require.True(t, time.Now().Before(deadline), "the server did not become ready again")
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, http.StatusOK, enhance().status)

	var usage struct{ CreditsUsed int }
	s.call(t, http.MethodGet, "/v1/usage", nil, map[string]string{"x-api-key": s.key}, &usage)
	require.Equal(t, 2, usage.CreditsUsed, "only the two answered enhances are charged")
	mismatches, err := s.app.Store().Reconcile(context.Background())
	require.NoError(t, err)
	require.Empty(t, mismatches)
}

// cuttableProxy forwards TCP to a server until cut, which closes its
// listener and every connection through it, as a network failure would;
// restore listens again on the same address.
type cuttableProxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	lis   net.Listener
	conns []net.Conn
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cuttableProxy{t: t, addr: lis.Addr().String(), target: target}
	p.serve(lis)
	t.Cleanup(p.cut)
	return p
}

func (p *cuttableProxy) serve(lis net.Listener) {
	p.mu.Lock()
	p.lis = lis
	p.mu.Unlock()
	go func() {
		for {
			in, err := lis.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lis != nil {
		p.lis.Close()
		p.lis = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	lis, err := net.Listen("tcp", p.addr)
	require.NoError(p.t, err)
	p.serve(lis)
}
