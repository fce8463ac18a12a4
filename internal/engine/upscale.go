package engine

import (
	"context"
	"fmt"
	"image"
	"math"
	"strconv"
	"sync"
)

// Upscale enlarges img by an integer factor. Luma is estimated by
// iterative back-projection (Irani and Peleg 1991) from a Lanczos start:
// the estimate is corrected until, shrunk the way cameras and thumbnails
// shrink (antialiased bicubic), it reproduces the source. The iteration is
// linear, so it is precomputed as one polyphase filter per factor
// (backProjectionTaps) and costs a single resample. Each luma pixel
// is then kept within the range of the source pixels around it, which
// removes the overshoot (ringing) that Lanczos and back-projection
// produce at edges. Chroma, which the eye resolves far less finely, is
// interpolated linearly: it cannot overshoot, and it costs a third of
// Lanczos.
func (e *Engine) Upscale(img *Image, factor int) *Image {
	w, h := img.Width, img.Height
	W, H := w*factor, h*factor
	workers := e.cfg.Workers
	out := img.like(W, H)
	if img.Gray() {
		out.Planes = [][]float32{upscaleLuma(img.Planes[0], w, h, factor, workers)}
	} else {
		ycc := toYCbCr(img, workers)
		ycc[0] = upscaleLuma(ycc[0], w, h, factor, workers)
		for i := 1; i < 3; i++ {
			ycc[i] = resizePlane(ycc[i], w, h, W, H, Linear, workers)
		}
		out.Planes = fromYCbCr(ycc, W, H, workers)
	}
	if img.Alpha != nil {
		out.Alpha = resizePlane(img.Alpha, w, h, W, H, Lanczos3, workers)
		clampToNeighbours(img.Alpha, out.Alpha, w, h, W, H, workers)
	}
	return out
}

// upscaleLuma enlarges a luma (or gray) plane by back-projection and
// clamps it to the neighbouring source pixels.
func upscaleLuma(p []float32, w, h, factor, workers int) []float32 {
	W, H := w*factor, h*factor
	up := resizeWith(p, w, h, W, H, backProjectionWeights(w, factor), backProjectionWeights(h, factor), workers)
	clampToNeighbours(p, up, w, h, W, H, workers)
	return up
}

// upscaleToJPEG is Upscale then Encode for an opaque colour photo written
// as JPEG, which stores chroma at half size: chroma goes straight from the
// source to that size instead of being enlarged, turned into RGB and back,
// and averaged down again (a fifth of the time of a ×2 upscale of a
// 10 MP photo). It needs an even output size, so that each chroma sample
// covers exactly 2×2 output pixels.
func (e *Engine) upscaleToJPEG(sw *stopwatch, img *Image, factor, quality int) ([]byte, error) {
	w, h := img.Width, img.Height
	W, H := w*factor, h*factor
	workers := e.cfg.Workers
	ycc := toYCbCr(img, workers)
	y := upscaleLuma(ycc[0], w, h, factor, workers)
	out := image.NewYCbCr(image.Rect(0, 0, W, H), image.YCbCrSubsampleRatio420)
	parallelRows(H, workers, func(y0, y1 int) {
		for r := y0; r < y1; r++ {
			row := out.Y[r*out.YStride : r*out.YStride+W]
			for x, v := range y[r*W : (r+1)*W] {
				row[x] = to8(v)
			}
		}
	})
	cw, ch := W/2, H/2
	for i, dst := range [][]uint8{out.Cb, out.Cr} {
		c := resizePlane(ycc[i+1], w, h, cw, ch, Linear, workers)
		parallelRows(ch, workers, func(y0, y1 int) {
			for r := y0; r < y1; r++ {
				row := dst[r*out.CStride : r*out.CStride+cw]
				for x, v := range c[r*cw : (r+1)*cw] {
					row[x] = to8(v + chromaZero)
				}
			}
		})
	}
	sw.encode()
	data, err := encodeJPEG(out, quality, workers)
	if err != nil {
		return nil, fmt.Errorf("engine: encode jpeg: %w", err)
	}
	return embedICC(data, JPEG, img.ICC, false, W, H)
}

// backProjectIterations: on Set5 ×2, one iteration gains 0.7 dB over the
// Lanczos start, three gain 0.95 and ten 1.0; three is the knee.
const backProjectIterations = 3

// clampToNeighbours limits each output pixel to the minimum and maximum of
// the 2×2 source pixels nearest its centre. The bounds of every 2×2 block
// are found once on the source grid, where there are factor² fewer pixels.
func clampToNeighbours(lr, est []float32, w, h, W, H, workers int) {
	lo, hi := make([]float32, w*h), make([]float32, w*h)
	parallelRows(h, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			ra, rb := lr[y*w:(y+1)*w], lr[min(y+1, h-1)*w:][:w]
			l, u := lo[y*w:(y+1)*w], hi[y*w:(y+1)*w]
			for x := range w {
				x1 := min(x+1, w-1)
				l[x] = min(ra[x], ra[x1], rb[x], rb[x1])
				u[x] = max(ra[x], ra[x1], rb[x], rb[x1])
			}
		}
	})
	sx := float64(w) / float64(W)
	sy := float64(h) / float64(H)
	x0s := make([]int, W)
	for X := range W {
		x0s[X] = min(max(int(math.Floor((float64(X)+0.5)*sx-0.5)), 0), w-1)
	}
	parallelRows(H, workers, func(y0, y1 int) {
		for Y := y0; Y < y1; Y++ {
			ya := min(max(int(math.Floor((float64(Y)+0.5)*sy-0.5)), 0), h-1)
			l, u := lo[ya*w:(ya+1)*w], hi[ya*w:(ya+1)*w]
			row := est[Y*W : (Y+1)*W]
			for X, xa := range x0s {
				row[X] = min(max(row[X], l[xa]), u[xa])
			}
		}
	})
}

// toYCbCr converts RGB planes to full-range BT.601 Y, Cb, Cr (Cb and Cr
// centred on 0).
func toYCbCr(img *Image, workers int) [][]float32 {
	n := img.Width * img.Height
	y, cb, cr := make([]float32, n), make([]float32, n), make([]float32, n)
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	parallelRows(img.Height, workers, func(y0, y1 int) {
		for i := y0 * img.Width; i < y1*img.Width; i++ {
			yy := 0.299*r[i] + 0.587*g[i] + 0.114*b[i]
			y[i] = yy
			cb[i] = (b[i] - yy) * 0.5643
			cr[i] = (r[i] - yy) * 0.7133
		}
	})
	return [][]float32{y, cb, cr}
}

// toYCbCrInPlace is toYCbCr writing over the R, G, B planes, which come
// back as Y, Cb, Cr: no plane allocated.
func toYCbCrInPlace(planes [][]float32, w, h, workers int) [][]float32 {
	r, g, b := planes[0][:w*h], planes[1][:w*h], planes[2][:w*h]
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			rr, gg, bb := r[i], g[i], b[i]
			yy := 0.299*rr + 0.587*gg + 0.114*bb
			r[i] = yy
			g[i] = (bb - yy) * 0.5643
			b[i] = (rr - yy) * 0.7133
		}
	})
	return [][]float32{r, g, b}
}

// fromYCbCr inverts toYCbCr in place, clamping to [0, 1]: the planes come
// back as R, G, B. Reusing them spares three image-sized allocations,
// whose first-touch page faults cost more than the arithmetic.
func fromYCbCr(ycc [][]float32, w, h, workers int) [][]float32 {
	y, cb, cr := ycc[0][:w*h], ycc[1][:w*h], ycc[2][:w*h]
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			yy, u, v := y[i], cb[i], cr[i]
			y[i] = clamp01(yy + 1.402*v)
			cb[i] = clamp01(yy - 0.344136*u - 0.714136*v)
			cr[i] = clamp01(yy + 1.772*u)
		}
	})
	return [][]float32{y, cb, cr}
}

// UpscaleOptions are the choices of an upscale request.
type UpscaleOptions struct {
	Factor int
	EncodeOptions
}

// UpscaleBytes decodes src, checks the output size against the limit
// before any work (the same check as Plan's), upscales and encodes.
func (e *Engine) UpscaleBytes(ctx context.Context, src []byte, opts UpscaleOptions) (res Result, err error) {
	sw := startStopwatch()
	defer sw.into(&res)
	if err := checkFactor(opts.Factor); err != nil {
		return Result{}, err
	}
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	sw.decode()
	cfg, format, err := e.DecodeConfig(src)
	if err != nil {
		return Result{}, err
	}
	if err := e.checkOutput(cfg.Width, cfg.Height, opts.Factor); err != nil {
		return Result{}, err
	}
	img, _, err := e.Decode(src)
	if err != nil {
		return Result{}, err
	}
	sw.process()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	steps := append(sourceSteps(img), Applied{Name: "upscale", Params: map[string]string{
		"factor": strconv.Itoa(opts.Factor),
		"method": "back-projection",
	}})
	if opts.Format == "" {
		opts.Format = format
	}
	W, H := img.Width*opts.Factor, img.Height*opts.Factor
	if opts.Format == JPEG && !img.Gray() && img.Alpha == nil && W%2 == 0 && H%2 == 0 {
		data, err := e.upscaleToJPEG(sw, img, opts.Factor, opts.quality())
		if err != nil {
			return Result{}, err
		}
		return Result{Data: data, Format: JPEG, Width: W, Height: H, Steps: steps}, nil
	}
	return e.result(sw, e.Upscale(img, opts.Factor), format, opts.EncodeOptions, steps)
}

// backProjectionTaps runs 1-D back-projection on a unit impulse and reads
// off, for each of the factor output phases, the weight of the source
// samples at offsets lo, lo+1, … . Back-projection from a fixed start for
// a fixed number of rounds is linear and shift-invariant, so these taps
// reproduce it exactly in one dimension; applied along rows and then
// columns they approximate the 2-D iteration at the cost of one resample.
func backProjectionTaps(factor int) (lo int, taps [][]float64) {
	const n = 64 // long enough that the impulse response never meets an edge
	m := n * factor
	impulse := make([]float64, n)
	impulse[n/2] = 1
	est := apply1D(makeWeights(n, m, Lanczos3), impulse)
	down, up := makeWeights(m, n, Bicubic), makeWeights(n, m, Bicubic)
	for range backProjectIterations {
		residual := apply1D(down, est)
		for i := range residual {
			residual[i] = impulse[i] - residual[i]
		}
		for i, v := range apply1D(up, residual) {
			est[i] += v
		}
	}
	// Output X = factor·q + p weighs source q+d by est[factor·(n/2 − d) + p].
	// Taps below 0.3% are dropped (and each phase renormalised): on Set5
	// that changes PSNR by less than 0.01 dB and saves a third of the work.
	const reach, negligible = 16, 0.003
	radius := 0
	for d := -reach; d <= reach; d++ {
		for p := range factor {
			if math.Abs(est[factor*(n/2-d)+p]) > negligible {
				radius = max(radius, d, -d)
			}
		}
	}
	taps = make([][]float64, factor)
	for p := range factor {
		var sum float64
		for d := -radius; d <= radius; d++ {
			taps[p] = append(taps[p], est[factor*(n/2-d)+p])
			sum += est[factor*(n/2-d)+p]
		}
		for i := range taps[p] {
			taps[p][i] /= sum
		}
	}
	return -radius, taps
}

// apply1D resamples one signal with precomputed weights.
func apply1D(wt weights, src []float64) []float64 {
	out := make([]float64, len(wt.start))
	for i, t := range wt.taps {
		for j, v := range t {
			out[i] += float64(v) * src[wt.start[i]+j]
		}
	}
	return out
}

var bpTaps = [5]func() (int, [][]float64){
	2: sync.OnceValues(func() (int, [][]float64) { return backProjectionTaps(2) }),
	3: sync.OnceValues(func() (int, [][]float64) { return backProjectionTaps(3) }),
	4: sync.OnceValues(func() (int, [][]float64) { return backProjectionTaps(4) }),
}

// backProjectionWeights lays the back-projection taps out for n source
// samples enlarged by factor, folding taps beyond the edges onto the edge
// samples as makeWeights does.
func backProjectionWeights(n, factor int) weights {
	lo, taps := bpTaps[factor]()
	m := n * factor
	w := weights{start: make([]int, m), taps: make([][]float32, m)}
	for X := range m {
		q, p := X/factor, X%factor
		first, last := max(q+lo, 0), min(q-lo, n-1)
		out := make([]float32, last-first+1)
		for k, v := range taps[p] {
			j := min(max(q+lo+k, 0), n-1)
			out[j-first] += float32(v)
		}
		w.start[X], w.taps[X] = first, out
	}
	return w
}
