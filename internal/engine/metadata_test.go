package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOrientAllEight(t *testing.T) {
	t.Parallel()
	// Stored:  a b c / d e f, as the EXIF specification draws it.
	src := NewImage(3, 2, 1, false)
	copy(src.Planes[0], []float32{'a', 'b', 'c', 'd', 'e', 'f'})
	for o, want := range map[int]string{
		1: "abc/def", 2: "cba/fed", 3: "fed/cba", 4: "def/abc",
		5: "ad/be/cf", 6: "da/eb/fc", 7: "fc/eb/da", 8: "cf/be/ad",
	} {
		got := Orient(src, o)
		var b bytes.Buffer
		for y := range got.Height {
			if y > 0 {
				b.WriteByte('/')
			}
			for x := range got.Width {
				b.WriteByte(byte(got.Planes[0][y*got.Width+x]))
			}
		}
		require.Equal(t, want, b.String(), "orientation %d", o)
	}
}

// exifSegment is an APP1 segment holding only an orientation tag.
func exifSegment(orientation uint16) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")
	tiff = binary.BigEndian.AppendUint16(tiff, 1) // one entry
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.BigEndian.AppendUint16(tiff, 3) // SHORT
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, orientation)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0) // padding and no next IFD
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(body)+2))
	return append(seg, body...)
}

func TestDecodeAppliesEXIFOrientation(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	// 32×16, left half red, right half blue.
	m := image.NewRGBA(image.Rect(0, 0, 32, 16))
	for y := range 16 {
		for x := range 32 {
			c := color.RGBA{R: 255, A: 255}
			if x >= 16 {
				c = color.RGBA{B: 255, A: 255}
			}
			m.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95}))
	data := append(append([]byte{0xff, 0xd8}, exifSegment(6)...), buf.Bytes()[2:]...)

	img, _, err := e.Decode(data)
	require.NoError(t, err)
	require.Equal(t, 16, img.Width, "rotated a quarter turn")
	require.Equal(t, 32, img.Height)
	require.Equal(t, 6, img.Orientation)
	// Rotated clockwise for display: the stored left (red) is now on top.
	require.Greater(t, img.Planes[0][4*16+8], float32(0.8))
	require.Greater(t, img.Planes[2][28*16+8], float32(0.8))

	res, err := e.Enhance(context.Background(), data, EnhanceOptions{EncodeOptions: EncodeOptions{Format: PNG}})
	require.NoError(t, err)
	require.Equal(t, "orient", res.Steps[0].Name)
	require.Zero(t, ReadMetadata(res.Data, PNG).Orientation, "the output is stored upright, no EXIF")
}

func TestColourProfileIsKeptInEveryFormat(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	profile := bytes.Repeat([]byte("fake ICC profile "), 5000) // 85 kB: two JPEG segments
	src, err := pngWithICC(encodePNG(t, image.NewRGBA(image.Rect(0, 0, 24, 16))), profile)
	require.NoError(t, err)
	require.Equal(t, profile, ReadMetadata(src, PNG).ICC)
	for _, f := range []Format{PNG, JPEG, WebP} {
		res, err := e.Enhance(context.Background(), src, EnhanceOptions{EncodeOptions: EncodeOptions{Format: f}})
		require.NoError(t, err, f)
		require.Equal(t, profile, ReadMetadata(res.Data, f).ICC, f)
		_, _, err = e.Decode(res.Data)
		require.NoError(t, err, "%s with a profile still decodes", f)
		if f == JPEG {
			require.Equal(t, []byte{0xff, 0xd8, 0xff, 0xe0}, res.Data[:4], "JFIF stays right after SOI")
			require.Equal(t, "JFIF\x00", string(res.Data[6:11]))
		}
		require.Contains(t, res.Steps[0].Name, "color_profile")
	}
}

func TestSixteenBitPNGStaysSixteenBit(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	m := image.NewRGBA64(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			v := uint16(x*1000 + y*7)
			m.SetRGBA64(x, y, color.RGBA64{R: v, G: v / 2, B: 65535 - v, A: 65535})
		}
	}
	res, err := e.Enhance(context.Background(), encodePNG(t, m), EnhanceOptions{})
	require.NoError(t, err)
	out, err := png.Decode(bytes.NewReader(res.Data))
	require.NoError(t, err)
	switch out.(type) {
	case *image.NRGBA64, *image.RGBA64:
	default:
		t.Fatalf("16-bit source written as %T", out)
	}
}
