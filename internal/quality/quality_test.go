package quality

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/engine"
)

// Sharma, Wu and Dalal's published test pairs for CIEDE2000.
func TestDeltaE2000MatchesPublishedData(t *testing.T) {
	t.Parallel()
	for _, tt := range [][7]float64{
		{50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425},
		{50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615},
		{50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000},
		{50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669},
		{50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792},
		{60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644},
		{22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373},
		{90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441},
	} {
		require.InDelta(t, tt[6], DeltaE2000(tt[0], tt[1], tt[2], tt[3], tt[4], tt[5]), 1e-4)
	}
	l, a, b := Lab(1, 1, 1)
	require.InDelta(t, 100, l, 1e-3)
	require.InDelta(t, 0, a, 1e-3)
	require.InDelta(t, 0, b, 1e-3)
}

func TestPSNRAndSSIM(t *testing.T) {
	t.Parallel()
	a := engine.NewImage(64, 64, 3, false)
	for c := range a.Planes {
		for i := range a.Planes[c] {
			a.Planes[c][i] = float32((i*7+c*13)%256) / 255
		}
	}
	p, err := PSNRY(a, a, 2)
	require.NoError(t, err)
	require.True(t, math.IsInf(p, 1))
	s, err := SSIMY(a, a, 2)
	require.NoError(t, err)
	require.InDelta(t, 1, s, 1e-9)

	b := engine.NewImage(64, 64, 3, false)
	for c := range b.Planes {
		for i := range b.Planes[c] {
			b.Planes[c][i] = a.Planes[c][i] + 0.01
		}
	}
	p, err = PSNR(a, b)
	require.NoError(t, err)
	require.InDelta(t, 40, p, 0.01)
	s, err = SSIMY(a, b, 0)
	require.NoError(t, err)
	require.Less(t, s, 1.0)
	require.Greater(t, s, 0.9)

	_, err = PSNR(a, engine.NewImage(2, 2, 3, false))
	require.Error(t, err)
}
