package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSharpenSteepensEdgesOnlyThroughLuma(t *testing.T) {
	t.Parallel()
	img := NewImage(32, 8, 3, false)
	for y := range 8 {
		for x := range 32 {
			v := float32(0.3)
			if x >= 16 {
				v = 0.7
			}
			img.Planes[0][y*32+x], img.Planes[1][y*32+x], img.Planes[2][y*32+x] = v, v*0.9, v*0.8
		}
	}
	before := img.Planes[1][4*32+16] - img.Planes[1][4*32+15]
	_, ok := Sharpen{Sigma: 1, Amount: 0.5, Threshold: 0.008, MaxDelta: 0.08}.Apply(img, 2)
	require.True(t, ok)
	after := img.Planes[1][4*32+16] - img.Planes[1][4*32+15]
	require.Greater(t, after, before, "the edge is steeper")
	require.InDelta(t, 0.3, img.Planes[0][4*32+2], 1e-6, "flat areas are untouched")
	// The same delta goes to every channel, so chroma differences stay.
	i := 4*32 + 16
	require.InDelta(t, 0.7-0.63, img.Planes[0][i]-img.Planes[1][i], 1e-5)
}
