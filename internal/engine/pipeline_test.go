package engine

import (
	"context"
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

// TestPipelinesStayFinite runs every pipeline on photos and on the
// degenerate images that break naive maths (flat black, flat white,
// one pixel, one row, gray, alpha) and requires every sample to stay a
// number in [0, 1].
func TestPipelinesStayFinite(t *testing.T) {
	t.Parallel()
	flat := func(w, h, n int, v float32) *Image {
		m := NewImage(w, h, n, false)
		for _, p := range m.Planes {
			for i := range p {
				p[i] = v
			}
		}
		return m
	}
	inputs := map[string]*Image{
		"kodim05":   loadTestImage(t, "kodim05.jpg"),
		"bird":      loadTestImage(t, "bird.png"),
		"black":     flat(64, 48, 3, 0),
		"white":     flat(64, 48, 3, 1),
		"one pixel": flat(1, 1, 3, 0.3),
		"one row":   flat(300, 1, 3, 0.6),
		"gray":      flat(40, 40, 1, 0.2),
		"noise":     addNoise(flat(80, 60, 3, 0.5), 40, 9),
		// Resampling overshoot can leave samples just outside [0, 1].
		"overshoot": degrade(loadTestImage(t, "bird.png"), degradation{"", func(_ int, v float32) float32 { return v*1.3 - 0.15 }}),
	}
	for name, src := range inputs {
		for _, kind := range []EnhancementType{General, Portrait, Landscape} {
			img := clone(src)
			p, err := PipelineFor(kind)
			require.NoError(t, err)
			_, err = p.Run(context.Background(), img, 2)
			require.NoError(t, err)
			for _, pl := range img.Planes {
				for _, v := range pl {
					if !(v >= 0 && v <= 1) {
						t.Fatalf("%s through %s: sample %v", name, kind, v)
					}
				}
			}
		}
	}
}
