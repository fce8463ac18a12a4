package engine

import "math"

// Kernel is a separable resampling filter: its weight at distance x (in
// source pixels at scale 1) and the radius beyond which it is zero.
type Kernel struct {
	Name   string
	Radius float64
	At     func(x float64) float64
}

// Bicubic is Keys' cubic convolution with a = -0.5, the kernel of
// MATLAB's imresize and of the super-resolution literature.
var Bicubic = Kernel{Name: "bicubic", Radius: 2, At: func(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x <= 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}}

// Linear is the triangle (bilinear) filter: cheap and free of overshoot.
var Linear = Kernel{Name: "linear", Radius: 1, At: func(x float64) float64 {
	return math.Max(0, 1-math.Abs(x))
}}

// Lanczos3 is the windowed sinc with three lobes.
var Lanczos3 = Kernel{Name: "lanczos3", Radius: 3, At: func(x float64) float64 {
	x = math.Abs(x)
	if x < 1e-9 {
		return 1
	}
	if x >= 3 {
		return 0
	}
	px := math.Pi * x
	return 3 * math.Sin(px) * math.Sin(px/3) / (px * px)
}}

// weights holds, for each output index, the first source index and the
// normalised filter taps.
type weights struct {
	start []int
	taps  [][]float32
}

// makeWeights computes taps mapping n source samples onto m outputs with
// pixel centres aligned. When shrinking, the kernel is stretched by the
// scale (antialiasing), as imresize does.
func makeWeights(n, m int, k Kernel) weights {
	scale := float64(m) / float64(n)
	support := k.Radius
	stretch := 1.0
	if scale < 1 {
		stretch = 1 / scale
		support *= stretch
	}
	w := weights{start: make([]int, m), taps: make([][]float32, m)}
	for i := range m {
		centre := (float64(i)+0.5)/scale - 0.5
		lo := int(math.Floor(centre - support))
		hi := int(math.Ceil(centre + support))
		taps := make([]float64, 0, hi-lo+1)
		var sum float64
		for j := lo; j <= hi; j++ {
			v := k.At((centre - float64(j)) / stretch)
			taps = append(taps, v)
			sum += v
		}
		// Fold taps beyond the edges onto the edge pixels (clamp).
		first := max(lo, 0)
		last := min(hi, n-1)
		out := make([]float32, last-first+1)
		for j := lo; j <= hi; j++ {
			idx := min(max(j, 0), n-1) - first
			out[idx] += float32(taps[j-lo] / sum)
		}
		w.start[i] = first
		w.taps[i] = out
	}
	return w
}

// flatWeights holds every output's taps at one stride n, zero-padded,
// with starts moved left where needed so that n source samples always
// exist: the inner loop then has a fixed length and no bounds checks.
type flatWeights struct {
	n     int
	start []int
	taps  []float32
}

// flat lays weights out for n source samples (n ≥ the longest tap list).
func (wt weights) flat(n int) flatWeights {
	stride := 0
	for _, t := range wt.taps {
		stride = max(stride, len(t))
	}
	stride = min(stride, n)
	f := flatWeights{n: stride, start: make([]int, len(wt.taps)), taps: make([]float32, len(wt.taps)*stride)}
	for i, t := range wt.taps {
		s := min(wt.start[i], n-stride)
		f.start[i] = s
		copy(f.taps[i*stride+(wt.start[i]-s):], t)
	}
	return f
}

// resizePlane resamples a w×h plane to dw×dh with kernel k, horizontally
// then vertically.
func resizePlane(src []float32, w, h, dw, dh int, k Kernel, workers int) []float32 {
	var wx, wy weights
	if dw != w {
		wx = makeWeights(w, dw, k)
	}
	if dh != h {
		wy = makeWeights(h, dh, k)
	}
	return resizeWith(src, w, h, dw, dh, wx, wy, workers)
}

// resizeWith resamples a w×h plane to dw×dh with precomputed taps,
// horizontally then vertically; a dimension that keeps its size needs none.
func resizeWith(src []float32, w, h, dw, dh int, wxs, wy weights, workers int) []float32 {
	tmp := src
	if dw != w {
		wx := wxs.flat(w)
		tmp = make([]float32, dw*h)
		parallelRows(h, workers, func(y0, y1 int) {
			n := wx.n
			for y := y0; y < y1; y++ {
				row := src[y*w : (y+1)*w]
				out := tmp[y*dw : (y+1)*dw]
				for x := range out {
					s := wx.start[x]
					r := row[s : s+n]
					t := wx.taps[x*n : x*n+n]
					var acc float32
					for j, tv := range t {
						acc += tv * r[j]
					}
					out[x] = acc
				}
			}
		})
	}
	if dh == h {
		if dw == w {
			return append([]float32(nil), src...)
		}
		return tmp
	}
	out := make([]float32, dw*dh)
	parallelRows(dh, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			verticalTaps(out[y*dw:(y+1)*dw], tmp, dw, wy.start[y], wy.taps[y])
		}
	})
	return out
}

// verticalTaps writes to dst the weighted sum of rows start, start+1, …
// of src. Four taps at a time are summed in registers, so each output is
// written once per four taps rather than once per tap: the vertical pass
// is bound by memory traffic, not arithmetic.
func verticalTaps(dst, src []float32, stride, start int, taps []float32) {
	row := func(j int) []float32 { return src[(start+j)*stride : (start+j+1)*stride][:len(dst)] }
	j := 0
	for ; j+4 <= len(taps); j += 4 {
		r0, r1, r2, r3 := row(j), row(j+1), row(j+2), row(j+3)
		t0, t1, t2, t3 := taps[j], taps[j+1], taps[j+2], taps[j+3]
		if j == 0 {
			for x := range dst {
				dst[x] = t0*r0[x] + t1*r1[x] + t2*r2[x] + t3*r3[x]
			}
		} else {
			for x := range dst {
				dst[x] += t0*r0[x] + t1*r1[x] + t2*r2[x] + t3*r3[x]
			}
		}
	}
	for ; j < len(taps); j++ {
		r, t := row(j), taps[j]
		if j == 0 {
			for x := range dst {
				dst[x] = t * r[x]
			}
		} else {
			for x := range dst {
				dst[x] += t * r[x]
			}
		}
	}
}

// Resize resamples every plane of img to dw×dh with kernel k, clamping
// the kernels' overshoot so samples stay in [0, 1].
func Resize(img *Image, dw, dh int, k Kernel, workers int) *Image {
	out := img.like(dw, dh)
	out.Planes = make([][]float32, len(img.Planes))
	for i, p := range img.Planes {
		out.Planes[i] = clampPlane(resizePlane(p, img.Width, img.Height, dw, dh, k, workers))
	}
	if img.Alpha != nil {
		out.Alpha = clampPlane(resizePlane(img.Alpha, img.Width, img.Height, dw, dh, k, workers))
	}
	return out
}

func clampPlane(p []float32) []float32 {
	for i, v := range p {
		p[i] = clamp01(v)
	}
	return p
}
