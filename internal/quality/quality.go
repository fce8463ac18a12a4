// Package quality measures how close one image is to another: PSNR and
// SSIM on luma as the super-resolution literature reports them, and the
// CIEDE2000 colour difference for enhancement. Tests use it to hold
// quality floors; the bench harness uses it to write docs/quality.md.
package quality

import (
	"fmt"
	"math"

	"github.com/smartimage/enhance/internal/engine"
)

// LumaBT601 returns the luma of m as MATLAB's rgb2ycbcr computes it from
// 8-bit RGB: Y in [16, 235], samples first rounded to 8 bits.
func LumaBT601(m *engine.Image) []float64 {
	out := make([]float64, m.Width*m.Height)
	q := func(v float32) float64 { return math.Round(math.Min(1, math.Max(0, float64(v)))*255) / 255 }
	for i := range out {
		r := q(m.Planes[0][i])
		g, b := r, r
		if !m.Gray() {
			g, b = q(m.Planes[1][i]), q(m.Planes[2][i])
		}
		out[i] = 16 + 65.481*r + 128.553*g + 24.966*b
	}
	return out
}

func sameSize(a, b *engine.Image) error {
	if a.Width != b.Width || a.Height != b.Height {
		return fmt.Errorf("quality: sizes differ: %dx%d and %dx%d", a.Width, a.Height, b.Width, b.Height)
	}
	return nil
}

// PSNRY is the PSNR of the BT.601 luma of a and b, ignoring border pixels
// on each side (the literature crops the scale factor).
func PSNRY(a, b *engine.Image, border int) (float64, error) {
	if err := sameSize(a, b); err != nil {
		return 0, err
	}
	ya, yb := LumaBT601(a), LumaBT601(b)
	var se float64
	n := 0
	for y := border; y < a.Height-border; y++ {
		for x := border; x < a.Width-border; x++ {
			d := ya[y*a.Width+x] - yb[y*a.Width+x]
			se += d * d
			n++
		}
	}
	return psnr(se, n, 255), nil
}

// PSNR compares every colour plane of a and b, samples in [0, 1].
func PSNR(a, b *engine.Image) (float64, error) {
	if err := sameSize(a, b); err != nil {
		return 0, err
	}
	if len(a.Planes) != len(b.Planes) {
		return 0, fmt.Errorf("quality: %d planes against %d", len(a.Planes), len(b.Planes))
	}
	var se float64
	n := 0
	for c := range a.Planes {
		for i, v := range a.Planes[c] {
			d := float64(v - b.Planes[c][i])
			se += d * d
			n++
		}
	}
	return psnr(se, n, 1), nil
}

func psnr(se float64, n int, peak float64) float64 {
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(peak*peak*float64(n)/se)
}
