package engine

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/engine/enginetest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	require.NoError(t, err)
	return data
}

func TestJPEGScans(t *testing.T) {
	t.Parallel()
	var baseline bytes.Buffer
	require.NoError(t, jpeg.Encode(&baseline, image.NewRGBA(image.Rect(0, 0, 40, 30)), nil))
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"baseline", baseline.Bytes(), 1},
		{"camera baseline", readTestdata(t, "kodim23.jpg"), 1},
		{"progressive from ImageMagick", readTestdata(t, "progressive.jpg"), 10},
		{"150 scans", enginetest.ScanBomb(150), 150},
		{"truncated after SOI", []byte{0xff, 0xd8, 0xff}, 0},
		{"zero length segment", []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00, 0xff, 0xda}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, jpegScans(tt.data, 1000))
		})
	}
	require.Equal(t, 5, jpegScans(enginetest.ScanBomb(150), 5), "the walk stops at its limit")
}

func TestFramesAreCountedAndOnlyTheFirstDecoded(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, frames(readTestdata(t, "bird.png"), PNG))
	require.Equal(t, 3, frames(readTestdata(t, "animated.webp"), WebP))
	require.Equal(t, 7, frames(enginetest.APNG(7), PNG))
	require.Equal(t, 1, frames([]byte("RIFF\xff\xff\xff\xffWEBPANMF\xff\xff\xff\xff"), WebP), "a chunk claiming more than the file ends the walk")

	e := newTestEngine(t)
	img, format, err := e.Decode(readTestdata(t, "animated.webp"))
	require.NoError(t, err)
	require.Equal(t, WebP, format)
	require.Equal(t, [2]int{64, 43}, [2]int{img.Width, img.Height})
	img, _, err = e.Decode(enginetest.APNG(7))
	require.NoError(t, err)
	require.Equal(t, 8, img.Width)
}

func TestStructureLimits(t *testing.T) {
	t.Parallel()
	e, err := New(Config{MaxSourcePixels: 1 << 20, MaxOutputPixels: 1 << 22, Workers: 1, MaxJPEGScans: 20, MaxFrames: 3})
	require.NoError(t, err)
	tests := []struct {
		name   string
		data   []byte
		detail string
	}{
		{"scan bomb", enginetest.ScanBomb(21), "the JPEG has more than 20 scans (the scan limit is 20)"},
		{"APNG of 4", enginetest.APNG(4), "the animation has 4 frames (the frame limit is 3; only the first is used)"},
		{"APNG", enginetest.APNG(100000), "the animation has 100000 frames"},
		{"pixel bomb", enginetest.PNGHeaderOnly(16384, 16384), "the source is 16384x16384 (268.4 megapixels); the limit is 1.0 megapixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := e.DecodeConfig(tt.data)
			require.ErrorIs(t, err, ErrTooLarge)
			require.Contains(t, err.Error(), tt.detail)
		})
	}
	webp := readTestdata(t, "animated.webp")
	_, _, err = e.DecodeConfig(webp[:len(webp)-100])
	require.ErrorIs(t, err, ErrInvalidImage, "a WebP shorter than its RIFF size is truncated")
	_, _, err = e.DecodeConfig(enginetest.ScanBomb(20))
	require.NoError(t, err, "at the limit is allowed")
	_, _, err = e.DecodeConfig(readTestdata(t, "progressive.jpg"))
	require.NoError(t, err)

	_, err = New(Config{MaxSourcePixels: 1, MaxOutputPixels: 1, Workers: 1, MaxFrames: -1})
	require.Error(t, err)
}
