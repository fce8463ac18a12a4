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
