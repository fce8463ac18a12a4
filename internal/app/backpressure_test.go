package app

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/config"
)

// gauge reads one metric's value from the server's metrics endpoint.
func (s *testServer) gauge(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.app.MetricsAddr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("metric %s not exported", name)
	return 0
}

// eventually polls cond every 10 ms until it holds or limit passes.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFullQueueAnswers429AtOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.Workers, c.Queue = 1, 1 })
	png := testImage(t, "bird.png")
	// An origin that holds every download until released: the two
	// requests reading from it hold the server's only two places.
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write(png)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			a := s.send(http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "`+slow.URL+`/bird.png"}`), map[string]string{"x-api-key": s.key})
			codes[i] = a.status
		})
	}
	<-arrived
	<-arrived
	require.Equal(t, 2.0, s.gauge(t, "enhance_image_requests_waiting"))

	// The two admitted requests cannot finish before release is closed,
	// so an answer now is a refusal at once, not after a wait.
	resp := s.post(t, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": s.key})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	p := readProblem(t, resp)
	require.Equal(t, "RATE_LIMITED", p.Code)
	require.Contains(t, p.Detail, "the server is busy")
	require.Equal(t, 1.0, s.gauge(t, "enhance_image_requests_refused_total"))

	close(release)
	wg.Wait()
	require.Equal(t, []int{http.StatusOK, http.StatusOK}, codes, "the admitted requests finish")
	require.Equal(t, 2, s.devBalance(t).Used, "the refused request cost nothing")
	require.Zero(t, s.gauge(t, "enhance_image_requests_waiting"))
}

// noiseJPEG is a w×h photo-sized JPEG that takes the enhancer a while.
func noiseJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			v := uint8(x*255/w) ^ uint8(rng.IntN(64))
			img.Set(x, y, color.RGBA{v, uint8(y * 255 / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}))
	return buf.Bytes()
}

func TestClientThatLeavesFreesItsWorkerAndIsRefunded(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.Workers, c.Queue = 1, 1 })
	big := noiseJPEG(t, 3000, 2000)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/enhance", bytes.NewReader(big))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "image/jpeg")
	req.Header.Set("x-api-key", s.key)
	errc := make(chan error, 1)
	go func() {
		resp, err := s.http.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	eventually(t, 2*time.Minute, "the request never reached a worker", func() bool {
		return s.gauge(t, "enhance_image_workers_busy") == 1
	})
	require.Equal(t, 1, s.devBalance(t).Used, "charged while working")
	cancel()
	left := time.Now()
	require.ErrorIs(t, <-errc, context.Canceled)
	eventually(t, 60*time.Second, "the worker stayed busy after its client left", func() bool {
		return s.gauge(t, "enhance_image_workers_busy") == 0
	})
	t.Logf("worker freed %v after the client left", time.Since(left).Round(time.Millisecond))
	eventually(t, 60*time.Second, "the cancelled request was not refunded", func() bool {
		return s.devBalance(t).Used == 0
	})

	// The freed worker serves the next caller.
	resp := s.post(t, "/v1/enhance", "image/png", testImage(t, "bird.png"), map[string]string{"x-api-key": s.key})
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, s.devBalance(t).Used)
}
