package engine

// Sharpen is an unsharp mask on luminance only: the detail (luma minus its
// blur) is added back to every channel equally, so colours do not fringe.
// Detail below Threshold is left alone (it is mostly noise) and each
// pixel's boost is capped, which keeps halos at strong edges small.
type Sharpen struct {
	Sigma     float64
	Amount    float32
	Threshold float32
	MaxDelta  float32
	// SparesSkin reduces sharpening on skin (portraits), where it shows
	// pores and blemishes rather than detail.
	SparesSkin bool
}

// Name implements Step.
func (Sharpen) Name() string { return "sharpen" }

// Apply implements Step.
func (s Sharpen) Apply(img *Image, workers int) (map[string]string, bool) {
	if s.Amount <= 0 {
		return nil, false
	}
	w := img.Width
	luma := img.Luma(workers)
	blur := gaussianBlur(luma, w, img.Height, s.Sigma, workers)
	var skin []float32
	if s.SparesSkin {
		skin = skinMask(img, workers)
	}
	parallelRows(img.Height, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			d := luma[i] - blur[i]
			// Soft threshold: shrink small detail toward zero instead of
			// cutting it, which would leave visible contours.
			switch {
			case d > s.Threshold:
				d -= s.Threshold
			case d < -s.Threshold:
				d += s.Threshold
			default:
				continue
			}
			d *= s.Amount
			if skin != nil {
				d *= 1 - 0.8*skin[i]
			}
			d = min(max(d, -s.MaxDelta), s.MaxDelta)
			for _, p := range img.Planes {
				p[i] = clamp01(p[i] + d)
			}
		}
	})
	return map[string]string{
		"sigma":  formatFloat(float32(s.Sigma)),
		"amount": formatFloat(s.Amount),
	}, true
}
