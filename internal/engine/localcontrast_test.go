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

func TestLocalContrastActsAsFarAsLevelsFoundContrastLacking(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg")
	flat := degrade(orig, degradation{"flat", func(_ int, v float32) float32 { return 0.35 + 0.3*v }})

	// Levels reports the stretch it applied: a squeezed range needs one,
	// a photo that already spans the range none.
	found := -1.0
	levels := Levels{ClipFraction: 0.00001, MaxGain: 3, MedianLow: 0.22, MedianHigh: 0.75, BrightScene: 0.95, Found: &found}
	levels.Apply(clone(flat), 2)
	require.Greater(t, found, 1.0, "the flat photo was stretched")
	levels.Apply(clone(orig), 2)
	require.InDelta(t, 0, found, 0.05, "the photo as taken needed no stretch")

	// CLAHE on a low-contrast photo whose range levels left alone does
	// nothing; it acts in proportion to the stretch, in full from
	// FullStretch.
	lc := LocalContrast{Tiles: 8, ClipLimit: 2, Amount: 0.4, TargetStd: 0.2, Found: &found, FullStretch: 0.5}
	found = 0
	_, ok := lc.Apply(clone(flat), 2)
	require.False(t, ok, "a low contrast levels found meant is kept")
	found = 0.25
	half, ok := lc.Apply(clone(flat), 2)
	require.True(t, ok)
	found = 2
	full, ok := lc.Apply(clone(flat), 2)
	require.True(t, ok)
	require.Equal(t, "0.200", half["amount"])
	require.Equal(t, "0.400", full["amount"])
}
