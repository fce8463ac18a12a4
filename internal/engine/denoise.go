package engine

import "math"

// Denoise removes sensor and film noise only when there is some: it
// estimates the noise level first and does nothing on a clean photo. Luma
// is smoothed by a self-guided filter whose eps follows the estimated
// variance, so edges and texture stronger than the noise survive; chroma
// noise, to which detail contributes little, is smoothed harder, guided by
// the luma so colours do not bleed across edges.
type Denoise struct {
	// MinSigma is the noise level (in 8-bit steps) below which nothing is done.
	MinSigma float64
	// Radius of the luma filter's window. Measured on the noisy Kodak
	// photos (σ = 10/255): radius 1 left 31.95 dB and 2.45 ΔE00, radius 2
	// 31.64 dB and 2.50, radius 3 31.39 dB: a wider window smooths film
	// grain and fine texture that the noise estimate cannot tell apart.
	Radius int
	// ChromaRadius is the chroma filter's, wider: colour noise is
	// coarser and colour detail finer than the eye resolves.
	ChromaRadius int
}

// Name implements Step.
func (Denoise) Name() string { return "denoise" }

// Apply implements Step.
func (d Denoise) Apply(img *Image, workers int) (map[string]string, bool) {
	// Most photos are clean: the estimate reads luma only where it
	// samples, so they pay for no full-size plane.
	sigma := estimateNoise(img.pool, lumaAt(img), img.Width, img.Height)
	if sigma < d.MinSigma {
		return nil, false
	}
	s := float32(sigma / 255)
	w, h := img.Width, img.Height
	// eps = 4σ²: a window whose variance is mostly noise is flattened.
	eps := 4 * s * s
	if img.Gray() {
		// The plane is its own guide, smoothed in place.
		newGuided(w, h, false).filter(img.Planes[0], img.Planes[0], w, h, d.Radius, eps, workers)
		return map[string]string{"sigma": formatFloat(float32(sigma))}, true
	}
	// Four planes beside the image's, as the pipelines' work is counted
	// (memory.go): the luma, smoothed in place, and the filters' three;
	// the image's planes turn into Y, Cb and Cr in place, and Y, which
	// the smoothed luma replaces, becomes the chroma filters' fourth.
	luma := img.Luma(workers)
	g := newGuided(w, h, false)
	g.filter(luma, luma, w, h, d.Radius, eps, workers)
	ycc := toYCbCrInPlace(img.Planes, w, h, workers)
	g.corrIP, ycc[0] = ycc[0], luma
	for c := 1; c < 3; c++ {
		g.filter(luma, ycc[c], w, h, d.ChromaRadius, eps, workers)
	}
	img.Planes = fromYCbCr(ycc, w, h, workers)
	return map[string]string{"sigma": formatFloat(float32(sigma))}, true
}

// EstimateNoise returns the standard deviation of additive noise in plane
// (samples in [0, 1]), in 8-bit steps, by Immerkær's method ("Fast noise
// variance estimation", 1996): the response to a Laplacian-difference
// mask that cancels smooth content. Pixels on the strongest tenth of
// edges are left out, since texture otherwise reads as noise.
func EstimateNoise(plane []float32, w, h int) float64 {
	return estimateNoise(nil, func(i int) float32 { return plane[i] }, w, h)
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

// estimateNoise is EstimateNoise of plane's samples, its working samples
// taken from p.
func estimateNoise(p *pool, plane func(int) float32, w, h int) float64 {
	if w < 3 || h < 3 {
		return 0
	}
	// A sparse grid of about 100k samples keeps this cheap at any size.
	step := max(1, int(math.Sqrt(float64(w*h)/100000)))
	// Sized once: grown by append, the two slices allocated five times
	// their size (13 MB for a 0.3 MP image).
	samples := ((h - 2 + step - 1) / step) * ((w - 2 + step - 1) / step)
	grads, resps := p.plane(samples)[:0], p.plane(samples)[:0]
	defer p.recycle(grads, resps)
	maxGrad := float32(0)
	for y := 1; y < h-1; y += step {
		for x := 1; x < w-1; x += step {
			at := func(dx, dy int) float32 { return plane((y+dy)*w+x+dx) * 255 }
			resp := at(-1, -1) - 2*at(0, -1) + at(1, -1) -
				2*at(-1, 0) + 4*at(0, 0) - 2*at(1, 0) +
				at(-1, 1) - 2*at(0, 1) + at(1, 1)
			gx := at(1, -1) + 2*at(1, 0) + at(1, 1) - at(-1, -1) - 2*at(-1, 0) - at(-1, 1)
			gy := at(-1, 1) + 2*at(0, 1) + at(1, 1) - at(-1, -1) - 2*at(0, -1) - at(1, -1)
			g := abs32(gx) + abs32(gy)
			grads = append(grads, g)
			resps = append(resps, abs32(resp))
			maxGrad = max(maxGrad, g)
		}
	}
	// Keep the flatter half: the median gradient, from a histogram.
	const bins = 4096
	var hist [bins]int
	scale := float32(bins-1) / max(maxGrad, 1e-6)
	for _, g := range grads {
		hist[int(g*scale)]++
	}
	half, acc, cut := len(grads)/2, 0, bins-1
	for i, c := range hist {
		acc += c
		if acc >= half {
			cut = i
			break
		}
	}
	var sum float64
	n := 0
	for k, g := range grads {
		if int(g*scale) <= cut {
			sum += float64(resps[k])
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(math.Pi/2) * sum / (6 * float64(n))
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
