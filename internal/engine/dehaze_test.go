package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDehaze(t *testing.T) {
	t.Parallel()
	d := Dehaze{Omega: 0.95, MinTransmission: 0.2, MinHaze: 1.5, Tolerance: 0.12}
	orig := loadTestImage(t, "kodim05.jpg")
	_, ok := d.Apply(clone(orig), 2)
	require.False(t, ok, "a clear photo is left alone")

	hazy := degrade(orig, degradation{"haze", func(_ int, v float32) float32 { return 0.55*v + 0.45*0.9 }})
	before := psnr(orig, hazy)
	params, ok := d.Apply(hazy, 2)
	require.True(t, ok)
	require.Contains(t, params, "airlight")
	require.Greater(t, psnr(orig, hazy), before+3, "haze is removed")

	_, ok = d.Apply(NewImage(16, 16, 1, false), 2)
	require.False(t, ok, "grayscale has no dark channel")
}
