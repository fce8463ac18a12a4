package main

import (
	"bytes"
	"image"
	_ "image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// decode opens an output and returns its size and format.
func decode(t *testing.T, path string) (image.Point, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	img, format, err := image.Decode(bytes.NewReader(b))
	require.NoError(t, err, path)
	return img.Bounds().Size(), format
}

func TestImageCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	t.Run("a folder in parallel over gRPC, piped", func(t *testing.T) {
		c := s.client(t)
		dir := copyImages(t, "kodim23.jpg", "bird.png", "kodim05.jpg")
		r := c.run("enhance", dir, "-j", "3")
		require.Equal(t, exitOK, r.code)
		for _, out := range []string{"kodim23.enhanced.jpg", "bird.enhanced.png", "kodim05.enhanced.jpg"} {
			size, _ := decode(t, filepath.Join(dir, out))
			require.NotZero(t, size.X)
			require.Contains(t, r.stdout, out)
		}
		require.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 3, "one line per file")
		// The steps applied follow the credits when there are any (a photo
		// the pipeline judges fine has none); upscale's line below shows them.
		require.Contains(t, r.stdout, filepath.Join(dir, "bird.png")+" -> "+filepath.Join(dir, "bird.enhanced.png")+" (288x288, 1 credit")
		require.Contains(t, r.stderr, "3 done, 0 failed, 0 skipped of 3 in ")
		require.Contains(t, r.stderr, "3 credits charged, ")
		require.NotContains(t, r.stdout+r.stderr, "\x1b", "no escape codes when piped")
		require.NotContains(t, r.stdout+r.stderr, "\r")

		// Again: the outputs are left out as inputs, and refused as
		// outputs before anything is sent (nothing charged).
		r = c.run("enhance", dir)
		require.Equal(t, exitFailed, r.code)
		require.Empty(t, r.stdout)
		require.Contains(t, r.stderr, "bird.enhanced.png exists (--force overwrites it)")
		require.Contains(t, r.stderr, "0 done, 3 failed, 0 skipped of 3 in ")
		require.Contains(t, r.stderr, "0 credits charged")
		r = c.run("enhance", "--force", filepath.Join(dir, "bird.png"))
		require.Equal(t, exitOK, r.code)
		require.NotContains(t, r.stderr, "done", "one input: no summary")

		// A dry run quotes and writes nothing.
		r = c.run("upscale", "--dry-run", "--scale", "4", dir)
		require.Equal(t, exitOK, r.code)
		require.Contains(t, r.stdout, "bird.png: 1 credit, 1152x1152 (upscale)")
		require.Contains(t, r.stderr, "quote: 3 of 3 inputs, 3 credits in all; nothing charged")
		_, err := os.Stat(filepath.Join(dir, "bird.upscaled.png"))
		require.ErrorIs(t, err, os.ErrNotExist)
	})

	t.Run("a file over REST, to -o", func(t *testing.T) {
		c := s.client(t)
		dir := copyImages(t, "bird.png")
		out := filepath.Join(t.TempDir(), "big.webp")
		r := c.run("upscale", "--rest", "--server", s.rest, filepath.Join(dir, "bird.png"), "-o", out, "--format", "webp", "--quality", "80")
		require.Equal(t, exitOK, r.code)
		require.Contains(t, r.stdout, " -> "+out+" (576x576, 1 credit; upscale)")
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, "WEBP", string(b[8:12]))

		// To stdout: the image alone there, the report on stderr.
		r = c.run("colorize", "--rest", "--server", s.rest, "--hint", "#c8202a:10,10:20,20", "-o", "-", filepath.Join(dir, "bird.png"))
		require.Equal(t, exitOK, r.code)
		img, format, err := image.Decode(strings.NewReader(r.stdout))
		require.NoError(t, err)
		require.Equal(t, "png", format)
		require.Equal(t, 288, img.Bounds().Dx())
		require.Contains(t, r.stderr, "-> stdout (288x288, 1 credit")

		// A reference photo, sent as bytes, on gRPC.
		small := filepath.Join(copyImages(t, "progressive.jpg"), "progressive.jpg")
		r = c.run("colorize", "--reference", filepath.Join(dir, "bird.png"), small)
		require.Equal(t, exitOK, r.code)
		size, _ := decode(t, strings.TrimSuffix(small, ".jpg")+".colorized.jpg")
		require.Equal(t, image.Pt(96, 64), size)
	})

	t.Run("a URL", func(t *testing.T) {
		c := s.client(t)
		photo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "kodim23.jpg"))
		require.NoError(t, err)
		web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(photo)
		}))
		defer web.Close()
		out := t.TempDir()
		r := c.run("enhance", web.URL+"/photos/parrots.jpg", "--type", "portrait", "--format", "png", "-o", out+"/")
		require.Equal(t, exitOK, r.code)
		size, format := decode(t, filepath.Join(out, "parrots.enhanced.png"))
		require.Equal(t, image.Pt(768, 512), size)
		require.Equal(t, "png", format)

		// No extension in the URL and no --format: the answer names it.
		r = c.run("enhance", "--rest", "--server", s.rest, web.URL+"/latest", "-o", out)
		require.Equal(t, exitOK, r.code)
		_, format = decode(t, filepath.Join(out, "latest.enhanced.jpg"))
		require.Equal(t, "jpeg", format)
	})

	t.Run("an answer over gRPC's default 4 MiB", func(t *testing.T) {
		// Noise does not compress: a 1300x1300 PNG of it is 5 MB, and at
		// strength 0 the answer is the same noise. (Stored, not deflated:
		// compressing noise is slow, under the race detector slower.)
		img := image.NewNRGBA(image.Rect(0, 0, 1300, 1300))
		noise := rand.New(rand.NewPCG(1, 2))
		for i := range img.Pix {
			img.Pix[i] = uint8(noise.Uint32())
			if i%4 == 3 {
				img.Pix[i] = 255
			}
		}
		dir := t.TempDir()
		f, err := os.Create(filepath.Join(dir, "noise.png"))
		require.NoError(t, err)
		require.NoError(t, (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(f, img))
		require.NoError(t, f.Close())
		r := s.client(t).run("enhance", "--strength", "0", filepath.Join(dir, "noise.png"))
		require.Equal(t, exitOK, r.code)
		info, err := os.Stat(filepath.Join(dir, "noise.enhanced.png"))
		require.NoError(t, err)
		require.Greater(t, info.Size(), int64(4<<20))
		out, err := os.Open(filepath.Join(dir, "noise.enhanced.png"))
		require.NoError(t, err)
		defer out.Close()
		cfg, format, err := image.DecodeConfig(out)
		require.NoError(t, err)
		require.Equal(t, "png", format)
		require.Equal(t, 1300, cfg.Width)
	})

	t.Run("a progress bar on a terminal", func(t *testing.T) {
		c := s.client(t)
		c.terminal = true
		dir := copyImages(t, "kodim23.jpg", "bird.png")
		r := c.run("enhance", dir, "-o", filepath.Join(t.TempDir(), "out"))
		require.Equal(t, exitOK, r.code)
		require.Contains(t, r.stderr, "\r\x1b[K[")
		require.Contains(t, r.stderr, "] 2/2")
		require.Contains(t, r.stderr, "2 done, 0 failed, 0 skipped of 2")
		require.NotContains(t, r.stdout, "\x1b", "the bar stays on stderr")
	})
}
