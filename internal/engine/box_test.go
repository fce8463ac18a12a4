package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func randomPlane(w, h int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	p := make([]float32, w*h)
	for i := range p {
		p[i] = r.Float32()
	}
	return p
}

func TestBoxMeanAndMinFilterMatchNaive(t *testing.T) {
	t.Parallel()
	const w, h = 37, 23
	p := randomPlane(w, h, 1)
	for _, r := range []int{1, 3, 8, 30} {
		box := boxMean(p, w, h, r, 2)
		mn := minFilter(p, w, h, r, 2)
		for y := range h {
			for x := range w {
				var sum float64
				n := 0
				lo := float32(2)
				for yy := max(0, y-r); yy <= min(h-1, y+r); yy++ {
					for xx := max(0, x-r); xx <= min(w-1, x+r); xx++ {
						sum += float64(p[yy*w+xx])
						n++
						lo = min(lo, p[yy*w+xx])
					}
				}
				require.InDelta(t, sum/float64(n), box[y*w+x], 1e-4, "box r=%d at %d,%d", r, x, y)
				require.Equal(t, lo, mn[y*w+x], "min r=%d at %d,%d", r, x, y)
			}
		}
	}
}

func TestGuidedFilterSmoothsNoiseButKeepsEdges(t *testing.T) {
	t.Parallel()
	const w, h = 64, 64
	noise := randomPlane(w, h, 2)
	p := make([]float32, w*h)
	for y := range h {
		for x := range w {
			v := float32(0.2)
			if x >= 32 {
				v = 0.8
			}
			p[y*w+x] = v + 0.05*(noise[y*w+x]-0.5)
		}
	}
	q := guidedFilter(p, p, w, h, 3, 0.01, 2)
	// Flat areas lose most of their noise...
	var before, after float64
	for y := 8; y < 56; y++ {
		for x := 4; x < 26; x++ {
			before += float64((p[y*w+x] - 0.2) * (p[y*w+x] - 0.2))
			after += float64((q[y*w+x] - 0.2) * (q[y*w+x] - 0.2))
		}
	}
	require.Less(t, after, before/4)
	// ...while the step stays a step.
	require.Less(t, q[32*w+30], float32(0.3))
	require.Greater(t, q[32*w+33], float32(0.7))
}

// guidedFilterPlaneByPlane is the guided filter as it was first written,
// a plane for every intermediate (fourteen allocated, seven held at
// once): the reference the working-memory version must match to the bit.
func guidedFilterPlaneByPlane(guide, p []float32, w, h, r int, eps float32, workers int) []float32 {
	n := w * h
	ip := make([]float32, n)
	ii := make([]float32, n)
	for i := range n {
		ip[i] = guide[i] * p[i]
		ii[i] = guide[i] * guide[i]
	}
	meanI := boxMean(guide, w, h, r, workers)
	meanP := boxMean(p, w, h, r, workers)
	corrIP := boxMean(ip, w, h, r, workers)
	corrII := boxMean(ii, w, h, r, workers)
	a, b := ip, ii
	for i := range n {
		varI := corrII[i] - meanI[i]*meanI[i]
		cov := corrIP[i] - meanI[i]*meanP[i]
		a[i] = cov / (varI + eps)
		b[i] = meanP[i] - a[i]*meanI[i]
	}
	meanA := boxMean(a, w, h, r, workers)
	meanB := boxMean(b, w, h, r, workers)
	for i := range n {
		meanA[i] = meanA[i]*guide[i] + meanB[i]
	}
	return meanA
}

// TestGuidedFilterInPlaceIsTheSame: the in-place guided filter, and a
// guide's statistics kept from one filter to the next, give the plane by
// plane filter's result to the bit, self-guided or not, and leave the
// inputs of the copying form alone.
func TestGuidedFilterInPlaceIsTheSame(t *testing.T) {
	t.Parallel()
	const w, h = 67, 41
	guide, p, q := randomPlane(w, h, 3), randomPlane(w, h, 4), randomPlane(w, h, 5)
	keep := append([]float32(nil), guide...)
	for _, r := range []int{1, 4, 30} {
		require.Equal(t, guidedFilterPlaneByPlane(guide, guide, w, h, r, 0.01, 2), guidedFilter(guide, guide, w, h, r, 0.01, 2), "self-guided r=%d", r)
		require.Equal(t, guidedFilterPlaneByPlane(guide, p, w, h, r, 0.001, 3), guidedFilter(guide, p, w, h, r, 0.001, 3), "guided r=%d", r)
		require.Equal(t, keep, guide)
		g := newGuided(w, h, true)
		for _, in := range [][]float32{p, q} {
			want := guidedFilterPlaneByPlane(guide, in, w, h, r, 0.002, 2)
			got := append([]float32(nil), in...)
			g.filter(guide, got, w, h, r, 0.002, 2)
			require.Equal(t, want, got, "kept statistics r=%d", r)
		}
	}
}
