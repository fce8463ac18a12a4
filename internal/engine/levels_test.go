package engine

import (
	"math"
	"slices"
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

// A dark photo that already reaches white (here a bright strip shading
// up to white, as sky between trees) is brightened with more light, not
// a gamma: its colours keep their proportions, white stays white and the
// median reaches the band.
func TestLevelsBrightensAPhotoThatReachesWhiteWithLight(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg")
	dark := clone(orig)
	w, h := dark.Width, dark.Height
	inStrip := func(i int) bool { return i%w >= w-w/20 }
	for _, p := range dark.Planes {
		for i, v := range p {
			p[i] = float32(LinearToSRGB(SRGBToLinear(float64(v)) / 6))
			if inStrip(i) {
				p[i] = 0.6 + 0.4*float32(i/w)/float32(h-1)
			}
		}
	}
	l := GeneralPipeline()[2].(Levels)
	before := clone(dark)
	params, ok := l.Apply(dark, 2)
	require.True(t, ok)
	require.Contains(t, params, "gain", "%v", params)

	// Saturation as the ratio of the brightest to the darkest channel in
	// linear light, over pixels the shoulder does not reach.
	gain, err := strconv.ParseFloat(params["gain"], 64)
	require.NoError(t, err)
	var worst float64
	for i := range dark.Planes[0] {
		r0, g0, b0 := SRGBToLinear(float64(before.Planes[0][i])), SRGBToLinear(float64(before.Planes[1][i])), SRGBToLinear(float64(before.Planes[2][i]))
		if max(r0, g0, b0)*gain > math.Min(0.5, 1/gain) || min(r0, g0, b0) < 0.01 {
			continue
		}
		r1, g1, b1 := SRGBToLinear(float64(dark.Planes[0][i])), SRGBToLinear(float64(dark.Planes[1][i])), SRGBToLinear(float64(dark.Planes[2][i]))
		ratio0, ratio1 := max(r0, g0, b0)/min(r0, g0, b0), max(r1, g1, b1)/min(r1, g1, b1)
		worst = math.Max(worst, math.Abs(ratio1/ratio0-1))
	}
	require.Less(t, worst, 0.01, "colours keep their proportions")
	require.Equal(t, float32(1), dark.Planes[1][w*h-1], "white stays white")
	median := func(m *Image) float64 {
		y := m.Luma(2)
		slices.Sort(y)
		return float64(y[len(y)/2])
	}
	require.InDelta(t, l.MedianLow+(l.MedianHigh-l.MedianLow)/4, median(dark), 0.03)

	// The same photo without the strip has headroom: the stretch
	// brightens it, and a gamma does the rest.
	noStrip := clone(before)
	for _, p := range noStrip.Planes {
		for i := range p {
			if inStrip(i) {
				p[i] = p[i-w/10]
			}
		}
	}
	params, ok = l.Apply(noStrip, 2)
	require.True(t, ok)
	require.NotContains(t, params, "gain")

	// A photo that is dark as a whole even after the stretch (a gamma
	// darkened it) gets its midtones where a well exposed photo's are,
	// further than a dark photo that reaches white.
	crushed := degrade(orig, degradation{"dark", func(_ int, v float32) float32 { return float32(math.Pow(float64(v), 1.4)) * 0.8 }})
	params, ok = l.Apply(crushed, 2)
	require.True(t, ok)
	require.NotContains(t, params, "gain")
	require.InDelta(t, l.MedianLow+(l.MedianHigh-l.MedianLow)*3/8, median(crushed), 0.03, "%v", params)
}

// The curve rises from black to white and bends only one way: its slope
// never jumps, where the shoulder meets the straight part included.
func TestExposedIsASmoothCurveFromBlackToWhite(t *testing.T) {
	t.Parallel()
	for _, gain := range []float64{1.5, 2, 4, 8} {
		prev, prevSlope := 0.0, math.Inf(1)
		require.Zero(t, exposed(0, gain))
		require.InDelta(t, 1, exposed(1, gain), 1e-9)
		const n = 4096
		for i := 1; i <= n; i++ {
			v := exposed(float64(i)/n, gain)
			require.GreaterOrEqual(t, v, prev, "gain %v at %d", gain, i)
			slope := (v - prev) * n
			require.Less(t, slope, prevSlope*1.05+1e-9, "gain %v at %d", gain, i)
			prev, prevSlope = v, slope
		}
	}
}

// A small white light source does not hide that the rest of the photo
// is two stops under: the white point comes from the rest. A large
// clipped area (a blown sky) is part of the scene and keeps white where
// it is.
func TestLevelsLooksPastASmallLightSource(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg")
	lit := func(side int) *Image {
		m := clone(orig)
		for _, p := range m.Planes {
			for i, v := range p {
				p[i] = float32(LinearToSRGB(SRGBToLinear(float64(v)) / 4))
				if i%m.Width < side && i/m.Width < side {
					p[i] = 1
				}
			}
		}
		return m
	}
	l := GeneralPipeline()[2].(Levels)
	lamp := lit(16) // 0.07% of the photo
	dark := clone(lamp)
	params, ok := l.Apply(lamp, 2)
	require.True(t, ok)
	white, err := strconv.ParseFloat(params["white"], 64)
	require.NoError(t, err)
	require.Less(t, white, 0.7, "%v", params)
	require.Equal(t, float32(1), lamp.Planes[0][0], "the light source stays white")
	require.Greater(t, psnr(orig, lamp), psnr(orig, dark)+8, "the photo is brought back")

	sky := lit(lamp.Height / 3) // 20% of the photo clipped
	params, ok = l.Apply(sky, 2)
	if ok {
		require.Equal(t, "1.000", params["white"], "%v", params)
	}
}

// The general pipeline's levels trust the range as far as it looks
// damaged: a pale scene that reaches white keeps its lifted black and a
// misty one its soft white, while the same scenes with a contrast loss
// (both ends squeezed) are stretched; a dark scene with real highlights
// and open shadows is a low-key scene and is not brightened.
func TestLevelsKeepsARangeThatLooksMeant(t *testing.T) {
	t.Parallel()
	l := GeneralPipeline()[2].(Levels)
	require.True(t, l.KeepSceneRange)
	ramp := func(lo, hi float64) *Image {
		img := NewImage(256, 64, 1, false)
		for i := range img.Planes[0] {
			img.Planes[0][i] = float32(lo + (hi-lo)*float64(i%256)/255)
		}
		return img
	}
	_, ok := l.Apply(ramp(0.3, 1), 2)
	require.False(t, ok, "a pale scene that reaches white keeps its black")
	_, ok = l.Apply(ramp(0.05, 0.93), 2)
	require.False(t, ok, "a white 0.07 short of white is as likely the scene")
	flat := func(v float64) float64 { return (60 + v*130) / 255 }
	params, ok := l.Apply(ramp(flat(0.3), flat(1)), 2)
	require.True(t, ok, "a contrast loss is stretched")
	black, err := strconv.ParseFloat(params["black"], 64)
	require.NoError(t, err)
	require.InDelta(t, flat(0.3), black, 0.01, "its black point moves in full")

	// Low key: most of the frame in open shadow (0.08 to 0.3), a tenth
	// lit up to white, a few true blacks.
	lowKey := NewImage(1000, 10, 1, false)
	for i := range lowKey.Planes[0] {
		x := float64(i%1000) / 999
		switch {
		case x < 0.002:
			lowKey.Planes[0][i] = 0
		case x < 0.9:
			lowKey.Planes[0][i] = float32(0.08 + 0.22*(x-0.005)/0.895)
		default:
			lowKey.Planes[0][i] = float32(0.3 + 0.7*(x-0.9)/0.1)
		}
	}
	dark := clone(lowKey)
	params, ok = l.Apply(lowKey, 2)
	require.False(t, ok, "a low-key scene is not brightened: %v", params)

	// The same scene given 1.2 stops less light (white at 0.69): the
	// stretch gives the light back, and since its shadows still sit on
	// their floor above black, nothing bends the midtones further.
	for i, v := range dark.Planes[0] {
		dark.Planes[0][i] = float32(LinearToSRGB(SRGBToLinear(float64(v)) * math.Exp2(-1.2)))
	}
	params, ok = l.Apply(dark, 2)
	require.True(t, ok, "a darkened scene is stretched")
	require.Equal(t, "1.000", params["gamma"], "%v", params)
	require.NotContains(t, params, "gain")
}

// A gamma piles an underexposed photo's shadows up against black even
// where only a little of the photo is that dark: what counts is how much
// of its darkest tenth lies in the bottom half of it. A low-key scene's
// open shadows sit above black.
func TestCrushedTellsUnderexposureFromLowKey(t *testing.T) {
	t.Parallel()
	confidence := func(m *Image) float64 {
		h := histograms(m, 1, 2)
		return crushed(h, percentile(h.min, h.total, 0.00001), percentile(h.max, h.total, 1-0.00001))
	}
	orig := loadTestImage(t, "kodim23.jpg")
	require.Less(t, confidence(orig), 0.2, "as it was taken")
	under := degrade(orig, degradation{"gamma", func(_ int, v float32) float32 { return float32(math.Pow(float64(v), 1.8)) * 0.8 }})
	require.Greater(t, confidence(under), 0.9, "a gamma of 1.8")
	lowKey := degrade(orig, degradation{"low key", func(_ int, v float32) float32 { return 0.06 + 0.5*float32(math.Pow(float64(v), 1.8)) }})
	for _, p := range lowKey.Planes { // and a few true blacks
		clear(p[:len(p)/500])
	}
	require.Less(t, confidence(lowKey), 0.1, "the same with its shadows lifted onto a floor")
}
