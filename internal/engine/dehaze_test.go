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

// Haze lines: each scene colour seen through several haze densities gives
// back each density relative to the clearest.
func TestHazeLinesRecoverTransmission(t *testing.T) {
	t.Parallel()
	atmo := [3]float32{0.9, 0.9, 0.9}
	colours := [][3]float32{{0.2, 0.4, 0.1}, {0.6, 0.1, 0.1}, {0.1, 0.2, 0.5}, {0.3, 0.3, 0.3}}
	trans := []float32{1, 0.8, 0.5, 0.3}
	img := NewImage(len(colours), len(trans), 3, false)
	for y, tr := range trans {
		for x, j := range colours {
			for c := range 3 {
				img.Planes[c][y*img.Width+x] = j[c]*tr + atmo[c]*(1-tr)
			}
		}
	}
	got := hazeLines(img, atmo, 2)
	for y, tr := range trans {
		for x := range colours {
			require.InDelta(t, tr, got[y*img.Width+x], 1e-4, "row %d colour %d", y, x)
		}
	}
}

// The airlight is found even when nothing in view is as bright as the haze.
func TestAirlightIsNotDarkerThanTheScene(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg") // a motorbike race: no sky
	hazy := degrade(orig, degradation{"haze", func(_ int, v float32) float32 { return 0.5*v + 0.5*0.92 }})
	dark := darkChannel(hazy.Planes, hazy.Width, hazy.Height, 15, 2)
	a := atmosphere(hazy, dark)
	for c := range a {
		require.InDelta(t, 0.92, a[c], 0.04, "channel %d", c)
	}
}

func BenchmarkDehaze(b *testing.B) {
	hazy := degrade(loadTestImage(b, "kodim05.jpg"), degradation{"haze", func(_ int, v float32) float32 { return 0.5*v + 0.5*0.92 }})
	d := LandscapePipeline()[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := d.Apply(clone(hazy), 2); !ok {
			b.Fatal("not dehazed")
		}
	}
}
