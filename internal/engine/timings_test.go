package engine

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testPNG is a small colourful PNG, so that every stage has work.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, m))
	return b.Bytes()
}

// TestTimings: every operation reports the time of each stage it went
// through, the stages together within the time the call took, and a call
// that fails reports the stages it reached.
func TestTimings(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	src := testPNG(t, 96, 64)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		run  func() (Result, error)
	}{
		{"enhance", func() (Result, error) { return e.Enhance(ctx, src, EnhanceOptions{}) }},
		{"upscale png", func() (Result, error) { return e.UpscaleBytes(ctx, src, UpscaleOptions{Factor: 2}) }},
		// JPEG output takes the upscale's own encoder (upscaleToJPEG).
		{"upscale jpeg", func() (Result, error) {
			return e.UpscaleBytes(ctx, src, UpscaleOptions{Factor: 2, EncodeOptions: EncodeOptions{Format: JPEG}})
		}},
		{"colorize with a reference", func() (Result, error) {
			return e.ColorizeBytes(ctx, src, ColorizeOptions{Reference: src})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res, err := tt.run()
			took := time.Since(start)
			require.NoError(t, err)
			tm := res.Timings
			require.Positive(t, tm.Decode, "decode")
			require.Positive(t, tm.Process, "process")
			require.Positive(t, tm.Encode, "encode")
			require.LessOrEqual(t, tm.Decode+tm.Process+tm.Encode, took)
		})
	}

	t.Run("a failed decode", func(t *testing.T) {
		t.Parallel()
		// The header is whole (the size checks pass); the pixels are cut.
		res, err := e.Enhance(ctx, src[:len(src)/2], EnhanceOptions{})
		require.ErrorIs(t, err, ErrInvalidImage)
		require.Positive(t, res.Timings.Decode)
		require.Zero(t, res.Timings.Process, "no pipeline ran")
		require.Zero(t, res.Timings.Encode, "nothing was encoded")
	})
}
