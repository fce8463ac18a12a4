package fetch

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

func newFetcher(t *testing.T, allowPrivate bool, maxBytes int64) *Fetcher {
	t.Helper()
	f, err := New(Config{AllowPrivate: allowPrivate, MaxBytes: maxBytes, Timeout: 2 * time.Second, MaxRedirects: 5})
	require.NoError(t, err)
	return f
}

// canary is a loopback server that must never be reached.
func canary(t *testing.T) (url string, port uint16, hits *atomic.Int32) {
	t.Helper()
	hits = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	return srv.URL, uint16(srv.Listener.Addr().(*net.TCPAddr).Port), hits
}

// dnsServer answers A and AAAA queries from names (name → addresses), as a
// hostile DNS zone would; every other name does not exist.
func dnsServer(t *testing.T, names map[string][]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			addrs, known := names[strings.TrimSuffix(q.Name.String(), ".")]
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
				RCode: map[bool]dnsmessage.RCode{true: dnsmessage.RCodeSuccess, false: dnsmessage.RCodeNameError}[known]})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			for _, a := range addrs {
				rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
				switch {
				case q.Type == dnsmessage.TypeA && a.Is4():
					b.AResource(rh, dnsmessage.AResource{A: a.As4()})
				case q.Type == dnsmessage.TypeAAAA && a.Is6():
					b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
				}
			}
			if msg, err := b.Finish(); err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

func TestFetchRefusesPrivateAddressesAndTheCanaryHearsNothing(t *testing.T) {
	t.Parallel()
	canaryURL, port, hits := canary(t)
	p := strconv.Itoa(int(port))
	// The canary's port is allowed, so each refusal below is the address
	// check's doing, not the port rule's.
	resolver := dnsServer(t, map[string][]netip.Addr{
		"rebind.test":   {netip.MustParseAddr("127.0.0.1")},
		"metadata.test": {netip.MustParseAddr("169.254.169.254")},
		"mapped.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
		"six.test":      {netip.MustParseAddr("::1")},
	})
	f, err := New(Config{MaxBytes: 1 << 20, Timeout: 2 * time.Second, MaxRedirects: 5, Ports: []uint16{80, 443, port}, Resolver: resolver})
	require.NoError(t, err)
	for _, u := range []string{
		canaryURL,
		"http://localhost:" + p,
		"http://rebind.test:" + p + "/", // a name that resolves to loopback
		"http://metadata.test:" + p + "/latest/meta-data/",
		"http://mapped.test:" + p + "/",
		"http://six.test:" + p + "/",
		"http://2130706433:" + p + "/", // decimal 127.0.0.1
		"http://0x7f.1:" + p + "/",     // hex, short form
		"http://0x7f000001:" + p + "/",
		"http://0177.0.0.1:" + p + "/", // octal
		"http://127.1:" + p + "/",      // short form
		"http://[::1]:" + p + "/",
		"http://[::ffff:127.0.0.1]:" + p + "/", // IPv4-mapped
		"http://[::ffff:7f00:1]:" + p + "/",
		"http://[64:ff9b::7f00:1]:" + p + "/", // NAT64
		"http://[::127.0.0.1]:" + p + "/",     // IPv4-compatible
		"http://[fe80::1%25lo]:" + p + "/",    // link-local with a zone
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://100.64.0.1/", // CGNAT
		"http://224.0.0.1/",  // multicast
		"http://0.0.0.0:" + p + "/",
		"http://127.0.0.1:22/", // a port not allowed
		"ftp://example.com/x.jpg",
		"file:///etc/passwd",
		"gopher://127.0.0.1/",
		"http://user:pass@example.com/",
		"not a url at all",
		"http://%zz/",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := f.Fetch(context.Background(), u)
			require.ErrorIs(t, err, ErrRefused)
			require.Equal(t, ErrRefused.Error(), err.Error(), "one generic detail for every refusal")
			var r *RefusedError
			require.ErrorAs(t, err, &r)
			require.NotEmpty(t, r.Reason, "the log gets the reason")
		})
	}
	require.Zero(t, hits.Load(), "the canary must receive nothing")
}

// TestRedirectsAreCheckedOnEveryHop: an allowed origin (127.0.0.2, let in
// by AllowCIDRs as an internal image store would be) redirects to the
// canary on 127.0.0.1, directly and after a few hops.
func TestRedirectsAreCheckedOnEveryHop(t *testing.T) {
	t.Parallel()
	canaryURL, canaryPort, hits := canary(t)
	lis, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err, "127.0.0.0/8 is loopback on Linux")
	mux := http.NewServeMux()
	mux.HandleFunc("/to-canary", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, canaryURL+"/x.png", http.StatusFound)
	})
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, canaryURL+"/x.png", http.StatusTemporaryRedirect)
			return
		}
		http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to-decimal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://2130706433:"+strconv.Itoa(int(canaryPort))+"/", http.StatusFound)
	})
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/image", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("\x89PNG\r\n\x1a\n-rest")) })
	srv := &httptest.Server{Listener: lis, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	originPort := uint16(lis.Addr().(*net.TCPAddr).Port)

	f, err := New(Config{MaxBytes: 1 << 20, Timeout: 2 * time.Second, MaxRedirects: 5,
		Ports: []uint16{originPort, canaryPort}, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	require.NoError(t, err)
	body, err := f.Fetch(context.Background(), srv.URL+"/image")
	require.NoError(t, err, "the allowed origin itself is reachable")
	require.Equal(t, "\x89PNG\r\n\x1a\n-rest", string(body))
	for _, path := range []string{"/to-canary", "/hop/3", "/to-decimal", "/to-file"} {
		_, err := f.Fetch(context.Background(), srv.URL+path)
		require.ErrorIs(t, err, ErrRefused, path)
	}
	_, err = f.Fetch(context.Background(), srv.URL+"/hop/9")
	require.ErrorIs(t, err, ErrUnreachable, "more than 5 redirects")
	require.Contains(t, err.Error(), "more than 5 redirects")
	require.Zero(t, hits.Load(), "the canary must receive nothing")
}

func TestTheBodyMustBeAnImageByItsBytes(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Claims to be a PNG, is an endless web page.
		w.Header().Set("Content-Type", "image/png")
		for range 1 << 12 {
			n, err := w.Write([]byte(strings.Repeat("<html>", 1024)))
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	f, err := New(Config{AllowPrivate: true, MaxBytes: 20 << 20, Timeout: 2 * time.Second,
		IsImage: func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG")) }})
	require.NoError(t, err)
	_, err = f.Fetch(context.Background(), srv.URL)
	require.ErrorIs(t, err, ErrNotImage)
	require.NotContains(t, err.Error(), "html")
}

// TestCheckAddress covers the check that runs on every dial, first hop
// or redirect alike, with the resolved address.
func TestCheckAddress(t *testing.T) {
	t.Parallel()
	f := newFetcher(t, false, 1<<20)
	require.ErrorIs(t, f.checkAddress("127.0.0.1:80"), ErrRefused)
	require.ErrorIs(t, f.checkAddress("93.184.216.34:8080"), ErrRefused, "only ports 80 and 443")
	require.NoError(t, f.checkAddress("93.184.216.34:443"))
}

func TestFetchWithPrivateAllowed(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/img", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("0123456789")) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// Claims to be small, is not: the limit must not trust headers.
		w.Header().Set("Content-Length", "5")
		w.Write([]byte(strings.Repeat("x", 5)))
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		for range 1000 {
			if _, err := w.Write(make([]byte, 1024)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/img", http.StatusFound) })
	var gaveUp atomic.Bool
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			gaveUp.Store(true)
		case <-time.After(time.Minute):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	f := newFetcher(t, true, 10)
	body, err := f.Fetch(context.Background(), srv.URL+"/img")
	require.NoError(t, err)
	require.Equal(t, "0123456789", string(body))

	body, err = f.Fetch(context.Background(), srv.URL+"/hop")
	require.NoError(t, err)
	require.Equal(t, "0123456789", string(body))

	_, err = f.Fetch(context.Background(), srv.URL+"/endless")
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = f.Fetch(context.Background(), srv.URL+"/missing")
	require.ErrorIs(t, err, ErrUnreachable)
	require.NotContains(t, err.Error(), "page not found", "the upstream body is never echoed")
	_, err = f.Fetch(context.Background(), srv.URL+"/loop")
	require.ErrorIs(t, err, ErrUnreachable)

	_, err = f.Fetch(context.Background(), srv.URL+"/slow")
	require.ErrorIs(t, err, ErrUnreachable)
	require.Eventually(t, gaveUp.Load, 30*time.Second, 10*time.Millisecond, "the fetcher hung up at its deadline, not the origin a minute later")
}

func TestIsPublic(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"93.184.216.34":                        true,
		"2606:2800:220:1::1":                   true,
		"127.0.0.1":                            false,
		"10.1.2.3":                             false,
		"172.16.0.1":                           false,
		"192.168.1.1":                          false,
		"169.254.169.254":                      false,
		"100.64.0.1":                           false,
		"0.0.0.0":                              false,
		"224.0.0.1":                            false,
		"255.255.255.255":                      false,
		"::1":                                  false,
		"::":                                   false,
		"fe80::1":                              false,
		"fc00::1":                              false,
		"ff02::1":                              false,
		"::ffff:127.0.0.1":                     false,
		"::ffff:93.184.216.34":                 true,
		"64:ff9b::7f00:1":                      false, // NAT64 of 127.0.0.1
		"64:ff9b::5db8:d822":                   true,  // NAT64 of a public address
		"2002:7f00:1::":                        false, // 6to4 of 127.0.0.1
		"2001:0:4136:e378:8000:63bf:80ff:fffe": false, // Teredo of 127.0.0.1
		"::127.0.0.1":                          false, // IPv4-compatible
	} {
		require.Equal(t, want, IsPublic(netip.MustParseAddr(addr)), addr)
	}
}

func TestLegacyIPv4(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"2130706433": "127.0.0.1",
		"0x7f.1":     "127.0.0.1",
		"127.1":      "127.0.0.1",
		"0177.0.0.1": "127.0.0.1",
		"10.0x10.1":  "10.16.0.1",
		"1.2.3.4":    "1.2.3.4",
	} {
		a, ok := legacyIPv4(host)
		require.True(t, ok, host)
		require.Equal(t, want, a.String(), host)
	}
	for _, host := range []string{"example.com", "1.2.3.4.5", "256.1.1.1", "", "0x", "1.2.3.256"} {
		_, ok := legacyIPv4(host)
		require.False(t, ok, host)
	}
}

func TestUnresolvableHostIsUnreachable(t *testing.T) {
	t.Parallel()
	f, err := New(Config{MaxBytes: 1 << 20, Timeout: 2 * time.Second, Resolver: dnsServer(t, nil)})
	require.NoError(t, err)
	_, err = f.Fetch(context.Background(), "http://nowhere.test/x.png")
	require.ErrorIs(t, err, ErrUnreachable)
	require.Contains(t, err.Error(), "the host name does not resolve")
}
