package engine

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
)

// The memory model behind Plan.Memory: what one operation on one image
// holds at its peak, from the headers alone, so that the admission gate
// can weigh a request before a pixel is decoded. It adds four parts, each
// counted in bytes a pixel:
//
//   - the decoder's: its image at the bit depth and colour model the
//     file declares (a 16-bit RGBA PNG: 8; a JPEG: 3, as if 4:4:4, at
//     whole MCUs, and 4 more for the image an RGB or CMYK JPEG is
//     converted to), a progressive JPEG's coefficients (4 per component;
//     jpegDecoder), an interlaced PNG's passes (one more image), libwebp's
//     WebAssembly instance (its copy of the file and its output, 8 a
//     pixel, 22 with alpha; 4 for each frame of an animation);
//   - the engine's float32 planes: one or three colour planes, plus alpha
//     when the file can carry it, 4 each;
//   - the working copies the operation makes (luma, blurs, YCbCr,
//     colorization's guided filter), in float32 planes of the work size,
//     so many per plane of the image plus so many whatever it has
//     (workCost; an upscale counts them at the output's size);
//   - the encoder's, at the output's size (encodeMemory).
//
// Planes, working copies and encoder buffers of images up to a megapixel
// come from the engine's pool and go back to it (pool.go): the model
// counts them as it counts fresh ones, an eighth of size class aside,
// which its margins hold (TestPooledPipelineWorkCoversItsAllocations).
//
// The phases come one after another, so the sum is above the true peak;
// it is kept so that no image is ever under-weighed. The figures come
// from bench/budget.go, which measures the peak resident memory one
// operation adds to a fresh process (GOGC=100, so the collector's slack
// is in it) on 12 MP photos (3 MP for upscale) as JPEG, gray JPEG, 8-bit
// PNG, 16-bit RGBA PNG and WebP with and without alpha, through every
// pipeline and output format, and each phase alone. Every figure below
// covers its measurements with room to spare. The table once held only
// flat or clean 12 MP files, on which Denoise does not run; noisy JPEGs
// of 0.5 to 12 MP are in it now (a noisy 12 MP JPEG enhanced (general)
// peaked at 1077 MB against a weight of 396 MB before Denoise worked in
// place; now 516 MB against 828 MB). The pipelines' and the JPEG
// encoder's shares assume the worst content, so clean photos weigh up to
// about 4 times their peak. For example, a 12 MP JPEG enhanced
// (general) to JPEG peaked at 314 MiB when it weighed 378 MiB; the issue's
// 25 MP 16-bit RGBA PNG of zeros, enhanced to PNG, peaks at 1.06 GiB and
// weighs 1.58 GiB.

// workCost is an operation's working copies, in float32 planes of the
// work size: perPlane for each of the image's planes, plus fixed, plus
// dehaze planes of at most dehazeWorkPixels (Dehaze's reduced copy).
type workCost struct{ perPlane, fixed, dehaze int64 }

// The working copies, measured.
var (
	//
	// A pipeline's are everything its steps allocate, added up as if
	// every step ran (the worst content: noisy, hazy, with skin), since
	// the collector (GOGC=100) may leave one step's planes unreclaimed
	// while the next allocates its own: measured with TotalAlloc per step
	// (TestPipelineWorkCoversItsAllocations). General: the noise estimate
	// (up to 2 planes of samples on a small image) and Denoise's 4, local
	// contrast's 2, sharpening's 3. Portrait adds skin masks (3 planes
	// each, in white balance, skin smoothing and sharpening) and skin
	// smoothing's luma and guided filter. Landscape: General's and
	// Dehaze's, which estimates the transmission on a copy of at most
	// dehazeWorkPixels (the copy, the dark channel, the haze lines and a
	// guided filter: 18 planes of it) and brings it to full size (2).
	pipelineCost = map[EnhancementType]workCost{
		General:   {0, 11, 0},
		Portrait:  {4, 13, 0},
		Landscape: {0, 13, 18},
	}
	upscaleCost  = workCost{1, 3, 0}  // at the output's size
	colorizeCost = workCost{0, 24, 0} // luma, chroma, hints, pyramid, guided filter
	// referenceCost: a reference photo's working planes (its YCbCr, its
	// remapped luma and local statistics), at its own size; the target
	// gains referenceTarget planes of local statistics.
	referenceCost   = workCost{1, 8, 0}
	referenceTarget = int64(4)
)

// layout is how one decoded source sits in memory.
type layout struct {
	pixels int64
	// decoder is what the decoder allocates: its image, and the
	// coefficients, passes or frames that come with it.
	decoder int64
	// planes is the float32 planes the engine holds: 1 (gray) or 3
	// colour planes, plus alpha (4) when the file can carry it.
	planes int64
	// deep: 16 bits a sample, written back as 16-bit PNG.
	deep bool
	// oriented: an EXIF orientation is applied, which copies the planes.
	oriented bool
}

// planeBytes is n float32 planes of px pixels.
func planeBytes(px, n int64) int64 { return 4 * px * n }

// work is the bytes of c's working copies on px pixels of l's planes.
func (c workCost) work(l layout, px int64) int64 {
	return planeBytes(px, c.perPlane*l.planes+c.fixed) + planeBytes(min(px, dehazeWorkPixels), c.dehaze)
}

// held is what the decoded source holds: the decoder's image, the planes
// and Orient's copy of them.
func (l layout) held() int64 {
	n := l.planes
	if l.oriented {
		n *= 2
	}
	return l.decoder + planeBytes(l.pixels, n)
}

func enhanceMemory(l layout, pipeline EnhancementType, out Format) int64 {
	return l.held() + pipelineWork(l, pipeline) + encodeMemory(l, out, l.pixels)
}

// pipelineWork is the working copies of pipeline on l's image.
func pipelineWork(l layout, pipeline EnhancementType) int64 {
	cost, ok := pipelineCost[pipeline]
	if !ok {
		cost = pipelineCost[General]
	}
	return cost.work(l, l.pixels)
}

func upscaleMemory(l layout, factor int, out Format) int64 {
	outPixels := l.pixels * int64(factor*factor)
	return l.held() + upscaleCost.work(l, outPixels) + encodeMemory(l, out, outPixels)
}

func colorizeMemory(l layout, ref *layout, out Format) int64 {
	m := l.held() + colorizeCost.work(l, l.pixels) + encodeMemory(l, out, l.pixels)
	if ref != nil {
		m += planeBytes(l.pixels, referenceTarget) + ref.held() + referenceCost.work(*ref, ref.pixels)
	}
	return m
}

// encodeMemory is what encoding px pixels of an image like l to f holds,
// measured with each encoder alone: JPEG, 10 bytes a pixel (our encoder's
// YCbCr image, 1.5, and its output for the worst content, uniform noise
// at quality 100, 2 bytes a pixel, held as rows grown by append, up to
// twice that, then joined, and copied once more to embed a profile;
// Plan does not know the quality), and 12 more to composite alpha over
// white;
// PNG, 3.5 times the 8- or 16-bit image it encodes (that image, output up
// to its size for a noisy photo, and the buffer's growth); WebP, 36 bytes
// a pixel, 110 with alpha (libwebp's instance holds the RGBA input, its
// own YUV and analysis, and compresses alpha losslessly apart).
func encodeMemory(l layout, f Format, px int64) int64 {
	alpha := l.planes == 4
	switch f {
	case JPEG:
		if alpha {
			return px * 22
		}
		return px * 10
	case WebP:
		if alpha {
			return px * 110
		}
		return px * 36
	default: // PNG
		raw := int64(4)
		switch {
		case l.planes == 1 && l.deep:
			raw = 2
		case l.planes == 1:
			raw = 1
		case l.deep:
			raw = 8
		}
		return px * raw * 7 / 2
	}
}

// sourceLayout reads how data will be decoded from its header (cfg is
// DecodeConfig's answer for it).
func sourceLayout(data []byte, cfg image.Config, format Format) layout {
	px := int64(cfg.Width) * int64(cfg.Height)
	l := layout{pixels: px, oriented: ReadMetadata(data, format).Orientation > 1}
	switch format {
	case JPEG:
		l.decoder = jpegDecoder(data, cfg)
		l.planes = 3
		if cfg.ColorModel == color.GrayModel {
			l.planes = 1
		}
	case PNG:
		l.decoder, l.planes, l.deep = pngLayout(data, cfg, px)
	case WebP:
		// libwebp runs in a WebAssembly instance whose memory holds a
		// copy of the file and the decoded image (Y, A and quarter-size Cb
		// and Cr, which the engine then reads in place) besides libwebp's
		// own buffers: measured, 8 bytes a pixel for an opaque photo, 22
		// with alpha (decoded losslessly apart). For an animation it sizes
		// its output for every frame, 4 bytes a pixel each.
		l.planes = 3
		perPixel := int64(8)
		if webpAlpha(data) {
			l.planes, perPixel = 4, 22
		}
		if cfg.ColorModel == color.RGBAModel {
			l.planes, perPixel = 4, 22+4*int64(frames(data, WebP))
		}
		l.decoder = int64(len(data)) + px*perPixel
	}
	return l
}

// pngLayout is what Go's PNG decoder allocates for data and the planes
// the engine converts it to. DecodeConfig's colour model does not say
// everything: a gray or truecolour PNG with a tRNS chunk decodes to
// NRGBA (4 or 8 bytes a pixel, with alpha), so the chunks before IDAT are
// read here; an interlaced PNG decodes each pass to its own image first.
func pngLayout(data []byte, cfg image.Config, px int64) (decoder, planes int64, deep bool) {
	var colorType, depth, interlace byte
	if len(data) >= 29 {
		depth, colorType, interlace = data[24], data[25], data[28]
	}
	trns := false
	for i := 8; i+8 <= len(data); {
		length := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if typ == "IDAT" || length < 0 || length > len(data) {
			break
		}
		if typ == "tRNS" {
			trns = true
		}
		i += 12 + length
	}
	deep = depth == 16
	perPixel := int64(4) // NRGBA, RGBA
	if deep {
		perPixel = 8 // NRGBA64, RGBA64
	}
	switch {
	case colorType == 0 && !trns: // gray
		perPixel, planes = 1, 1
		if deep {
			perPixel = 2
		}
	case colorType == 2 && !trns: // opaque truecolour
		planes = 3
	case colorType == 3: // paletted: one byte a pixel
		perPixel, planes = 1, 3
		if p, ok := cfg.ColorModel.(color.Palette); ok {
			for _, c := range p {
				if _, _, _, a := c.RGBA(); a != 0xffff {
					planes = 4
					break
				}
			}
		}
	default: // gray or truecolour with alpha or tRNS
		planes = 4
	}
	decoder = px * perPixel
	if interlace == 1 {
		decoder *= 2
	}
	return decoder, planes, deep
}

// webpAlpha reports whether a WebP carries alpha as libwebp's features
// say (WebPGetFeatures' has_alpha): a simple lossy image never; a simple
// lossless one when its alpha_is_used bit is set; an extended one when
// its alpha flag is set or it has an ALPH chunk, which libwebp decodes
// whatever the flag says. libwebp fills the alpha plane from the pixels
// even when the header says none (a lossless image's bit is only a hint);
// Decode then takes the header's word, as libwebp's dwebp does, so that
// the engine holds what Plan weighed.
func webpAlpha(data []byte) bool {
	if len(data) < 25 {
		return true // cannot tell: assume the heavier case
	}
	switch string(data[12:16]) {
	case "VP8 ":
		return false
	case "VP8L": // signature 0x2f, then 14 bits each of width and height, then alpha_is_used
		return binary.LittleEndian.Uint32(data[21:])>>28&1 == 1
	case "VP8X":
		if data[20]&0x10 != 0 {
			return true
		}
		for i := 12; i+8 <= len(data); {
			if string(data[i:i+4]) == "ALPH" {
				return true
			}
			size := int(binary.LittleEndian.Uint32(data[i+4:]))
			if size < 0 || size > len(data) {
				break
			}
			i += 8 + size + size&1
		}
		return false
	}
	return true
}

// jpegDecoder is what Go's JPEG decoder allocates for data, from its
// frame header (cfg is DecodeConfig's answer for it). Each component is
// decoded to a plane no larger than the first component's (Y, or C of
// CMYK), which is the image rounded up to whole MCUs (8×8 blocks times
// its sampling factors): counted as a byte a pixel for every component,
// as if 4:4:4, since chroma subsampling only makes the others smaller;
// and a progressive JPEG keeps every block's 64 int32 coefficients, 4
// bytes a pixel for each component. Measured with TotalAlloc on flat
// 1 MP files (TestJPEGDecoderAllocations): 1.02 bytes a pixel gray, 3.02
// YCbCr, 15.04 progressive.
//
// Two colour models cost a second image on top: an RGB JPEG (component
// ids R, G, B, or an Adobe segment with transform 0) is converted to
// image.RGBA, and a CMYK or YCbCrK one to image.CMYK, 4 bytes a pixel
// each (measured: 7.03 and 8.03 bytes a pixel in all). DecodeConfig
// stops at the first scan, but the decoder reads an Adobe segment
// wherever it comes, so the whole file is searched for one.
func jpegDecoder(data []byte, cfg image.Config) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	f := readJPEGFrame(data)
	components := int64(3)
	switch cfg.ColorModel {
	case color.GrayModel:
		components = 1
	case color.CMYKModel:
		components = 4
	}
	h0, v0 := int64(f.h0), int64(f.v0)
	if !f.found {
		h0, v0 = 4, 2 // the largest MCU Go's decoder accepts
	}
	if components == 1 {
		h0, v0 = 1, 1 // a single component is never interleaved
	}
	mcuW, mcuH := 8*h0, 8*v0
	plane := (int64(cfg.Width) + mcuW - 1) / mcuW * mcuW * ((int64(cfg.Height) + mcuH - 1) / mcuH * mcuH)
	decoder := plane * components
	if !f.found || f.progressive {
		decoder += plane * components * 4
	}
	if components == 4 || cfg.ColorModel == color.RGBAModel || (components == 3 && jpegAdobeRGB(data)) {
		decoder += px * 4
	}
	return decoder
}

// jpegFrame is what a JPEG's frame header (SOF) says about decoding it.
type jpegFrame struct {
	// found: a frame header came before the first scan.
	found bool
	// progressive: the frame is SOF2.
	progressive bool
	// h0, v0: the first component's sampling factors, which size the
	// MCUs and so the padded planes.
	h0, v0 int
}

// readJPEGFrame finds a JPEG's frame header by walking its markers up to
// the first scan as Go's image/jpeg decoder does (reader.go, decode), so
// that no file it decodes can hide the frame from this walk: bytes that
// are not 0xFF are skipped one by one (libjpeg too accepts extraneous
// data between segments), 0xFF 0x00 is skipped as extraneous, any run of
// 0xFF is fill before a marker, restart markers (RST0 to RST7) carry no
// length, and every other marker before the first scan carries a 16-bit
// length. Go's decoder refuses a scan before the frame header; a walk
// that ends without one reports found false, and the caller assumes the
// heaviest frame.
func readJPEGFrame(data []byte) jpegFrame {
	for i := 2; i+1 < len(data); {
		if data[i] != 0xff {
			i++
			continue
		}
		if data[i+1] == 0x00 {
			i += 2
			continue
		}
		i++
		for i < len(data) && data[i] == 0xff {
			i++
		}
		if i+2 >= len(data) {
			break
		}
		marker := data[i]
		i++
		switch {
		case marker == 0xd9 || marker == 0xda: // EOI, or a scan before any frame header
			return jpegFrame{}
		case marker >= 0xd0 && marker <= 0xd7: // RST: no length
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 {
			break
		}
		if marker == 0xc0 || marker == 0xc1 || marker == 0xc2 {
			// P, Y, X, Nf, then for each component: id, H<<4|V, Tq.
			if i+2+6+3 > len(data) {
				break
			}
			hv := data[i+2+7]
			return jpegFrame{found: true, progressive: marker == 0xc2, h0: max(int(hv>>4), 1), v0: max(int(hv&0x0f), 1)}
		}
		i += n
	}
	return jpegFrame{}
}

// jpegAdobeRGB reports whether data holds an Adobe APP14 segment with
// colour transform 0, which makes Go's decoder convert a three-component
// JPEG without a JFIF segment to RGB, whether or not DecodeConfig saw it
// (it stops at the first scan; the decoder reads markers between scans
// too). Every segment the decoder reads is in the file as 0xFF 0xEE and
// its length, so searching the bytes finds all it could see, and perhaps
// more (the bytes inside another segment): erring heavy.
func jpegAdobeRGB(data []byte) bool {
	for i := 0; ; i++ {
		j := bytes.Index(data[i:], []byte{0xff, 0xee})
		if j < 0 {
			return false
		}
		i += j
		// Length (at least 14), "Adobe", version, flags0, flags1, transform.
		if i+16 <= len(data) && binary.BigEndian.Uint16(data[i+2:]) >= 14 &&
			string(data[i+4:i+9]) == "Adobe" && data[i+15] == 0 {
			return true
		}
	}
}
