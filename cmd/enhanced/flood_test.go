package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// floodRSSLimit is the peak resident size the server must stay under
// through the password flood. Unbounded, 100 concurrent argon2id hashes
// hold 100 × 19 MiB and the server peaked at 1.95 to 2.67 GB; bounded to
// a slot per two CPUs it holds a few hashes at once, and peaks near
// 100 MiB on 2 cores (the figures are in the test's log). 600 MiB leaves
// a margin of several times what the slots can hold on any machine this
// runs on (16 CPUs: 8 slots, 152 MiB), so only a bound that stopped
// holding would cross it, however loaded the machine.
const floodRSSLimit = 600 << 20

// floodClients is how many addresses the flood comes from, each with one
// request of each kind: a botnet, past every per-address throttle, so
// that every request reaches the password hash.
const floodClients = 100

// TestPasswordFloodKeepsMemoryBounded sends the real binary 100
// concurrent registrations of a taken email and 100 concurrent wrong
// sign-ins, each from its own loopback address and retried while the
// server answers busy, and checks that every one is answered (409, 401,
// or 429: busy past its minute of retries, or throttled), none with a
// 5xx, and that the peak RSS stays under floodRSSLimit. The latency an image call sees during such
// a flood is measured by `go run ./bench -only flood`, not asserted here.
func TestPasswordFloodKeepsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes about half a minute")
	}
	t.Parallel()
	p := start(t, t.TempDir())
	owner := floodClient(t, p, "127.0.0.1")
	body := func(v any) []byte {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return b
	}
	taken := body(map[string]any{"email": "taken@example.com", "password": "correct horse battery staple"})
	status, _ := floodSend(owner, p.base+"/v1/accounts", taken)
	require.Equal(t, http.StatusOK, status)
	rssBefore := peakRSS(t, p.cmd.Process.Pid)

	clients := make([]*http.Client, floodClients)
	for i := range clients {
		clients[i] = floodClient(t, p, fmt.Sprintf("127.0.1.%d", i+1))
	}
	wrong := body(map[string]any{"email": "taken@example.com", "password": "a wrong guess, again"})
	for _, phase := range []struct {
		name, path string
		body       []byte
		want       int
	}{
		{"registrations of a taken email", "/v1/accounts", taken, http.StatusConflict},
		{"wrong sign-ins", "/v1/sessions", wrong, http.StatusUnauthorized},
	} {
		statuses := make([]int, len(clients))
		bodies := make([]string, len(clients))
		var wg sync.WaitGroup
		start := time.Now()
		var busy atomic.Int32
		for i := range clients {
			wg.Go(func() {
				// A refusal because the server is busy is retried after its
				// Retry-After, as client libraries do, for up to a minute:
				// the flood keeps every hashing slot and queue place taken.
				for deadline := time.Now().Add(time.Minute); ; {
					statuses[i], bodies[i] = floodSend(clients[i], p.base+phase.path, phase.body)
					if statuses[i] != http.StatusTooManyRequests || !strings.Contains(bodies[i], "busy") || time.Now().After(deadline) {
						return
					}
					busy.Add(1)
					time.Sleep(time.Second)
				}
			})
		}
		wg.Wait()
		counts := map[int]int{}
		for i, st := range statuses {
			counts[st]++
			require.Contains(t, []int{phase.want, http.StatusTooManyRequests}, st, "%s %d: %s", phase.name, i, bodies[i])
		}
		t.Logf("%d concurrent %s: %v, %d busy refusals retried, in %s", len(clients), phase.name, counts, busy.Load(), time.Since(start).Round(time.Millisecond))
		require.Positive(t, counts[phase.want], "the flood reached the hash")
	}
	rss := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS %d MiB before the flood, %d MiB after (limit %d MiB)", rssBefore>>20, rss>>20, floodRSSLimit>>20)
	require.Less(t, rss, int64(floodRSSLimit))
}

// floodClient is a client of p connecting from the loopback address ip.
func floodClient(t *testing.T, p *process, ip string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(p.caPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
	}}
}

// floodSend posts body as JSON; it never fails the test, so goroutines
// may call it. A transport error is status 0.
func floodSend(c *http.Client, url string, body []byte) (int, string) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
