package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newFetcher(t *testing.T, allowPrivate bool, maxBytes int64) *Fetcher {
	t.Helper()
	f, err := New(Config{AllowPrivate: allowPrivate, MaxBytes: maxBytes, Timeout: 2 * time.Second, MaxRedirects: 5})
	require.NoError(t, err)
	return f
}

func TestFetchRefusesPrivateAddressesAndTheCanaryHearsNothing(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(canary.Close)
	port := canary.URL[strings.LastIndex(canary.URL, ":")+1:]

	f := newFetcher(t, false, 1<<20)
	for _, u := range []string{
		canary.URL,
		"http://localhost:" + port,
		"http://127.0.0.1/",
		"http://2130706433/", // decimal 127.0.0.1
		"http://0x7f.1/",     // hex, short form
		"http://127.1/",      // short form
		"http://[::1]/",
		"http://[::ffff:127.0.0.1]/", // IPv4-mapped
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://0.0.0.0/",
		"ftp://example.com/x.jpg",
		"file:///etc/passwd",
		"gopher://127.0.0.1/",
		"http://user:pass@example.com/",
		"not a url at all",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := f.Fetch(context.Background(), u)
			require.ErrorIs(t, err, ErrRefused)
		})
	}
	require.Zero(t, hits.Load(), "the canary must receive nothing")
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
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
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

	start := time.Now()
	_, err = f.Fetch(context.Background(), srv.URL+"/slow")
	require.ErrorIs(t, err, ErrUnreachable)
	require.Less(t, time.Since(start), 4*time.Second, "the download deadline holds")
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
