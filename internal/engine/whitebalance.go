package engine

import "math"

// WhiteBalance removes a colour cast. The illuminant is estimated with
// gray-edge (van de Weijer, Gevers and Gijsenij, "Edge-based color
// constancy", 2007: the mean absolute derivative of each channel, p = 1,
// no pre-smoothing), which a cast scales like any other gain and which a
// constant offset (haze, a lifted black) cannot fool. Real illuminants lie
// near the Planckian locus, so the correction is split into a warm–cool
// part along the locus and a green–magenta tint across it, and the tint,
// where a scene's own colours mislead the estimate most, is trusted only
// by Tint. Small estimated casts are more often the scene than the light:
// below MinCast nothing is corrected, from FullCast on all of it, and in
// between a share that grows linearly.
//
// Measured on the 24 Kodak photos, the estimate alone, fully applied,
// moved undamaged photos by 3.06 ΔE00 and projected onto the locus with
// half the tint by 2.21; the ramp keeps clean photos nearly untouched
// (the general pipeline moves them by 0.39 in all) while removing 59% to
// 75% of a warm or a cool cast (docs/quality.md). Smoothing before the
// derivative (σ = 1 or 2), p = 2 (σ = 1), gray-world, shades of gray, white-patch
// and gray pixels (Yang, Gao and Li 2015) all did worse.
type WhiteBalance struct {
	// MaxGain bounds each channel's correction.
	MaxGain float64
	// MinCast and FullCast (log gain, after the tint is weighted) bound
	// the ramp from leaving the photo alone to correcting it fully.
	MinCast, FullCast float64
	// Tint weights the green–magenta part of the correction (0..1).
	Tint float64
	// Exposure, when the pipeline corrects exposure after white balance,
	// is that correction. Where it bends the midtones, the cast is read
	// both on the photo as it is and as the tone curve will leave it, and
	// along and across the locus only what the readings agree on (the
	// smallest, if they all point the same way) is corrected. A gamma on an
	// underexposed photo changes each channel's edges by its own level,
	// which reads as a cast before the curve (measured: Kodak photos at
	// v^1.8 looked 0.1 to 0.7 log gain too warm; through the curve they
	// read as the originals do). But the curve also multiplies the edges
	// of deep shadows, whose noise and colour then dominate: on two dark
	// camera photos the reading through the curve pointed the other way
	// from the plain one and turned a flower's green background pink.
	// Requiring agreement fixed both, and dark-and-noisy Kodak photos
	// came out better (9.22 → 8.82 ΔE00).
	Exposure *Levels
	// KeepSkin (portraits) weakens a correction that would move the
	// average skin colour out of the skin-tone range.
	KeepSkin bool
	// GrayEdgeRatio, when above 1, reads the cast a second time from the
	// near-gray edges alone: those whose largest channel gradient is at
	// most this many times their smallest, as the photo is. Only what
	// both readings agree on is corrected. A scene dominated by saturated
	// colours (a red door, autumn leaves, coloured cups) reads as a cast
	// to gray-edge, above all at web sizes, where object boundaries
	// outweigh fine texture; its own edges are far from gray and drop
	// out. A real cast tints every edge alike, so gray edges under it
	// stay within the ratio up to a cast of that size. Judging grayness
	// after removing the first reading instead (tried: ratio 1.5) is
	// circular: the scene's bias makes its own edges look gray. Measured
	// with 2.5 (docs/quality.md): white balance alone moves the 15
	// camera photos at 512 px by a mean ΔE00 of 1.20 instead of 2.49
	// (at 1024 px 0.75 instead of 1.61; in full size none, where before
	// both agreement rules it moved five);
	// on the Kodak photos warm casts come out better (2.50 → 1.99) and
	// blue ones worse (2.79 → 3.75, still 59% recovered).
	GrayEdgeRatio float64
	// MaxSpread, when above 0, weakens the correction of a scene whose
	// own colours spread widely (see chromaSpread): from 0.3 below it the
	// estimate is trusted less and less, and at MaxSpread not at all. A
	// cast moves every colour alike and adds no spread; a scene of
	// strong colours of several hues biases gray-edge through its object
	// boundaries, and its look is more likely meant than a fault. On the
	// tuning photos the spread is 0 to 0.75 (Kodak 0.19 to 0.72), but 1.12
	// for coloured cups that white balance turned from cyan to blue
	// (7.1 ΔE00).
	MaxSpread float64
	// Learned, when set, replaces the gray-edge readings above (and
	// Tint, GrayEdgeRatio and MaxSpread with them) by the learned
	// estimator (see IlluminantModel), read through the exposure
	// correction as they are, and corrects what it estimates, along and
	// across the locus alike: its estimate is already weighed by its
	// confidence.
	Learned *IlluminantModel
	// Balanced, when set, receives whether Apply lowered a channel's
	// gain below 0.9, enough to take a white at white into the range
	// where Levels reads a soft white as the scene's (see
	// Levels.Balanced).
	Balanced *bool
}

// locusAxis is the direction in which the Planckian locus moves
// (log R/G, log B/G) of sRGB-encoded values near daylight: Planck's law
// through the CIE 1931 observer (Wyman, Sloan and Shirley's 2013 fit) to
// sRGB gives a slope of −1.65 from 5000 to 8000 K.
var locusAxis = func() [2]float64 {
	n := math.Hypot(1, 1.65)
	return [2]float64{1 / n, -1.65 / n}
}()

// Name implements Step.
func (WhiteBalance) Name() string { return "white_balance" }

// Apply implements Step.
func (wb WhiteBalance) Apply(img *Image, workers int) (map[string]string, bool) {
	if wb.Balanced != nil {
		*wb.Balanced = false
	}
	if img.Gray() {
		return nil, false
	}
	if wb.Learned != nil {
		return wb.applyLearned(img, workers)
	}
	identity := newLUT(toneCurve{white: 1, gamma: 1}.at)
	plain, ok := grayEdge(img, identity, nil)
	if !ok {
		return nil, false
	}
	along, across := castOf(plain, 1)
	if wb.GrayEdgeRatio > 1 {
		gray, ok := grayEdgesOnly(img, identity, plain, wb.GrayEdgeRatio)
		if !ok { // too few gray edges to say anything
			return nil, false
		}
		a, c := castOf(gray, 1)
		along, across = agreed(along, a), agreed(across, c)
	}
	if wb.Exposure != nil {
		if tone, ok := wb.Exposure.previewCurve(img, workers); ok && tone.bendsMidtones() {
			// Judged as the photo is and as the tone curve will leave it,
			// only what the readings agree on counts.
			edges, ok := grayEdge(img, newLUT(tone.at), nil)
			if !ok {
				return nil, false
			}
			a, c := castOf(edges, tone.castExponent())
			along, across = agreed(along, a), agreed(across, c)
		}
	}
	across *= wb.Tint
	corr := [2]float64{along*locusAxis[0] - across*locusAxis[1], along*locusAxis[1] + across*locusAxis[0]}
	share := (math.Hypot(corr[0], corr[1]) - wb.MinCast) / (wb.FullCast - wb.MinCast)
	if wb.MaxSpread > 0 {
		// Judged as levels will leave the photo: a contrast loss (a
		// lifted black) pulls every colour towards gray and hides a
		// scene's spread (coloured cups: 1.09 as taken, 0.26 made flat).
		tone := identity
		if wb.Exposure != nil {
			if c, ok := wb.Exposure.previewCurve(img, workers); ok {
				tone = newLUT(c.at)
			}
		}
		share *= trust(wb.MaxSpread-chromaSpread(img, tone), 0.3)
	}
	if share <= 0 {
		return nil, false
	}
	share = math.Min(share, 1)
	return wb.correct(img, [2]float64{share * corr[0], share * corr[1]}, workers), true
}

// applyLearned is Apply with the learned estimator.
func (wb WhiteBalance) applyLearned(img *Image, workers int) (map[string]string, bool) {
	f, ok := wb.Features(img, workers)
	if !ok {
		return nil, false
	}
	cast, confidence := wb.Learned.Estimate(f.Vector())
	// Below a hundredth of a stop in log gain the correction moves no
	// 8-bit value by more than a level's rounding: nothing to do.
	if math.Hypot(cast[0], cast[1]) < minLearnedCast {
		return nil, false
	}
	along, across := -cast[0], -cast[1]
	corr := [2]float64{along*locusAxis[0] - across*locusAxis[1], along*locusAxis[1] + across*locusAxis[0]}
	params := wb.correct(img, corr, workers)
	params["confidence"] = formatFloat(float32(confidence))
	return params, true
}

// Features is what the learned estimator reads from img, through the
// exposure correction when Exposure is set; ok is false for a gray or
// flat photo. The estimator's training reads photos through it.
func (wb WhiteBalance) Features(img *Image, workers int) (IlluminantFeatures, bool) {
	if img.Gray() {
		return IlluminantFeatures{}, false
	}
	tone, exponent := newLUT(toneCurve{white: 1, gamma: 1}.at), 1.0
	if wb.Exposure != nil {
		if c, ok := wb.Exposure.previewCurve(img, workers); ok {
			tone, exponent = newLUT(c.at), c.castExponent()
		}
	}
	f, ok := illuminantFeatures(img, tone, exponent)
	if !ok {
		return f, false
	}
	f.Spread = chromaSpread(img, tone)
	return f, true
}

// minLearnedCast is the smallest estimated cast (log gain) the learned
// path corrects.
const minLearnedCast = 0.01

// correct multiplies red and blue by the exponentials of corr (log gains
// relative to green), normalised to keep the luma of gray, and reports
// the gains.
func (wb WhiteBalance) correct(img *Image, corr [2]float64, workers int) map[string]string {
	gains := [3]float64{math.Exp(corr[0]), 1, math.Exp(corr[1])}
	// Keep overall luminance: normalise so the luma of gray is unchanged.
	norm := lumaR*gains[0] + lumaG*gains[1] + lumaB*gains[2]
	for c := range gains {
		gains[c] = math.Max(1/wb.MaxGain, math.Min(wb.MaxGain, gains[c]/norm))
	}
	if wb.KeepSkin {
		gains = keepSkin(img, gains, workers)
	}
	g := [3]float32{float32(gains[0]), float32(gains[1]), float32(gains[2])}
	if wb.Balanced != nil {
		*wb.Balanced = min(g[0], g[1], g[2]) < 0.9
	}
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
	}
}

// chromaSpread is the standard deviation, over a sparse grid of pixels
// neither clipped nor near black, of their chromaticity (log R/G, log B/G
// taken together) through the tone curve: how far a scene's colours
// spread, whatever their mean.
func chromaSpread(img *Image, tone lut) float64 {
	w, h := img.Width, img.Height
	step := max(1, int(math.Sqrt(float64(w*h)/250000)))
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	var s1, s2 [2]float64
	var n float64
	for y := 0; y < h; y += step {
		for x := 0; x < w; x += step {
			i := y*w + x
			rv, gv, bv := tone.at(r[i]), tone.at(g[i]), tone.at(b[i])
			if max(rv, gv, bv) > 0.98 || min(rv, gv, bv) < 0.02 {
				continue
			}
			c := [2]float64{math.Log(float64(rv / gv)), math.Log(float64(bv / gv))}
			for k, v := range c {
				s1[k] += v
				s2[k] += v * v
			}
			n++
		}
	}
	if n == 0 {
		return 0
	}
	variance := 0.0
	for k := range s1 {
		variance += s2[k]/n - (s1[k]/n)*(s1[k]/n)
	}
	return math.Sqrt(math.Max(0, variance))
}

// castOf turns gray-edge sums read through a tone curve with the given
// gamma into the log gains of red and blue relative to green that would
// remove the cast, split into the part along the Planckian locus and the
// part across it. A gain g before the tone curve is g^gamma after it.
func castOf(edges [3]float64, gamma float64) (along, across float64) {
	r, b := math.Log(edges[1]/edges[0])/gamma, math.Log(edges[1]/edges[2])/gamma
	return r*locusAxis[0] + b*locusAxis[1], -r*locusAxis[1] + b*locusAxis[0]
}

// grayEdgesOnly is grayEdge over the edges whose largest channel
// gradient is at most ratio times their smallest (see GrayEdgeRatio); ok
// is false when they carry less than a fifth of the green gradient of
// all edges.
func grayEdgesOnly(img *Image, tone lut, all [3]float64, ratio float64) ([3]float64, bool) {
	gray, ok := grayEdge(img, tone, func(m [3]float64) bool {
		return max(m[0], m[1], m[2]) <= ratio*min(m[0], m[1], m[2])
	})
	return gray, ok && gray[1] >= 0.2*all[1]
}

// agreed is the smaller of two readings when they point the same way,
// and nothing when they do not.
func agreed(a, b float64) float64 {
	if a*b <= 0 {
		return 0
	}
	if math.Abs(a) < math.Abs(b) {
		return a
	}
	return b
}

// grayEdge returns each channel's summed gradient magnitude (central
// differences) through the tone curve, over a sparse grid of pixels,
// leaving out clipped ones, whose gradients the clip has cut, and those
// keep (when not nil) refuses; ok is false for a flat image.
func grayEdge(img *Image, tone lut, keep func(m [3]float64) bool) (sum [3]float64, ok bool) {
	w, h := img.Width, img.Height
	if w < 3 || h < 3 {
		return sum, false
	}
	step := max(1, int(math.Sqrt(float64(w*h)/250000)))
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	for y := 1; y < h-1; y += step {
		for x := 1; x < w-1; x += step {
			i := y*w + x
			if max(r[i], g[i], b[i]) > 0.98 {
				continue
			}
			var m [3]float64
			for c, p := range img.Planes {
				dx := tone.at(p[i+1]) - tone.at(p[i-1])
				dy := tone.at(p[i+w]) - tone.at(p[i-w])
				m[c] = math.Hypot(float64(dx), float64(dy))
			}
			if keep != nil && !keep(m) {
				continue
			}
			for c := range m {
				sum[c] += m[c]
			}
		}
	}
	return sum, sum[0] > 0 && sum[1] > 0 && sum[2] > 0
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
