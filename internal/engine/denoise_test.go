package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func addNoise(m *Image, sigma float64, seed uint64) *Image {
	out := clone(m)
	r := rand.New(rand.NewPCG(seed, 7))
	for _, p := range out.Planes {
		for i := range p {
			p[i] = clamp01(p[i] + float32(r.NormFloat64()*sigma/255))
		}
	}
	return out
}

func TestEstimateNoise(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim23.jpg")
	require.Less(t, EstimateNoise(orig.Luma(2), orig.Width, orig.Height), 1.5, "a clean photo")
	for _, sigma := range []float64{5, 10, 20} {
		noisy := addNoise(orig, sigma, 1)
		got := EstimateNoise(noisy.Luma(2), noisy.Width, noisy.Height)
		want := sigma * 0.749 // luma noise of independent RGB noise
		require.InDelta(t, want, got, want*0.2, "sigma %g", sigma)
	}
}

func TestDenoiseImprovesNoisyAndSkipsClean(t *testing.T) {
	t.Parallel()
	d := Denoise{MinSigma: 3.5, Radius: 1, ChromaRadius: 4}
	orig := loadTestImage(t, "kodim23.jpg")
	_, ok := d.Apply(clone(orig), 2)
	require.False(t, ok, "nothing to do on a clean photo")
	for _, sigma := range []float64{10, 20} {
		noisy := addNoise(orig, sigma, 2)
		before := psnr(orig, noisy)
		params, ok := d.Apply(noisy, 2)
		require.True(t, ok)
		after := psnr(orig, noisy)
		t.Logf("sigma %g: PSNR %.2f -> %.2f dB (%v)", sigma, before, after, params)
		require.Greater(t, after, before+sigma/4, "at least 2.5 dB at sigma 10, 5 dB at 20")
	}
}
