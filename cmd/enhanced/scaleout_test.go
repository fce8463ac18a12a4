package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/redisclient/redistest"
	"github.com/smartimage/enhance/internal/store/storepostgres/postgrestest"
)

// TestTwoInstancesOneTruth runs two servers on one PostgreSQL and one
// Redis, as operators scale out behind a load balancer, and sends to both
// at once: credits, revocations and rate limits hold across them.
func TestTwoInstancesOneTruth(t *testing.T) {
	t.Parallel()
	shared := []string{"--database-url", postgrestest.Schema(t, nil), "--redis-url", redistest.URL(t)}
	// The first creates the schema and the development account; the
	// second finds both.
	a := start(t, t.TempDir(), append(shared, "--metrics-addr", "127.0.0.1:0")...)
	b := start(t, t.TempDir(), shared...)
	c := twoCAClient(t, a, b)
	servers := []*process{a, b}

	email, password := "scale-"+rand.Text()[:8]+"@example.com", rand.Text()
	var reg struct {
		APIKey struct{ Secret string } `json:"apiKey"`
	}
	requireJSON(t, c, http.MethodPost, a.base+"/v1/accounts", "", map[string]string{"email": email, "password": password}, http.StatusOK, &reg)
	key := reg.APIKey.Secret

	t.Run("CreditsAreExactAcrossInstances", func(t *testing.T) {
		// The free plan grants 50 credits; 80 enhances from 8 clients
		// at once, alternating between the instances (few enough that
		// neither's image queue refuses any as busy). The plan's 60 a
		// minute may refuse some with 429; none may succeed past the
		// 50th credit.
		img := tinyPNG(t)
		codes := make(chan int, 80)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 80; i += 8 {
					code, _ := send(c, http.MethodPost, servers[i%2].base+"/v1/enhance", key, "image/png", img)
					codes <- code
				}
			}()
		}
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for code := range codes {
			count[code]++
		}
		require.Equal(t, 50, count[http.StatusOK], "answers by status: %v", count)
		require.Equal(t, 80, count[http.StatusOK]+count[http.StatusPaymentRequired]+count[http.StatusTooManyRequests], "answers by status: %v", count)
		for _, p := range servers {
			var u struct {
				CreditsUsed, CreditsRemaining int
			}
			requireJSON(t, c, http.MethodGet, p.base+"/v1/usage", key, nil, http.StatusOK, &u)
			require.Equal(t, 50, u.CreditsUsed)
			require.Equal(t, 0, u.CreditsRemaining)
		}
	})

	t.Run("RevocationReachesTheOtherInstance", func(t *testing.T) {
		var ses struct{ Token string }
		requireJSON(t, c, http.MethodPost, b.base+"/v1/sessions", "", map[string]string{"email": email, "password": password}, http.StatusOK, &ses)
		var created struct {
			APIKey struct{ Name, Secret string } `json:"apiKey"`
		}
		requireJSON(t, c, http.MethodPost, b.base+"/v1/keys", "Bearer "+ses.Token,
			map[string]any{"displayName": "revoked soon", "scopes": []string{"usage:read"}}, http.StatusOK, &created)
		// Instance a trusts the key now, and caches that.
		code, body := send(c, http.MethodGet, a.base+"/v1/usage", created.APIKey.Secret, "", nil)
		require.Equal(t, http.StatusOK, code, body)

		heard := metric(t, a, "enhance_key_revocations_heard_total")
		requireJSON(t, c, http.MethodDelete, b.base+"/v1/"+created.APIKey.Name, "Bearer "+ses.Token, nil, http.StatusOK, nil)
		revoked := time.Now()
		// Redis carries the revocation from b to a: a hears it (the cache's
		// 4-second life alone would also refuse the key in time, so the
		// refusal by itself would not prove the message came).
		require.Eventually(t, func() bool { return metric(t, a, "enhance_key_revocations_heard_total") > heard },
			time.Minute, 50*time.Millisecond, "instance a never heard of the revocation on b")
		// Promise: refused everywhere within 5 seconds. A request sent 5 s
		// after the revocation must be refused however slowly the machine
		// runs, so only those count against it.
		for {
			sent := time.Now()
			code, body := send(c, http.MethodGet, a.base+"/v1/usage", created.APIKey.Secret, "", nil)
			if code == http.StatusUnauthorized {
				t.Logf("instance a refused the key revoked on b %v after the revocation", sent.Sub(revoked).Round(time.Millisecond))
				break
			}
			require.Equal(t, http.StatusOK, code, body)
			require.Less(t, sent.Sub(revoked), 5*time.Second, "a request sent 5 s after the revocation was still accepted")
			// Slowly enough to stay within the key's 60 a minute.
			time.Sleep(250 * time.Millisecond)
		}
	})

	t.Run("RateLimitIsShared", func(t *testing.T) {
		// Reading usage is limited to the plan's 60 a minute per key,
		// a full minute's worth at once and then one a second. 150 reads
		// over both instances: separate limits would let 120 through;
		// a shared one lets 60 and one more per second the test takes.
		begin := time.Now()
		codes := make(chan int, 150)
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 150; i += 6 {
					code, _ := send(c, http.MethodGet, servers[i%2].base+"/v1/usage", key, "", nil)
					codes <- code
				}
			}()
		}
		wg.Wait()
		close(codes)
		took := time.Since(begin)
		count := map[int]int{}
		for code := range codes {
			count[code]++
		}
		require.Equal(t, 150, count[http.StatusOK]+count[http.StatusTooManyRequests], "answers by status: %v", count)
		// The subtests before spent a few of the account's reads.
		require.GreaterOrEqual(t, count[http.StatusOK], 50, "answers by status: %v", count)
		require.LessOrEqual(t, count[http.StatusOK], 60+int(took.Seconds())+1, "answers by status in %v: %v", took, count)
	})
}

var metricsLine = regexp.MustCompile(`metrics: (http://\S+)`)

// metric reads one counter or gauge from p's metrics endpoint (started
// with --metrics-addr).
func metric(t *testing.T, p *process, name string) float64 {
	t.Helper()
	m := metricsLine.FindStringSubmatch(p.output.String())
	require.NotNil(t, m, "the server printed no metrics address")
	resp, err := http.Get(m[1])
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// twoCAClient trusts both servers' development CAs.
func twoCAClient(t *testing.T, servers ...*process) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, p := range servers {
		pem, err := os.ReadFile(p.caPath())
		require.NoError(t, err)
		require.True(t, pool.AppendCertsFromPEM(pem))
	}
	return &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 16},
	}
}

// send makes one request; auth is an API key, or "Bearer <token>".
func send(c *http.Client, method, url, auth, contentType string, body []byte) (int, string) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	if strings.HasPrefix(auth, "Bearer ") {
		req.Header.Set("Authorization", auth)
	} else if auth != "" {
		req.Header.Set("x-api-key", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// requireJSON sends in as JSON and decodes the answer into out.
func requireJSON(t *testing.T, c *http.Client, method, url, auth string, in any, want int, out any) {
	t.Helper()
	var body []byte
	if in != nil {
		var err error
		body, err = json.Marshal(in)
		require.NoError(t, err)
	}
	code, answer := send(c, method, url, auth, "application/json", body)
	require.Equal(t, want, code, "%s %s: %s", method, url, answer)
	if out != nil {
		require.NoError(t, json.Unmarshal([]byte(answer), out), answer)
	}
}

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for i := range 16 * 16 {
		img.Set(i%16, i/16, color.NRGBA{uint8(i), uint8(255 - i), 90, 255})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}
