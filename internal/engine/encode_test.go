package engine

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/gen2brain/webp"
	"github.com/stretchr/testify/require"
)

func TestEncodeRoundTripsEveryFormat(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	src := loadTestImage(t, "kodim23.jpg")
	for _, tt := range []struct {
		format  Format
		decode  func([]byte) (image.Image, error)
		minPSNR float64
	}{
		{PNG, func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }, 50},
		{JPEG, func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }, 35},
		{WebP, func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }, 28},
	} {
		t.Run(string(tt.format), func(t *testing.T) {
			data, err := e.Encode(src, EncodeOptions{Format: tt.format})
			require.NoError(t, err)
			f, err := Sniff(data)
			require.NoError(t, err)
			require.Equal(t, tt.format, f)
			m, err := tt.decode(data)
			require.NoError(t, err)
			back := e.fromImage(m)
			require.Equal(t, src.Width, back.Width)
			require.Equal(t, src.Height, back.Height)
			require.Greater(t, psnr(src, back), tt.minPSNR)
		})
	}
}

func TestEncodeQuality(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	src := loadTestImage(t, "kodim23.jpg")
	low, err := e.Encode(src, EncodeOptions{Format: JPEG, Quality: 20})
	require.NoError(t, err)
	high, err := e.Encode(src, EncodeOptions{Format: JPEG, Quality: 95})
	require.NoError(t, err)
	require.Less(t, len(low), len(high)/2, "quality must change the encoding")

	for _, q := range []int{-1, 101} {
		_, err := e.Encode(src, EncodeOptions{Format: JPEG, Quality: q})
		require.ErrorIs(t, err, ErrInvalidOption)
	}
	_, err = ParseFormat("gif")
	require.ErrorIs(t, err, ErrInvalidOption)
}

func TestEncodeKeepsGrayAndAlpha(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	gray := NewImage(3, 2, 1, false)
	gray.Planes[0][0] = 0.5
	data, err := e.Encode(gray, EncodeOptions{Format: PNG})
	require.NoError(t, err)
	m, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.IsType(t, &image.Gray{}, m)

	rgba := NewImage(2, 1, 3, true)
	rgba.Planes[0][0], rgba.Alpha[0], rgba.Alpha[1] = 1, 0.25, 1
	data, err = e.Encode(rgba, EncodeOptions{Format: PNG})
	require.NoError(t, err)
	m, err = png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	nrgba, ok := m.(*image.NRGBA)
	require.True(t, ok, "alpha is kept in PNG")
	require.Equal(t, uint8(64), nrgba.Pix[3])
	require.Equal(t, uint8(255), nrgba.Pix[0])

	// JPEG has no alpha: transparent pixels are flattened over white.
	pink := NewImage(16, 16, 3, true)
	for i := range pink.Alpha {
		pink.Planes[0][i], pink.Alpha[i] = 1, 0.25
	}
	data, err = e.Encode(pink, EncodeOptions{Format: JPEG, Quality: 100})
	require.NoError(t, err)
	m, err = jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	r, g, b, _ := m.At(0, 0).RGBA()
	require.Greater(t, r>>8, uint32(240))
	require.Greater(t, g>>8, uint32(150), "75%% white over red is pink, not dark red")
	require.Greater(t, b>>8, uint32(150))

	// The same for gray: 75% white over black is light gray.
	shadow := NewImage(16, 16, 1, true)
	for i := range shadow.Alpha {
		shadow.Alpha[i] = 0.25
	}
	data, err = e.Encode(shadow, EncodeOptions{Format: JPEG, Quality: 100})
	require.NoError(t, err)
	m, err = jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	y, _, _, _ := m.At(0, 0).RGBA()
	require.InDelta(t, 191, float64(y>>8), 3)
}
