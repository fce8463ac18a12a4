package engine

import (
	"math"
)

// seedFromReference adds colour hints taken from a reference photo, by
// luminance and texture matching (after Welsh, Ashikhmin and Mueller
// 2002): the reference's luma is remapped to the target's mean and
// spread, each pixel is described by the mean and standard deviation of
// luma around it, and sampled target pixels take the chroma of the
// reference sample they match best, where the match is close enough.
// It returns the number of hints added.
func seedFromReference(luma []float32, w, h int, ref *Image, mask []bool, cb, cr []float32, workers int) int {
	ycc := toYCbCr(ref, workers)
	rw, rh := ref.Width, ref.Height
	tMean, tStd := meanStd(luma)
	rMean, rStd := meanStd(ycc[0])
	scale := float32(1)
	if rStd > 1e-6 {
		scale = float32(tStd / rStd)
	}
	rl := make([]float32, len(ycc[0]))
	for i, v := range ycc[0] {
		rl[i] = (v-float32(rMean))*scale + float32(tMean)
	}
	tm, ts := localStats(luma, w, h, workers)
	rm, rs := localStats(rl, rw, rh, workers)

	// About 2500 reference samples on a grid.
	type sample struct{ mean, std, cb, cr float32 }
	rstep := max(1, int(math.Sqrt(float64(rw*rh)/2500)))
	var refs []sample
	for y := rstep / 2; y < rh; y += rstep {
		for x := rstep / 2; x < rw; x += rstep {
			i := y*rw + x
			refs = append(refs, sample{rm[i], rs[i], ycc[1][i], ycc[2][i]})
		}
	}
	// About 5000 target samples; a match must be within 3% in mean and
	// texture combined.
	const maxDistance = 0.03
	tstep := max(1, int(math.Sqrt(float64(w*h)/5000)))
	added := 0
	for y := tstep / 2; y < h; y += tstep {
		for x := tstep / 2; x < w; x += tstep {
			i := y*w + x
			if mask[i] {
				continue
			}
			best, bestD := -1, float32(math.MaxFloat32)
			for k, s := range refs {
				d := abs32(s.mean-tm[i]) + abs32(s.std-ts[i])
				if d < bestD {
					best, bestD = k, d
				}
			}
			if best < 0 || bestD > maxDistance {
				continue
			}
			mask[i], cb[i], cr[i] = true, refs[best].cb, refs[best].cr
			added++
		}
	}
	return added
}

func meanStd(p []float32) (float64, float64) {
	var s, s2 float64
	for _, v := range p {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(p))
	m := s / n
	return m, math.Sqrt(math.Max(0, s2/n-m*m))
}

// localStats returns the mean and standard deviation of p over the 5×5
// window around each pixel.
func localStats(p []float32, w, h, workers int) ([]float32, []float32) {
	sq := make([]float32, len(p))
	for i, v := range p {
		sq[i] = v * v
	}
	mean := boxMean(p, w, h, 2, workers)
	msq := boxMean(sq, w, h, 2, workers)
	for i := range msq {
		msq[i] = float32(math.Sqrt(float64(max(0, msq[i]-mean[i]*mean[i]))))
	}
	return mean, msq
}
