package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLocalContrastLiftsFlatPhotosMoreThanGoodOnes(t *testing.T) {
	t.Parallel()
	lc := LocalContrast{Tiles: 8, ClipLimit: 2, Amount: 0.4, TargetStd: 0.2}
	orig := loadTestImage(t, "kodim05.jpg")
	flat := degrade(orig, degradation{"flat", func(_ int, v float32) float32 { return 0.35 + 0.3*v }})
	stdev := func(m *Image) float64 {
		y := m.Luma(2)
		mean := meanOf(y)
		var s float64
		for _, v := range y {
			s += (float64(v) - mean) * (float64(v) - mean)
		}
		return s / float64(len(y))
	}
	before := stdev(flat)
	_, ok := lc.Apply(flat, 2)
	require.True(t, ok)
	require.Greater(t, stdev(flat), before*1.3, "a flat photo gains contrast")

	good := clone(orig)
	params, ok := lc.Apply(good, 2)
	if ok {
		require.Greater(t, psnr(orig, good), 32.0, "a photo with contrast changes little (%v)", params)
	}
}
