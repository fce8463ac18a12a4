// Package proxytest stands between a client and a server over TCP and
// fails the network between them on demand, as outages do, so that tests
// can see what a client does while its server is gone and once it is
// back.
package proxytest

import (
	"net"
	"sync"
	"testing"
)

// Proxy stands between clients and a server, and can part them as an
// outage would, then let them meet again.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	gate  chan struct{} // closed while traffic flows
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// New starts a proxy to target (host:port), stopped when t ends.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	p := &Proxy{ln: ln, target: target, gate: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.gate)
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is where clients reach the server through the proxy.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection, and each new one as soon as it is
// made, as a server that stopped does.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.open()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Stall keeps connections open, new ones included, but carries nothing
// over them, as a network that drops every packet does: nothing tells
// either side that the other is gone.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// Restore carries traffic again; what a Stall held back is delivered,
// as TCP would once a network heals.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.open()
}

func (p *Proxy) open() {
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			continue
		}
		p.wg.Go(func() {
			out, err := net.Dial("tcp", p.target)
			if err != nil || !p.track(out) {
				in.Close()
				return
			}
			var pipes sync.WaitGroup
			pipes.Go(func() { p.pipe(out, in) })
			pipes.Go(func() { p.pipe(in, out) })
			pipes.Wait()
			p.untrack(in, out)
		})
	}
}

// pipe copies src to dst, holding what it read while the proxy stalls.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			<-gate
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// track keeps c, to close when the proxy cuts, or closes it now if the
// proxy is cut.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}
