package engine

// boxMean returns the mean of plane over the (2r+1)² window around each
// pixel, the window cut at the borders (so edges are not darkened). Two
// running-sum passes make it O(1) per pixel whatever r is.
func boxMean(plane []float32, w, h, r, workers int) []float32 {
	tmp := make([]float32, w*h)
	parallelRows(h, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			src := plane[y*w : (y+1)*w]
			dst := tmp[y*w : (y+1)*w]
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
	})
	out := make([]float32, w*h)
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
			dst := out[y*w+x0 : y*w+x1]
			for i, v := range sum {
				dst[i] = v * inv
			}
		}
	})
	return out
}

// guidedFilter smooths p while keeping the edges of guide (He, Sun and
// Tang 2010): a local linear model q = a·guide + b fitted in every
// window, eps setting how strong an edge must be to survive. Six box
// filters, so O(1) per pixel.
func guidedFilter(guide, p []float32, w, h, r int, eps float32, workers int) []float32 {
	n := w * h
	ip := make([]float32, n)
	ii := make([]float32, n)
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			ip[i] = guide[i] * p[i]
			ii[i] = guide[i] * guide[i]
		}
	})
	meanI := boxMean(guide, w, h, r, workers)
	meanP := boxMean(p, w, h, r, workers)
	corrIP := boxMean(ip, w, h, r, workers)
	corrII := boxMean(ii, w, h, r, workers)
	a, b := ip, ii // reuse
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			varI := corrII[i] - meanI[i]*meanI[i]
			cov := corrIP[i] - meanI[i]*meanP[i]
			a[i] = cov / (varI + eps)
			b[i] = meanP[i] - a[i]*meanI[i]
		}
	})
	meanA := boxMean(a, w, h, r, workers)
	meanB := boxMean(b, w, h, r, workers)
	parallelRows(h, workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			meanA[i] = meanA[i]*guide[i] + meanB[i]
		}
	})
	return meanA
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
