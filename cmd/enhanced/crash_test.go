package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestKilledServerReleasesItsWorkAtOnce kills the binary with SIGKILL
// while it holds charges and an Idempotency-Key for requests in flight,
// and starts it again on the same data: the charges are refunded as
// interrupted and the key is free before the first request, not after the
// longest a request may run.
func TestKilledServerReleasesItsWorkAtOnce(t *testing.T) {
	t.Parallel()
	photo, err := os.ReadFile("../../testdata/images/bird.png")
	require.NoError(t, err)
	// The origin holds its first answer until the test ends; later ones
	// are immediate.
	var calls atomic.Int32
	arrived := make(chan struct{})
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(arrived)
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(photo)
	}))
	t.Cleanup(origin.Close)

	dir := t.TempDir()
	// One worker and a long request timeout: only the liveness of the
	// process, not the age of a charge, may release what it held.
	flags := []string{"--fetch-allow-private", "--request-timeout", "9m", "--shutdown-timeout", "1s", "--workers", "1"}
	first := start(t, dir, flags...)
	key := first.key(t)
	client := first.client(t)
	post := func(p *process, client *http.Client, contentType string, body []byte, idempotencyKey string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, p.base+"/v1/enhance", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("x-api-key", key)
		if idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", idempotencyKey)
		}
		return client.Do(req)
	}
	background := func(contentType string, body []byte, idempotencyKey string) {
		go func() {
			if resp, err := post(first, client, contentType, body, idempotencyKey); err == nil {
				resp.Body.Close()
			}
		}()
	}
	// A call whose source never comes holds its Idempotency-Key.
	byURL := []byte(`{"imageUrl": "` + origin.URL + `/bird.png"}`)
	background("application/json", byURL, "order-killed")
	<-arrived
	// Three heavy photos: each is charged as soon as it is read, then
	// waits for the one worker, so once all three are charged at least two
	// are pending however fast the machine is.
	heavy := noisePhoto(t, 3000, 2000)
	for range 3 {
		background("image/jpeg", heavy, "")
	}
	charged := time.Now().Add(2 * time.Minute)
	for usage(t, first, client, key).CreditsUsed < 3 {
		require.True(t, time.Now().Before(charged), "the three photos were never charged")
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, first.cmd.Process.Kill())
	<-first.exited
	first.exited <- nil

	second := start(t, dir, append(flags, "--metrics-addr", "127.0.0.1:0")...)
	client = second.client(t)
	u := usage(t, second, client, key)
	refunds := 0
	for _, e := range u.Entries {
		require.NotEqual(t, "pending", e.State, "nothing is left pending")
		if e.Kind == "refund" {
			require.Equal(t, "interrupted", e.Reason)
			refunds++
		}
	}
	require.GreaterOrEqual(t, refunds, 2)
	require.Equal(t, 3-refunds, u.CreditsUsed, "only what finished before the kill stays charged")
	// Operators see the refunds too, apart from the request path's own.
	require.Equal(t, float64(refunds), metric(t, second, `enhance_abandoned_charges_refunded_total{why="dead_process"}`))
	resp, err := post(second, client, "application/json", byURL, "order-killed")
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the Idempotency-Key is free: the retry runs")
}

// noisePhoto is a w×h JPEG of noise, which takes the enhancer a while.
func noisePhoto(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

type usageAnswer struct {
	CreditsUsed int `json:"creditsUsed"`
	Entries     []struct {
		Kind, State, Reason string
	} `json:"entries"`
}

func usage(t *testing.T, p *process, client *http.Client, key string) usageAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.base+"/v1/usage", nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", key)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var u usageAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&u))
	return u
}
