package engine

import (
	"fmt"
	"image"
	"image/png"

	"github.com/gen2brain/webp"
)

// DefaultQuality is used for lossy formats when the caller gives none.
const DefaultQuality = 90

// EncodeOptions choose the output encoding.
type EncodeOptions struct {
	Format Format
	// Quality is 1..100 for JPEG and WebP; 0 means DefaultQuality.
	Quality int
}

// Validate reports an out-of-range option.
func (o EncodeOptions) Validate() error {
	if o.Quality < 0 || o.Quality > 100 {
		return fmt.Errorf("%w: quality %d is outside 1..100", ErrInvalidOption, o.Quality)
	}
	return nil
}

// quality is the requested quality, or DefaultQuality when none was given.
func (o EncodeOptions) quality() int {
	if o.Quality == 0 {
		return DefaultQuality
	}
	return o.Quality
}

// Encode writes img in the requested format. JPEG has no alpha channel, so
// a transparent image is composited over white for it.
func (e *Engine) Encode(img *Image, opts EncodeOptions) ([]byte, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	quality := opts.quality()
	// PNG and WebP write into a buffer from the pool, copied out at its
	// exact size; the 8-bit image they read goes back to the pool too.
	buf := e.pool.outputBuffer()
	var data []byte // the JPEG encoder's own output, not copied into buf
	var err error
	switch opts.Format {
	case PNG:
		// BestSpeed: the default level costs several times the time of the
		// whole enhancement for files only a few percent smaller.
		enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: e.pool.pngEncoders()}
		if img.HighDepth {
			err = enc.Encode(buf, e.toImage16(img))
		} else {
			m := e.toImage(img, img.Alpha != nil)
			err = enc.Encode(buf, m)
			e.pool.recycleBytes(pixels(m))
		}
	case JPEG:
		src := img
		if img.Alpha != nil { // JPEG has no alpha: composite over white
			src = flattenOverWhite(img, e.cfg.Workers)
		}
		var m image.Image
		if src.Gray() {
			m = e.toImage(src, false)
		} else {
			m = e.toYCbCr420(src)
		}
		data, err = encodeJPEG(m, quality, e.cfg.Workers)
	case WebP:
		m := e.toImage(img, img.Alpha != nil)
		err = webp.Encode(buf, m, webp.Options{Quality: quality, Method: 4})
		e.pool.recycleBytes(pixels(m))
	default:
		return nil, fmt.Errorf("%w: unknown output format %q", ErrInvalidOption, opts.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: encode %s: %w", opts.Format, err)
	}
	if data == nil {
		data = e.pool.takeOutput(buf)
	}
	return embedICC(data, opts.Format, img.ICC, img.Alpha != nil, img.Width, img.Height)
}

// toImage16 keeps 16 bits per sample for PNG output of a 16-bit source.
func (e *Engine) toImage16(img *Image) image.Image {
	w, h := img.Width, img.Height
	rect := image.Rect(0, 0, w, h)
	to16 := func(v float32) uint16 { return uint16(clamp01(v)*65535 + 0.5) }
	if img.Gray() && img.Alpha == nil {
		out := image.NewGray16(rect)
		parallelRows(h, e.cfg.Workers, func(y0, y1 int) {
			for i := y0 * w; i < y1*w; i++ {
				v := to16(img.Planes[0][i])
				out.Pix[2*i], out.Pix[2*i+1] = byte(v>>8), byte(v)
			}
		})
		return out
	}
	out := image.NewNRGBA64(rect)
	parallelRows(h, e.cfg.Workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			for c := range 4 {
				var v uint16 = 65535
				switch {
				case c < 3 && img.Gray():
					v = to16(img.Planes[0][i])
				case c < 3:
					v = to16(img.Planes[c][i])
				case img.Alpha != nil:
					v = to16(img.Alpha[i])
				}
				out.Pix[8*i+2*c], out.Pix[8*i+2*c+1] = byte(v>>8), byte(v)
			}
		}
	})
	return out
}

// toImage converts planes, into pixels from the pool, to the standard
// image type each encoder handles fastest: Gray for one plane, RGBA when opaque (Go's JPEG encoder
// allocates per pixel on NRGBA), NRGBA to keep alpha.
func (e *Engine) toImage(img *Image, keepAlpha bool) image.Image {
	w, h := img.Width, img.Height
	rect := image.Rect(0, 0, w, h)
	if img.Gray() && (!keepAlpha || img.Alpha == nil) {
		out := &image.Gray{Pix: e.pool.byteBuffer(w * h), Stride: w, Rect: rect}
		p := img.Planes[0]
		parallelRows(h, e.cfg.Workers, func(y0, y1 int) {
			for i := y0 * w; i < y1*w; i++ {
				out.Pix[i] = to8(p[i])
			}
		})
		return out
	}
	r, g, b := img.Planes[0], img.Planes[0], img.Planes[0]
	if !img.Gray() {
		g, b = img.Planes[1], img.Planes[2]
	}
	if keepAlpha && img.Alpha != nil {
		out := &image.NRGBA{Pix: e.pool.byteBuffer(4 * w * h), Stride: 4 * w, Rect: rect}
		parallelRows(h, e.cfg.Workers, func(y0, y1 int) {
			for i := y0 * w; i < y1*w; i++ {
				out.Pix[4*i] = to8(r[i])
				out.Pix[4*i+1] = to8(g[i])
				out.Pix[4*i+2] = to8(b[i])
				out.Pix[4*i+3] = to8(img.Alpha[i])
			}
		})
		return out
	}
	out := &image.RGBA{Pix: e.pool.byteBuffer(4 * w * h), Stride: 4 * w, Rect: rect}
	parallelRows(h, e.cfg.Workers, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			out.Pix[4*i] = to8(r[i])
			out.Pix[4*i+1] = to8(g[i])
			out.Pix[4*i+2] = to8(b[i])
			out.Pix[4*i+3] = 255
		}
	})
	return out
}

// chromaZero is where JFIF puts zero chroma: level 128, not the middle of
// 0..255. Offsetting by 0.5 instead shifted every JPEG we wrote by half a
// level of chroma, 0.19 dB of PSNR on the Kodak photos at q90 (found
// against libjpeg-turbo's output, which it now matches).
const chromaZero = 128.0 / 255

// toYCbCr420 converts colour planes to the JPEG encoder's own layout:
// full-range BT.601 with chroma averaged over 2×2 pixels, as the encoder
// would do itself. Handing it RGBA instead costs a per-pixel conversion on
// the encoder's single thread; here it runs on every core. Alpha is
// ignored: Encode flattens it first.
func (e *Engine) toYCbCr420(img *Image) *image.YCbCr {
	w, h := img.Width, img.Height
	out := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	r, g, b := img.Planes[0], img.Planes[1], img.Planes[2]
	parallelRows((h+1)/2, e.cfg.Workers, func(cy0, cy1 int) {
		for cy := cy0; cy < cy1; cy++ {
			ys := []int{2 * cy, min(2*cy+1, h-1)} // the last odd row pairs with itself
			for _, y := range ys[:min(2, h-2*cy)] {
				rr, gg, bb := r[y*w:(y+1)*w], g[y*w:(y+1)*w], b[y*w:(y+1)*w]
				yrow := out.Y[y*out.YStride : y*out.YStride+w]
				for x := range yrow {
					yrow[x] = to8(0.299*rr[x] + 0.587*gg[x] + 0.114*bb[x])
				}
			}
			i0, i1 := ys[0]*w, ys[1]*w
			cbRow := out.Cb[cy*out.CStride:]
			crRow := out.Cr[cy*out.CStride:]
			for cx := range (w + 1) / 2 {
				x0, x1 := 2*cx, min(2*cx+1, w-1)
				rv := (r[i0+x0] + r[i0+x1] + r[i1+x0] + r[i1+x1]) * 0.25
				gv := (g[i0+x0] + g[i0+x1] + g[i1+x0] + g[i1+x1]) * 0.25
				bv := (b[i0+x0] + b[i0+x1] + b[i1+x0] + b[i1+x1]) * 0.25
				cbRow[cx] = to8(chromaZero - 0.168736*rv - 0.331264*gv + 0.5*bv)
				crRow[cx] = to8(chromaZero + 0.5*rv - 0.418688*gv - 0.081312*bv)
			}
		}
	})
	return out
}

// flattenOverWhite composites a transparent image over white.
func flattenOverWhite(img *Image, workers int) *Image {
	out := img.like(img.Width, img.Height)
	out.Planes = make([][]float32, len(img.Planes))
	for c, p := range img.Planes {
		q := make([]float32, len(p))
		parallelRows(img.Height, workers, func(y0, y1 int) {
			for i := y0 * img.Width; i < y1*img.Width; i++ {
				a := clamp01(img.Alpha[i])
				q[i] = clamp01(p[i])*a + 1 - a
			}
		})
		out.Planes[c] = q
	}
	return out
}

func to8(v float32) uint8 {
	return uint8(clamp01(v)*255 + 0.5)
}

// pixels is the pixel buffer of an image toImage made.
func pixels(m image.Image) []byte {
	switch m := m.(type) {
	case *image.Gray:
		return m.Pix
	case *image.RGBA:
		return m.Pix
	case *image.NRGBA:
		return m.Pix
	}
	return nil
}
