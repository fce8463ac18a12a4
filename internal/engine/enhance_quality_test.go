package engine_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/quality"
)

// Degradation is a documented damage to a photo, applied per channel.
type Degradation struct {
	Name string
	Fn   func(c int, v float64) float64
}

var colorDegradations = []Degradation{
	{"low contrast", func(_ int, v float64) float64 { return 0.25 + 0.5*v }},
	{"underexposed", func(_ int, v float64) float64 { return math.Pow(v, 1.8) * 0.8 }},
	{"warm cast", func(c int, v float64) float64 { return v * [3]float64{1.12, 1.0, 0.8}[c] }},
	{"dull and blue", func(c int, v float64) float64 { return (0.2 + 0.6*v) * [3]float64{0.85, 0.95, 1.15}[c] }},
	{"two stops under", func(_ int, v float64) float64 { return engine.LinearToSRGB(engine.SRGBToLinear(v) / 4) }},
}

func degradeImage(m *engine.Image, d Degradation) *engine.Image {
	out := cloneImage(m)
	for c, p := range out.Planes {
		for i, v := range p {
			p[i] = float32(min(1, max(0, d.Fn(c, float64(v)))))
		}
	}
	return out
}

// haze blends a photo with white airlight, thicker toward the top as
// distance usually grows there: I = J·t + A·(1 − t).
func haze(m *engine.Image) *engine.Image {
	out := cloneImage(m)
	for y := range m.Height {
		t := float32(0.45 + 0.4*float64(y)/float64(m.Height))
		for _, p := range out.Planes {
			row := p[y*m.Width : (y+1)*m.Width]
			for i, v := range row {
				row[i] = v*t + 0.92*(1-t)
			}
		}
	}
	return out
}

func cloneImage(m *engine.Image) *engine.Image {
	c := engine.NewImage(m.Width, m.Height, len(m.Planes), m.Alpha != nil)
	for i := range m.Planes {
		copy(c.Planes[i], m.Planes[i])
	}
	if m.Alpha != nil {
		copy(c.Alpha, m.Alpha)
	}
	return c
}

func deltaE(t *testing.T, a, b *engine.Image) float64 {
	t.Helper()
	d, err := quality.MeanDeltaE2000(a, b)
	require.NoError(t, err)
	return d
}

func run(t *testing.T, p engine.Pipeline, m *engine.Image) *engine.Image {
	t.Helper()
	out := cloneImage(m)
	_, err := p.Run(context.Background(), out, 2)
	require.NoError(t, err)
	return out
}

// TestEnhancementQualityFloors holds the pipelines to floors on two Kodak
// photos, as regression guards (bench/ measures all 24): recover at least
// half of the colour error (mean CIEDE2000) that a contrast, exposure or
// colour-cast degradation caused, 40% of haze; change an undamaged
// photo little (mean ΔE00 under 4; for comparison, 2.3 is a
// just-noticeable difference).
func TestEnhancementQualityFloors(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	for _, name := range []string{"kodim05.jpg", "kodim23.jpg"} {
		orig, _, err := e.Decode(readTestdata(t, name))
		require.NoError(t, err)
		for _, kind := range []engine.EnhancementType{engine.General, engine.Portrait, engine.Landscape} {
			p, err := engine.PipelineFor(kind)
			require.NoError(t, err)
			d := deltaE(t, orig, run(t, p, orig))
			t.Logf("%s %s undamaged: ΔE00 %.2f", name, kind, d)
			require.Less(t, d, 4.0, "do no harm")
		}
		for _, deg := range colorDegradations {
			bad := degradeImage(orig, deg)
			before := deltaE(t, orig, bad)
			after := deltaE(t, orig, run(t, engine.GeneralPipeline(), bad))
			t.Logf("%s general %s: ΔE00 %.2f -> %.2f", name, deg.Name, before, after)
			require.Less(t, after, before/2, deg.Name)
		}
		bad := haze(orig)
		before := deltaE(t, orig, bad)
		after := deltaE(t, orig, run(t, engine.LandscapePipeline(), bad))
		t.Logf("%s landscape haze: ΔE00 %.2f -> %.2f", name, before, after)
		// 40% per photo; the 24-photo mean is in docs/quality.md.
		require.Less(t, after, before*0.6, "haze")
	}
}

func TestStrengthScalesTheEffect(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	orig, _, err := e.Decode(readTestdata(t, "kodim05.jpg"))
	require.NoError(t, err)
	bad := degradeImage(orig, colorDegradations[0])
	var prev float64
	for _, s := range []float32{0, 0.5, 1} {
		out := cloneImage(bad)
		steps, err := engine.GeneralPipeline().RunAt(context.Background(), out, 2, s)
		require.NoError(t, err)
		d := deltaE(t, bad, out)
		if s == 0 {
			require.Empty(t, steps)
			require.Zero(t, d)
		} else {
			require.Greater(t, d, prev, "more strength, more change")
		}
		prev = d
	}
}

// TestZeroOptionsEnhanceFully: a zero EnhanceOptions must not quietly do
// nothing; Strength 0, given on purpose, must.
func TestZeroOptionsEnhanceFully(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	src := readTestdata(t, "kodim05.jpg")
	orig, _, err := e.Decode(src)
	require.NoError(t, err)
	png, err := e.Encode(degradeImage(orig, colorDegradations[0]), engine.EncodeOptions{Format: engine.PNG})
	require.NoError(t, err)
	decode := func(res engine.Result) *engine.Image {
		m, _, err := e.Decode(res.Data)
		require.NoError(t, err)
		return m
	}
	zero, err := e.Enhance(context.Background(), png, engine.EnhanceOptions{})
	require.NoError(t, err)
	one := float32(1)
	full, err := e.Enhance(context.Background(), png, engine.EnhanceOptions{Strength: &one})
	require.NoError(t, err)
	require.Equal(t, full.Data, zero.Data, "no strength is full strength")
	require.NotEmpty(t, zero.Steps)

	none := float32(0)
	kept, err := e.Enhance(context.Background(), png, engine.EnhanceOptions{Strength: &none})
	require.NoError(t, err)
	in, _, err := e.Decode(png)
	require.NoError(t, err)
	require.Zero(t, deltaE(t, in, decode(kept)), "strength 0 leaves the pixels as they are")
	require.Greater(t, deltaE(t, in, decode(zero)), 1.0)
}
