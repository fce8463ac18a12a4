package engine

import (
	"bytes"
	"image/jpeg"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStripEncodedJPEGMatchesSerial: joining strips must give the same
// pixels as encoding the image in one piece, for sizes that do and do not
// divide into MCUs, colour and gray.
func TestStripEncodedJPEGMatchesSerial(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	src := loadTestImage(t, "kodim05.jpg")
	for _, size := range [][2]int{{768, 512}, {301, 173}, {17, 999}, {640, 16}} {
		img := Resize(src, size[0], size[1], Bicubic, 2)
		for _, gray := range []bool{false, true} {
			m := img
			if gray {
				m = &Image{Width: img.Width, Height: img.Height, Planes: [][]float32{img.Luma(2)}}
			}
			std := e.toImage(m, false)
			var serial bytes.Buffer
			require.NoError(t, jpeg.Encode(&serial, std, &jpeg.Options{Quality: 90}))
			par, err := encodeJPEG(std, 90, 4)
			require.NoError(t, err)
			a, err := jpeg.Decode(bytes.NewReader(serial.Bytes()))
			require.NoError(t, err)
			b, err := jpeg.Decode(bytes.NewReader(par))
			require.NoError(t, err, "size %v gray %v", size, gray)
			require.Equal(t, a.Bounds(), b.Bounds())
			pa, pb := e.fromImage(a), e.fromImage(b)
			require.Greater(t, psnr(pa, pb), 50.0, "size %v gray %v", size, gray)
		}
	}
}

func BenchmarkEncodeJPEG(b *testing.B) {
	e := newTestEngine(b)
	img := Resize(loadTestImage(b, "kodim05.jpg"), 3072, 2048, Bicubic, 2)
	std := e.toImage(img, false)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			jpeg.Encode(&bytes.Buffer{}, std, &jpeg.Options{Quality: 90})
		}
	})
	b.Run("strips", func(b *testing.B) {
		for b.Loop() {
			encodeJPEG(std, 90, 2)
		}
	})
}
