package engine

// skinMask returns, for each pixel, how much it looks like skin (0..1):
// the chroma box of Chai and Ngan (1999) in 8-bit YCbCr, Cb 77..127 and
// Cr 133..173, with soft edges, excluding very dark and very bright
// pixels, then smoothed so the mask has no hard boundaries.
func skinMask(img *Image, workers int) []float32 {
	w, h := img.Width, img.Height
	m := make([]float32, w*h)
	if img.Gray() {
		return m
	}
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	soft := func(v, lo, hi, edge float32) float32 {
		switch {
		case v < lo-edge || v > hi+edge:
			return 0
		case v < lo:
			return (v - (lo - edge)) / edge
		case v > hi:
			return ((hi + edge) - v) / edge
		}
		return 1
	}
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			y := 0.299*r[i] + 0.587*g[i] + 0.114*b[i]
			cb := 128 + (b[i]-y)*0.5643*255
			cr := 128 + (r[i]-y)*0.7133*255
			m[i] = soft(cb, 77, 127, 6) * soft(cr, 133, 173, 6) * soft(y*255, 40, 245, 15)
		}
	})
	return boxMean(m, w, h, max(1, min(w, h)/200), workers)
}

// SkinSmooth softens skin and nothing else: an edge-preserving (guided)
// smoothing of luma is blended in by the skin mask, so pores and blotches
// soften while eyes, lashes, hair and the background keep their detail.
type SkinSmooth struct {
	Amount float32
}

// Name implements Step.
func (SkinSmooth) Name() string { return "skin_smooth" }

// Apply implements Step.
func (s SkinSmooth) Apply(img *Image, workers int) (map[string]string, bool) {
	if img.Gray() || s.Amount <= 0 {
		return nil, false
	}
	w, h := img.Width, img.Height
	mask := skinMask(img, workers)
	var cover float64
	for _, v := range mask {
		cover += float64(v)
	}
	cover /= float64(len(mask))
	if cover < 0.005 { // no face to speak of
		return nil, false
	}
	luma := img.Luma(workers)
	r := max(2, min(w, h)/150)
	smooth := guidedFilter(luma, luma, w, h, r, 0.004, workers)
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			d := s.Amount * mask[i] * (smooth[i] - luma[i])
			for _, p := range img.Planes {
				p[i] = clamp01(p[i] + d)
			}
		}
	})
	return map[string]string{"amount": formatFloat(s.Amount), "skin": formatFloat(float32(cover))}, true
}
