package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ColorHint is a colour the caller asserts for some pixels: one point, or
// a stroke through several points, Width pixels wide.
type ColorHint struct {
	Points  [][2]int
	R, G, B float32 // in [0, 1]
	Width   int
}

// ColorizeOptions are the inputs of a colorization besides the image.
type ColorizeOptions struct {
	Hints []ColorHint
	// Reference, when given, is a colour photo of a similar scene whose
	// colours seed hints by luminance and texture matching.
	Reference []byte
	EncodeOptions
}

// ErrNeedsHints means colorization was asked for with nothing to go on,
// of a build without the automatic colorization network.
var ErrNeedsHints = errors.New("colorization needs colour hints (points or strokes with a colour) or a reference image")

// maxHintPixels bounds the pixels hints may cover.
const maxHintPixels = 1 << 20

// maxHintWork bounds the pixel writes drawing hints takes (about a quarter
// of a second): a stroke is drawn as a dot per pixel of its length, so a
// wide stroke back and forth across the image costs far more than the
// pixels it covers (200 points at width 64 took 0.86 s, 50,000 would
// take minutes).
const maxHintWork = 1 << 28

// CheckHintWork refuses hints whose drawing would exceed maxHintWork. It
// needs only the points, so a caller can refuse them before any charge.
func CheckHintWork(hints []ColorHint) error {
	work := 0
	for _, hint := range hints {
		side := 2*(max(hint.Width, 1)/2) + 1
		for k := range hint.Points {
			dots := 1 // the first point
			if k > 0 {
				a, b := hint.Points[k-1], hint.Points[k]
				dots = max(abs(b[0]-a[0]), abs(b[1]-a[1]))
			}
			// Checked at each segment, so that the sum cannot overflow.
			if work += dots * side * side; work > maxHintWork {
				return fmt.Errorf("%w: the hints' strokes are too long for their width: drawing them would take more than %d pixel writes; use fewer or narrower strokes", ErrInvalidOption, maxHintWork)
			}
		}
	}
	return nil
}

// colorizeWorkPixels is the resolution at which chroma is solved; chroma
// is smooth, so larger images are solved at this size and the result is
// upsampled guided by the full-resolution luma.
const colorizeWorkPixels = 1_500_000

// ColorizeBytes decodes src, colours it from opts and encodes the result:
// from hints and a reference when given, else with the network's colours
// where the build carries it.
func (e *Engine) ColorizeBytes(ctx context.Context, src []byte, opts ColorizeOptions) (res Result, err error) {
	sw := startStopwatch()
	defer sw.into(&res)
	hinted := len(opts.Hints) > 0 || len(opts.Reference) > 0
	if !hinted && e.colorizer == nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalidOption, ErrNeedsHints)
	}
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	sw.decode()
	img, format, err := e.Decode(src)
	if err != nil {
		return Result{}, err
	}
	sw.process()
	mask, cb, cr, err := rasterizeHints(opts.Hints, img.Width, img.Height)
	if err != nil {
		return Result{}, err
	}
	luma := lumaBT601(img, e.cfg.Workers)
	steps := sourceSteps(img)
	if len(opts.Reference) > 0 {
		sw.decode()
		ref, _, err := e.Decode(opts.Reference)
		if err != nil {
			return Result{}, fmt.Errorf("reference image: %w", err)
		}
		sw.process()
		if ref.Gray() {
			return Result{}, errGrayReference
		}
		n := seedFromReference(luma, img.Width, img.Height, ref, mask, cb, cr, e.cfg.Workers)
		steps = append(steps, Applied{Name: "reference_hints", Params: map[string]string{"hints": strconv.Itoa(n)}})
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	params := map[string]string{"method": "levin-lischinski-weiss", "hinted_pixels": strconv.Itoa(countHints(mask))}
	var ucb, ucr []float32
	if hinted {
		// Hints and a reference alone: on kodim13-24 with 16 point hints
		// the hint solver scored mean ΔE00 7.45, and 7.71 when it spread
		// the hints' differences over the network's colours instead
		// (docs/learned.md), so the network only colours what has
		// nothing else to go on.
		ucb, ucr, err = e.solveChroma(ctx, luma, img.Width, img.Height, mask, cb, cr)
	} else {
		ucb, ucr = e.learnedChroma(luma, img.Width, img.Height)
		params = map[string]string{"method": "learned"}
	}
	if err != nil {
		return Result{}, err
	}
	out := img.like(img.Width, img.Height)
	out.Planes = fromYCbCr([][]float32{luma, ucb, ucr}, img.Width, img.Height, e.cfg.Workers)
	out.Alpha = img.Alpha
	steps = append(steps, Applied{Name: "colorize", Params: params})
	return e.result(sw, out, format, opts.EncodeOptions, steps)
}

func lumaBT601(img *Image, workers int) []float32 {
	if img.Gray() {
		return append([]float32(nil), img.Planes[0]...)
	}
	return toYCbCr(img, workers)[0]
}

func countHints(mask []bool) int {
	n := 0
	for _, m := range mask {
		if m {
			n++
		}
	}
	return n
}

// rasterizeHints draws points and strokes into a hint mask and chroma
// planes (BT.601 Cb, Cr centred on 0), after the checks Plan makes too.
func rasterizeHints(hints []ColorHint, w, h int) ([]bool, []float32, []float32, error) {
	if err := checkHints(hints, w, h); err != nil {
		return nil, nil, nil, err
	}
	if err := CheckHintWork(hints); err != nil {
		return nil, nil, nil, err
	}
	mask := make([]bool, w*h)
	cb, cr := make([]float32, w*h), make([]float32, w*h)
	painted := 0
	for _, hint := range hints {
		width := max(hint.Width, 1)
		y := 0.299*hint.R + 0.587*hint.G + 0.114*hint.B
		hcb, hcr := (hint.B-y)*0.5643, (hint.R-y)*0.7133
		dot := func(cx, cy int) {
			r := width / 2
			for yy := max(cy-r, 0); yy <= min(cy+r, h-1); yy++ {
				for xx := max(cx-r, 0); xx <= min(cx+r, w-1); xx++ {
					i := yy*w + xx
					if !mask[i] {
						painted++
					}
					mask[i], cb[i], cr[i] = true, hcb, hcr
				}
			}
		}
		dot(hint.Points[0][0], hint.Points[0][1])
		for k := 1; k < len(hint.Points); k++ {
			a, b := hint.Points[k-1], hint.Points[k]
			steps := max(abs(b[0]-a[0]), abs(b[1]-a[1]))
			for s := 1; s <= steps; s++ {
				dot(a[0]+(b[0]-a[0])*s/steps, a[1]+(b[1]-a[1])*s/steps)
			}
		}
		if painted > maxHintPixels {
			return nil, nil, nil, fmt.Errorf("%w: the hints cover more than %d pixels", ErrInvalidOption, maxHintPixels)
		}
	}
	return mask, cb, cr, nil
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// solveChroma fills Cb and Cr everywhere from the hinted pixels: Levin,
// Lischinski and Weiss (2004) ask that every pixel's chroma be the
// weighted mean of its neighbours', weighted by luma similarity, so
// colour spreads along surfaces and stops at edges. The system is solved
// coarse to fine: a pyramid of luma and hints, an exact-enough solve at
// the top, then at each finer level the upsampled solution refined by a
// few Gauss-Seidel sweeps.
func (e *Engine) solveChroma(ctx context.Context, luma []float32, w, h int, mask []bool, cb, cr []float32) ([]float32, []float32, error) {
	// Solve at a bounded working size.
	ww, wh := w, h
	if w*h > colorizeWorkPixels {
		s := math.Sqrt(float64(colorizeWorkPixels) / float64(w*h))
		ww, wh = max(1, int(float64(w)*s)), max(1, int(float64(h)*s))
	}
	wl, wm, wcb, wcr := luma, mask, cb, cr
	if ww != w {
		wl = resizePlane(luma, w, h, ww, wh, Bicubic, e.cfg.Workers)
		wm, wcb, wcr = downsampleHints(mask, cb, cr, w, h, ww, wh)
	}
	if countHints(wm) == 0 {
		return nil, nil, fmt.Errorf("%w: no hint survives at the working resolution", ErrInvalidOption)
	}
	levels := []*chromaLevel{{w: ww, h: wh, luma: wl, mask: wm, cb: wcb, cr: wcr}}
	for l := levels[0]; l.w > 48 && l.h > 48; {
		l = l.coarser()
		levels = append(levels, l)
	}
	top := levels[len(levels)-1]
	top.initFromHints()
	top.sweep(400, e.cfg.Workers)
	for k := len(levels) - 2; k >= 0; k-- {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		levels[k].initFrom(levels[k+1])
		levels[k].sweep(24, e.cfg.Workers)
	}
	fine := levels[0]
	if ww == w {
		return fine.u, fine.v, nil
	}
	// Upsample the smooth chroma and let the full-resolution luma sharpen
	// its edges.
	u := resizePlane(fine.u, ww, wh, w, h, Bicubic, e.cfg.Workers)
	v := resizePlane(fine.v, ww, wh, w, h, Bicubic, e.cfg.Workers)
	r := max(2, w/ww*2)
	u = guidedFilter(luma, u, w, h, r, 1e-4, e.cfg.Workers)
	v = guidedFilter(luma, v, w, h, r, 1e-4, e.cfg.Workers)
	for i, m := range mask { // hinted pixels keep exactly their colour
		if m {
			u[i], v[i] = cb[i], cr[i]
		}
	}
	return u, v, nil
}

// downsampleHints maps hints to a smaller grid, averaging the hinted
// pixels that fall in each cell.
func downsampleHints(mask []bool, cb, cr []float32, w, h, ww, wh int) ([]bool, []float32, []float32) {
	n := make([]int32, ww*wh)
	scb, scr := make([]float32, ww*wh), make([]float32, ww*wh)
	for y := range h {
		yy := y * wh / h
		for x := range w {
			i := y*w + x
			if !mask[i] {
				continue
			}
			j := yy*ww + x*ww/w
			n[j]++
			scb[j] += cb[i]
			scr[j] += cr[i]
		}
	}
	m := make([]bool, ww*wh)
	for j, c := range n {
		if c > 0 {
			m[j] = true
			scb[j] /= float32(c)
			scr[j] /= float32(c)
		}
	}
	return m, scb, scr
}

// chromaLevel is one level of the colorization pyramid.
type chromaLevel struct {
	w, h   int
	luma   []float32
	mask   []bool
	cb, cr []float32 // hint chroma
	u, v   []float32 // solution
}

func (l *chromaLevel) coarser() *chromaLevel {
	w, h := (l.w+1)/2, (l.h+1)/2
	c := &chromaLevel{w: w, h: h, luma: make([]float32, w*h)}
	c.mask, c.cb, c.cr = downsampleHints(l.mask, l.cb, l.cr, l.w, l.h, w, h)
	for y := range h {
		for x := range w {
			var s float32
			n := 0
			for dy := range 2 {
				for dx := range 2 {
					if yy, xx := 2*y+dy, 2*x+dx; yy < l.h && xx < l.w {
						s += l.luma[yy*l.w+xx]
						n++
					}
				}
			}
			c.luma[y*w+x] = s / float32(n)
		}
	}
	return c
}

// initFromHints starts the coarsest level at the mean hint colour.
func (l *chromaLevel) initFromHints() {
	var su, sv float32
	n := 0
	for i, m := range l.mask {
		if m {
			su += l.cb[i]
			sv += l.cr[i]
			n++
		}
	}
	l.u, l.v = make([]float32, l.w*l.h), make([]float32, l.w*l.h)
	for i := range l.u {
		if l.mask[i] {
			l.u[i], l.v[i] = l.cb[i], l.cr[i]
		} else {
			l.u[i], l.v[i] = su/float32(n), sv/float32(n)
		}
	}
}

// initFrom starts this level from the coarser level's solution, upsampled.
func (l *chromaLevel) initFrom(c *chromaLevel) {
	l.u = resizePlane(c.u, c.w, c.h, l.w, l.h, Bicubic, 1)
	l.v = resizePlane(c.v, c.w, c.h, l.w, l.h, Bicubic, 1)
	for i, m := range l.mask {
		if m {
			l.u[i], l.v[i] = l.cb[i], l.cr[i]
		}
	}
}

// sweep runs Gauss-Seidel iterations of the Levin et al.
// system: each free pixel becomes the affinity-weighted mean of its eight
// neighbours, the affinity exp(−(Yr − Ys)² / 2σr²) with σr² the local
// luma variance (floored so flat areas still mix).
func (l *chromaLevel) sweep(iterations, workers int) {
	w, h := l.w, l.h
	wts := make([]float32, 8*w*h)
	offs := [8][2]int{{-1, -1}, {0, -1}, {1, -1}, {-1, 0}, {1, 0}, {-1, 1}, {0, 1}, {1, 1}}
	parallelRows(h, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				var mean, sq float32
				n := float32(1)
				mean, sq = l.luma[i], l.luma[i]*l.luma[i]
				for _, o := range offs {
					xx, yy := x+o[0], y+o[1]
					if xx < 0 || yy < 0 || xx >= w || yy >= h {
						continue
					}
					v := l.luma[yy*w+xx]
					mean += v
					sq += v * v
					n++
				}
				mean /= n
				variance := max(sq/n-mean*mean, 2e-5)
				var sum float32
				for k, o := range offs {
					xx, yy := x+o[0], y+o[1]
					if xx < 0 || yy < 0 || xx >= w || yy >= h {
						continue
					}
					d := l.luma[yy*w+xx] - l.luma[i]
					wt := float32(math.Exp(float64(-d * d / (2 * variance))))
					wts[8*i+k] = wt
					sum += wt
				}
				if sum > 0 {
					for k := range 8 {
						wts[8*i+k] /= sum
					}
				}
			}
		}
	})
	// Four-colour ordering: pixels with the same (x mod 2, y mod 2) are
	// never neighbours in the 8-connected stencil, so each colour can be
	// updated in parallel without reading a value being written.
	for range iterations {
		for phase := range 4 {
			px, py := phase%2, phase/2
			parallelRows((h-py+1)/2, workers, func(r0, r1 int) {
				for r := r0; r < r1; r++ {
					y := 2*r + py
					for x := px; x < w; x += 2 {
						i := y*w + x
						if l.mask[i] {
							continue
						}
						var su, sv float32
						for k, o := range offs {
							xx, yy := x+o[0], y+o[1]
							if xx < 0 || yy < 0 || xx >= w || yy >= h {
								continue
							}
							j := yy*w + xx
							su += wts[8*i+k] * l.u[j]
							sv += wts[8*i+k] * l.v[j]
						}
						l.u[i], l.v[i] = su, sv
					}
				}
			})
		}
	}
}

// ColorizesAlone reports whether Colorize needs neither hints nor a
// reference: the build carries the automatic colorization network.
func (e *Engine) ColorizesAlone() bool { return e.colorizer != nil }
