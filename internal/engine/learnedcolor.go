package engine

import (
	"math"
)

// Automatic colorization with the trained network (internal/neural,
// train/colormodel.py): the network sees CIELAB lightness at a working
// size of about 192 pixels on the long side and answers a and b at a
// quarter of that; those are turned into BT.601 chroma at that size, then
// brought to full size and sharpened along the full-resolution luma by a
// guided filter, as the hint solver's result is. Luma is never changed.

// learnedChroma is the network's Cb and Cr for a w×h luma plane, at full
// size.
func (e *Engine) learnedChroma(luma []float32, w, h int) (cb, cr []float32) {
	workers := e.cfg.Workers
	side := e.colorizer.WorkSide
	ww, wh := w, h
	if s := float64(side) / float64(max(w, h)); s < 1 {
		ww, wh = max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
	}
	small := luma
	if ww != w || wh != h {
		small = resizePlane(luma, w, h, ww, wh, Bicubic, workers)
	}
	l := make([]float32, ww*wh)
	for i, v := range small {
		l[i] = float32(lightness(float64(v)))
	}
	a, b := e.colorizer.Predict(l, ww, wh, workers)
	ow, oh := e.colorizer.OutSize(ww, wh)
	// Chroma at the network's output size, from the luma at that size.
	lo := resizePlane(luma, w, h, ow, oh, Bicubic, workers)
	cb, cr = make([]float32, ow*oh), make([]float32, ow*oh)
	for i, y := range lo {
		r, g, bl := labToSRGB(lightness(float64(y)), float64(a[i]), float64(b[i]))
		yy := 0.299*r + 0.587*g + 0.114*bl
		cb[i], cr[i] = float32((bl-yy)*0.5643), float32((r-yy)*0.7133)
	}
	cb = resizePlane(cb, ow, oh, w, h, Bicubic, workers)
	cr = resizePlane(cr, ow, oh, w, h, Bicubic, workers)
	r := max(2, w/ow)
	cb = guidedFilter(luma, cb, w, h, r, 1e-4, workers)
	cr = guidedFilter(luma, cr, w, h, r, 1e-4, workers)
	return cb, cr
}

// lightness is CIELAB L* of a gray sRGB value v in [0, 1] (R = G = B = v,
// so Y is v's linear light).
func lightness(v float64) float64 {
	return 116*labF(SRGBToLinear(min(max(v, 0), 1))) - 16
}

func labF(t float64) float64 {
	const d = 6.0 / 29
	if t > d*d*d {
		return math.Cbrt(t)
	}
	return t/(3*d*d) + 4.0/29
}

func labFInv(f float64) float64 {
	const d = 6.0 / 29
	if f > d {
		return f * f * f
	}
	return 3 * d * d * (f - 4.0/29)
}

// labToSRGB converts CIELAB (D65) to gamma-encoded sRGB, clamped to [0, 1].
func labToSRGB(l, a, b float64) (float64, float64, float64) {
	fy := (l + 16) / 116
	x := 0.95047 * labFInv(fy+a/500)
	y := labFInv(fy)
	z := 1.08883 * labFInv(fy-b/200)
	r := 3.2404542*x - 1.5371385*y - 0.4985314*z
	g := -0.9692660*x + 1.8760108*y + 0.0415560*z
	bl := 0.0556434*x - 0.2040259*y + 1.0572252*z
	enc := func(c float64) float64 { return LinearToSRGB(min(max(c, 0), 1)) }
	return enc(r), enc(g), enc(bl)
}

// colorizeWork is the working memory the network adds to a colorization
// of px pixels: its two full-size chroma planes and the resized luma and
// chroma beside them (4 planes, the guided filter's are counted in
// colorizeCost), and the network's buffers at its working size (three
// of the widest layer's, with 16 channels at full working size).
func (e *Engine) colorizeWork(px int64) int64 {
	if e.colorizer == nil {
		return 0
	}
	side := int64(e.colorizer.WorkSide) + 2
	return planeBytes(px, 4) + 3*4*side*side*16
}
