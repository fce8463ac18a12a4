package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// stepAllowance is what the steps allocate whatever the image's size:
// histograms, lookup tables, tile maps, per-band rows and parameters.
const stepAllowance = 1 << 20

// contentImage is a w×h colour image of the named content: "flat" (one
// grey, which reads as haze), "noisy" (uniform noise on every channel,
// the most a step can find to denoise) or "photo" (smooth gradients with
// Gaussian noise of 12 levels, a noisy photo).
func contentImage(w, h int, content string) *Image {
	img := NewImage(w, h, 3, false)
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for c, p := range img.Planes {
		for i := range p {
			switch content {
			case "flat":
				p[i] = 0.5 + 0.04*float32(c)
			case "noisy":
				p[i] = r.Float32()
			default:
				x, y := float32(i%w)/float32(w), float32(i/w)/float32(h)
				p[i] = clamp01(0.2 + 0.3*x + 0.2*y + 0.1*float32(c) + float32(r.NormFloat64()*12/255))
			}
		}
	}
	return img
}

// TestPipelineWorkCoversItsAllocations: what every step of a pipeline
// allocates, added up over the whole pipeline (TotalAlloc across Run, an
// upper bound on what the steps hold together with the garbage the
// collector has not yet reclaimed, whenever it runs), stays within the
// working memory the model weighs for it, on clean, flat and noisy
// content and below and above the size at which Dehaze works on a copy.
// Noisy content is what Denoise runs on; its guided filters once
// allocated fourteen planes each, three times (a noisy 1600x1200 JPEG
// peaked at three times its weight). Not parallel: TotalAlloc counts the
// whole process.
func TestPipelineWorkCoversItsAllocations(t *testing.T) {
	for _, size := range [][2]int{{600, 500}, {1400, 1000}} {
		for _, content := range []string{"flat", "noisy", "photo"} {
			src := contentImage(size[0], size[1], content)
			for _, pipeline := range []EnhancementType{General, Portrait, Landscape} {
				t.Run(fmt.Sprintf("%dx%d %s %s", size[0], size[1], content, pipeline), func(t *testing.T) {
					p, err := PipelineFor(pipeline)
					require.NoError(t, err)
					img := clone(src)
					l := layout{pixels: int64(img.Width * img.Height), planes: 3}
					var before, after runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&before)
					steps, err := p.Run(context.Background(), img, 2)
					runtime.ReadMemStats(&after)
					require.NoError(t, err)
					allocated := int64(after.TotalAlloc - before.TotalAlloc)
					model := pipelineWork(l, pipeline)
					var names []string
					for _, s := range steps {
						names = append(names, s.Name)
					}
					t.Logf("%v: allocated %.1f bytes a pixel, model %.1f", names, float64(allocated)/float64(l.pixels), float64(model)/float64(l.pixels))
					require.GreaterOrEqual(t, model+stepAllowance, allocated)
				})
			}
		}
	}
}
