package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/engine/enginetest"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

// The hostile-input suite drives the real binary, with GOMEMLIMIT set as an
// operator would, through everything a stranger can send: URLs aimed at
// the server's own network, bad origins, decompression and scan bombs,
// truncated and corrupt images, and 10,000 malformed requests. Pass means
// no crash, no 5xx, every answer a 4xx with a JSON detail, no credit
// charged, nothing reaching the loopback canary, and a peak RSS under
// hostileRSSLimit.

// hostileMemLimit is the GOMEMLIMIT the server runs under, and
// hostileRSSLimit the peak resident size it must stay below (VmHWM).
const (
	hostileMemLimit = "512MiB"
	hostileRSSLimit = 1 << 30
)

// malformedRequests is how many generated bad requests the suite sends.
const malformedRequests = 10_000

func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("the hostile-input suite takes about a minute")
	}
	t.Parallel()
	ctx := context.Background()

	// The canary listens on 127.0.0.1 and must hear nothing. The origin
	// listens on 127.0.0.2, let in by --fetch-allow-cidrs as an internal
	// image store would be, and plays every kind of bad origin.
	var canaryHits atomic.Int32
	canary := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { canaryHits.Add(1) }))
	t.Cleanup(canary.Close)
	canaryPort := canary.Listener.Addr().(*net.TCPAddr).Port
	origin := hostileOrigin(t, canary.URL)
	originPort := origin.Listener.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	flags := []string{
		"--workers", "2", "--queue", "8",
		"--fetch-ports", fmt.Sprintf("80,443,%d,%d", canaryPort, originPort),
		"--fetch-allow-cidrs", "127.0.0.2/32",
		// Long enough for /endless to send its 20 MiB on a loaded
		// machine; the slow origins outlast it by far.
		"--fetch-timeout", "5s",
	}
	// A first start makes the development account; the operator then
	// moves it to the enterprise plan so that rate limits do not hide
	// what the suite is testing.
	first := start(t, dir, flags...)
	first.stop(t)
	db, err := storesqlite.Open(ctx, filepath.Join(dir, "enhance.db"))
	require.NoError(t, err)
	acct, err := db.AccountByEmail(ctx, "dev@localhost")
	require.NoError(t, err)
	ledger, err := credits.NewLedger(db, "", nil)
	require.NoError(t, err)
	require.NoError(t, ledger.SetPlan(ctx, acct.ID, "enterprise"))
	before, err := ledger.Usage(ctx, acct.ID)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	p := startWithEnv(t, []string{"GOMEMLIMIT=" + hostileMemLimit}, dir, flags...)
	root := &hostile{t: t, base: p.base, key: p.key(t), client: p.client(t), tally: &tally{statuses: map[int]int{}, codes: map[string]int{}}}

	// A client that sends its headers a byte at a time is cut off by the
	// read-header timeout without holding anything else up.
	slowloris := make(chan bool, 1)
	go func() { slowloris <- slowHeaders(p.base) }()

	t.Run("SSRF forms", func(t *testing.T) {
		h := root.on(t)
		cp := strconv.Itoa(canaryPort)
		for _, u := range []string{
			canary.URL + "/x.png",
			"http://localhost:" + cp + "/x.png",
			"http://2130706433:" + cp + "/", "http://0x7f.1:" + cp + "/", "http://127.1:" + cp + "/",
			"http://0177.0.0.1:" + cp + "/", "http://0x7f000001:" + cp + "/",
			"http://[::1]:" + cp + "/", "http://[::ffff:127.0.0.1]:" + cp + "/", "http://[::ffff:7f00:1]:" + cp + "/",
			"http://[64:ff9b::7f00:1]:" + cp + "/", "http://[::127.0.0.1]:" + cp + "/",
			"http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25lo]:" + cp + "/",
			"http://10.0.0.1/", "http://192.168.0.1/", "http://172.16.0.1/", "http://100.64.0.1/",
			"http://224.0.0.1/", "http://0.0.0.0:" + cp + "/", "http://[::]:" + cp + "/",
			"http://127.0.0.1:22/", "file:///etc/passwd", "gopher://127.0.0.1:" + cp + "/",
			"ftp://127.0.0.1/", "http://user:pw@127.0.0.1:" + cp + "/",
		} {
			h.expectJSON("SOURCE_REFUSED", http.StatusBadRequest, map[string]any{"imageUrl": u})
		}
	})
	t.Run("bad origins", func(t *testing.T) {
		h := root.on(t)
		o := origin.URL
		h.expectJSON("SOURCE_REFUSED", http.StatusBadRequest, map[string]any{"imageUrl": o + "/to-canary"})
		h.expectJSON("SOURCE_REFUSED", http.StatusBadRequest, map[string]any{"imageUrl": o + "/hops/4"})
		h.expectJSON("SOURCE_UNREACHABLE", http.StatusUnprocessableEntity, map[string]any{"imageUrl": o + "/hops/9"})
		h.expectJSON("SOURCE_UNREACHABLE", http.StatusUnprocessableEntity, map[string]any{"imageUrl": o + "/slow-headers"})
		h.expectJSON("SOURCE_UNREACHABLE", http.StatusUnprocessableEntity, map[string]any{"imageUrl": o + "/slow-body"})
		h.expectJSON("SOURCE_TOO_LARGE", http.StatusBadRequest, map[string]any{"imageUrl": o + "/endless"})
		h.expectJSON("UNSUPPORTED_IMAGE", http.StatusBadRequest, map[string]any{"imageUrl": o + "/html"})
		h.expectJSON("SOURCE_UNREACHABLE", http.StatusUnprocessableEntity, map[string]any{"imageUrl": o + "/missing"})
		h.expectJSON("IMAGE_TOO_LARGE", http.StatusBadRequest, map[string]any{"imageUrl": o + "/bomb.png"})
		require.NotContains(t, h.lastDetail, "<html>", "the origin's body is never echoed")
	})
	t.Run("bombs", func(t *testing.T) {
		h := root.on(t)
		h.expectRaw("IMAGE_TOO_LARGE", http.StatusBadRequest, "/v1/enhance", "image/png", enginetest.PNGOfZeros(16384, 16384, 1, 0), "268.4 megapixels")
		h.expectRaw("IMAGE_TOO_LARGE", http.StatusBadRequest, "/v1/enhance", "image/jpeg", enginetest.JPEGClaiming(65500, 65500), "the limit is 25.0 megapixels")
		h.expectRaw("IMAGE_TOO_LARGE", http.StatusBadRequest, "/v1/enhance", "image/jpeg", enginetest.ScanBomb(5000), "scan limit is 100")
		h.expectRaw("IMAGE_TOO_LARGE", http.StatusBadRequest, "/v1/enhance", "image/png", enginetest.APNG(1_000_000), "frame limit is 1000")
		h.expectRaw("IMAGE_TOO_LARGE", http.StatusBadRequest, "/v1/upscale?scaleFactor=2", "image/png", enginetest.PNGOfZeros(4100, 4100, 1, 0), "output")
		h.expectRaw("IMAGE_TOO_LARGE", http.StatusBadRequest, "/v1/upscale?scaleFactor=4", "image/png", enginetest.PNGOfZeros(2001, 2001, 8, 2), "output")
		h.expectRaw("", http.StatusBadRequest, "/v1/enhance", "image/webp", enginetest.WebPCanvas(16384, 16384), "")
		// Within the pixel limit but cut short: the decoder allocates
		// 16 MP before finding out, twice at once; memory must hold.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				h.expectRaw("INVALID_IMAGE", http.StatusBadRequest, "/v1/enhance", "image/png", enginetest.PNGOfZeros(4000, 4000, 8, 2)[:20_000], "corrupt or truncated")
			})
		}
		wg.Wait()
		huge := base64.StdEncoding.EncodeToString(make([]byte, 21<<20))
		h.expectStatus(http.StatusRequestEntityTooLarge, http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageBase64":"`+huge+`"}`))
		h.expectStatus(http.StatusRequestEntityTooLarge, http.MethodPost, "/v1/enhance", "image/png", make([]byte, 21<<20))
		h.expectStatus(http.StatusRequestEntityTooLarge, http.MethodPost, "/v1/keys", "application/json", bytes.Repeat([]byte(" "), 100<<10))
		h.expectStatus(http.StatusUnsupportedMediaType, http.MethodPost, "/v1/enhance", "image/tiff", []byte("II*\x00"))
		h.expectStatus(http.StatusUnsupportedMediaType, http.MethodPost, "/v1/enhance", "image/bmp", []byte("BM"))
		h.expectRaw("UNSUPPORTED_IMAGE", http.StatusBadRequest, "/v1/enhance", "image/png", []byte("II*\x00\x08\x00\x00\x00"), "not a JPEG, PNG or WebP")
		h.expectRaw("UNSUPPORTED_IMAGE", http.StatusBadRequest, "/v1/enhance", "image/png", []byte("GIF89a\x01\x00\x01\x00"), "not a JPEG, PNG or WebP")
	})
	t.Run("truncated and corrupt images", func(t *testing.T) {
		h := root.on(t)
		for _, name := range []string{"kodim23.jpg", "bird.png", "progressive.jpg", "animated.webp"} {
			img := readImage(t, name)
			for _, n := range []int{0, 1, 2, 3, 8, 16, 33, 100, 400, len(img) / 3, len(img) / 2, len(img) - 10} {
				h.expectRaw("", http.StatusBadRequest, "/v1/enhance", "image/png", img[:n], "")
			}
		}
	})
	t.Run("malformed requests", func(t *testing.T) {
		h := root.on(t)
		gen := newMalformed(t)
		work := make(chan request)
		// A failed check ends its worker; the others and the generator
		// then stop too instead of waiting for it.
		stop, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			defer close(work)
			for i := range malformedRequests {
				select {
				case work <- gen.next(i):
				case <-stop.Done():
					return
				}
			}
		}()
		var wg sync.WaitGroup
		// Eight at a time: the server's ten places (2 workers, queue 8)
		// are never all taken, so every request reaches its check.
		for range 8 {
			wg.Go(func() {
				defer cancel()
				for r := range work {
					if _, ok := h.expectStatus(0, r.method, r.path, r.contentType, r.body); !ok {
						return
					}
				}
			})
		}
		wg.Wait()
	})

	require.Zero(t, canaryHits.Load(), "the loopback canary must receive nothing")
	// Sending the whole header would take over 200 s; the server must
	// hang up first, whatever the machine's speed.
	select {
	case cut := <-slowloris:
		require.True(t, cut, "the read-header timeout cut off the slow client")
	case <-time.After(5 * time.Minute):
		t.Fatal("a client sending headers a byte at a time was never cut off")
	}

	// The server is alive, answered no 5xx, and charged nothing.
	h := root
	resp, err := h.client.Get(p.base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rss := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("answers by status: %v; by code: %v", h.statuses, h.codes)
	t.Logf("peak RSS %d MiB (limit %d MiB, GOMEMLIMIT %s)", rss>>20, hostileRSSLimit>>20, hostileMemLimit)
	for code := range h.statuses {
		require.Less(t, code, 500, "no 5xx: %v", h.statuses)
	}
	require.Less(t, rss, int64(hostileRSSLimit), "peak RSS")
	p.stop(t)
	require.NotContains(t, p.output.String(), "panic")
	require.NotContains(t, p.output.String(), h.key, "the key never reaches the log")

	db, err = storesqlite.Open(ctx, filepath.Join(dir, "enhance.db"))
	require.NoError(t, err)
	defer db.Close()
	ledger, err = credits.NewLedger(db, "", nil)
	require.NoError(t, err)
	after, err := ledger.Usage(ctx, acct.ID)
	require.NoError(t, err)
	require.Equal(t, before.Balance.Used, after.Balance.Used, "not one credit charged")
}

// hostile sends requests and checks every answer, counting them in a
// tally that its copies for subtests share.
type hostile struct {
	t      *testing.T
	base   string
	key    string
	client *http.Client
	*tally
}

type tally struct {
	mu         sync.Mutex
	statuses   map[int]int
	codes      map[string]int
	lastDetail string
}

// on is h reporting to t.
func (h *hostile) on(t *testing.T) *hostile {
	c := *h
	c.t = t
	return &c
}

type problemBody struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Status int    `json:"status"`
}

// expectStatus sends one request and checks for a 4xx with a JSON detail
// (want, when not 0, names the exact status); it returns the problem and
// whether every check held. It reports with assert, not require, because
// the suite calls it from several goroutines at once.
func (h *hostile) expectStatus(want int, method, path, contentType string, body []byte) (problemBody, bool) {
	t := h.t
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if !assert.NoError(t, err) {
		return problemBody{}, false
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("x-api-key", h.key)
	resp, err := h.client.Do(req)
	if !assert.NoError(t, err, "%s %s", method, path) {
		return problemBody{}, false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if !assert.NoError(t, err) {
		return problemBody{}, false
	}
	var p problemBody
	jsonErr := json.Unmarshal(raw, &p)
	h.mu.Lock()
	h.statuses[resp.StatusCode]++
	h.codes[p.Code]++
	h.lastDetail = p.Detail
	h.mu.Unlock()
	ok := assert.True(t, resp.StatusCode >= 400 && resp.StatusCode < 500, "%s %s (%.80q): %d %s", method, path, body, resp.StatusCode, raw)
	if want != 0 {
		ok = assert.Equal(t, want, resp.StatusCode, "%s %s: %s", method, path, raw) && ok
	}
	ok = assert.NoError(t, jsonErr, "a JSON problem body: %s", raw) && ok
	ok = assert.NotEmpty(t, p.Detail, "%s %s: every refusal has a detail", method, path) && ok
	ok = assert.Equal(t, resp.StatusCode, p.Status) && ok
	return p, ok
}

func (h *hostile) expectJSON(code string, status int, body map[string]any) {
	h.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(h.t, err)
	p, _ := h.expectStatus(status, http.MethodPost, "/v1/enhance", "application/json", b)
	assert.Equal(h.t, code, p.Code, "%s: %s", b, p.Detail)
}

// expectRaw is expectStatus for an image body, checking the code (when
// not "") and a part of the detail; goroutines may call it.
func (h *hostile) expectRaw(code string, status int, path, contentType string, body []byte, detail string) bool {
	h.t.Helper()
	p, ok := h.expectStatus(status, http.MethodPost, path, contentType, body)
	if code != "" {
		ok = assert.Equal(h.t, code, p.Code, p.Detail) && ok
	}
	return assert.Contains(h.t, p.Detail, detail) && ok
}

// hostileOrigin serves every kind of bad origin on 127.0.0.2.
func hostileOrigin(t *testing.T, canaryURL string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/to-canary", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, canaryURL+"/x.png", http.StatusFound)
	})
	mux.HandleFunc("/hops/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, canaryURL+"/x.png", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/hops/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
		for range 600 { // a minute
			if _, err := w.Write([]byte{0}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("<html><body>secret internal page</body></html>"))
	})
	bomb := enginetest.PNGOfZeros(16384, 16384, 1, 0)
	mux.HandleFunc("/bomb.png", func(w http.ResponseWriter, r *http.Request) { w.Write(bomb) })
	lis, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err, "127.0.0.0/8 is loopback on Linux")
	srv := &httptest.Server{Listener: lis, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// slowHeaders opens a TLS connection, sends a request's headers a byte
// every 200 ms, and reports whether the server hung up before they were
// all sent.
func slowHeaders(base string) bool {
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // the server's certificate is not the point here
	if err != nil {
		return false
	}
	defer conn.Close()
	header := "POST /v1/enhance HTTP/1.1\r\nHost: x\r\nX-Padding: " + strings.Repeat("a", 1000)
	for i := range len(header) {
		if _, err := conn.Write([]byte{header[i]}); err != nil {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// client trusts the process's development CA.
func (p *process) client(t *testing.T) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(p.caPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: true,
	}}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.exited:
		require.NoError(t, err, p.output.String())
		p.exited <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// request is one generated malformed request.
type request struct {
	method, path, contentType string
	body                      []byte
}

// malformed generates bad requests from a fixed seed: broken JSON, wrong
// types, bad options, random and cut-short images, refused media types,
// wrong methods and paths. None of them may succeed.
type malformed struct {
	rng    *rand.Rand
	images [][]byte
}

func newMalformed(t *testing.T) *malformed {
	m := &malformed{rng: rand.New(rand.NewPCG(6, 6))}
	for _, name := range []string{"kodim23.jpg", "bird.png", "progressive.jpg", "animated.webp"} {
		m.images = append(m.images, readImage(t, name))
	}
	return m
}

var imagePaths = []string{"/v1/enhance", "/v1/upscale", "/v1/colorize"}

func (m *malformed) next(i int) request {
	r := m.rng
	path := imagePaths[r.IntN(len(imagePaths))]
	img := m.images[r.IntN(len(m.images))]
	// A cut that always ends before the image does.
	cut := img[:r.IntN(len(img)-16)]
	switch i % 12 {
	case 0: // random bytes as JSON
		return request{http.MethodPost, path, "application/json", m.randomBytes(1 + r.IntN(512))}
	case 1: // JSON cut short
		full := `{"imageBase64":"` + base64.StdEncoding.EncodeToString(img[:64]) + `","outputFormat":"png"}`
		return request{http.MethodPost, path, "application/json", []byte(full[:r.IntN(len(full)-1)])}
	case 2: // wrong types and unknown fields
		bodies := []string{
			`{"imageBase64": 5}`, `{"imageUrl": ["a"]}`, `{"imageUrl": {"x": 1}}`, `{"strength": "high", "imageUrl": "http://x/"}`,
			`{"scaleFactor": "two"}`, `{"hints": "red"}`, `{"unknownField": 1}`, `[]`, `null`, `"string"`, `{"imageBase64": "***"}`,
			`{"imageBase64": "` + strings.Repeat("A", r.IntN(100)) + `="}`, `{"quality": 1e40}`, `{"dryRun": "yes"}`,
		}
		return request{http.MethodPost, path, "application/json", []byte(bodies[r.IntN(len(bodies))])}
	case 3: // bad options with a good image
		opts := []string{
			"outputFormat=gif", "outputFormat=tiff", "quality=0&outputFormat=jpeg&quality=101", "quality=-5", "strength=1.5",
			"strength=NaN", "strength=-0.1", "enhancementType=sepia", "scaleFactor=7", "scaleFactor=1", "scaleFactor=abc",
			"nonsense=1", "quality=" + strconv.Itoa(r.IntN(1000)+101), "enhancementType=" + m.randomWord(),
		}
		q := opts[r.IntN(len(opts))]
		if path == "/v1/colorize" {
			q = "outputFormat=bmp" // and no hints either
		}
		return request{http.MethodPost, path + "?" + q, "image/png", img}
	case 4: // an image cut short
		return request{http.MethodPost, path, "image/png", cut}
	case 5: // the same, inline in JSON
		b, _ := json.Marshal(map[string]any{"imageBase64": cut, "scaleFactor": 2, "hints": []any{}})
		return request{http.MethodPost, path, "application/json", b}
	case 6: // random bytes as an image, sometimes behind a real signature
		b := m.randomBytes(1 + r.IntN(2048))
		if r.IntN(2) == 0 {
			b = append(append([]byte{}, img[:min(len(img), 8+r.IntN(24))]...), b...)
			b = b[:min(len(b), len(img)-16)]
		}
		return request{http.MethodPost, path, "image/jpeg", b}
	case 7: // a header whose bytes are damaged: checksums and markers fail
		b := append([]byte{}, img[:min(len(img), 64+r.IntN(256))]...)
		for range 1 + r.IntN(4) {
			b[8+r.IntN(len(b)-8)] ^= byte(1 + r.IntN(255))
		}
		return request{http.MethodPost, path, "image/webp", b}
	case 8: // media types we do not take
		types := []string{"image/tiff", "image/bmp", "image/gif", "image/svg+xml", "image/heic", "image/x-icon", "image/avif"}
		return request{http.MethodPost, path, types[r.IntN(len(types))], img}
	case 9: // wrong methods and paths
		reqs := []request{
			{http.MethodGet, path, "", nil}, {http.MethodPut, path, "application/json", []byte(`{}`)},
			{http.MethodDelete, path, "", nil}, {http.MethodPost, "/v1/" + m.randomWord(), "application/json", []byte(`{}`)},
			{http.MethodPost, "/v2/enhance", "application/json", []byte(`{}`)}, {http.MethodPatch, "/v1/keys/" + m.randomWord(), "application/json", []byte(`{"name":1}`)},
			{http.MethodPost, "/v1/enhance/../keys", "application/json", []byte(`{}`)}, {http.MethodPost, path, "text/plain", []byte("imageUrl=x")},
		}
		return reqs[r.IntN(len(reqs))]
	case 10: // source URLs that cannot work
		urls := []string{
			"", "x", "http://", "http:///x.png", "https://[::1", "http://a b/", "javascript:alert(1)", "data:image/png;base64,AAAA",
			"http://" + strings.Repeat("a", 300) + ".test/", "http://127.0.0.1:0/", "//example.com/x.png", "http://%00/",
		}
		b, _ := json.Marshal(map[string]any{"imageUrl": urls[r.IntN(len(urls))], "dryRun": r.IntN(2) == 0})
		return request{http.MethodPost, path, "application/json", b}
	default: // both sources, or neither, or bad hints
		bodies := []map[string]any{
			{"imageUrl": "http://example.com/x.png", "imageBase64": img[:32]},
			{"outputFormat": "png"},
			{"imageBase64": img, "hints": []map[string]any{{"color": "red", "points": []map[string]int{{"x": 1, "y": 1}}}}},
			{"imageBase64": img, "hints": []map[string]any{{"color": "#zzzzzz"}}},
			{"imageBase64": img, "scaleFactor": 9},
			{"imageBase64": img, "enhancementType": strings.Repeat("x", 5000)},
		}
		b, _ := json.Marshal(bodies[r.IntN(len(bodies))])
		if path == "/v1/enhance" && bytes.Contains(b, []byte("hints")) {
			path = "/v1/colorize"
		}
		if path != "/v1/upscale" && bytes.Contains(b, []byte("scaleFactor")) {
			path = "/v1/upscale"
		}
		return request{http.MethodPost, path, "application/json", b}
	}
}

func (m *malformed) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(m.rng.IntN(256))
	}
	return b
}

func (m *malformed) randomWord() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789-_.~"
	b := make([]byte, 1+m.rng.IntN(20))
	for i := range b {
		b[i] = letters[m.rng.IntN(len(letters))]
	}
	return string(b)
}
