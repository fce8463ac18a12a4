package engine

// Vibrance raises saturation in proportion to how unsaturated a pixel
// is: muted colours gain, already vivid ones (and so skin, flowers, signs)
// barely move, and nothing is pushed out of gamut.
type Vibrance struct {
	Amount float32
}

// Name implements Step.
func (Vibrance) Name() string { return "vibrance" }

// Apply implements Step.
func (v Vibrance) Apply(img *Image, workers int) (map[string]string, bool) {
	if img.Gray() || v.Amount <= 0 {
		return nil, false
	}
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	parallelRows(img.Height, workers, func(y0, y1 int) {
		for i := y0 * img.Width; i < y1*img.Width; i++ {
			mx := max(r[i], g[i], b[i])
			mn := min(r[i], g[i], b[i])
			if mx <= 0 {
				continue
			}
			sat := (mx - mn) / mx
			f := 1 + v.Amount*(1-sat)*(1-sat)
			y := lumaR*r[i] + lumaG*g[i] + lumaB*b[i]
			// Largest factor that keeps every channel in [0, 1].
			limit := f
			for _, c := range [3]float32{r[i], g[i], b[i]} {
				d := c - y
				if d > 0 {
					limit = min(limit, (1-y)/d)
				} else if d < 0 {
					limit = min(limit, y/(-d))
				}
			}
			f = max(1, limit)
			r[i] = clamp01(y + (r[i]-y)*f)
			g[i] = clamp01(y + (g[i]-y)*f)
			b[i] = clamp01(y + (b[i]-y)*f)
		}
	})
	return map[string]string{"amount": formatFloat(v.Amount)}, true
}
