package redistest

import (
	"net/url"
	"testing"

	"github.com/smartimage/enhance/internal/proxytest"
)

// Proxy stands between clients and the test Redis, and can part them
// as an outage would, then let them meet again.
type Proxy struct {
	*proxytest.Proxy
	url string
}

// NewProxy starts a proxy to the test Redis, stopped when t ends; it
// skips t when no Redis is set.
func NewProxy(t testing.TB) *Proxy {
	t.Helper()
	u, err := url.Parse(URL(t))
	if err != nil {
		t.Fatalf("redistest: %s: %v", EnvURL, err)
	}
	p := proxytest.New(t, u.Host)
	u.Host = p.Addr()
	return &Proxy{Proxy: p, url: u.String()}
}

// URL is the test Redis's URL through the proxy.
func (p *Proxy) URL() string { return p.url }
