package engine

import "math"

// Image is a decoded picture in planar float32 form, each sample in [0, 1]
// in the sRGB-encoded space. Planar buffers keep every filter a tight loop
// over one slice, with no per-pixel interface calls.
type Image struct {
	Width, Height int
	// Planes holds one plane (grayscale) or three (R, G, B), each
	// Width*Height long, row-major.
	Planes [][]float32
	// Alpha is the straight (unpremultiplied) alpha plane, nil when opaque.
	Alpha []float32
	// HighDepth marks a 16-bit source, written back as 16-bit PNG.
	HighDepth bool
	// ICC is the source's colour profile, embedded again in the output.
	ICC []byte
	// Orientation is the EXIF orientation applied at decoding (0 if none).
	Orientation int
	// pool is where the engine's images take their planes and working
	// copies from, and give them back (nil: allocated afresh).
	pool *pool
}

// like returns an empty image of the given size that carries m's
// depth and colour profile.
func (m *Image) like(w, h int) *Image {
	return &Image{Width: w, Height: h, HighDepth: m.HighDepth, ICC: m.ICC, Orientation: m.Orientation, pool: m.pool}
}

// NewImage allocates an image with n colour planes (1 or 3).
func NewImage(width, height, n int, alpha bool) *Image {
	return (*pool)(nil).newImage(width, height, n, alpha)
}

// recycle gives working planes back to the image's pool once the caller
// is done with them (it must hold no other reference).
func (m *Image) recycle(planes ...[]float32) { m.pool.recycle(planes...) }

// Gray reports whether the image has a single colour plane.
func (m *Image) Gray() bool { return len(m.Planes) == 1 }

// Luma returns the Rec. 709 luma of every pixel in a new plane (from the
// image's pool: a step may give it back with recycle).
func (m *Image) Luma(workers int) []float32 {
	y := m.pool.plane(m.Width * m.Height)
	if m.Gray() {
		copy(y, m.Planes[0])
		return y
	}
	r, g, b := m.Planes[0], m.Planes[1], m.Planes[2]
	parallelRows(m.Height, workers, func(y0, y1 int) {
		for i := y0 * m.Width; i < y1*m.Width; i++ {
			y[i] = lumaR*r[i] + lumaG*g[i] + lumaB*b[i]
		}
	})
	return y
}

// Rec. 709 luma weights.
const (
	lumaR = 0.2126
	lumaG = 0.7152
	lumaB = 0.0722
)

// SRGBToLinear decodes an sRGB value in [0, 1] to linear light.
func SRGBToLinear(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

// LinearToSRGB encodes linear light in [0, 1] as an sRGB value.
func LinearToSRGB(x float64) float64 {
	if x <= 0.0031308 {
		return x * 12.92
	}
	return 1.055*math.Pow(x, 1/2.4) - 0.055
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}
