package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"github.com/gen2brain/webp"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/engine/enginetest"
)

// rotatedJPEG is a 32×16 JPEG stored with EXIF orientation 6: seen as
// 16 wide and 32 high.
func rotatedJPEG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 32, 16)), nil))
	return append(append([]byte{0xff, 0xd8}, exifSegment(6)...), buf.Bytes()[2:]...)
}

// grayJPEG is a w×h grayscale JPEG.
func grayJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, m, nil))
	return buf.Bytes()
}

func TestPlanAppliesEveryHeaderLimit(t *testing.T) {
	t.Parallel()
	e, err := New(Config{MaxSourcePixels: 1 << 20, MaxOutputPixels: 1 << 21, Workers: 1})
	require.NoError(t, err)
	bird := readTestdata(t, "bird.png") // 288×288
	rotated := rotatedJPEG(t)
	hint := func(x, y, width int) []ColorHint {
		return []ColorHint{{Points: [][2]int{{x, y}}, R: 1, Width: width}}
	}
	tests := []struct {
		name   string
		src    []byte
		opts   PlanOptions
		is     error
		detail string
	}{
		{"source over the pixel limit", enginetest.PNGHeaderOnly(2000, 2000), PlanOptions{Operation: OpEnhance}, ErrTooLarge, "the limit is 1.0 megapixels"},
		{"scale factor", bird, PlanOptions{Operation: OpUpscale, Factor: 5}, ErrInvalidOption, "scaleFactor 5 is not one of 2, 3, 4"},
		{"output over the limit", enginetest.PNGHeaderOnly(1000, 1000), PlanOptions{Operation: OpUpscale, Factor: 2}, ErrTooLarge,
			"the output would be 2000x2000 (4.0 megapixels); the limit is 2.1 megapixels"},
		{"hint with no points", bird, PlanOptions{Operation: OpColorize, Hints: []ColorHint{{R: 1}}}, ErrInvalidOption, "hint 0 has no points"},
		{"hint too wide", bird, PlanOptions{Operation: OpColorize, Hints: hint(1, 1, 65)}, ErrInvalidOption, "hint 0 is 65 pixels wide; the most is 64"},
		{"hint outside the image", bird, PlanOptions{Operation: OpColorize, Hints: hint(288, 0, 1)}, ErrInvalidOption, "hint 0 point (288, 0) is outside the 288x288 image"},
		{"hint outside the image as seen", rotated, PlanOptions{Operation: OpColorize, Hints: hint(20, 5, 1)}, ErrInvalidOption, "outside the 16x32 image"},
		{"gray reference", bird, PlanOptions{Operation: OpColorize, Reference: grayJPEG(t, 8, 8)}, ErrInvalidOption, "the reference image is grayscale"},
		{"reference over the pixel limit", bird, PlanOptions{Operation: OpColorize, Reference: enginetest.PNGHeaderOnly(2000, 2000)}, ErrTooLarge, "reference image: "},
		{"reference not an image", bird, PlanOptions{Operation: OpColorize, Reference: []byte("GIF89a")}, ErrUnsupportedFormat, "reference image: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.Plan(tt.src, tt.opts)
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.detail)
		})
	}
}

// TestPlanWithoutTheNetworks: a build without trained weights plans
// colorization with nothing to go on as a 400, and refuses the learned
// upscale mode, where one with them accepts both.
func TestPlanWithoutTheNetworks(t *testing.T) {
	t.Parallel()
	bird := readTestdata(t, "bird.png")
	with := newTestEngine(t)
	require.NotNil(t, with.sr)
	require.NotNil(t, with.colorizer)
	without := newTestEngine(t)
	without.sr, without.colorizer = nil, nil

	_, err := with.Plan(bird, PlanOptions{Operation: OpColorize})
	require.NoError(t, err)
	_, err = without.Plan(bird, PlanOptions{Operation: OpColorize})
	require.ErrorIs(t, err, ErrNeedsHints)
	_, err = without.ColorizeBytes(context.Background(), bird, ColorizeOptions{})
	require.ErrorIs(t, err, ErrNeedsHints)

	_, err = with.Plan(bird, PlanOptions{Operation: OpUpscale, Factor: 2, Mode: ModeLearned})
	require.NoError(t, err)
	_, err = without.Plan(bird, PlanOptions{Operation: OpUpscale, Factor: 2, Mode: ModeLearned})
	require.ErrorIs(t, err, ErrNoLearnedModel)
	_, err = without.Plan(bird, PlanOptions{Operation: OpUpscale, Factor: 2})
	require.NoError(t, err, "the default falls back to the classical method")
	_, err = with.Plan(bird, PlanOptions{Operation: OpUpscale, Factor: 2, Mode: "neural"})
	require.ErrorIs(t, err, ErrInvalidOption)

	// The learned upscale weighs its tile buffers on top of the classical one.
	classical, err := with.Plan(bird, PlanOptions{Operation: OpUpscale, Factor: 2, Mode: ModeClassical})
	require.NoError(t, err)
	learned, err := with.Plan(bird, PlanOptions{Operation: OpUpscale, Factor: 2, Mode: ModeLearned})
	require.NoError(t, err)
	require.Equal(t, classical.Memory+int64(with.cfg.Workers)*with.sr.TileBytes(), learned.Memory)

	// Above learnedDefaultMaxPixels of output the default is classical.
	big := enginetest.PNGHeaderOnly(2000, 1500) // ×2: 12 MP
	bigDefault, err := with.Plan(big, PlanOptions{Operation: OpUpscale, Factor: 2})
	require.NoError(t, err)
	bigClassical, err := with.Plan(big, PlanOptions{Operation: OpUpscale, Factor: 2, Mode: ModeClassical})
	require.NoError(t, err)
	require.Equal(t, bigClassical.Memory, bigDefault.Memory)
	learned, err = with.Plan(big, PlanOptions{Operation: OpUpscale, Factor: 2, Mode: ModeLearned})
	require.NoError(t, err)
	require.Greater(t, learned.Memory, bigClassical.Memory)
}

// TestPlanAgreesWithTheOperations: what Plan accepts, the operation runs,
// producing the size Plan announced; what Plan refuses for the header's
// sake, the operation refuses the same way. A quote is what is delivered.
func TestPlanAgreesWithTheOperations(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	ctx := context.Background()
	bird := readTestdata(t, "bird.png")
	rotated := rotatedJPEG(t)
	gray := readTestdata(t, "kodim23-gray.jpg")
	ref := readTestdata(t, "kodim23.jpg")
	hints := []ColorHint{{Points: [][2]int{{10, 20}, {12, 30}}, R: 1, G: 0.5, Width: 3}}
	type run func() (Result, error)
	tests := []struct {
		name string
		src  []byte
		opts PlanOptions
		run  run
	}{
		{"enhance", bird, PlanOptions{Operation: OpEnhance}, func() (Result, error) { return e.Enhance(ctx, bird, EnhanceOptions{}) }},
		{"enhance as seen", rotated, PlanOptions{Operation: OpEnhance, Pipeline: Portrait}, func() (Result, error) {
			return e.Enhance(ctx, rotated, EnhanceOptions{Type: Portrait})
		}},
		{"upscale ×3 as seen", rotated, PlanOptions{Operation: OpUpscale, Factor: 3}, func() (Result, error) {
			return e.UpscaleBytes(ctx, rotated, UpscaleOptions{Factor: 3})
		}},
		{"upscale to webp", bird, PlanOptions{Operation: OpUpscale, Factor: 2, Output: WebP}, func() (Result, error) {
			return e.UpscaleBytes(ctx, bird, UpscaleOptions{Factor: 2, EncodeOptions: EncodeOptions{Format: WebP}})
		}},
		{"colorize from hints", rotated, PlanOptions{Operation: OpColorize, Hints: hints}, func() (Result, error) {
			return e.ColorizeBytes(ctx, rotated, ColorizeOptions{Hints: hints})
		}},
		{"colorize from a reference", gray, PlanOptions{Operation: OpColorize, Reference: ref}, func() (Result, error) {
			return e.ColorizeBytes(ctx, gray, ColorizeOptions{Reference: ref})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := e.Plan(tt.src, tt.opts)
			require.NoError(t, err)
			res, err := tt.run()
			require.NoError(t, err)
			require.Equal(t, [2]int{res.Width, res.Height}, [2]int{p.Width, p.Height})
			require.Positive(t, p.Memory)
		})
	}
	p, err := e.Plan(rotated, PlanOptions{Operation: OpUpscale, Factor: 2})
	require.NoError(t, err)
	require.Equal(t, Plan{Format: JPEG, SourcePixels: 512, Width: 32, Height: 64, Memory: p.Memory}, p, "the output as seen: a quarter turn")

	// Refused by both, with the same words.
	small, err := New(Config{MaxSourcePixels: 1 << 20, MaxOutputPixels: 288 * 288 * 3, Workers: 1})
	require.NoError(t, err)
	_, planErr := small.Plan(bird, PlanOptions{Operation: OpUpscale, Factor: 2})
	_, runErr := small.UpscaleBytes(ctx, bird, UpscaleOptions{Factor: 2})
	require.ErrorIs(t, planErr, ErrTooLarge)
	require.EqualError(t, runErr, planErr.Error())
	outside := []ColorHint{{Points: [][2]int{{20, 5}}, R: 1}}
	_, planErr = e.Plan(rotated, PlanOptions{Operation: OpColorize, Hints: outside})
	_, runErr = e.ColorizeBytes(ctx, rotated, ColorizeOptions{Hints: outside})
	require.ErrorIs(t, planErr, ErrInvalidOption)
	require.EqualError(t, runErr, planErr.Error())
}

// pngWith rewrites a PNG's IHDR (colour type, depth, interlace) and adds
// chunks before its IDAT, recomputing the CRCs.
func pngWith(t *testing.T, data []byte, depth, colorType, interlace byte, extra ...[]byte) []byte {
	t.Helper()
	ihdr := append([]byte{}, data[16:29]...)
	ihdr[8], ihdr[9], ihdr[12] = depth, colorType, interlace
	out := append([]byte{}, data[:8]...)
	out = append(out, chunk("IHDR", ihdr)...)
	for _, c := range extra {
		out = append(out, c...)
	}
	return append(out, data[33:]...)
}

func chunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	body := append([]byte(typ), data...)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(body))
}

// TestSourceLayout: the decoder's share of the weight follows what Go's
// decoders allocate for each kind of file, read from the header, and the
// engine's planes follow what it converts them to. Each case is checked
// against a real decode.
func TestSourceLayout(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	const w, h = 40, 30
	const px = w * h
	var paletted, palettedAlpha bytes.Buffer
	pm := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White})
	require.NoError(t, png.Encode(&paletted, pm))
	pm.Palette[1] = color.NRGBA{R: 255, A: 128}
	require.NoError(t, png.Encode(&palettedAlpha, pm))
	var progressive bytes.Buffer
	require.NoError(t, jpeg.Encode(&progressive, image.NewRGBA(image.Rect(0, 0, w, h)), nil))
	gray8 := enginetest.PNGOfZeros(w, h, 8, 0)
	tests := []struct {
		name    string
		data    []byte
		decoder int64
		planes  int64
	}{
		{"gray PNG", gray8, px, 1},
		{"gray PNG with tRNS (decodes to NRGBA)", pngWith(t, gray8, 8, 0, 0, chunk("tRNS", []byte{0, 0})), 4 * px, 4},
		{"16-bit gray PNG", enginetest.PNGOfZeros(w, h, 16, 0), 2 * px, 1},
		{"16-bit gray PNG with tRNS", pngWith(t, enginetest.PNGOfZeros(w, h, 16, 0), 16, 0, 0, chunk("tRNS", []byte{0, 0})), 8 * px, 4},
		{"RGB PNG", enginetest.PNGOfZeros(w, h, 8, 2), 4 * px, 3},
		{"RGB PNG with tRNS", pngWith(t, enginetest.PNGOfZeros(w, h, 8, 2), 8, 2, 0, chunk("tRNS", make([]byte, 6))), 4 * px, 4},
		{"16-bit RGBA PNG", enginetest.PNGOfZeros(w, h, 16, 6), 8 * px, 4},
		{"16-bit RGB PNG", enginetest.PNGOfZeros(w, h, 16, 2), 8 * px, 3},
		{"gray and alpha PNG", enginetest.PNGOfZeros(w, h, 8, 4), 4 * px, 4},
		{"paletted PNG", paletted.Bytes(), px, 3},
		{"paletted PNG with alpha", palettedAlpha.Bytes(), px, 4},
		{"gray JPEG (rounded up to whole 8×8 blocks)", grayJPEG(t, w, h), 40 * 32, 1},
		{"RGB JPEG (converted to RGBA)", enginetest.FlatJPEG(w, h, "RGB", false, -1), 3*40*32 + 4*px, 3},
		{"JPEG with Adobe transform 0 (RGB)", enginetest.FlatJPEG(w, h, "\x01\x02\x03", false, 0), 3*40*32 + 4*px, 3},
		{"CMYK JPEG (a black plane, then CMYK)", enginetest.FlatJPEG(w, h, "CMYK", false, 0), 4*40*32 + 4*px, 3},
		{"progressive YCbCrK JPEG", enginetest.FlatJPEG(w, h, "\x01\x02\x03\x04", true, 2), 5*4*40*32 + 4*px, 3},
		{"colour JPEG (4:2:0 counted as 4:4:4)", readTestdata(t, "kodim23.jpg"), 3 * 768 * 512, 3},
		{"progressive JPEG (with its coefficients)", readTestdata(t, "progressive.jpg"), -1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, format, err := e.DecodeConfig(tt.data)
			require.NoError(t, err)
			l := sourceLayout(tt.data, cfg, format)
			require.Equal(t, int64(cfg.Width*cfg.Height), l.pixels)
			if tt.decoder >= 0 {
				require.Equal(t, tt.decoder, l.decoder)
			} else {
				require.Equal(t, 5*3*l.pixels, l.decoder, "3 components, each a byte and 4 of coefficients")
			}
			require.Equal(t, tt.planes, l.planes)
			img, _, err := e.Decode(tt.data)
			require.NoError(t, err)
			got := int64(len(img.Planes))
			if img.Alpha != nil {
				got++
			}
			// Alpha is counted whenever the file can carry it; an opaque
			// one decodes without it.
			require.LessOrEqual(t, got, l.planes)
			require.GreaterOrEqual(t, got, l.planes-1)
		})
	}
	require.True(t, readJPEGFrame(readTestdata(t, "progressive.jpg")).progressive)
	require.False(t, readJPEGFrame(readTestdata(t, "kodim23.jpg")).progressive)

	// An interlaced PNG's passes are decoded apart first.
	var interlaced bytes.Buffer
	require.NoError(t, png.Encode(&interlaced, image.NewGray(image.Rect(0, 0, w, h))))
	data := pngWith(t, interlaced.Bytes(), 8, 0, 1)
	cfg, format, err := e.DecodeConfig(data)
	require.NoError(t, err)
	require.Equal(t, int64(2*px), sourceLayout(data, cfg, format).decoder)

	// libwebp sizes its buffer for every frame of an animation.
	anim := readTestdata(t, "animated.webp")
	cfg, format, err = e.DecodeConfig(anim)
	require.NoError(t, err)
	l := sourceLayout(anim, cfg, format)
	require.Equal(t, int64(len(anim))+(22+4*3)*int64(cfg.Width*cfg.Height), l.decoder, "3 frames")
	require.Equal(t, int64(4), l.planes)

	// A lossy WebP carries alpha only when it says so.
	opaque := &Image{Width: w, Height: h, Planes: [][]float32{make([]float32, px), make([]float32, px), make([]float32, px)}}
	lossy, err := e.Encode(opaque, EncodeOptions{Format: WebP})
	require.NoError(t, err)
	require.False(t, webpAlpha(lossy))
	opaque.Alpha = make([]float32, px)
	withAlpha, err := e.Encode(opaque, EncodeOptions{Format: WebP})
	require.NoError(t, err)
	require.True(t, webpAlpha(withAlpha))
	cfg, format, err = e.DecodeConfig(withAlpha)
	require.NoError(t, err)
	require.Equal(t, int64(4), sourceLayout(withAlpha, cfg, format).planes)
}

// TestMemoryFollowsTheWork: the weight grows with what the work holds.
func TestMemoryFollowsTheWork(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	memory := func(src []byte, opts PlanOptions) int64 {
		t.Helper()
		p, err := e.Plan(src, opts)
		require.NoError(t, err)
		return p.Memory
	}
	rgb := enginetest.PNGOfZeros(1000, 1000, 8, 2)
	rgba16 := enginetest.PNGOfZeros(1000, 1000, 16, 6)
	gray := enginetest.PNGOfZeros(1000, 1000, 8, 0)
	enhance := PlanOptions{Operation: OpEnhance}
	require.Greater(t, memory(rgba16, enhance), memory(rgb, enhance))
	require.Greater(t, memory(rgb, enhance), memory(gray, enhance))
	require.Greater(t, memory(rgb, PlanOptions{Operation: OpEnhance, Pipeline: Portrait}), memory(rgb, enhance))
	require.Greater(t, memory(rgb, PlanOptions{Operation: OpEnhance, Output: WebP}), memory(rgb, PlanOptions{Operation: OpEnhance, Output: JPEG}))
	require.Greater(t, memory(rgb, PlanOptions{Operation: OpUpscale, Factor: 4}), memory(rgb, PlanOptions{Operation: OpUpscale, Factor: 2}))
	hints := []ColorHint{{Points: [][2]int{{1, 1}}, R: 1}}
	require.Greater(t, memory(gray, PlanOptions{Operation: OpColorize, Hints: hints, Reference: rgb}),
		memory(gray, PlanOptions{Operation: OpColorize, Hints: hints}))
	// The issue's image: 25 MP of 16-bit RGBA in a 194 KB file.
	issue := memory(enginetest.PNGOfZeros(5000, 5000, 16, 6), enhance)
	require.Greater(t, issue, int64(1<<30), "its decoded planes alone are 400 MB")
}

// TestPlanSeesAHiddenProgressiveFrame: bytes that Go's JPEG decoder
// passes over before the frame header (a stray byte, fill bytes, a
// restart marker, 0xFF 0x00) do not hide that the frame is progressive,
// whose coefficients the decoder keeps: the file decodes, and weighs
// what the plain file weighs.
func TestPlanSeesAHiddenProgressiveFrame(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	plain := enginetest.FlatJPEG(64, 48, "\x01\x02\x03", true, -1)
	enhance := PlanOptions{Operation: OpEnhance}
	want, err := e.Plan(plain, enhance)
	require.NoError(t, err)
	tests := []struct {
		name string
		data []byte
	}{
		{"a stray byte after the first segment", enginetest.JPEGPadded(plain, 1, 0x00)},
		{"stray bytes after SOI's 0xFF 0x00", enginetest.JPEGPadded(plain, 0, 0xff, 0x00, 0x17, 0x2a)},
		{"a restart marker after SOI", enginetest.JPEGPadded(plain, 0, 0xff, 0xd0)},
		{"fill bytes and a restart marker", enginetest.JPEGPadded(plain, 1, 0xff, 0xff, 0xff, 0xd7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := e.Decode(tt.data)
			require.NoError(t, err, "Go's decoder takes it")
			p, err := e.Plan(tt.data, enhance)
			require.NoError(t, err)
			require.Equal(t, want.Memory, p.Memory)
		})
	}
	// A walk that finds no frame header assumes a progressive one.
	require.Equal(t, jpegFrame{}, readJPEGFrame([]byte{0xff, 0xd8, 0xff, 0xda, 0, 8}))
	cfg := image.Config{Width: 64, Height: 48, ColorModel: color.YCbCrModel}
	require.Equal(t, jpegDecoder(plain, cfg), jpegDecoder([]byte{0xff, 0xd8, 0xff, 0xda}, cfg))
}

// decoderAllowance is what Go's JPEG decoder allocates whatever the
// image's size: its Huffman and quantisation tables and read buffer
// (about 20 KB measured), which the model's bytes a pixel leave out.
const decoderAllowance = 64 << 10

// TestJPEGDecoderAllocations: the model's decoder share covers what Go's
// JPEG decoder allocates (runtime.MemStats.TotalAlloc across the decode,
// an upper bound on what it holds) for every colour model and frame, the
// tricks included. Not parallel: TotalAlloc counts the whole process, and
// parallel tests wait until the serial ones are done.
func TestJPEGDecoderAllocations(t *testing.T) {
	e := newTestEngine(t)
	ycc := "\x01\x02\x03"
	baseline := enginetest.FlatJPEG(1000, 1000, ycc, false, -1)
	// An Adobe segment with transform 0 after the scan: DecodeConfig has
	// stopped before it and says YCbCr, the decoder reads it and converts
	// to RGB.
	lateAdobe := append(append([]byte{}, baseline[:len(baseline)-2]...),
		0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0, 0xff, 0xd9)
	tests := []struct {
		name string
		data []byte
	}{
		{"gray", enginetest.FlatJPEG(1000, 1000, "\x01", false, -1)},
		{"YCbCr", baseline},
		{"progressive YCbCr", enginetest.FlatJPEG(1000, 1000, ycc, true, -1)},
		{"progressive behind a stray byte", enginetest.JPEGPadded(enginetest.FlatJPEG(1000, 1000, ycc, true, -1), 1, 0x00)},
		{"progressive behind a restart marker", enginetest.JPEGPadded(enginetest.FlatJPEG(1000, 1000, ycc, true, -1), 0, 0xff, 0xd0)},
		{"RGB by component ids", enginetest.FlatJPEG(1000, 1000, "RGB", false, -1)},
		{"RGB by Adobe transform", enginetest.FlatJPEG(1000, 1000, ycc, false, 0)},
		{"RGB by an Adobe segment after the scan", lateAdobe},
		{"CMYK", enginetest.FlatJPEG(1000, 1000, "CMYK", false, 0)},
		{"progressive YCbCrK", enginetest.FlatJPEG(1000, 1000, ycc+"\x04", true, 2)},
		{"a column, rounded up to 8 wide", enginetest.FlatJPEG(1, 65535, ycc, true, -1)},
		{"a real progressive 4:2:0 photo", readTestdata(t, "progressive.jpg")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, format, err := e.DecodeConfig(tt.data)
			require.NoError(t, err)
			l := sourceLayout(tt.data, cfg, format)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = codecs[JPEG].decode(tt.data)
			runtime.ReadMemStats(&after)
			require.NoError(t, err)
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			px := float64(l.pixels)
			t.Logf("allocated %.2f bytes a pixel, model %.2f", float64(allocated)/px, float64(l.decoder)/px)
			require.GreaterOrEqual(t, l.decoder+decoderAllowance, allocated)
		})
	}
}

// TestWebPAlphaIsTheHeaders: libwebp fills the alpha plane from the
// pixels whatever the header says, so a file whose header denies its
// alpha (a lossless image with alpha_is_used clear, an extended one with
// its alpha flag clear but an ALPH chunk) would decode to more planes than
// Plan weighed. The engine holds what the header declares, as libwebp's
// features report it.
func TestWebPAlphaIsTheHeaders(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	const w, h = 64, 48
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 31)
	}
	var buf bytes.Buffer
	require.NoError(t, webp.Encode(&buf, m, webp.Options{Lossless: true}))
	lossless := buf.Bytes()
	require.Equal(t, "VP8L", string(lossless[12:16]))
	hidden := append([]byte{}, lossless...)
	hidden[24] &^= 0x10 // alpha_is_used: bit 28 of the word after the signature
	transparent := &Image{Width: w, Height: h, Planes: [][]float32{make([]float32, w*h), make([]float32, w*h), make([]float32, w*h)}, Alpha: make([]float32, w*h)}
	for i := range transparent.Alpha {
		transparent.Alpha[i] = float32(i%7) / 7
	}
	lossy, err := e.Encode(transparent, EncodeOptions{Format: WebP})
	require.NoError(t, err)
	require.Equal(t, "VP8X", string(lossy[12:16]))
	unflagged := append([]byte{}, lossy...)
	unflagged[20] &^= 0x10
	tests := []struct {
		name  string
		data  []byte
		alpha bool
	}{
		{"lossless with alpha", lossless, true},
		{"lossless denying its alpha", hidden, false},
		{"lossy with alpha", lossy, true},
		{"an ALPH chunk behind a clear flag", unflagged, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.alpha, webpAlpha(tt.data))
			cfg, format, err := e.DecodeConfig(tt.data)
			require.NoError(t, err)
			l := sourceLayout(tt.data, cfg, format)
			img, _, err := e.Decode(tt.data)
			require.NoError(t, err)
			require.Equal(t, tt.alpha, img.Alpha != nil)
			require.LessOrEqual(t, int64(len(img.Planes))+map[bool]int64{true: 1}[img.Alpha != nil], l.planes)
		})
	}
}
