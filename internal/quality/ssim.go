package quality

import (
	"math"

	"github.com/smartimage/enhance/internal/engine"
)

// SSIMY is the mean structural similarity (Wang et al. 2004: 11×11
// Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03) of the BT.601 luma of a
// and b, over windows lying inside the border crop.
func SSIMY(a, b *engine.Image, border int) (float64, error) {
	if err := sameSize(a, b); err != nil {
		return 0, err
	}
	w, h := a.Width-2*border, a.Height-2*border
	ya, yb := crop(LumaBT601(a), a.Width, border, w, h), crop(LumaBT601(b), a.Width, border, w, h)
	const c1, c2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)
	mul := func(p, q []float64) []float64 {
		out := make([]float64, len(p))
		for i := range p {
			out[i] = p[i] * q[i]
		}
		return out
	}
	mu1, mu2 := gauss(ya, w, h), gauss(yb, w, h)
	s11, s22, s12 := gauss(mul(ya, ya), w, h), gauss(mul(yb, yb), w, h), gauss(mul(ya, yb), w, h)
	// "valid" windows only: 5 pixels from each edge.
	var sum float64
	n := 0
	for y := 5; y < h-5; y++ {
		for x := 5; x < w-5; x++ {
			i := y*w + x
			m1, m2 := mu1[i], mu2[i]
			v1, v2, cv := s11[i]-m1*m1, s22[i]-m2*m2, s12[i]-m1*m2
			sum += ((2*m1*m2 + c1) * (2*cv + c2)) / ((m1*m1 + m2*m2 + c1) * (v1 + v2 + c2))
			n++
		}
	}
	return sum / float64(n), nil
}

func crop(p []float64, stride, border, w, h int) []float64 {
	out := make([]float64, w*h)
	for y := range h {
		copy(out[y*w:(y+1)*w], p[(y+border)*stride+border:])
	}
	return out
}

// gauss filters p with the separable 11-tap SSIM window (edges clamped;
// only interior values are used).
func gauss(p []float64, w, h int) []float64 {
	var k [11]float64
	var sum float64
	for i := range k {
		d := float64(i - 5)
		k[i] = math.Exp(-d * d / (2 * 1.5 * 1.5))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float64, len(p))
	for y := range h {
		for x := range w {
			var acc float64
			for j, kv := range k {
				acc += kv * p[y*w+min(max(x+j-5, 0), w-1)]
			}
			tmp[y*w+x] = acc
		}
	}
	out := make([]float64, len(p))
	for y := range h {
		for x := range w {
			var acc float64
			for j, kv := range k {
				acc += kv * tmp[min(max(y+j-5, 0), h-1)*w+x]
			}
			out[y*w+x] = acc
		}
	}
	return out
}
