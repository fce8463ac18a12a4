package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResizeKeepsFlatImagesFlatAndSizes(t *testing.T) {
	t.Parallel()
	flat := NewImage(40, 30, 3, false)
	for _, p := range flat.Planes {
		for i := range p {
			p[i] = 0.37
		}
	}
	for _, k := range []Kernel{Bicubic, Lanczos3} {
		for _, size := range [][2]int{{80, 60}, {13, 7}, {40, 90}, {1, 1}} {
			out := Resize(flat, size[0], size[1], k, 2)
			require.Equal(t, size[0], out.Width)
			require.Equal(t, size[1], out.Height)
			for _, p := range out.Planes {
				for _, v := range p {
					require.InDelta(t, 0.37, v, 1e-5, "%s to %v", k.Name, size)
				}
			}
		}
	}
}

func TestDownscaleAntialiases(t *testing.T) {
	t.Parallel()
	// A one-pixel checkerboard shrunk by 4 must come out gray, not aliased.
	img := NewImage(64, 64, 1, false)
	for y := range 64 {
		for x := range 64 {
			img.Planes[0][y*64+x] = float32((x + y) % 2)
		}
	}
	out := Resize(img, 16, 16, Bicubic, 2)
	for _, v := range out.Planes[0][16*4+4 : 16*4+12] {
		require.InDelta(t, 0.5, v, 0.02)
	}
}

// TestBackProjectionFilterMatchesTheIteration checks the folded filter
// against back-projection run the long way on a random 1-D signal, away
// from the edges (where the two fold taps differently).
func TestBackProjectionFilterMatchesTheIteration(t *testing.T) {
	t.Parallel()
	const n = 200
	rng := rand.New(rand.NewPCG(1, 2))
	lr := make([]float64, n)
	for i := range lr {
		lr[i] = rng.Float64()
	}
	for _, factor := range []int{2, 3, 4} {
		m := n * factor
		est := apply1D(makeWeights(n, m, Lanczos3), lr)
		for range backProjectIterations {
			residual := apply1D(makeWeights(m, n, Bicubic), est)
			for i := range residual {
				residual[i] = lr[i] - residual[i]
			}
			for i, v := range apply1D(makeWeights(n, m, Bicubic), residual) {
				est[i] += v
			}
		}
		got := apply1D(backProjectionWeights(n, factor), lr)
		for i := 20 * factor; i < m-20*factor; i++ {
			require.InDelta(t, est[i], got[i], 0.01, "factor %d, sample %d", factor, i)
		}
		lo, taps := bpTaps[factor]()
		for p, phase := range taps {
			var sum float64
			for _, v := range phase {
				sum += v
			}
			require.InDelta(t, 1, sum, 1e-9, "phase %d sums to one", p)
		}
		require.Less(t, lo, 0)
	}
}
