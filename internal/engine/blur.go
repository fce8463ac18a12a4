package engine

import "math"

// gaussianBlur returns a blurred copy of plane (w×h) using a separable
// kernel: two passes of O(radius) per pixel, borders clamped. The copy
// and the pass between come from p.
func gaussianBlur(p *pool, plane []float32, w, h int, sigma float64, workers int) []float32 {
	radius := int(math.Ceil(3 * sigma))
	kernel := make([]float32, 2*radius+1)
	var sum float32
	for i := range kernel {
		d := float64(i - radius)
		kernel[i] = float32(math.Exp(-d * d / (2 * sigma * sigma)))
		sum += kernel[i]
	}
	for i := range kernel {
		kernel[i] /= sum
	}
	tmp := p.plane(w * h)
	defer p.recycle(tmp)
	out := p.plane(w * h)
	// Horizontal pass.
	parallelRows(h, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := plane[y*w : (y+1)*w]
			dst := tmp[y*w : (y+1)*w]
			for x := range w {
				var acc float32
				if x >= radius && x+radius < w {
					for k, kv := range kernel {
						acc += kv * src[x+k-radius]
					}
				} else {
					for k, kv := range kernel {
						acc += kv * src[min(max(x+k-radius, 0), w-1)]
					}
				}
				dst[x] = acc
			}
		}
	})
	// Vertical pass, row by row so memory is read sequentially.
	parallelRows(h, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			dst := out[y*w : (y+1)*w]
			for k, kv := range kernel {
				sy := min(max(y+k-radius, 0), h-1)
				src := tmp[sy*w : (sy+1)*w]
				for x := range dst {
					dst[x] += kv * src[x]
				}
			}
		}
	})
	return out
}
