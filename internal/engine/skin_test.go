package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSkinMaskAndSmoothing(t *testing.T) {
	t.Parallel()
	const w, h = 64, 32
	img := NewImage(w, h, 3, false)
	noise := randomPlane(w, h, 3)
	for y := range h {
		for x := range w {
			i := y*w + x
			n := 0.06 * (noise[i] - 0.5)
			if x < w/2 { // skin tone with blotches
				img.Planes[0][i], img.Planes[1][i], img.Planes[2][i] = 0.86+n, 0.64+n, 0.52+n
			} else { // blue fabric with texture
				img.Planes[0][i], img.Planes[1][i], img.Planes[2][i] = 0.2+n, 0.3+n, 0.7+n
			}
		}
	}
	mask := skinMask(img, 1)
	require.Greater(t, mask[16*w+8], float32(0.9))
	require.Less(t, mask[16*w+56], float32(0.1))

	before := clone(img)
	_, ok := SkinSmooth{Amount: 1}.Apply(img, 1)
	require.True(t, ok)
	varOf := func(m *Image, x0, x1 int) float64 {
		var s, s2 float64
		n := 0
		for y := 4; y < h-4; y++ {
			for x := x0; x < x1; x++ {
				v := float64(m.Planes[1][y*w+x])
				s += v
				s2 += v * v
				n++
			}
		}
		return s2/float64(n) - (s/float64(n))*(s/float64(n))
	}
	require.Less(t, varOf(img, 4, 24), varOf(before, 4, 24)/2, "skin is smoothed")
	require.InDelta(t, varOf(before, 40, 60), varOf(img, 40, 60), varOf(before, 40, 60)*0.05, "fabric keeps its texture")
}
