package engine

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func meanOf(p []float32) float64 {
	var s float64
	for _, v := range p {
		s += float64(v)
	}
	return s / float64(len(p))
}

func TestLevelsStretchesWashedOutImage(t *testing.T) {
	t.Parallel()
	orig := loadTestImage(t, "kodim05.jpg")
	img := degrade(orig, degradations[0]) // low contrast: 0.25 + 0.5v
	params, ok := Levels{ClipFraction: 0.002, Slack: 0.04, MaxGain: 3, MedianLow: 0.3, MedianHigh: 0.7}.Apply(img, 2)
	require.True(t, ok)
	require.Contains(t, params, "black")
	lo, hi := float32(1), float32(0)
	for _, v := range img.Planes[1] {
		lo, hi = min(lo, v), max(hi, v)
	}
	// The range is stretched to within Slack (0.04 before the gain) of
	// the ends, from 0.25..0.75.
	require.Less(t, lo, float32(0.1))
	require.Greater(t, hi, float32(0.9))
}

func TestLevelsLeavesFlatAndGoodImagesAlone(t *testing.T) {
	t.Parallel()
	l := Levels{ClipFraction: 0.002, Slack: 0.04, MaxGain: 3, MedianLow: 0.3, MedianHigh: 0.7}
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

func TestWhiteBalanceRemovesCastAndKeepsGray(t *testing.T) {
	t.Parallel()
	wb := WhiteBalance{MaxGain: 1.5, MinCast: 0.07}
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

func TestSharpenSteepensEdgesOnlyThroughLuma(t *testing.T) {
	t.Parallel()
	img := NewImage(32, 8, 3, false)
	for y := range 8 {
		for x := range 32 {
			v := float32(0.3)
			if x >= 16 {
				v = 0.7
			}
			img.Planes[0][y*32+x], img.Planes[1][y*32+x], img.Planes[2][y*32+x] = v, v*0.9, v*0.8
		}
	}
	before := img.Planes[1][4*32+16] - img.Planes[1][4*32+15]
	_, ok := Sharpen{Sigma: 1, Amount: 0.5, Threshold: 0.008, MaxDelta: 0.08}.Apply(img, 2)
	require.True(t, ok)
	after := img.Planes[1][4*32+16] - img.Planes[1][4*32+15]
	require.Greater(t, after, before, "the edge is steeper")
	require.InDelta(t, 0.3, img.Planes[0][4*32+2], 1e-6, "flat areas are untouched")
	// The same delta goes to every channel, so chroma differences stay.
	i := 4*32 + 16
	require.InDelta(t, 0.7-0.63, img.Planes[0][i]-img.Planes[1][i], 1e-5)
}

func TestPipelineStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := GeneralPipeline().Run(ctx, NewImage(8, 8, 3, false), 1)
	require.ErrorIs(t, err, context.Canceled)
}

func TestPipelineFor(t *testing.T) {
	t.Parallel()
	for _, k := range []EnhancementType{"", General, Portrait, Landscape} {
		_, err := PipelineFor(k)
		require.NoError(t, err)
	}
	_, err := PipelineFor("sepia")
	require.ErrorIs(t, err, ErrInvalidOption)
}

func BenchmarkGeneralPipeline(b *testing.B) {
	src := loadTestImage(b, "kodim05.jpg")
	b.ReportAllocs()
	for b.Loop() {
		img := clone(src)
		if _, err := GeneralPipeline().Run(context.Background(), img, 2); err != nil {
			b.Fatal(err)
		}
	}
}
