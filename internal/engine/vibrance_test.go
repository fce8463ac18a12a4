package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVibranceFavoursMutedColours(t *testing.T) {
	t.Parallel()
	img := NewImage(3, 1, 3, false)
	set := func(i int, r, g, b float32) { img.Planes[0][i], img.Planes[1][i], img.Planes[2][i] = r, g, b }
	set(0, 0.55, 0.5, 0.45) // muted
	set(1, 0.9, 0.2, 0.1)   // vivid
	set(2, 0.5, 0.5, 0.5)   // gray
	sat := func(i int) float32 {
		mx := max(img.Planes[0][i], img.Planes[1][i], img.Planes[2][i])
		mn := min(img.Planes[0][i], img.Planes[1][i], img.Planes[2][i])
		return (mx - mn) / mx
	}
	s0, s1 := sat(0), sat(1)
	_, ok := Vibrance{Amount: 0.5}.Apply(img, 1)
	require.True(t, ok)
	require.Greater(t, sat(0)/s0, sat(1)/s1, "muted colours gain relatively more")
	require.Greater(t, sat(0), s0)
	require.InDelta(t, 0.5, img.Planes[1][2], 1e-6, "gray stays gray")
	for _, p := range img.Planes {
		for _, v := range p {
			require.LessOrEqual(t, v, float32(1))
			require.GreaterOrEqual(t, v, float32(0))
		}
	}
}
