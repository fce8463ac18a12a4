package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"strconv"
	"sync"
)

// UpscaleMode chooses how Upscale enlarges luma.
type UpscaleMode string

// The upscale modes. The default is learned for the factors where the
// network beats the classical method on Set5 and Set14 (learnedByDefault)
// and the build carries its weights, classical otherwise.
const (
	ModeDefault   UpscaleMode = ""
	ModeLearned   UpscaleMode = "learned"
	ModeClassical UpscaleMode = "classical"
)

// ParseUpscaleMode reads a request's mode ("" is the default).
func ParseUpscaleMode(s string) (UpscaleMode, error) {
	switch m := UpscaleMode(s); m {
	case ModeDefault, ModeLearned, ModeClassical:
		return m, nil
	}
	return "", fmt.Errorf("%w: mode %q is not one of learned, classical", ErrInvalidOption, s)
}

// ErrNoLearnedModel means the learned mode was asked of a build without
// the network's weights.
var ErrNoLearnedModel = errors.New("this server carries no trained super-resolution network: use mode classical")

// learnedByDefault are the factors the default mode upscales with the
// network: ×2 runs it once, ×4 twice; ×3 runs it once and enlarges the
// result by 1.5 with Lanczos (docs/learned.md has the scores).
var learnedByDefault = map[int]bool{2: true, 3: true, 4: true}

// learnedDefaultMaxPixels is the largest output the default mode makes
// with the network: it costs about 1.5 CPU-seconds per output megapixel
// (docs/learned.md), so 4 MP takes about 3 s on two idle cores, a tenth
// of the default request timeout, leaving room for a busy machine (at 8 MP
// a ×4 of a Kodak photo, 6.3 MP, ran past 30 s on a loaded 2-core CI
// machine); larger outputs default to the classical
// method, which is about 75 times cheaper, and mode learned still asks for
// the network (which stops when the request's deadline passes).
const learnedDefaultMaxPixels = 4_000_000

// learned resolves mode for a factor and output size: whether the
// network upscales.
func (e *Engine) learned(factor, outPixels int, mode UpscaleMode) (bool, error) {
	switch mode {
	case ModeClassical:
		return false, nil
	case ModeLearned:
		if e.sr == nil {
			return false, fmt.Errorf("%w: %w", ErrInvalidOption, ErrNoLearnedModel)
		}
		return true, nil
	case ModeDefault:
		return e.sr != nil && learnedByDefault[factor] && outPixels <= learnedDefaultMaxPixels, nil
	}
	_, err := ParseUpscaleMode(string(mode))
	return false, err
}

// Upscale enlarges img by an integer factor in the default mode.
func (e *Engine) Upscale(img *Image, factor int) *Image {
	out, _ := e.UpscaleWith(img, factor, ModeDefault) // the default never fails
	return out
}

// UpscaleWith enlarges img by an integer factor in the given mode.
func (e *Engine) UpscaleWith(img *Image, factor int, mode UpscaleMode) (*Image, error) {
	learned, err := e.learned(factor, img.Width*img.Height*factor*factor, mode)
	if err != nil {
		return nil, err
	}
	return e.upscale(context.Background(), img, factor, learned)
}

// upscale enlarges luma with the network (learned) or by iterative
// back-projection (Irani and Peleg 1991) from a Lanczos start: the
// estimate is corrected until, shrunk the way cameras and thumbnails
// shrink (antialiased bicubic), it reproduces the source. The iteration is
// linear, so it is precomputed as one polyphase filter per factor
// (backProjectionTaps) and costs a single resample. Each luma pixel
// is then kept within the range of the source pixels around it, which
// removes the overshoot (ringing) that Lanczos and back-projection
// produce at edges. Chroma, which the eye resolves far less finely, is
// interpolated linearly: it cannot overshoot, and it costs a third of
// Lanczos.
func (e *Engine) upscale(ctx context.Context, img *Image, factor int, learned bool) (*Image, error) {
	w, h := img.Width, img.Height
	W, H := w*factor, h*factor
	workers := e.cfg.Workers
	out := img.like(W, H)
	if img.Gray() {
		y, err := e.upscaleLuma(ctx, img.Planes[0], w, h, factor, learned)
		if err != nil {
			return nil, err
		}
		out.Planes = [][]float32{y}
	} else {
		ycc := toYCbCr(img, workers)
		y, err := e.upscaleLuma(ctx, ycc[0], w, h, factor, learned)
		if err != nil {
			return nil, err
		}
		ycc[0] = y
		for i := 1; i < 3; i++ {
			ycc[i] = resizePlane(ycc[i], w, h, W, H, Linear, workers)
		}
		out.Planes = fromYCbCr(ycc, W, H, workers)
	}
	if img.Alpha != nil {
		out.Alpha = resizePlane(img.Alpha, w, h, W, H, Lanczos3, workers)
		clampToNeighbours(img.Alpha, out.Alpha, w, h, W, H, workers)
	}
	return out, nil
}

// upscaleLuma enlarges a luma (or gray) plane with the network, or by
// back-projection clamped to the neighbouring source pixels.
func (e *Engine) upscaleLuma(ctx context.Context, p []float32, w, h, factor int, learned bool) ([]float32, error) {
	if learned {
		return e.learnedLuma(ctx, p, w, h, factor)
	}
	W, H := w*factor, h*factor
	workers := e.cfg.Workers
	up := resizeWith(p, w, h, W, H, backProjectionWeights(w, factor), backProjectionWeights(h, factor), workers)
	clampToNeighbours(p, up, w, h, W, H, workers)
	return up, nil
}

// learnedLuma enlarges full-range luma with the ×2 network, which works
// on studio-range luma (16..235 over 255, the SR literature's
// convention): once for ×2, twice for ×4, and once then Lanczos ×1.5 for
// ×3.
func (e *Engine) learnedLuma(ctx context.Context, p []float32, w, h, factor int) ([]float32, error) {
	workers := e.cfg.Workers
	s := make([]float32, w*h)
	for i, v := range p[:w*h] {
		s[i] = (16 + 219*v) / 255
	}
	s, err := e.sr.Upscale2(ctx, s, w, h, workers)
	if err != nil {
		return nil, err
	}
	cw, ch := 2*w, 2*h
	switch factor {
	case 3:
		s = resizePlane(s, cw, ch, 3*w, 3*h, Lanczos3, workers)
	case 4:
		if s, err = e.sr.Upscale2(ctx, s, cw, ch, workers); err != nil {
			return nil, err
		}
	}
	for i, v := range s {
		s[i] = (255*v - 16) / 219
	}
	return s, nil
}

// upscaleMethod names the luma method for the steps a result reports.
func upscaleMethod(factor int, learned bool) string {
	switch {
	case !learned:
		return "back-projection"
	case factor == 3:
		return "fsrcnn-x2+lanczos3"
	case factor == 4:
		return "fsrcnn-x2-twice"
	}
	return "fsrcnn-x2"
}

// upscaleWork is the working memory of a learned upscale beyond the
// planes upscaleCost counts: each worker's tile buffers.
func (e *Engine) upscaleWork(learned bool) int64 {
	if !learned {
		return 0
	}
	return int64(e.cfg.Workers) * e.sr.TileBytes()
}

// upscaleToJPEG is Upscale then Encode for an opaque colour photo written
// as JPEG, which stores chroma at half size: chroma goes straight from the
// source to that size instead of being enlarged, turned into RGB and back,
// and averaged down again (a fifth of the time of a ×2 upscale of a
// 10 MP photo). It needs an even output size, so that each chroma sample
// covers exactly 2×2 output pixels.
func (e *Engine) upscaleToJPEG(ctx context.Context, sw *stopwatch, img *Image, factor, quality int, learned bool) ([]byte, error) {
	w, h := img.Width, img.Height
	W, H := w*factor, h*factor
	workers := e.cfg.Workers
	ycc := toYCbCr(img, workers)
	y, err := e.upscaleLuma(ctx, ycc[0], w, h, factor, learned)
	if err != nil {
		return nil, err
	}
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
	Mode   UpscaleMode
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
	learned, err := e.learned(opts.Factor, cfg.Width*cfg.Height*opts.Factor*opts.Factor, opts.Mode)
	if err != nil {
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
		"method": upscaleMethod(opts.Factor, learned),
	}})
	if opts.Format == "" {
		opts.Format = format
	}
	W, H := img.Width*opts.Factor, img.Height*opts.Factor
	if opts.Format == JPEG && !img.Gray() && img.Alpha == nil && W%2 == 0 && H%2 == 0 {
		data, err := e.upscaleToJPEG(ctx, sw, img, opts.Factor, opts.quality(), learned)
		if err != nil {
			return Result{}, err
		}
		return Result{Data: data, Format: JPEG, Width: W, Height: H, Steps: steps}, nil
	}
	out, err := e.upscale(ctx, img, opts.Factor, learned)
	if err != nil {
		return Result{}, err
	}
	return e.result(sw, out, format, opts.EncodeOptions, steps)
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
