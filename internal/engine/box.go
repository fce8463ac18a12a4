package engine

// boxMean returns the mean of plane over the (2r+1)² window around each
// pixel, the window cut at the borders (so edges are not darkened). Two
// running-sum passes make it O(1) per pixel whatever r is.
func boxMean(plane []float32, w, h, r, workers int) []float32 {
	out := make([]float32, w*h)
	boxMeanTo(out, plane, nil, make([]float32, w*h), w, h, r, workers)
	return out
}

// boxMeanTo writes to dst the box mean of src, or of src·by element by
// element when by is not nil (the product rounded to float32 as a stored
// plane of it would be), using tmp (w·h) for the horizontal pass. dst may
// be src or by: the horizontal pass reads them all before the vertical
// pass writes dst. The arithmetic is boxMean's whatever the split into
// bands, so the result is the same to the bit.
func boxMeanTo(dst, src, by, tmp []float32, w, h, r, workers int) {
	parallelRows(h, workers, func(y0, y1 int) {
		var prod []float32
		if by != nil {
			prod = make([]float32, w)
		}
		for y := y0; y < y1; y++ {
			row := src[y*w : (y+1)*w]
			if by != nil {
				for x, v := range by[y*w : (y+1)*w] {
					prod[x] = row[x] * v
				}
				row = prod
			}
			boxRow(row, tmp[y*w:(y+1)*w], w, r)
		}
	})
	// Vertical pass in column bands, each with its own running row sum.
	parallelRows(w, workers, func(x0, x1 int) {
		sum := make([]float32, x1-x0)
		for y := 0; y < min(r, h); y++ {
			row := tmp[y*w+x0 : y*w+x1]
			for i, v := range row {
				sum[i] += v
			}
		}
		for y := range h {
			if y+r < h {
				row := tmp[(y+r)*w+x0 : (y+r)*w+x1]
				for i, v := range row {
					sum[i] += v
				}
			}
			if y-r-1 >= 0 {
				row := tmp[(y-r-1)*w+x0 : (y-r-1)*w+x1]
				for i, v := range row {
					sum[i] -= v
				}
			}
			inv := 1 / float32(min(y+r, h-1)-max(y-r, 0)+1)
			out := dst[y*w+x0 : y*w+x1]
			for i, v := range sum {
				out[i] = v * inv
			}
		}
	})
}

// boxRow writes to dst the mean of src over [x-r, x+r], cut at the ends.
func boxRow(src, dst []float32, w, r int) {
	var sum float32
	for x := 0; x < min(r, w); x++ {
		sum += src[x]
	}
	for x := range w {
		if x+r < w {
			sum += src[x+r]
		}
		if x-r-1 >= 0 {
			sum -= src[x-r-1]
		}
		n := min(x+r, w-1) - max(x-r, 0) + 1
		dst[x] = sum / float32(n)
	}
}

// guidedFilter smooths p while keeping the edges of guide (He, Sun and
// Tang 2010): a local linear model q = a·guide + b fitted in every
// window, eps setting how strong an edge must be to survive. Six box
// filters, so O(1) per pixel. It returns a new plane and leaves guide and
// p as they were; guided.filter is the same filter in place, for callers
// that can give up p and filter more than once.
func guidedFilter(guide, p []float32, w, h, r int, eps float32, workers int) []float32 {
	q := append([]float32(nil), p...)
	if samePlane(guide, p) {
		guide = q
	}
	newGuided(w, h, !samePlane(guide, q)).filter(guide, q, w, h, r, eps, workers)
	return q
}

// samePlane reports whether a and b are one slice.
func samePlane(a, b []float32) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// guided is the working memory of guided filters on one guide: its box
// mean and mean square, kept from one filter to the next while the guide
// (the same slice, unchanged) and radius stay, a plane for the product
// of guide and input, and one for the box filters' horizontal pass. It
// holds four planes (three for a self-guided filter, whose input is its
// guide), where the filter written plane by plane held seven at once and
// allocated fourteen.
type guided struct {
	meanI, corrII, corrIP, tmp []float32
	// guide and r are what meanI and corrII were computed for.
	guide []float32
	r     int
}

// newGuided allocates the planes for filters of w×h; product: filters
// whose input is not their guide, which need the guide·input plane.
func newGuided(w, h int, product bool) *guided {
	n := w * h
	g := &guided{meanI: make([]float32, n), corrII: make([]float32, n), tmp: make([]float32, n)}
	if product {
		g.corrIP = make([]float32, n)
	}
	return g
}

// filter smooths p in place, guided by guide (which may be p itself: a
// self-guided filter, which then becomes its result), with guidedFilter's
// arithmetic to the bit. A guide other than p must not change between
// two filters with the same radius, whose statistics are kept.
func (g *guided) filter(guide, p []float32, w, h, r int, eps float32, workers int) {
	self := samePlane(guide, p)
	if self || !samePlane(g.guide, guide) || g.r != r {
		boxMeanTo(g.meanI, guide, nil, g.tmp, w, h, r, workers)
		boxMeanTo(g.corrII, guide, guide, g.tmp, w, h, r, workers)
		g.guide, g.r = guide, r
	}
	meanI, corrII := g.meanI, g.corrII
	// a, b and their means: a self-guided filter's mean and correlation
	// of p are the guide's, so a and b take the guide's statistics' planes
	// (which are then spent); otherwise a takes guide·p's box mean and b
	// p's, computed in place once the product is taken.
	meanP, corrIP, a, b := meanI, corrII, corrII, meanI
	if self {
		g.guide = nil
	} else {
		boxMeanTo(g.corrIP, guide, p, g.tmp, w, h, r, workers)
		boxMeanTo(p, p, nil, g.tmp, w, h, r, workers)
		meanP, corrIP, a, b = p, g.corrIP, g.corrIP, p
	}
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			varI := corrII[i] - meanI[i]*meanI[i]
			cov := corrIP[i] - meanI[i]*meanP[i]
			ai := cov / (varI + eps)
			a[i] = ai
			b[i] = meanP[i] - ai*meanI[i]
		}
	})
	boxMeanTo(a, a, nil, g.tmp, w, h, r, workers)
	boxMeanTo(b, b, nil, g.tmp, w, h, r, workers)
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			p[i] = a[i]*guide[i] + b[i]
		}
	})
}

// minFilter returns the minimum of plane over the (2r+1)² window around
// each pixel, separably, with a monotonic queue: O(1) per pixel.
func minFilter(plane []float32, w, h, r, workers int) []float32 {
	tmp := make([]float32, w*h)
	parallelRows(h, workers, func(y0, y1 int) {
		q := make([]int, 0, 2*r+2)
		for y := y0; y < y1; y++ {
			slidingMin(plane[y*w:(y+1)*w], tmp[y*w:(y+1)*w], w, r, q)
		}
	})
	out := make([]float32, w*h)
	parallelRows(w, workers, func(x0, x1 int) {
		col := make([]float32, h)
		res := make([]float32, h)
		q := make([]int, 0, 2*r+2)
		for x := x0; x < x1; x++ {
			for y := range h {
				col[y] = tmp[y*w+x]
			}
			slidingMin(col, res, h, r, q)
			for y := range h {
				out[y*w+x] = res[y]
			}
		}
	})
	return out
}

// slidingMin writes to dst[i] the minimum of src over [i-r, i+r].
func slidingMin(src, dst []float32, n, r int, q []int) {
	q = q[:0]
	next := 0
	for i := range n {
		for ; next <= min(i+r, n-1); next++ {
			for len(q) > 0 && src[q[len(q)-1]] >= src[next] {
				q = q[:len(q)-1]
			}
			q = append(q, next)
		}
		for q[0] < i-r {
			q = q[1:]
		}
		dst[i] = src[q[0]]
	}
}
