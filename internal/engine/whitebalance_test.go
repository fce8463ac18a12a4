package engine

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWhiteBalanceRemovesCastAndKeepsGray(t *testing.T) {
	t.Parallel()
	wb := WhiteBalance{MaxGain: 1.5, MinCast: 0.06}
	orig := loadTestImage(t, "kodim05.jpg")
	cast := degrade(orig, degradations[2]) // warm: R×1.12, B×0.8
	ratio := func(m *Image) float64 { return meanOf(m.Planes[0]) / meanOf(m.Planes[2]) }
	before := math.Abs(math.Log(ratio(cast) / ratio(orig)))
	params, ok := wb.Apply(cast, 2)
	require.True(t, ok)
	require.Contains(t, params, "gain_b")
	after := math.Abs(math.Log(ratio(cast) / ratio(orig)))
	require.Less(t, after, before/2, "at least half the cast is removed")

	gray := NewImage(8, 8, 1, false)
	_, ok = wb.Apply(gray, 2)
	require.False(t, ok, "grayscale has no white balance")
}
