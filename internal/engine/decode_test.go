package engine

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/engine/enginetest"
)

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, m))
	return buf.Bytes()
}

func TestSniff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		want Format
		ok   bool
	}{
		{"jpeg", []byte("\xff\xd8\xff\xe0rest"), JPEG, true},
		{"png", []byte("\x89PNG\r\n\x1a\nrest"), PNG, true},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), WebP, true},
		{"gif", []byte("GIF89a"), "", false},
		{"bmp", []byte("BM\x00\x00"), "", false},
		{"tiff", []byte("II*\x00"), "", false},
		{"text", []byte("hello"), "", false},
		{"empty", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Sniff(tt.data)
			if !tt.ok {
				require.ErrorIs(t, err, ErrUnsupportedFormat)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeChecksPixelLimitBeforeDecoding(t *testing.T) {
	t.Parallel()
	e, err := New(Config{MaxSourcePixels: 1000, MaxOutputPixels: 64_000_000, Workers: 2})
	require.NoError(t, err)
	_, _, err = e.Decode(enginetest.PNGHeaderOnly(16384, 16384))
	require.ErrorIs(t, err, ErrTooLarge)
	require.Contains(t, err.Error(), "16384x16384")

	_, _, err = e.Decode(encodePNG(t, image.NewGray(image.Rect(0, 0, 40, 25)))) // exactly 1000
	require.NoError(t, err)
	_, _, err = e.Decode(encodePNG(t, image.NewGray(image.Rect(0, 0, 41, 25))))
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestDecodeRejectsCorruptImages(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "kodim23.jpg"))
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"truncated jpeg":   data[:len(data)/2],
		"jpeg header only": data[:20],
		"png header only":  enginetest.PNGHeaderOnly(10, 10),
		"riff not webp":    []byte("RIFF\x10\x00\x00\x00WEBPVP8 garbage!"),
	} {
		_, _, err := e.Decode(b)
		require.ErrorIs(t, err, ErrInvalidImage, name)
	}
}

func TestDecodeKeepsGrayAlphaAndDepth(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)

	gray := image.NewGray(image.Rect(0, 0, 4, 3))
	gray.SetGray(1, 1, color.Gray{Y: 200})
	img, format, err := e.Decode(encodePNG(t, gray))
	require.NoError(t, err)
	require.Equal(t, PNG, format)
	require.True(t, img.Gray())
	require.InDelta(t, 200.0/255, img.Planes[0][1*4+1], 1e-6)

	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	nrgba.SetNRGBA(0, 0, color.NRGBA{R: 255, G: 128, B: 0, A: 64})
	img, _, err = e.Decode(encodePNG(t, nrgba))
	require.NoError(t, err)
	require.NotNil(t, img.Alpha)
	require.InDelta(t, 64.0/255, img.Alpha[0], 1e-6)
	require.InDelta(t, 1.0, img.Planes[0][0], 1e-6, "colour is stored straight, not premultiplied")

	deep := image.NewNRGBA64(image.Rect(0, 0, 2, 1))
	deep.SetNRGBA64(0, 0, color.NRGBA64{R: 0x1234, G: 0x8000, B: 0xffff, A: 0xffff})
	deep.SetNRGBA64(1, 0, color.NRGBA64{A: 0xffff})
	img, _, err = e.Decode(encodePNG(t, deep))
	require.NoError(t, err)
	require.Nil(t, img.Alpha, "an opaque 16-bit image has no alpha plane")
	require.InDelta(t, float64(0x1234)/65535, img.Planes[0][0], 1e-6, "16-bit precision is kept")
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"kodim23.jpg", "bird.png"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
		require.NoError(f, err)
		f.Add(data[:min(len(data), 4096)])
	}
	// Whole small files, so the fuzzer starts from complete structures.
	f.Add(readTestdata(f, "progressive.jpg"))
	f.Add(readTestdata(f, "animated.webp"))
	f.Add(enginetest.APNG(3))
	f.Add(enginetest.ScanBomb(3))
	f.Add(enginetest.PNGHeaderOnly(1<<15, 1<<15))
	e, err := New(Config{MaxSourcePixels: 1 << 20, MaxOutputPixels: 64_000_000, Workers: 1})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := e.Decode(data)
		if err != nil {
			return
		}
		require.LessOrEqual(t, img.Width*img.Height, 1<<20)
	})
}

// TestYCbCrConversionMatchesTheColorModel checks the fast path against
// the standard library for every subsampling ratio, on a sub-image.
func TestYCbCrConversionMatchesTheColorModel(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		full := image.NewYCbCr(image.Rect(0, 0, 37, 29), ratio)
		for i := range full.Y {
			full.Y[i] = uint8(i * 7)
		}
		for i := range full.Cb {
			full.Cb[i], full.Cr[i] = uint8(i*13), uint8(255-i*5)
		}
		sub := full.SubImage(image.Rect(3, 5, 30, 27)).(*image.YCbCr)
		got := e.fromImage(sub)
		for y := range 22 {
			for x := range 27 {
				r, g, b, _ := sub.At(3+x, 5+y).RGBA()
				i := y*27 + x
				require.InDelta(t, float64(r)/65535, got.Planes[0][i], 0.01, "ratio %v at %d,%d", ratio, x, y)
				require.InDelta(t, float64(g)/65535, got.Planes[1][i], 0.01)
				require.InDelta(t, float64(b)/65535, got.Planes[2][i], 0.01)
			}
		}
	}
}

// TestChromaIsInterpolated: 4:2:0 and 4:2:2 chroma is interpolated between
// the centred samples, so a chroma ramp stays a ramp; at the edges the
// outermost sample is held.
func TestChromaIsInterpolated(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	for _, size := range [][2]int{{24, 16}, {23, 15}} {
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
			w, h := size[0], size[1]
			m := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
			cw, ch := (w+1)/2, h
			if ratio == image.YCbCrSubsampleRatio420 {
				ch = (h + 1) / 2
			}
			for i := range m.Y {
				m.Y[i] = 128
			}
			for cy := range ch {
				for cx := range cw {
					m.Cb[cy*m.CStride+cx] = uint8(80 + 8*cx)
					m.Cr[cy*m.CStride+cx] = uint8(90 + 8*cy)
				}
			}
			got := e.fromImage(m)
			for y := range h {
				for x := range w {
					// The chroma grid position of this pixel's centre.
					fx := min(max(float64(x)/2-0.25, 0), float64(cw-1))
					fy := float64(y)
					if ratio == image.YCbCrSubsampleRatio420 {
						fy = min(max(float64(y)/2-0.25, 0), float64(ch-1))
					}
					cb, cr := 80+8*fx-128, 90+8*fy-128
					i := y*w + x
					require.InDelta(t, (128+1.772*cb)/255, got.Planes[2][i], 1e-4, "%v %dx%d blue at %d,%d", ratio, w, h, x, y)
					require.InDelta(t, (128+1.402*cr)/255, got.Planes[0][i], 1e-4, "%v %dx%d red at %d,%d", ratio, w, h, x, y)
				}
			}
		}
	}
}

// TestJPEGRoundTripKeepsColourEdges: a photo through a q90 JPEG of our
// encoder and back; interpolated chroma keeps it above 35.5 dB (36.21
// when measured; repeated samples gave 34.25).
func TestJPEGRoundTripKeepsColourEdges(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	orig := loadTestImage(t, "bird.png")
	data, err := e.Encode(orig, EncodeOptions{Format: JPEG, Quality: 90})
	require.NoError(t, err)
	back, _, err := e.Decode(data)
	require.NoError(t, err)
	require.Greater(t, psnr(orig, back), 35.5)
}

func BenchmarkDecodeJPEG(b *testing.B) {
	e := newTestEngine(b)
	img := Resize(loadTestImage(b, "kodim05.jpg"), 3072, 2048, Bicubic, 2)
	data, err := e.Encode(img, EncodeOptions{Format: JPEG, Quality: 90})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		e.Decode(data)
	}
}
