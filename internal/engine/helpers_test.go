package engine

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// psnr compares the colour planes of a and b (same size) in dB.
func psnr(a, b *Image) float64 {
	var se float64
	n := 0
	for c := range a.Planes {
		for i, v := range a.Planes[c] {
			d := float64(v - b.Planes[c][i])
			se += d * d
			n++
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(float64(n)/se)
}

func clone(m *Image) *Image {
	c := NewImage(m.Width, m.Height, len(m.Planes), m.Alpha != nil)
	for i := range m.Planes {
		copy(c.Planes[i], m.Planes[i])
	}
	if m.Alpha != nil {
		copy(c.Alpha, m.Alpha)
	}
	return c
}

// degradation is a documented, invertible-in-spirit damage to a photo.
type degradation struct {
	name string
	fn   func(c int, v float32) float32
}

var degradations = []degradation{
	{"low contrast", func(_ int, v float32) float32 { return 0.25 + 0.5*v }},
	{"underexposed", func(_ int, v float32) float32 { return float32(math.Pow(float64(v), 1.8)) * 0.8 }},
	{"warm cast", func(c int, v float32) float32 { return clamp01(v * [3]float32{1.12, 1.0, 0.8}[c]) }},
	{"dull and blue", func(c int, v float32) float32 { return clamp01((0.2 + 0.6*v) * [3]float32{0.85, 0.95, 1.15}[c]) }},
}

func degrade(m *Image, d degradation) *Image {
	out := clone(m)
	for c, p := range out.Planes {
		for i, v := range p {
			p[i] = d.fn(c, v)
		}
	}
	return out
}

func loadTestImage(t testing.TB, name string) *Image {
	t.Helper()
	e := newTestEngine(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	require.NoError(t, err)
	img, _, err := e.Decode(data)
	require.NoError(t, err)
	return img
}

func newTestEngine(t testing.TB) *Engine {
	e, err := New(Config{MaxSourcePixels: 30_000_000, MaxOutputPixels: 64_000_000, Workers: 2})
	require.NoError(t, err)
	return e
}
