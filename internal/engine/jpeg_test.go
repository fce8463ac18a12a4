package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// segments returns the bodies of a JPEG's marker segments before the scan,
// keyed by marker.
func segments(t *testing.T, data []byte) map[byte][]byte {
	t.Helper()
	seg := map[byte][]byte{}
	for i := 2; i+4 <= len(data); {
		require.Equal(t, byte(0xff), data[i], "marker at %d", i)
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		seg[data[i+1]] = data[i+4 : i+2+n]
		if data[i+1] == 0xda {
			break
		}
		i += 2 + n
	}
	return seg
}

// TestJPEGTablesMatchStandardLibrary: our quantisation and Huffman tables
// are the standard ones, scaled as Go's image/jpeg (and libjpeg) scale
// them, so a quality number means the same as it does elsewhere.
func TestJPEGTablesMatchStandardLibrary(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	img := Resize(loadTestImage(t, "kodim05.jpg"), 64, 48, Bicubic, 2)
	for _, gray := range []bool{false, true} {
		var m image.Image = e.toYCbCr420(img)
		if gray {
			m = e.toImage(&Image{Width: img.Width, Height: img.Height, Planes: [][]float32{img.Luma(2)}}, false)
		}
		for _, q := range []int{1, 10, 49, 50, 51, 75, 90, 100} {
			var std bytes.Buffer
			require.NoError(t, jpeg.Encode(&std, m, &jpeg.Options{Quality: q}))
			ours, err := encodeJPEG(m, q, 2)
			require.NoError(t, err)
			a, b := segments(t, std.Bytes()), segments(t, ours)
			dqt, dht := a[0xdb], a[0xc4]
			if gray { // Go writes the chroma tables for gray too; we leave them out
				dqt, dht = dqt[:65], dht[:2*17+12+162]
			}
			require.Equal(t, dqt, b[0xdb], "DQT, quality %d gray %v", q, gray)
			require.Equal(t, dht, b[0xc4], "DHT, quality %d gray %v", q, gray)
			require.Equal(t, a[0xc0], b[0xc0], "SOF0, quality %d gray %v", q, gray)
		}
	}
}

// TestFDCTMatchesDefinition: the AAN transform with its scaling folded
// into the quantiser gives the DCT of T.81 (A.3.3) divided by the table.
func TestFDCTMatchesDefinition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var q [64]uint8
	for i := range q {
		q[i] = uint8(1 + r.IntN(40))
	}
	div := quantDivisors(&q)
	for range 50 {
		var b, orig [64]float32
		for i := range b {
			b[i] = float32(r.IntN(256) - 128)
		}
		orig = b
		fdct(&b)
		for v := range 8 {
			for u := range 8 {
				var sum float64
				for y := range 8 {
					for x := range 8 {
						sum += float64(orig[8*y+x]) * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) * math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
					}
				}
				cu, cv := 1.0, 1.0
				if u == 0 {
					cu = 1 / math.Sqrt2
				}
				if v == 0 {
					cv = 1 / math.Sqrt2
				}
				want := cu * cv * sum / 4 / float64(q[8*v+u])
				require.InDelta(t, want, float64(b[8*v+u]*div[8*v+u]), 1e-3, "u %d v %d", u, v)
			}
		}
	}
}

// TestJPEGRoundTrip: Go's decoder reads what we write, for sizes that do
// and do not fill whole MCUs, colour and gray, at low and high quality;
// the pixels are as close to the source as Go's own encoder gets them and
// the file is no larger than its by more than the restart markers.
func TestJPEGRoundTrip(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	src := loadTestImage(t, "kodim05.jpg")
	for _, size := range [][2]int{{768, 512}, {301, 173}, {17, 999}, {640, 16}, {1, 1}, {16, 16}, {15, 9}} {
		img := Resize(src, size[0], size[1], Bicubic, 2)
		for _, gray := range []bool{false, true} {
			var m image.Image = e.toYCbCr420(img)
			if gray {
				m = e.toImage(&Image{Width: img.Width, Height: img.Height, Planes: [][]float32{img.Luma(2)}}, false)
			}
			for _, q := range []int{10, 50, 90, 100} {
				name := fmt.Sprintf("%dx%d gray %v q%d", size[0], size[1], gray, q)
				var std bytes.Buffer
				require.NoError(t, jpeg.Encode(&std, m, &jpeg.Options{Quality: q}), name)
				ours, err := encodeJPEG(m, q, 4)
				require.NoError(t, err, name)
				a, err := jpeg.Decode(bytes.NewReader(std.Bytes()))
				require.NoError(t, err, name)
				b, err := jpeg.Decode(bytes.NewReader(ours))
				require.NoError(t, err, name)
				require.Equal(t, m.Bounds(), b.Bounds(), name)
				ref := e.fromImage(m)
				pa, pb := min(psnr(ref, e.fromImage(a)), 99), min(psnr(ref, e.fromImage(b)), 99)
				// Rounding differs (float AAN against Go's integer DCT),
				// which on a few MCUs can go either way by up to a dB at q100.
				tolerance := 0.1
				if size[0]*size[1] < 4096 {
					tolerance = 1
				}
				require.Greater(t, pb, pa-tolerance, name)
				rows := (size[1] + 15) / 16
				require.Less(t, len(ours), std.Len()*102/100+4*rows+32, name)
			}
		}
	}
}

// TestJPEGChromaIsUnbiased: the 4:2:0 planes we encode have, on average,
// the chroma of the standard library's JFIF conversion; an offset of
// 127.5 instead of 128 once shifted every JPEG by half a level.
func TestJPEGChromaIsUnbiased(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	img := loadTestImage(t, "kodim05.jpg")
	ycc := e.toYCbCr420(img)
	var want, got [2]float64
	for i := range img.Planes[0] {
		_, cb, cr := color.RGBToYCbCr(to8(img.Planes[0][i]), to8(img.Planes[1][i]), to8(img.Planes[2][i]))
		want[0] += float64(cb)
		want[1] += float64(cr)
	}
	for i := range ycc.Cb {
		got[0] += float64(ycc.Cb[i])
		got[1] += float64(ycc.Cr[i])
	}
	for c := range 2 {
		bias := got[c]/float64(len(ycc.Cb)) - want[c]/float64(len(img.Planes[0]))
		require.InDelta(t, 0, bias, 0.1, "chroma %d", c)
	}
}

// TestJPEGEncodesExtremes: flat black, flat white and a checkerboard of
// both (the largest coefficients) decode to what was written.
func TestJPEGEncodesExtremes(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	for _, pattern := range []string{"black", "white", "checker"} {
		m := image.NewGray(image.Rect(0, 0, 40, 24))
		for i := range m.Pix {
			x, y := i%40, i/40
			switch {
			case pattern == "white", pattern == "checker" && (x+y)%2 == 0:
				m.Pix[i] = 255
			}
		}
		data, err := encodeJPEG(m, 100, 2)
		require.NoError(t, err, pattern)
		back, err := jpeg.Decode(bytes.NewReader(data))
		require.NoError(t, err, pattern)
		require.Greater(t, psnr(e.fromImage(m), e.fromImage(back)), 30.0, pattern)
	}
}

func BenchmarkEncodeJPEG(b *testing.B) {
	e := newTestEngine(b)
	img := Resize(loadTestImage(b, "kodim05.jpg"), 3072, 2048, Bicubic, 2)
	ycc := e.toYCbCr420(img)
	b.Run("image-jpeg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			jpeg.Encode(&bytes.Buffer{}, ycc, &jpeg.Options{Quality: 90})
		}
	})
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeJPEG(ycc, 90, 2)
		}
	})
}

// FuzzEncodeJPEG: any size, pixels and quality encode to a file Go's
// decoder reads back at that size, close to what was written.
func FuzzEncodeJPEG(f *testing.F) {
	f.Add(uint16(17), uint16(9), uint8(90), false, []byte{0, 255, 128, 7})
	f.Add(uint16(1), uint16(1), uint8(1), true, []byte{255})
	f.Add(uint16(300), uint16(2), uint8(100), false, []byte{0, 255})
	e, err := New(Config{MaxSourcePixels: 1 << 20, MaxOutputPixels: 1 << 20, Workers: 3})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, w, h uint16, quality uint8, gray bool, seed []byte) {
		w, h = w%512+1, h%512+1
		if len(seed) == 0 {
			seed = []byte{0}
		}
		planes := 3
		if gray {
			planes = 1
		}
		img := NewImage(int(w), int(h), planes, false)
		for c, p := range img.Planes {
			for i := range p {
				p[i] = float32(seed[(i*planes+c)%len(seed)]) / 255
			}
		}
		q := int(quality)%100 + 1
		data, err := e.Encode(img, EncodeOptions{Format: JPEG, Quality: q})
		require.NoError(t, err)
		back, err := jpeg.Decode(bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, image.Rect(0, 0, int(w), int(h)), back.Bounds())
		if q == 100 && gray {
			// Gray at q100 is quantised by ones: only the DCT's rounding
			// separates the result from the input, however wild it is.
			require.Greater(t, psnr(img, e.fromImage(back)), 30.0)
		}
	})
}
