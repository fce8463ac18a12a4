package engine

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// generalWB is the general pipeline's white balance.
func generalWB() WhiteBalance { return GeneralPipeline()[0].(WhiteBalance) }

// grayEdgeWB is the general pipeline's white balance with the gray-edge
// readings it had before the learned estimator (the portrait and
// landscape pipelines' kind), for the tests of those readings.
func grayEdgeWB() WhiteBalance {
	wb := generalWB()
	wb.Learned = nil
	wb.MinCast, wb.FullCast, wb.Tint, wb.GrayEdgeRatio, wb.MaxSpread = 0.12, 0.16, 0.5, 2.5, 1.1
	return wb
}

func TestWhiteBalanceRemovesCastAndKeepsGray(t *testing.T) {
	t.Parallel()
	wb := generalWB()
	orig := loadTestImage(t, "kodim05.jpg")
	cast := degrade(orig, degradations[2]) // warm: R×1.12, B×0.8
	ratio := func(m *Image) float64 { return meanOf(m.Planes[0]) / meanOf(m.Planes[2]) }
	before := math.Abs(math.Log(ratio(cast) / ratio(orig)))
	params, ok := wb.Apply(cast, 2)
	require.True(t, ok)
	require.Contains(t, params, "gain_b")
	after := math.Abs(math.Log(ratio(cast) / ratio(orig)))
	require.Less(t, after, before/2, "at least half the cast is removed")

	_, ok = wb.Apply(clone(orig), 2)
	require.False(t, ok, "a photo without a cast is left alone")

	gray := NewImage(8, 8, 1, false)
	_, ok = wb.Apply(gray, 2)
	require.False(t, ok, "grayscale has no white balance")
}

// An underexposed photo (a gamma, no cast) reads as warm to gray-edge;
// judged through the exposure correction it does not.
func TestWhiteBalanceJudgesAfterExposure(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim23.jpg")
	dark := degrade(orig, degradations[1]) // v^1.8 × 0.8
	wb := grayEdgeWB()
	_, ok := wb.Apply(clone(dark), 2)
	require.False(t, ok, "no cast seen through the exposure correction")
	wb.Exposure, wb.GrayEdgeRatio = nil, 0
	params, ok := wb.Apply(clone(dark), 2)
	require.True(t, ok, "with neither it nor the gray-edge reading the gamma reads as a cast")
	t.Log(params)
}

// TestWhiteBalanceNeedsBothReadings: on a photo that levels will
// brighten, the cast is judged as it is and through the tone curve, and
// only what both readings agree on is corrected. A warm cast on a dark
// photo is seen both ways and removed; a dark photo whose shadows read
// one way before the curve and the other way after it (as a Foveon
// flower's green, noisy background did, turning pink) is left alone.
func TestWhiteBalanceNeedsBothReadings(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg")
	// Warm, then darkened in the midtones as the harness's underexposure.
	dark := clone(orig)
	for c, g := range []float64{1.12, 1, 0.8} {
		for i, v := range dark.Planes[c] {
			dark.Planes[c][i] = float32(math.Pow(math.Min(1, float64(v)*g), 1.8) * 0.8)
		}
	}
	tone, ok := grayEdgeWB().Exposure.previewCurve(dark, 2)
	require.True(t, ok)
	require.Less(t, tone.gamma, 0.9, "levels will brighten it, so both readings are taken")
	params, ok := grayEdgeWB().Apply(dark, 2)
	require.True(t, ok, "a warm cast on a dark photo is corrected")
	r, err := strconv.ParseFloat(params["gain_r"], 64)
	require.NoError(t, err)
	b, err := strconv.ParseFloat(params["gain_b"], 64)
	require.NoError(t, err)
	require.Less(t, r, 1.0)
	require.Greater(t, b, 1.0)

	require.Equal(t, 0.2, agreed(0.2, 0.5))
	require.Equal(t, -0.1, agreed(-0.3, -0.1))
	require.Zero(t, agreed(0.6, -0.05), "opposite readings: no correction")
	require.Zero(t, agreed(0, 0.4))
}

// TestWhiteBalanceIgnoresASaturatedScene: a photo half covered by a
// textured red surface reads as a warm cast to gray-edge, whose edges are
// mostly red; read from the gray edges alone it has none, so with
// GrayEdgeRatio it is left alone.
func TestWhiteBalanceIgnoresASaturatedScene(t *testing.T) {
	t.Parallel()
	img := loadTestImage(t, "kodim05.jpg")
	w := img.Width
	for i := range img.Planes[0] {
		x, y := i%w, i/w
		if x < w/2 {
			stripe := float32((x/4+y/4)%2) * 0.4
			img.Planes[0][i], img.Planes[1][i], img.Planes[2][i] = 0.5+stripe, 0.1+stripe/8, 0.1+stripe/8
		}
	}
	wb := grayEdgeWB()
	wb.Exposure = nil
	_, ok := wb.Apply(clone(img), 2)
	require.False(t, ok, "the gray edges see no cast")
	wb.GrayEdgeRatio = 0
	params, ok := wb.Apply(clone(img), 2)
	require.True(t, ok, "all edges read the red surface as a warm cast")
	t.Log(params)
}

// A green–magenta cast is corrected by Tint's share, a warm–cool one fully.
func TestWhiteBalanceTrustsTintLess(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg")
	cast := func(logR, logB float64) *Image {
		m := clone(orig)
		for c, g := range []float64{math.Exp(logR), 1, math.Exp(logB)} {
			for i, v := range m.Planes[c] {
				m.Planes[c][i] = clamp01(v * float32(g))
			}
		}
		return m
	}
	// Log gain of blue over red after correction, relative to the original.
	residual := func(m *Image, wb WhiteBalance) [2]float64 {
		_, ok := wb.Apply(m, 2)
		require.True(t, ok)
		return [2]float64{
			math.Log(meanOf(m.Planes[0]) / meanOf(m.Planes[1]) / (meanOf(orig.Planes[0]) / meanOf(orig.Planes[1]))),
			math.Log(meanOf(m.Planes[2]) / meanOf(m.Planes[1]) / (meanOf(orig.Planes[2]) / meanOf(orig.Planes[1]))),
		}
	}
	wb := grayEdgeWB()
	wb.MinCast, wb.FullCast = 0, 1e-9 // no ramp: the whole weighted cast
	// Across the locus: (1.65, 1) is perpendicular to (1, −1.65).
	across := [2]float64{0.3 * 1.65 / math.Hypot(1, 1.65), 0.3 / math.Hypot(1, 1.65)}
	half := residual(cast(across[0], across[1]), wb)
	wb.Tint = 1
	full := residual(cast(across[0], across[1]), wb)
	t.Log(half, full)
	require.Less(t, math.Hypot(full[0], full[1]), 0.1, "Tint 1 removes most of it")
	require.InDelta(t, 0.15, math.Hypot(half[0], half[1]), 0.07, "Tint 0.5 about half of 0.3")
}

// A cast is a gain per channel: it moves every chromaticity alike and
// leaves their spread, which MaxSpread reads, as it was (but for the
// pixels the gain takes into or out of the clipped and near-black ones
// that are left out). A contrast loss pulls every colour towards gray;
// read through the curve levels will apply, the spread comes back.
func TestChromaSpreadIgnoresACast(t *testing.T) {
	t.Parallel()
	img := loadTestImage(t, "kodim23.jpg")
	identity := newLUT(toneCurve{white: 1, gamma: 1}.at)
	spread := func(m *Image) float64 { return chromaSpread(m, identity) }
	before := spread(img)

	flat := degrade(img, degradations[0]) // 0.25 + 0.5v
	require.Less(t, spread(flat), 0.7*before, "as it is, the flat photo looks gray")
	tone, ok := GeneralPipeline()[2].(Levels).previewCurve(flat, 2)
	require.True(t, ok)
	require.InDelta(t, before, chromaSpread(flat, newLUT(tone.at)), 0.1*before, "through levels' curve")
	cast := clone(img)
	for c, g := range []float32{0.9, 1, 1.1} {
		for i, v := range cast.Planes[c] {
			cast.Planes[c][i] = v * g
		}
	}
	require.InDelta(t, before, spread(cast), 0.06*before)
	require.Greater(t, before, 0.3, "kodim23's parrots are colourful")
}
