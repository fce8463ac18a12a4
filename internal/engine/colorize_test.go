package engine_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/quality"
)

// grayPNG encodes the luma of m as a grayscale PNG.
func grayPNG(t testing.TB, m *engine.Image) []byte {
	t.Helper()
	g := image.NewGray(image.Rect(0, 0, m.Width, m.Height))
	for i := range g.Pix {
		y := 0.299*m.Planes[0][i] + 0.587*m.Planes[1][i] + 0.114*m.Planes[2][i]
		g.Pix[i] = uint8(min(max(y, 0), 1)*255 + 0.5)
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, g))
	return buf.Bytes()
}

// randomHints takes the original colour of a fraction of the pixels.
func randomHints(m *engine.Image, fraction float64, seed uint64) []engine.ColorHint {
	r := rand.New(rand.NewPCG(seed, 3))
	n := int(float64(m.Width*m.Height) * fraction)
	hints := make([]engine.ColorHint, n)
	for k := range hints {
		x, y := r.IntN(m.Width), r.IntN(m.Height)
		i := y*m.Width + x
		hints[k] = engine.ColorHint{Points: [][2]int{{x, y}}, R: m.Planes[0][i], G: m.Planes[1][i], B: m.Planes[2][i]}
	}
	return hints
}

func decodeResult(t testing.TB, e *engine.Engine, data []byte) *engine.Image {
	t.Helper()
	m, _, err := e.Decode(data)
	require.NoError(t, err)
	return m
}

// TestColorizeFromOnePercentHints is the colorization quality floor: a
// Kodak photo made gray, 1% of its pixels given their true colour.
func TestColorizeFromOnePercentHints(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	for _, name := range []string{"kodim05.jpg", "kodim23.jpg"} {
		orig := decodeResult(t, e, readTestdata(t, name))
		gray := grayPNG(t, orig)
		start := time.Now()
		res, err := e.ColorizeBytes(context.Background(), gray, engine.ColorizeOptions{Hints: randomHints(orig, 0.01, 1), EncodeOptions: engine.EncodeOptions{Format: engine.PNG}})
		require.NoError(t, err)
		elapsed := time.Since(start)
		out := decodeResult(t, e, res.Data)
		require.False(t, out.Gray())
		grayImg := decodeResult(t, e, gray)
		grayRGB := engine.NewImage(grayImg.Width, grayImg.Height, 3, false)
		for c := range 3 {
			copy(grayRGB.Planes[c], grayImg.Planes[0])
		}
		base, err := quality.PSNR(orig, grayRGB)
		require.NoError(t, err)
		got, err := quality.PSNR(orig, out)
		require.NoError(t, err)
		t.Logf("%s: PSNR gray %.2f dB, colorized %.2f dB, %.2f s/MP", name, base, got, elapsed.Seconds()/(float64(orig.Width*orig.Height)/1e6))
		require.Greater(t, got, base+5, "colour is restored")
		require.Greater(t, got, 30.0)
	}
}

func TestColorizeFromReferenceAndStrokes(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	orig := decodeResult(t, e, readTestdata(t, "kodim23.jpg"))
	gray := grayPNG(t, orig)
	// The reference is the same scene, reframed: its colours must come
	// back by luminance and texture matching alone.
	ref, err := e.UpscaleBytes(context.Background(), readTestdata(t, "kodim23.jpg"), engine.UpscaleOptions{Factor: 2})
	require.NoError(t, err)
	res, err := e.ColorizeBytes(context.Background(), gray, engine.ColorizeOptions{Reference: ref.Data})
	require.NoError(t, err)
	require.Equal(t, "reference_hints", res.Steps[0].Name)
	out := decodeResult(t, e, res.Data)
	d, err := quality.MeanDeltaE2000(orig, out)
	require.NoError(t, err)
	grayImg := decodeResult(t, e, gray)
	dGray, err := quality.MeanDeltaE2000(orig, grayImg)
	require.NoError(t, err)
	t.Logf("reference: ΔE00 gray %.2f, colorized %.2f", dGray, d)
	require.Less(t, d, dGray*0.8, "the reference's colours help")

	// A red stroke colours the region it crosses, and stops at edges.
	stroke := engine.ColorHint{Points: [][2]int{{10, 10}, {60, 40}}, R: 0.9, G: 0.1, B: 0.1, Width: 3}
	res, err = e.ColorizeBytes(context.Background(), gray, engine.ColorizeOptions{Hints: []engine.ColorHint{stroke}})
	require.NoError(t, err)
	out = decodeResult(t, e, res.Data)
	i := 25*out.Width + 35
	require.Greater(t, out.Planes[0][i], out.Planes[2][i]+0.1, "stroke colour on the stroke")

	for _, bad := range []engine.ColorizeOptions{
		{Hints: []engine.ColorHint{{R: 1}}},
		{Hints: []engine.ColorHint{{Points: [][2]int{{9999, 1}}}}},
		{Hints: []engine.ColorHint{{Points: [][2]int{{1, 1}}, Width: 1000}}},
		{Reference: gray},
	} {
		_, err := e.ColorizeBytes(context.Background(), gray, bad)
		require.ErrorIs(t, err, engine.ErrInvalidOption)
	}
}

// TestColorizeAutomatically: with neither hints nor a reference, the
// network colours a photo it never saw (kodim23, held out of training):
// closer to the original than the gray image, luma untouched; with a
// hint, the hint solver colours as before.
func TestColorizeAutomatically(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	orig := decodeResult(t, e, readTestdata(t, "kodim23.jpg"))
	gray := grayPNG(t, orig)
	res, err := e.ColorizeBytes(context.Background(), gray, engine.ColorizeOptions{EncodeOptions: engine.EncodeOptions{Format: engine.PNG}})
	require.NoError(t, err)
	require.Equal(t, "learned", res.Steps[len(res.Steps)-1].Params["method"])
	auto := decodeResult(t, e, res.Data)
	require.False(t, auto.Gray())
	grayImg := decodeResult(t, e, gray)
	p, err := quality.PSNR(orig, auto)
	require.NoError(t, err)
	grayRGB := engine.NewImage(grayImg.Width, grayImg.Height, 3, false)
	for c := range 3 {
		copy(grayRGB.Planes[c], grayImg.Planes[0])
	}
	pGray, err := quality.PSNR(orig, grayRGB)
	require.NoError(t, err)
	t.Logf("kodim23 automatic: PSNR %.2f dB (gray %.2f)", p, pGray)
	require.Greater(t, p, pGray)
	var lumaErr float64
	for i, y := range grayImg.Planes[0] {
		ya := 0.299*auto.Planes[0][i] + 0.587*auto.Planes[1][i] + 0.114*auto.Planes[2][i]
		lumaErr += math.Abs(float64(ya - y))
	}
	lumaErr /= float64(len(grayImg.Planes[0]))
	require.Less(t, lumaErr, 1.0/255, "luma is kept (up to 8-bit rounding and clamping to the gamut)")

	// A hint takes over: the hint solver colours from it alone.
	hint := engine.ColorHint{Points: [][2]int{{20, 20}}, R: 0.9, G: 0.1, B: 0.1, Width: 5}
	res, err = e.ColorizeBytes(context.Background(), gray, engine.ColorizeOptions{Hints: []engine.ColorHint{hint}, EncodeOptions: engine.EncodeOptions{Format: engine.PNG}})
	require.NoError(t, err)
	require.Equal(t, "levin-lischinski-weiss", res.Steps[len(res.Steps)-1].Params["method"])
	hinted := decodeResult(t, e, res.Data)
	i := 20*hinted.Width + 20
	require.Greater(t, hinted.Planes[0][i], hinted.Planes[2][i]+0.1, "the hint's colour at the hint")
}

func BenchmarkColorize1MP(b *testing.B) {
	e := newEngine(b)
	orig := decodeResult(b, e, readTestdata(b, "kodim05.jpg"))
	big := engine.Resize(orig, 1224, 816, engine.Lanczos3, 2) // 1.0 MP
	gray := grayPNG(b, big)
	hints := randomHints(big, 0.01, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.ColorizeBytes(context.Background(), gray, engine.ColorizeOptions{Hints: hints}); err != nil {
			b.Fatal(err)
		}
	}
}
