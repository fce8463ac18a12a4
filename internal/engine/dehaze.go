package engine

import (
	"math"
	"sort"
	"sync"
)

// Dehaze removes haze. Whether a photo is hazy, and the airlight A, come
// from the dark channel (He, Sun and Tang 2009: in haze-free outdoor
// photos most patches have some channel near zero). The transmission t
// comes from haze lines (Berman, Treibitz and Avidan, "Non-local image
// dehazing", 2016): the pixels of one scene colour lie, under varying
// haze, on a line through A, and the one farthest from A is taken as
// haze-free, so each pixel's t is its distance from A over that
// farthest distance. Unlike the dark channel, this does not mistake a
// bright, colourful scene for haze (measured on the 24 hazed Kodak photos
// through the landscape pipeline: 9.03 ΔE00 with the dark channel's t,
// 8.43 with haze lines, 6.62 with the airlight floor below as well). t
// is smoothed with a guided filter on the luma and the scene recovered
// as J = (I − A)/t + A. A photo without haze is left alone.
type Dehaze struct {
	// Omega is the share of haze removed (He et al. keep 5% for depth).
	Omega float64
	// MinTransmission bounds the amplification in dense haze and sky.
	MinTransmission float32
	// MinHaze is the haze score (mean dark channel × (1 − saturation) ÷
	// luma standard deviation) below which the photo counts as clear;
	// removal is full from hazeRamp above it.
	MinHaze float64
	// Tolerance is how close to the airlight a pixel must be to count as
	// sky or fog, where haze is left rather than amplified.
	Tolerance float32
}

// Name implements Step.
func (Dehaze) Name() string { return "dehaze" }

// Apply implements Step.
func (d Dehaze) Apply(img *Image, workers int) (map[string]string, bool) {
	if img.Gray() {
		return nil, false
	}
	w, h := img.Width, img.Height
	// The transmission is smooth, so it is estimated on a copy of at most
	// dehazeWorkPixels and upsampled: a fraction of the time and memory
	// at full size (the "fast guided filter" of He and Sun, 2015).
	small := img
	if w*h > dehazeWorkPixels {
		s := math.Sqrt(float64(dehazeWorkPixels) / float64(w*h))
		small = Resize(img, max(1, int(float64(w)*s)), max(1, int(float64(h)*s)), Bicubic, workers)
	}
	sw, sh := small.Width, small.Height
	patch := max(7, min(sw, sh)/40) // 15 px at 600 px, as in He et al.
	dark := darkChannel(small.Planes, sw, sh, patch, workers)
	// Haze is bright, grey and flat: a bright dark channel counts as
	// haze only as far as the photo is also desaturated (a sunny close-up
	// of pale, colourful things is not fog) and low in contrast (a clear
	// photo with much sky has a bright dark channel but strong contrast).
	var mean, sat, sum, sq float64
	r, g, b := small.Planes[0], small.Planes[1], small.Planes[2]
	for i, v := range dark {
		mean += float64(v)
		mx := max(r[i], g[i], b[i])
		if mx > 0 {
			sat += float64((mx - min(r[i], g[i], b[i])) / mx)
		}
		y := float64(lumaR*r[i] + lumaG*g[i] + lumaB*b[i])
		sum += y
		sq += y * y
	}
	n := float64(len(dark))
	mean /= n
	sat /= n
	std := math.Sqrt(math.Max(0, sq/n-(sum/n)*(sum/n)))
	score := mean * (1 - sat) / math.Max(std, 0.05)
	if score < d.MinHaze {
		return nil, false
	}
	atmo := atmosphere(small, dark)
	// Scale the removal by how hazy the photo is, so light haze is
	// lightened rather than stripped.
	omega := d.Omega * math.Min(1, (score-d.MinHaze)/hazeRamp)
	t := hazeLines(small, atmo, workers)
	for i, v := range t {
		t[i] = 1 - float32(omega)*(1-v)
	}
	// Transmission follows depth, which is smooth within objects: a wide
	// window (a quarter of the shorter side; the local linear model
	// keeps depth edges that show in the luma) averages out the per-line
	// estimates' noise. Measured on the hazed Kodak photos (512 px
	// high): 6.97 ΔE00 at 64 px, 6.62 at 128.
	t = guidedFilter(small.Luma(workers), t, sw, sh, max(patch, min(sw, sh)/4), 1e-3, workers)
	if sw != w {
		t = resizePlane(t, sw, sh, w, h, Bicubic, workers)
	}
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			ti := max(t[i], d.MinTransmission)
			// Sky and dense fog are close to the airlight, where the prior
			// fails and a small t would amplify noise and JPEG blocks:
			// within Tolerance of A, t is raised in proportion (the
			// tolerance rule of Li et al.'s sky-region correction).
			diff := float32(0)
			for c, p := range img.Planes {
				diff = max(diff, abs32(p[i]-atmo[c]))
			}
			if diff < d.Tolerance {
				ti = min(1, ti*d.Tolerance/max(diff, 1e-3))
			}
			for c, p := range img.Planes {
				p[i] = clamp01((p[i]-atmo[c])/ti + atmo[c])
			}
		}
	})
	return map[string]string{
		"haze":     formatFloat(float32(mean)),
		"airlight": formatFloat((atmo[0] + atmo[1] + atmo[2]) / 3),
		"omega":    formatFloat(float32(omega)),
	}, true
}

// hazeRamp is how far above MinHaze the haze score must be for full
// removal. On the Kodak photos clear ones score 0.2 to 2.1 (sky-heavy ones
// highest) and the same with synthetic haze 1.8 to 4.8; a slow ramp
// scored best with the dark channel's transmission (mean ΔE00 9.15
// against 9.76 for a ramp of 1); with haze lines 1.5 and 1 were level
// (7.11 and 7.25, measured before the airlight floor took its final form).
const hazeRamp = 1.5

// dehazeWorkPixels bounds the size at which the transmission is estimated.
const dehazeWorkPixels = 1_000_000

// darkChannel is the patch minimum of the channel minimum.
func darkChannel(planes [][]float32, w, h, patch, workers int) []float32 {
	m := make([]float32, w*h)
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			v := float32(1)
			for _, p := range planes {
				v = min(v, p[i])
			}
			m[i] = v
		}
	})
	return minFilter(m, w, h, patch/2, workers)
}

// atmosphere estimates the airlight as He et al. do, from the brightest
// tenth of the pixels whose dark channel is in the top 0.1%, and then
// raises each channel to at least the 99.9th percentile of the pixels'
// darkest channels. Haze brighter than the whole scene is common (fog, a
// pale sky); without the floor a photo with no sky in view got an
// airlight as dark as 0.70 under synthetic haze of 0.92, and haze lines
// measured from the wrong point.
func atmosphere(img *Image, dark []float32) [3]float32 {
	// The top 0.1% by dark channel: a histogram finds the cut, so only
	// those pixels are sorted.
	n := max(1, len(dark)/1000)
	darkHist := make([]int, histBins)
	for _, v := range dark {
		darkHist[binOf(v)]++
	}
	cut, above := histBins-1, 0
	for ; cut > 0; cut-- {
		above += darkHist[cut]
		if above >= n {
			break
		}
	}
	idx := make([]int, 0, above)
	for i, v := range dark {
		if binOf(v) >= cut {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool { return dark[idx[a]] > dark[idx[b]] })
	n = min(n, len(idx))
	top := idx[:n]
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	sort.Slice(top, func(x, y int) bool {
		i, j := top[x], top[y]
		return r[i]+g[i]+b[i] > r[j]+g[j]+b[j]
	})
	top = top[:max(1, n/10)]
	var a [3]float32
	for _, i := range top {
		for c, p := range img.Planes {
			a[c] += p[i]
		}
	}
	for c := range a {
		a[c] /= float32(len(top))
	}
	hist := make([]int, histBins)
	for i := range r {
		hist[binOf(min(r[i], g[i], b[i]))]++
	}
	floor := float32(percentile(hist, len(r), 0.999))
	for c := range a {
		a[c] = max(a[c], floor)
	}
	return a
}

// hazeLineBins is the resolution of the directions from the airlight:
// hazeLineBins polar × 2·hazeLineBins azimuthal cells on the sphere.
const hazeLineBins = 64

// hazeLines returns each pixel's transmission: its distance from the
// airlight over the largest distance among the pixels in the same
// direction from it (a haze line), never below the bound that keeps the
// recovered scene non-negative.
func hazeLines(img *Image, atmo [3]float32, workers int) []float32 {
	n := img.Width * img.Height
	dist := make([]float32, n)
	line := make([]int32, n)
	var mu sync.Mutex
	farthest := make([]float32, 2*hazeLineBins*hazeLineBins)
	parallelRows(img.Height, workers, func(y0, y1 int) {
		local := make([]float32, len(farthest))
		for i := y0 * img.Width; i < y1*img.Width; i++ {
			x := float64(img.Planes[0][i] - atmo[0])
			y := float64(img.Planes[1][i] - atmo[1])
			z := float64(img.Planes[2][i] - atmo[2])
			d := math.Sqrt(x*x + y*y + z*z)
			dist[i] = float32(d)
			if d < 1e-6 {
				line[i] = -1
				continue
			}
			polar := min(hazeLineBins-1, int(math.Acos(max(-1, min(1, z/d)))/math.Pi*hazeLineBins))
			azimuth := min(2*hazeLineBins-1, int((math.Atan2(y, x)+math.Pi)/math.Pi*hazeLineBins))
			l := int32(polar*2*hazeLineBins + azimuth)
			line[i] = l
			local[l] = max(local[l], float32(d))
		}
		mu.Lock()
		for l, v := range local {
			farthest[l] = max(farthest[l], v)
		}
		mu.Unlock()
	})
	t := make([]float32, n)
	parallelRows(img.Height, workers, func(y0, y1 int) {
		for i := y0 * img.Width; i < y1*img.Width; i++ {
			ti := float32(1)
			if l := line[i]; l >= 0 && farthest[l] > 0 {
				ti = dist[i] / farthest[l]
			}
			for c, p := range img.Planes {
				ti = max(ti, 1-p[i]/max(atmo[c], 1e-3))
			}
			t[i] = min(ti, 1)
		}
	})
	return t
}
