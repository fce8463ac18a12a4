package engine

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// smallPNG is the middle size×size of bird.png as an opaque PNG: a photo,
// so that the pipeline's steps find work to do.
func smallPNG(t testing.TB, size int) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "bird.png"))
	require.NoError(t, err)
	src, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	b := src.Bounds()
	crop := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(crop, crop.Rect, src, image.Pt(b.Min.X+(b.Dx()-size)/2, b.Min.Y+(b.Dy()-size)/2), draw.Src)
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, crop))
	return buf.Bytes()
}

// BenchmarkEnhanceSmall is the engine alone on a small PNG: decode, the
// general pipeline and a PNG encode, as a small REST or gRPC enhance runs
// it.
func BenchmarkEnhanceSmall(b *testing.B) {
	e := newTestEngine(b)
	for _, size := range []int{64, 256} {
		src := smallPNG(b, size)
		b.Run(fmt.Sprintf("%dx%d", size, size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := e.Enhance(context.Background(), src, EnhanceOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// translucentPNG is smallPNG with an alpha ramp, so that the alpha plane
// is pooled and encoded too.
func translucentPNG(t testing.TB, size int) []byte {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(smallPNG(t, size)))
	require.NoError(t, err)
	m := image.NewNRGBA(src.Bounds())
	draw.Draw(m, m.Rect, src, image.Point{}, draw.Src)
	for y := range size {
		for x := range size {
			m.Pix[y*m.Stride+4*x+3] = uint8(255 * x / size)
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, m))
	return buf.Bytes()
}

// grayPNG is smallPNG in gray, for colorization.
func grayPNG(t testing.TB, size int) []byte {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(smallPNG(t, size)))
	require.NoError(t, err)
	m := image.NewGray(src.Bounds())
	draw.Draw(m, m.Rect, src, image.Point{}, draw.Src)
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, m))
	return buf.Bytes()
}

// TestPooledBuffersGiveIdenticalBytes: an engine that recycles its
// buffers writes byte for byte what one allocating everything afresh
// writes, with its pool empty and with it holding the dirty buffers of
// every other case (a missed clear, or a buffer given back while still
// in use, would show).
func TestPooledBuffersGiveIdenticalBytes(t *testing.T) {
	pooled := newTestEngine(t)
	fresh := &Engine{cfg: pooled.cfg, sr: pooled.sr, colorizer: pooled.colorizer} // no pool: every buffer made afresh
	require.Nil(t, fresh.pool)
	photo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "kodim23.jpg"))
	require.NoError(t, err)
	ctx := context.Background()
	enhance := func(src []byte, typ EnhancementType, f Format) func(*Engine) (Result, error) {
		return func(e *Engine) (Result, error) {
			return e.Enhance(ctx, src, EnhanceOptions{Type: typ, EncodeOptions: EncodeOptions{Format: f}})
		}
	}
	half := float32(0.5)
	cases := []struct {
		name string
		run  func(*Engine) (Result, error)
	}{
		{"64 general png", enhance(smallPNG(t, 64), General, PNG)},
		{"64 portrait png", enhance(smallPNG(t, 64), Portrait, PNG)},
		{"64 landscape jpeg", enhance(smallPNG(t, 64), Landscape, JPEG)},
		{"64 translucent png", enhance(translucentPNG(t, 64), General, PNG)},
		{"64 translucent webp", enhance(translucentPNG(t, 64), General, WebP)},
		{"64 gray png", enhance(grayPNG(t, 64), General, PNG)},
		{"256 general png", enhance(smallPNG(t, 256), General, PNG)},
		{"256 general webp", enhance(smallPNG(t, 256), General, WebP)},
		{"256 half strength png", func(e *Engine) (Result, error) {
			return e.Enhance(ctx, smallPNG(t, 256), EnhanceOptions{Strength: &half})
		}},
		{"768x512 jpeg", enhance(photo, General, JPEG)},
		{"64 upscale 2x png", func(e *Engine) (Result, error) {
			return e.UpscaleBytes(ctx, smallPNG(t, 64), UpscaleOptions{Factor: 2})
		}},
		{"64 colorize png", func(e *Engine) (Result, error) {
			return e.ColorizeBytes(ctx, grayPNG(t, 64), ColorizeOptions{Hints: []ColorHint{{Points: [][2]int{{10, 10}, {40, 30}}, R: 0.8, G: 0.3, B: 0.2, Width: 4}}})
		}},
	}
	want := make([][]byte, len(cases))
	for i, c := range cases {
		r, err := c.run(fresh)
		require.NoError(t, err, c.name)
		want[i] = r.Data
	}
	for round := range 2 {
		for i, c := range cases {
			r, err := c.run(pooled)
			require.NoError(t, err, c.name)
			require.True(t, bytes.Equal(want[i], r.Data), "round %d, %s: the pooled engine wrote other bytes", round, c.name)
		}
	}
}

// TestPooledPipelineWorkCoversItsAllocations is
// TestPipelineWorkCoversItsAllocations with an empty pool, the worst case
// for it: every plane is made at its size class, up to an eighth larger.
func TestPooledPipelineWorkCoversItsAllocations(t *testing.T) {
	for _, content := range []string{"noisy", "photo"} {
		for _, pipeline := range []EnhancementType{General, Portrait, Landscape} {
			t.Run(fmt.Sprintf("%s %s", content, pipeline), func(t *testing.T) {
				src := contentImage(600, 500, content)
				p, err := PipelineFor(pipeline)
				require.NoError(t, err)
				img := clone(src)
				img.pool = &pool{}
				l := layout{pixels: int64(img.Width * img.Height), planes: 3}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				_, err = p.Run(context.Background(), img, 2)
				runtime.ReadMemStats(&after)
				require.NoError(t, err)
				allocated := int64(after.TotalAlloc - before.TotalAlloc)
				require.GreaterOrEqual(t, pipelineWork(l, pipeline)+stepAllowance, allocated)
			})
		}
	}
}

func TestSizeClass(t *testing.T) {
	for _, n := range []int{1, 64, 65, 100, 4096, 4097, 65536, 300_000, maxPooledPixels} {
		c := sizeClass(n)
		require.GreaterOrEqual(t, c, n)
		require.LessOrEqual(t, c, max(64, n+n/8), n)
		require.Equal(t, c, sizeClass(c), "a class is its own class")
	}
}

// TestReleasedImageHasNoPlanes: a plane held twice (colorize shares its
// source's alpha) is given back once, and the image cannot be read after.
func TestReleasedImageHasNoPlanes(t *testing.T) {
	p := &pool{}
	img := p.newImage(8, 8, 1, false)
	img.Alpha = img.Planes[0]
	img.release()
	require.Nil(t, img.Planes)
	a, b := p.plane(64), p.plane(64)
	require.NotSame(t, &a[0], &b[0], "a plane given back twice is handed out twice")
}

// TestPooledBuffersUnderConcurrency: images worked on at once through one
// pool each get their own buffers (run with -race).
func TestPooledBuffersUnderConcurrency(t *testing.T) {
	pooled := newTestEngine(t)
	fresh := &Engine{cfg: pooled.cfg}
	ctx := context.Background()
	srcs := [][]byte{smallPNG(t, 64), smallPNG(t, 96), translucentPNG(t, 64)}
	want := make([][]byte, len(srcs))
	for i, src := range srcs {
		r, err := fresh.Enhance(ctx, src, EnhanceOptions{})
		require.NoError(t, err)
		want[i] = r.Data
	}
	const workers = 4
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for round := range 3 {
				i := (w + round) % len(srcs)
				r, err := pooled.Enhance(ctx, srcs[i], EnhanceOptions{})
				if err == nil && !bytes.Equal(r.Data, want[i]) {
					err = fmt.Errorf("worker %d, round %d, source %d: other bytes", w, round, i)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
}
