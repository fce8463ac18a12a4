package engine

import "math"

// Levels stretches the tonal range from the luminance histogram and
// corrects exposure with a gamma on the midtones. The same curve is
// applied to every channel, so hues are kept.
type Levels struct {
	// ClipFraction is the share of pixels allowed to clip at each end.
	ClipFraction float64
	// Slack is how far from pure black and white the range may end
	// without being stretched.
	Slack float64
	// MaxGain bounds the stretch, so a nearly flat image (fog, a wall)
	// is not blown into noise.
	MaxGain float64
	// MedianLow and MedianHigh bound the midtone luminance of a normally
	// exposed photo; exposure is corrected only outside them.
	MedianLow, MedianHigh float64
}

// Name implements Step.
func (Levels) Name() string { return "levels" }

const histBins = 1024

// Apply implements Step.
func (l Levels) Apply(img *Image, workers int) (map[string]string, bool) {
	hist := lumaHistogram(img, workers)
	total := 0
	for _, c := range hist {
		total += c
	}
	// The black and white points move only by what lies beyond Slack: a
	// photo whose darkest pixels are a deep gray is normal, one whose
	// darkest are mid-gray is washed out.
	lo, hi := percentile(hist, total, l.ClipFraction), percentile(hist, total, 1-l.ClipFraction)
	if hi-lo < 2.0/histBins { // flat image: nothing to stretch
		return nil, false
	}
	lo, hi = max(0, lo-l.Slack), min(1, hi+l.Slack)
	gain := 1 / (hi - lo)
	if gain > l.MaxGain {
		// Keep the stretch centred on the content instead of pinning black.
		mid := (hi + lo) / 2
		gain = l.MaxGain
		lo = mid - 0.5/gain
	}
	if gain < 1 { // never compress a range that already spans everything
		gain, lo = 1, 0
	}
	// Exposure: only a median outside the normal band counts as badly
	// exposed (dark and bright scenes exist on purpose); it is moved toward
	// the nearer edge of the band with a bounded gamma.
	median := (percentile(hist, total, 0.5) - lo) * gain
	gamma := 1.0
	if median > 0.02 && median < 0.98 {
		target := median
		switch {
		case median < l.MedianLow:
			target = l.MedianLow
		case median > l.MedianHigh:
			target = l.MedianHigh
		}
		gamma = math.Log(target) / math.Log(median)
		gamma = math.Max(0.5, math.Min(1.6, gamma))
	}
	if gain < 1.02 && math.Abs(gamma-1) < 0.02 {
		return nil, false
	}
	curve := func(v float64) float64 {
		v = (v - lo) * gain
		if v <= 0 {
			return 0
		}
		if v >= 1 {
			return 1
		}
		return math.Pow(v, gamma)
	}
	applyCurve(img, newLUT(curve), workers)
	return map[string]string{
		"black": formatFloat(float32(lo)),
		"white": formatFloat(float32(lo + 1/gain)),
		"gamma": formatFloat(float32(gamma)),
	}, true
}

func lumaHistogram(img *Image, workers int) []int {
	parts := make([][]int, max(workers, 1))
	bands := make(chan int, len(parts))
	for i := range parts {
		bands <- i
	}
	parallelRows(img.Height, workers, func(y0, y1 int) {
		i := <-bands
		h := make([]int, histBins)
		w := img.Width
		if img.Gray() {
			for _, v := range img.Planes[0][y0*w : y1*w] {
				h[binOf(v)]++
			}
		} else {
			r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
			for j := y0 * w; j < y1*w; j++ {
				h[binOf(lumaR*r[j]+lumaG*g[j]+lumaB*b[j])]++
			}
		}
		parts[i] = h
	})
	hist := make([]int, histBins)
	for _, p := range parts {
		for i, c := range p {
			hist[i] += c
		}
	}
	return hist
}

func binOf(v float32) int {
	i := int(v * (histBins - 1))
	return min(max(i, 0), histBins-1)
}

// percentile returns the luminance below which fraction q of pixels lie.
func percentile(hist []int, total int, q float64) float64 {
	target := q * float64(total)
	acc := 0.0
	for i, c := range hist {
		acc += float64(c)
		if acc >= target {
			return float64(i) / (histBins - 1)
		}
	}
	return 1
}

// lut is a tone curve sampled finely enough that linear interpolation is
// exact to well under one 16-bit step, and far cheaper than math.Pow.
type lut []float32

const lutSize = 4096

func newLUT(f func(float64) float64) lut {
	t := make(lut, lutSize+1)
	for i := range t {
		t[i] = float32(f(float64(i) / lutSize))
	}
	return t
}

func (t lut) at(v float32) float32 {
	x := clamp01(v) * lutSize
	i := int(x)
	if i >= lutSize {
		return t[lutSize]
	}
	f := x - float32(i)
	return t[i] + f*(t[i+1]-t[i])
}

func applyCurve(img *Image, t lut, workers int) {
	w := img.Width
	parallelRows(img.Height, workers, func(y0, y1 int) {
		for _, p := range img.Planes {
			row := p[y0*w : y1*w]
			for i, v := range row {
				row[i] = t.at(v)
			}
		}
	})
}
