package engine

import "math"

// WhiteBalance removes a colour cast when two independent estimates of
// the illuminant agree. The first makes the image's near-neutral pixels
// neutral (a robust gray-world: Huo et al., "Robust automatic white
// balance algorithm using gray color points", 2006: only pixels already
// close to gray vote, and the vote is repeated with the corrected
// colours). The second is white-patch: the brightest values of each
// channel, which a cast scales too. A real cast moves both; a scene's own
// colour (warm light, foliage, a saturated subject) seldom fools both the
// same way, so each channel is corrected only when both estimates point
// the same way, and only by the smaller of the two.
type WhiteBalance struct {
	// MaxGain bounds each channel's correction.
	MaxGain float64
	// MinCast is the cast (in log gain) taken to be the scene's own colour.
	MinCast float64
	// KeepSkin (portraits) weakens a correction that would move the
	// average skin colour out of the skin-tone range.
	KeepSkin bool
}

// Name implements Step.
func (WhiteBalance) Name() string { return "white_balance" }

// Apply implements Step.
func (wb WhiteBalance) Apply(img *Image, workers int) (map[string]string, bool) {
	if img.Gray() {
		return nil, false
	}
	grayGains, ok := wb.estimate(img)
	if !ok {
		return nil, false
	}
	patch := whitePatch(img)
	var gains [3]float64
	for c := range gains {
		gains[c] = math.Exp(consensus(math.Log(grayGains[c]), math.Log(patch[c])))
	}
	// Small casts are more often the scene (warm light, foliage) than the
	// camera: shrink every correction by MinCast in log space, so a
	// neutral-enough photo is left alone and a strong cast is mostly fixed.
	changed := false
	for c := range gains {
		l := math.Log(gains[c])
		switch {
		case l > wb.MinCast:
			l -= wb.MinCast
			changed = true
		case l < -wb.MinCast:
			l += wb.MinCast
			changed = true
		default:
			l = 0
		}
		gains[c] = math.Exp(l)
	}
	if !changed {
		return nil, false
	}
	// Keep overall luminance: normalise so the luma of gray is unchanged.
	norm := lumaR*gains[0] + lumaG*gains[1] + lumaB*gains[2]
	for c := range gains {
		gains[c] = math.Max(1/wb.MaxGain, math.Min(wb.MaxGain, gains[c]/norm))
	}
	if wb.KeepSkin {
		gains = keepSkin(img, gains, workers)
	}
	g := [3]float32{float32(gains[0]), float32(gains[1]), float32(gains[2])}
	w := img.Width
	parallelRows(img.Height, workers, func(y0, y1 int) {
		for c, p := range img.Planes {
			row := p[y0*w : y1*w]
			for i, v := range row {
				row[i] = clamp01(v * g[c])
			}
		}
	})
	return map[string]string{
		"gain_r": formatFloat(g[0]),
		"gain_g": formatFloat(g[1]),
		"gain_b": formatFloat(g[2]),
	}, true
}

// estimate returns per-channel gains, normalised to keep luminance, from a
// sparse grid of pixels; ok is false when too few near-gray pixels exist
// to judge.
func (wb WhiteBalance) estimate(img *Image) (gains [3]float64, ok bool) {
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	step := max(1, int(math.Sqrt(float64(img.Width*img.Height)/250000)))
	gains = [3]float64{1, 1, 1}
	// Thresholds on chroma relative to luma tighten as the estimate
	// converges, as in Huo et al.
	for _, threshold := range []float64{0.35, 0.25, 0.18, 0.12} {
		var sum [3]float64
		n, seen := 0, 0
		for y := 0; y < img.Height; y += step {
			for x := 0; x < img.Width; x += step {
				i := y*img.Width + x
				rv, gv, bv := float64(r[i])*gains[0], float64(g[i])*gains[1], float64(b[i])*gains[2]
				seen++
				lum := lumaR*rv + lumaG*gv + lumaB*bv
				if lum < 0.08 || lum > 0.95 || math.Max(rv, math.Max(gv, bv)) > 0.98 {
					continue // too dark to judge, or clipped
				}
				// Chroma in an opponent space, relative to luminance.
				u := (bv - lum) / lum
				v := (rv - lum) / lum
				if math.Abs(u)+math.Abs(v) > threshold {
					continue
				}
				sum[0] += rv
				sum[1] += gv
				sum[2] += bv
				n++
			}
		}
		if n < max(50, seen/100) {
			return gains, false
		}
		for c := range 3 {
			gains[c] *= sum[1] / sum[c]
		}
	}
	return gains, true
}

// whitePatch returns per-channel gains (green = 1) that would make the
// channels' 99.5th percentiles equal, from a sparse grid of pixels.
func whitePatch(img *Image) [3]float64 {
	step := max(1, int(math.Sqrt(float64(img.Width*img.Height)/250000)))
	var hist [3][256]int
	n := 0
	for y := 0; y < img.Height; y += step {
		for x := 0; x < img.Width; x += step {
			i := y*img.Width + x
			for c := range 3 {
				hist[c][int(clamp01(img.Planes[c][i])*255+0.5)]++
			}
			n++
		}
	}
	var top [3]float64
	for c := range 3 {
		acc := 0
		for v := 255; v >= 0; v-- {
			acc += hist[c][v]
			if acc*200 >= n { // the brightest 0.5%
				top[c] = math.Max(float64(v), 1) / 255
				break
			}
		}
	}
	return [3]float64{top[1] / top[0], 1, top[1] / top[2]}
}

// keepSkin halves the correction until the mean colour of the skin pixels,
// corrected, stays inside the skin chroma box (Cb 77..127, Cr 133..173).
func keepSkin(img *Image, gains [3]float64, workers int) [3]float64 {
	mask := skinMask(img, workers)
	var sum [3]float64
	var n float64
	for i, m := range mask {
		if m > 0.5 {
			for c := range 3 {
				sum[c] += float64(img.Planes[c][i])
			}
			n++
		}
	}
	if n < float64(len(mask))/200 {
		return gains
	}
	for range 4 {
		r, g, b := sum[0]/n*gains[0], sum[1]/n*gains[1], sum[2]/n*gains[2]
		y := 0.299*r + 0.587*g + 0.114*b
		cb := 128 + (b-y)*0.5643*255
		cr := 128 + (r-y)*0.7133*255
		if cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173 {
			break
		}
		for c := range gains {
			gains[c] = math.Sqrt(gains[c])
		}
	}
	return gains
}

// consensus is the correction two log-gain estimates agree on: the
// smaller one when they have the same sign, none otherwise.
func consensus(a, b float64) float64 {
	if a*b <= 0 {
		return 0
	}
	if math.Abs(a) < math.Abs(b) {
		return a
	}
	return b
}
