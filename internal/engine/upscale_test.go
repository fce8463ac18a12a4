package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/quality"
)

func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Config{MaxSourcePixels: 30_000_000, MaxOutputPixels: 64_000_000, Workers: 2})
	require.NoError(t, err)
	return e
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	require.NoError(t, err)
	return b
}

// quantize rounds samples to 8 bits, as an encoded image would be.
func quantize(m *engine.Image) *engine.Image {
	for _, p := range m.Planes {
		for i, v := range p {
			p[i] = float32(int(min(max(v, 0), 1)*255+0.5)) / 255
		}
	}
	return m
}

// TestUpscaleBeatsBicubicAndLanczos is the super-resolution quality
// floor on Set5's bird: shrink by 2 (antialiased bicubic, as the
// literature does), enlarge, compare luma with the original.
func TestUpscaleBeatsBicubicAndLanczos(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	hr, _, err := e.Decode(readTestdata(t, "bird.png"))
	require.NoError(t, err)
	for _, factor := range []int{2, 3, 4} {
		w, h := hr.Width/factor*factor, hr.Height/factor*factor
		ref := engine.Resize(hr, w, h, engine.Bicubic, 2) // modcrop; 288 divides by 2, 3 and 4
		lr := quantize(engine.Resize(ref, w/factor, h/factor, engine.Bicubic, 2))
		score := func(m *engine.Image) float64 {
			p, err := quality.PSNRY(ref, quantize(m), factor)
			require.NoError(t, err)
			return p
		}
		bicubic := score(engine.Resize(lr, w, h, engine.Bicubic, 2))
		lanczos := score(engine.Resize(lr, w, h, engine.Lanczos3, 2))
		ours := score(e.Upscale(lr, factor))
		t.Logf("x%d PSNR-Y: bicubic %.2f, lanczos3 %.2f, upscale %.2f dB", factor, bicubic, lanczos, ours)
		require.Greater(t, ours, bicubic+0.5)
		require.Greater(t, ours, lanczos)
	}
}

func TestUpscaleBytes(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	src := readTestdata(t, "bird.png")
	res, err := e.UpscaleBytes(context.Background(), src, engine.UpscaleOptions{Factor: 3, EncodeOptions: engine.EncodeOptions{Format: engine.JPEG}})
	require.NoError(t, err)
	require.Equal(t, 864, res.Width)
	require.Equal(t, engine.JPEG, res.Format)
	require.Equal(t, "upscale", res.Steps[0].Name)

	for _, f := range []int{0, 1, 5, 8} {
		_, err := e.UpscaleBytes(context.Background(), src, engine.UpscaleOptions{Factor: f})
		require.ErrorIs(t, err, engine.ErrInvalidOption)
	}

	small, err := engine.New(engine.Config{MaxSourcePixels: 1 << 20, MaxOutputPixels: 288 * 288 * 3, Workers: 1})
	require.NoError(t, err)
	_, err = small.UpscaleBytes(context.Background(), src, engine.UpscaleOptions{Factor: 2})
	require.ErrorIs(t, err, engine.ErrTooLarge)
	require.ErrorContains(t, err, "576x576")
}

func TestUpscaleKeepsGrayAndAlpha(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	gray := engine.NewImage(8, 8, 1, true)
	for i := range gray.Alpha {
		gray.Alpha[i] = 0.5
		gray.Planes[0][i] = float32(i%8) / 8
	}
	out := e.Upscale(gray, 2)
	require.True(t, out.Gray())
	require.Len(t, out.Alpha, 256)
	require.InDelta(t, 0.5, out.Alpha[100], 1e-6)
}

func BenchmarkUpscale2x(b *testing.B) {
	e := newEngine(b)
	img, _, err := e.Decode(readTestdata(b, "kodim05.jpg"))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		e.Upscale(img, 2)
	}
}

// TestUpscaleToJPEGMatchesTheGeneralPath checks the JPEG shortcut (chroma
// resized straight to the JPEG's half size) against Upscale then Encode:
// the same size and, decoded, nearly the same pixels.
func TestUpscaleToJPEGMatchesTheGeneralPath(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	src := readTestdata(t, "kodim05.jpg")
	img, _, err := e.Decode(src)
	require.NoError(t, err)
	for _, factor := range []int{2, 3, 4} {
		fast, err := e.UpscaleBytes(context.Background(), src, engine.UpscaleOptions{Factor: factor, EncodeOptions: engine.EncodeOptions{Format: engine.JPEG}})
		require.NoError(t, err)
		slow, err := e.Encode(e.Upscale(img, factor), engine.EncodeOptions{Format: engine.JPEG})
		require.NoError(t, err)
		a, _, err := e.Decode(fast.Data)
		require.NoError(t, err)
		b, _, err := e.Decode(slow)
		require.NoError(t, err)
		require.Equal(t, [2]int{img.Width * factor, img.Height * factor}, [2]int{a.Width, a.Height})
		p, err := quality.PSNR(a, b)
		require.NoError(t, err)
		t.Logf("×%d: %.1f dB", factor, p)
		require.Greater(t, p, 40.0, "factor %d", factor)
	}
}

func BenchmarkUpscaleBytes2xJPEG(b *testing.B) {
	e := newEngine(b)
	src := readTestdata(b, "kodim05.jpg")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.UpscaleBytes(b.Context(), src, engine.UpscaleOptions{Factor: 2, EncodeOptions: engine.EncodeOptions{Format: engine.JPEG}}); err != nil {
			b.Fatal(err)
		}
	}
}
