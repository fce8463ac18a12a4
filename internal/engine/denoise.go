package engine

import (
	"math"
	"sort"
)

// Denoise removes sensor and film noise only when there is some: it
// estimates the noise level first and does nothing on a clean photo. Luma
// is smoothed by a self-guided filter whose eps follows the estimated
// variance, so edges and texture stronger than the noise survive; chroma
// noise, to which detail contributes little, is smoothed harder, guided by
// the luma so colours do not bleed across edges.
type Denoise struct {
	// MinSigma is the noise level (in 8-bit steps) below which nothing is done.
	MinSigma float64
	// Radius of the filter window.
	Radius int
}

// Name implements Step.
func (Denoise) Name() string { return "denoise" }

// Apply implements Step.
func (d Denoise) Apply(img *Image, workers int) (map[string]string, bool) {
	// Most photos are clean: the estimate reads luma only where it
	// samples, so they pay for no full-size plane.
	sigma := estimateNoise(lumaAt(img), img.Width, img.Height)
	if sigma < d.MinSigma {
		return nil, false
	}
	luma := img.Luma(workers)
	s := float32(sigma / 255)
	w, h := img.Width, img.Height
	// eps = 4σ²: a window whose variance is mostly noise is flattened.
	smooth := guidedFilter(luma, luma, w, h, d.Radius, 4*s*s, workers)
	if img.Gray() {
		img.Planes[0] = smooth
	} else {
		ycc := toYCbCr(img, workers)
		ycc[0] = smooth
		for c := 1; c < 3; c++ {
			ycc[c] = guidedFilter(smooth, ycc[c], w, h, 2*d.Radius, 4*s*s, workers)
		}
		img.Planes = fromYCbCr(ycc, w, h, workers)
	}
	return map[string]string{"sigma": formatFloat(float32(sigma))}, true
}

// EstimateNoise returns the standard deviation of additive noise in plane
// (samples in [0, 1]), in 8-bit steps, by Immerkær's method ("Fast noise
// variance estimation", 1996): the response to a Laplacian-difference
// mask that cancels smooth content. Pixels on the strongest tenth of
// edges are left out, since texture otherwise reads as noise.
func EstimateNoise(plane []float32, w, h int) float64 {
	return estimateNoise(func(i int) float32 { return plane[i] }, w, h)
}

// lumaAt reads one pixel's luma by index.
func lumaAt(img *Image) func(int) float32 {
	if img.Gray() {
		p := img.Planes[0]
		return func(i int) float32 { return p[i] }
	}
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	return func(i int) float32 { return lumaR*r[i] + lumaG*g[i] + lumaB*b[i] }
}

func estimateNoise(plane func(int) float32, w, h int) float64 {
	if w < 3 || h < 3 {
		return 0
	}
	type sample struct{ grad, resp float32 }
	// A sparse grid keeps this cheap on large images.
	step := max(1, int(math.Sqrt(float64(w*h)/400000)))
	var samples []sample
	for y := 1; y < h-1; y += step {
		for x := 1; x < w-1; x += step {
			at := func(dx, dy int) float32 { return plane((y+dy)*w+x+dx) * 255 }
			resp := at(-1, -1) - 2*at(0, -1) + at(1, -1) -
				2*at(-1, 0) + 4*at(0, 0) - 2*at(1, 0) +
				at(-1, 1) - 2*at(0, 1) + at(1, 1)
			gx := at(1, -1) + 2*at(1, 0) + at(1, 1) - at(-1, -1) - 2*at(-1, 0) - at(-1, 1)
			gy := at(-1, 1) + 2*at(0, 1) + at(1, 1) - at(-1, -1) - 2*at(0, -1) - at(1, -1)
			samples = append(samples, sample{grad: abs32(gx) + abs32(gy), resp: abs32(resp)})
		}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i].grad < samples[j].grad })
	keep := samples[:len(samples)/2]
	var sum float64
	for _, s := range keep {
		sum += float64(s.resp)
	}
	return math.Sqrt(math.Pi/2) * sum / (6 * float64(len(keep)))
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
