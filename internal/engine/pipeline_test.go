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
