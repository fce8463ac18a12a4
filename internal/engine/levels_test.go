package engine

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLevelsStretchesWashedOutImage(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg")
	img := degrade(orig, degradations[0]) // low contrast: 0.25 + 0.5v
	params, ok := Levels{ClipFraction: 0.001, MaxGain: 3, MedianLow: 0.3, MedianHigh: 0.7}.Apply(img, 2)
	require.True(t, ok)
	require.Contains(t, params, "black")
	lo, hi := float32(1), float32(0)
	for _, v := range img.Planes[1] {
		lo, hi = min(lo, v), max(hi, v)
	}
	require.Less(t, lo, float32(0.01))
	require.Greater(t, hi, float32(0.99))
}

func TestLevelsLeavesFlatAndGoodImagesAlone(t *testing.T) {
	t.Parallel()
	l := Levels{ClipFraction: 0.001, MaxGain: 3, MedianLow: 0.3, MedianHigh: 0.7}
	flat := NewImage(64, 64, 3, false)
	for _, p := range flat.Planes {
		for i := range p {
			p[i] = 0.5
		}
	}
	_, ok := l.Apply(flat, 2)
	require.False(t, ok, "a flat image has nothing to stretch")

	full := NewImage(256, 64, 1, false)
	for i := range full.Planes[0] {
		full.Planes[0][i] = float32(i%256) / 255
	}
	_, ok = l.Apply(full, 2)
	require.False(t, ok, "an image using the whole range with a mid median is left alone")
}

func TestLevelsKeepsBrightScenesAndDarkensOnlyNearWhite(t *testing.T) {
	t.Parallel()
	// A full-range gradient whose median sits at about m.
	bright := func(m float64) *Image {
		img := NewImage(256, 64, 1, false)
		for i := range img.Planes[0] {
			x := float64(i%256) / 255
			img.Planes[0][i] = float32(math.Pow(x, math.Log(m)/math.Log(0.5)))
		}
		return img
	}
	l := Levels{ClipFraction: 0.001, MaxGain: 3, MedianLow: 0.22, MedianHigh: 0.75, BrightScene: 0.95}
	_, ok := l.Apply(bright(0.85), 2)
	require.False(t, ok, "a median of 0.85 is a bright scene, not a mistake")
	gamma := func(params map[string]string) float64 {
		g, err := strconv.ParseFloat(params["gamma"], 64)
		require.NoError(t, err)
		return g
	}
	params, ok := l.Apply(bright(0.97), 2)
	require.True(t, ok, "a nearly white photo is darkened")
	require.Greater(t, gamma(params), 1.0)

	l.BrightScene = 0 // without the rule, the band alone decides
	params, ok = l.Apply(bright(0.85), 2)
	require.True(t, ok)
	require.Greater(t, gamma(params), 1.0)
}

// The preview reads a sample of rows and must see what the full read sees
// on a photo whose rows vary smoothly.
func TestLevelsPreviewMatchesFullCurve(t *testing.T) {
	t.Parallel()
	img := NewImage(1000, 3000, 3, false) // 3 MP: the preview reads every second row
	for c, p := range img.Planes {
		for i := range p {
			y := i / img.Width
			p[i] = 0.1 + 0.5*float32(y)/float32(img.Height) + 0.05*float32(c)
		}
	}
	l := GeneralPipeline()[2].(Levels)
	full, ok := l.curve(img, 2)
	require.True(t, ok)
	preview, ok := l.previewCurve(img, 2)
	require.True(t, ok)
	require.InDelta(t, full.black, preview.black, 2.0/histBins)
	require.InDelta(t, full.white, preview.white, 2.0/histBins)
	require.InDelta(t, full.gamma, preview.gamma, 0.01)
	require.Equal(t, img.Width*img.Height/2, histograms(img, 2, 2).total)
}
