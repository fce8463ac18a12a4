package engine

import "math"

// Levels sets black and white points from the histograms and corrects
// exposure: with a gamma on the midtones, or, for a photo that already
// reaches white, with a gain in linear light that rolls off towards
// white. The common range runs from the darkest to the brightest channel
// (clipping ClipFraction of pixels at each end), so a photo that already
// uses the full range is left alone. The channels share one curve:
// stretching them separately would also "correct" every scene that is
// naturally short of one colour (measured on the Kodak set, it moved
// undamaged photos by 1.6 to 2.2 ΔE00); casts are WhiteBalance's job.
type Levels struct {
	// ClipFraction is the share of pixels allowed to clip at each end:
	// enough to ignore a few dead or hot pixels, no more (measured on the
	// Kodak set: 10⁻⁵ against 10⁻⁴ took underexposure from 7.74 to 7.16
	// ΔE00 and moved undamaged photos less, 0.40 against 0.43).
	ClipFraction float64
	// MaxGain bounds the stretch, so a nearly flat image (fog, a wall)
	// is not blown into noise.
	MaxGain float64
	// MedianLow and MedianHigh bound the midtone luminance of a normally
	// exposed photo; exposure is corrected only outside them, towards the
	// band's nearer quartile.
	MedianLow, MedianHigh float64
	// BrightScene, when above MedianHigh, is the median up to which a
	// bright photo counts as bright on purpose (sky, snow, high key) and
	// is not darkened. On the Kodak set darkening every median above 0.75
	// moved one clean photo (an aircraft against the sky) by 7 ΔE00 and
	// helped none; darkening cannot restore clipped highlights anyway.
	BrightScene float64
	// KeepSceneRange trusts a lifted black point only as far as the
	// photo's white falls short of white, and a lowered white only as far
	// as it falls clearly short (see curveFrom). The general pipeline
	// sets it; the landscape one leaves it off, since there a lifted
	// black is the haze it exists to remove, and the portrait one, not
	// yet measured on camera photos, keeps its behaviour.
	KeepSceneRange bool
	// Found, when set, receives what Apply found: how far the photo's
	// range fell short of full, as the stretch less one (0 when the photo
	// needed no stretch), for a later step that should add contrast only
	// where contrast was lacking (see LocalContrast.Found).
	Found *float64
	// Balanced, when set, says whether the white balance before this
	// step changed the photo's channel gains. A correction that lowers
	// the gain of the channel that set the white (a blue cast's blue)
	// leaves the white short of white though the photo reached it; that
	// shortfall is then no sign of a scene's soft white, and the white
	// point is trusted in full (on the Kodak set, a blue cast was
	// recovered 50% with the white kept and 59% with it stretched).
	Balanced *bool
}

// Name implements Step.
func (Levels) Name() string { return "levels" }

const histBins = 1024

// Apply implements Step.
func (l Levels) Apply(img *Image, workers int) (map[string]string, bool) {
	c, ok := l.curve(img, workers)
	if l.Found != nil {
		*l.Found = 0
		if ok {
			*l.Found = 1/(c.white-c.black) - 1
		}
	}
	if !ok {
		return nil, false
	}
	t := newLUT(c.at)
	for _, p := range img.Planes {
		applyLUT(p, img.Width, img.Height, t, workers)
	}
	params := map[string]string{
		"black": formatFloat(float32(c.black)),
		"white": formatFloat(float32(c.white)),
		"gamma": formatFloat(float32(c.gamma)),
	}
	if c.gain > 1 {
		params["gain"] = formatFloat(float32(c.gain))
	}
	return params, true
}

// toneCurve maps black to 0 and white to 1 and, between, either applies
// gamma or, when gain is above 1, multiplies linear light by gain with a
// shoulder (see exposed).
type toneCurve struct{ black, white, gamma, gain float64 }

func (c toneCurve) at(v float64) float64 {
	v = (v - c.black) / (c.white - c.black)
	if v <= 0 {
		return 0
	}
	if v >= 1 {
		return 1
	}
	if c.gain > 1 {
		return exposed(v, c.gain)
	}
	return math.Pow(v, c.gamma)
}

// bendsMidtones reports whether the curve does more than stretch.
func (c toneCurve) bendsMidtones() bool {
	return c.gain > 1 || math.Abs(c.gamma-1) > 0.02
}

// castExponent is what the curve does to a gain on the channels before
// it: a gamma raises it to gamma; a gain in linear light keeps it.
func (c toneCurve) castExponent() float64 {
	if c.gain > 1 {
		return 1
	}
	return c.gamma
}

// exposed brightens sRGB value v as more light would have: linear light
// is multiplied by gain, so colours keep their proportions, and what
// would pass white is rolled off above a knee instead of clipping. The
// shoulder 1 − (1 − t)^p meets the straight part with the same slope and
// reaches white exactly at the old white.
func exposed(v, gain float64) float64 {
	x := SRGBToLinear(v) * gain
	knee := math.Min(0.5, 1/gain)
	if x > knee {
		p := (gain - knee) / (1 - knee)
		t := (x - knee) / (gain - knee)
		x = knee + (1-knee)*(1-math.Pow(1-t, p))
	}
	return LinearToSRGB(x)
}

// maxExposureGain bounds the gain as the gamma bound of 0.5 bounds the
// gamma: three stops.
const maxExposureGain = 8

// curve chooses the tone curve for img; ok is false when the photo needs
// none.
func (l Levels) curve(img *Image, workers int) (toneCurve, bool) {
	h := histograms(img, 1, workers)
	defer img.pool.recycleHists(h)
	return l.curveFrom(h)
}

// previewCurve is curve from about previewPixels of img's rows, for a
// step that only needs to know roughly what levels will do (reading all
// of a 24 MP photo a second time cost 52 ms).
func (l Levels) previewCurve(img *Image, workers int) (toneCurve, bool) {
	h := histograms(img, max(1, img.Width*img.Height/previewPixels), workers)
	defer img.pool.recycleHists(h)
	return l.curveFrom(h)
}

const previewPixels = 2_000_000

// lightShare is the largest share of clipped pixels that counts as light
// sources rather than as a bright part of the scene.
const lightShare = 0.02

func (l Levels) curveFrom(h hists) (toneCurve, bool) {
	total := h.total
	lo := percentile(h.min, total, l.ClipFraction)
	hi := percentile(h.max, total, 1-l.ClipFraction)
	// A lamp, the sun or a specular glint is white however dark the rest
	// of the photo is. When such clipped pixels are few and everything
	// else stays well below white, the white point is taken from the
	// rest; the clipped pixels stay white and lose nothing. (On the Kodak
	// set two stops under with a small white light source in view, this
	// took the repair from 10.34 to 2.24 ΔE00.)
	clipped := h.max[histBins-1] + h.max[histBins-2]
	if clipped > 0 && float64(clipped) < lightShare*float64(total) {
		if rest := percentile(h.max[:histBins-2], total-clipped, 1-l.ClipFraction); rest < 0.95 {
			hi = rest
		}
	}
	// A contrast loss squeezes both ends of the range. A photo that
	// reaches white but not black is more often a bright scene than a
	// fault (a pale wall, snow, fog, a matte grade), so its black point is
	// trusted in proportion to how far its white falls short (on the
	// tuning photos: a near-white wood grain, white at 0.976, had its
	// black of 0.25 pulled to 0 and moved 3.8 ΔE00; the flat damage leaves
	// white at 0.75 at most and is stretched fully).
	if l.KeepSceneRange {
		// Likewise a white a little short of white is as often the
		// scene (fog, overcast, a soft grade) as a fault, while a global
		// darkening or contrast loss takes white down by a quarter or
		// more (the dark damage to 0.69, the flat one to 0.75). The white
		// point moves in full from a shortfall of 0.25, not at all below
		// 0.1 (on the tuning photos a grey rippled water surface, white at
		// 0.83, was stretched by 5.4 ΔE00).
		if l.Balanced == nil || !*l.Balanced {
			hi += (1 - hi) * (1 - trust(0.9-hi, 0.15))
		}
		lo *= trust(0.98-hi, 0.08)
	}
	if hi-lo < 2.0/histBins { // flat image: nothing to stretch
		return toneCurve{}, false
	}
	if 1/(hi-lo) > l.MaxGain {
		// Keep the stretch centred on the content instead of pinning black.
		mid := (hi + lo) / 2
		lo, hi = mid-0.5/l.MaxGain, mid+0.5/l.MaxGain
	}
	// Exposure: only a median outside the normal band counts as badly
	// exposed (dark and bright scenes exist on purpose).
	median := (percentile(h.luma, total, 0.5) - lo) / (hi - lo)
	// A dark photo that already reaches white may be dark by intent (a
	// low-key scene, a backlit subject), and has no headroom for the
	// stretch to brighten it.
	reachesWhite := hi >= 0.98
	gamma := 1.0
	if median > 0.02 && median < 0.98 {
		target := median
		switch {
		case median < l.MedianLow && reachesWhite:
			// Brightened with restraint, to the band's lower quartile.
			target = l.MedianLow + (l.MedianHigh-l.MedianLow)/4
		case median < l.MedianLow:
			// Underexposed as a whole: its midtones go where a well
			// exposed photo's are, 3/8 up the band (0.42; the median of
			// the Kodak photos' medians is 0.415). On the Kodak set made
			// dark with a gamma this recovered 67% against the quartile's
			// 62%; dark camera photos reach white and keep the quartile.
			target = l.MedianLow + (l.MedianHigh-l.MedianLow)*3/8
		case median > max(l.MedianHigh, l.BrightScene):
			target = l.MedianHigh - (l.MedianHigh-l.MedianLow)/4
		}
		gamma = math.Log(target) / math.Log(median)
		gamma = math.Max(0.5, math.Min(1.6, gamma))
		if gamma < 1 {
			// Bending the midtones is trusted as far as the photo looks
			// underexposed rather than dark on purpose: its shadows are
			// crushed (see crushed). A white short of white is no
			// evidence here: the stretch has already given back what a
			// darkening in linear light (real underexposure) took, and a
			// low-key scene stretched so stays low key (a forest path
			// made 1.2 stops darker was bent by a gamma of 0.5 and came
			// back 20.9 ΔE00 from the original instead of 3.0).
			gamma = math.Pow(gamma, crushed(h, lo, hi))
			target = math.Pow(median, gamma)
		}
		// Where levels moved the white point, the stretch was a gain in
		// light, and a gamma undoes what remains (on the Kodak set made
		// dark with a gamma, a gain instead recovered 49% of the damage
		// against the gamma's 62%). A photo that reaches white gets more
		// light instead: a gamma would lift its shadows out of proportion
		// and grey their colours (on the dark forest camera photo, gamma
		// 0.53 took the mean saturation from 0.41 to 0.25, the gain 0.34).
		if gamma < 1 && reachesWhite {
			if gain := exposureGain(median, target); gain > 1.02 {
				return toneCurve{black: lo, white: hi, gamma: 1, gain: gain}, true
			}
		}
	}
	if math.Abs(gamma-1) < 0.02 && lo <= 1.0/histBins && hi >= 1-1.0/histBins {
		return toneCurve{}, false
	}
	return toneCurve{black: lo, white: hi, gamma: gamma}, true
}

// crushed is the confidence, 0 to 1, that a dark photo is underexposed
// rather than dark by intent. Underexposure pushes the shadows' detail
// down into the first levels of the range, and a gamma or a camera's
// tone curve on an underexposed photo piles them up against black; a
// low-key scene exposed or graded on purpose (a night scene lit by
// lamps, a forest in shade, a subject on a dark ground) keeps its
// shadows on a floor above black. Two measures of the share of pixels
// whose brightest channel lies near black, either of which is trusted:
// the share in the bottom 5% of the range, from 1% nothing to 5%
// everything (kodim05 taken 2.6 stops down has 13%); and, for a photo
// with shadows at all (at least 1% in the bottom 10%), how many of
// those lie in its bottom half, from 8% nothing to 20% everything. A
// gamma of 1.8 on the Kodak photos leaves 13% to 70% of the bottom
// tenth in its bottom half (kodim02, a red door, 26%, though only 0.9%
// of the photo); the low-key camera photos keep 0% to 4% there (a
// forest path: 0.7% of the photo against 19% in the bottom tenth).
func crushed(h hists, lo, hi float64) float64 {
	below := func(f float64) float64 {
		n := 0
		for _, c := range h.max[:binOf(float32(lo+f*(hi-lo)))+1] {
			n += c
		}
		return float64(n) / float64(h.total)
	}
	n5, n10 := below(0.05), below(0.1)
	conf := trust(n5-0.01, 0.04)
	if n10 >= 0.01 {
		conf = max(conf, trust(n5/n10-0.05, 0.1))
	}
	return conf
}

// trust maps x to 0 below 0, to 1 above full, linearly between.
func trust(x, full float64) float64 {
	return math.Max(0, math.Min(1, x/full))
}

// exposureGain is the gain that exposed needs to bring median to target
// (bisection: exposed rises with the gain).
func exposureGain(median, target float64) float64 {
	lo, hi := 1.0, float64(maxExposureGain)
	if exposed(median, hi) <= target {
		return hi
	}
	for range 40 {
		mid := (lo + hi) / 2
		if exposed(median, mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// hists are the histograms Levels reads: of each pixel's darkest and
// brightest channel, and of luma.
type hists struct {
	min, max, luma []int
	total          int
}

// histograms reads every rowStep-th row (1: all of them).
func histograms(img *Image, rowStep, workers int) hists {
	n := len(img.Planes)
	parts := make([]hists, max(workers, 1))
	bands := make(chan int, len(parts))
	for i := range parts {
		bands <- i
	}
	newHists := img.pool.newHists
	parallelRows(img.Height, workers, func(y0, y1 int) {
		k := <-bands
		h := newHists()
		w := img.Width
		for y := y0 + (rowStep-y0%rowStep)%rowStep; y < y1; y += rowStep {
			h.total += w
			if n == 1 {
				for _, v := range img.Planes[0][y*w : (y+1)*w] {
					b := binOf(v)
					h.min[b]++
					h.max[b]++
					h.luma[b]++
				}
				continue
			}
			r, g, bl := img.Planes[0], img.Planes[1], img.Planes[2]
			for j := y * w; j < (y+1)*w; j++ {
				h.min[binOf(min(r[j], g[j], bl[j]))]++
				h.max[binOf(max(r[j], g[j], bl[j]))]++
				h.luma[binOf(lumaR*r[j]+lumaG*g[j]+lumaB*bl[j])]++
			}
		}
		parts[k] = h
	})
	out := newHists()
	add := func(dst, src []int) {
		for i, c := range src {
			dst[i] += c
		}
	}
	for _, p := range parts {
		if p.min == nil {
			continue
		}
		add(out.min, p.min)
		add(out.max, p.max)
		add(out.luma, p.luma)
		out.total += p.total
		img.pool.recycleHists(p)
	}
	return out
}

func binOf(v float32) int {
	i := int(v*(histBins-1) + 0.5)
	return min(max(i, 0), histBins-1)
}

// percentile returns the value below which fraction q of pixels lie.
func percentile(hist []int, total int, q float64) float64 {
	target := q * float64(total)
	acc := 0.0
	for i, c := range hist {
		acc += float64(c)
		if acc > target {
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

func applyLUT(p []float32, w, h int, t lut, workers int) {
	parallelRows(h, workers, func(y0, y1 int) {
		row := p[y0*w : y1*w]
		for i, v := range row {
			row[i] = t.at(v)
		}
	})
}
