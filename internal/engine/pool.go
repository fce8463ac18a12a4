package engine

import (
	"bytes"
	"image/png"
	"math/bits"
	"slices"
	"sync"
)

// pool recycles what one image's work allocates and drops, for the next
// image: float32 planes (the decoded image's, and the steps' luma and
// blurs), Levels' histograms, the 8-bit image an encoder reads and its
// output buffer, and the PNG encoder's state. A 64×64 enhance allocated
// 1.7 MB, 1.2 MB of it the PNG encoder's compressor alone, so that every
// small request cost a garbage collection.
//
// Pooled buffers are what the memory model (memory.go) counts: a plane
// from the pool is the plane the model counts, no larger than an eighth
// above it (sizeClass). Buffers back in the pool are held as garbage is
// held, until the collector's second cycle after their last use
// (sync.Pool), so the peak the model was measured with (GOGC=100, the
// collector's slack in it) still bounds them. Only images of up to
// maxPooledPixels are pooled: a large photo's planes are rarely met again
// at the same size, and would be held for nothing.
//
// A nil *pool allocates afresh and drops what it is given, so that images
// made outside the engine (tests, NewImage) work as before.
type pool struct {
	// planes and bytes hold buffers by size class (sizeClass).
	planes, bytes sync.Map // int → *sync.Pool
	hists         sync.Pool
	png           pngBuffers
	// outputs are encoders' output buffers (bytes.Buffer).
	outputs sync.Pool
}

// maxPooledPixels is the largest plane the pool keeps: 1 megapixel.
const maxPooledPixels = 1 << 20

// sizeClass rounds n up to one of 8 steps between powers of two, so that
// images of nearby sizes share buffers and none is more than 1/8 larger
// than asked for.
func sizeClass(n int) int {
	if n <= 64 {
		return 64
	}
	step := 1 << max(bits.Len(uint(n-1))-4, 0)
	return (n + step - 1) / step * step
}

// classPool is the pool of buffers of size class c in m.
func classPool(m *sync.Map, c int) *sync.Pool {
	if p, ok := m.Load(c); ok {
		return p.(*sync.Pool)
	}
	p, _ := m.LoadOrStore(c, new(sync.Pool))
	return p.(*sync.Pool)
}

// plane is a zeroed plane of n samples, as make([]float32, n) is.
func (p *pool) plane(n int) []float32 {
	if p == nil || n > maxPooledPixels {
		return make([]float32, n)
	}
	c := sizeClass(n)
	if b, ok := classPool(&p.planes, c).Get().(*[]float32); ok {
		s := (*b)[:n]
		clear(s)
		return s
	}
	return make([]float32, n, c)
}

// recycle gives planes back: the caller holds no other reference to them.
func (p *pool) recycle(planes ...[]float32) {
	if p == nil {
		return
	}
	for _, s := range planes {
		c := cap(s)
		if c == 0 || c > maxPooledPixels || sizeClass(c) != c {
			continue // not of a size class: left to the collector
		}
		s = s[:c]
		classPool(&p.planes, c).Put(&s)
	}
}

// byteBuffer is a zeroed byte slice of length n.
func (p *pool) byteBuffer(n int) []byte {
	if p == nil || n > 8*maxPooledPixels {
		return make([]byte, n)
	}
	c := sizeClass(n)
	if b, ok := classPool(&p.bytes, c).Get().(*[]byte); ok {
		s := (*b)[:n]
		clear(s)
		return s
	}
	return make([]byte, n, c)
}

// recycleBytes gives a byte slice back.
func (p *pool) recycleBytes(s []byte) {
	c := cap(s)
	if p == nil || c == 0 || c > 8*maxPooledPixels || sizeClass(c) != c {
		return
	}
	s = s[:c]
	classPool(&p.bytes, c).Put(&s)
}

// maxPooledOutput is the largest output buffer the pool keeps: a PNG of
// about a megapixel.
const maxPooledOutput = 4 << 20

// outputBuffer is an empty buffer for an encoder's output.
func (p *pool) outputBuffer() *bytes.Buffer {
	if p != nil {
		if b, ok := p.outputs.Get().(*bytes.Buffer); ok {
			return b
		}
	}
	return new(bytes.Buffer)
}

// takeOutput is what was written to b, which goes back to the pool: a
// copy at its exact size, or b's own bytes when b is too large to keep
// (a large output is not copied).
func (p *pool) takeOutput(b *bytes.Buffer) []byte {
	if p == nil || b.Cap() > maxPooledOutput {
		return b.Bytes()
	}
	data := bytes.Clone(b.Bytes())
	b.Reset()
	p.outputs.Put(b)
	return data
}

// histBlock holds the three histograms of one hists in one allocation.
type histBlock [3 * histBins]int

// newHists is a zeroed set of histograms.
func (p *pool) newHists() hists {
	var b *histBlock
	if p != nil {
		b, _ = p.hists.Get().(*histBlock)
	}
	if b == nil {
		b = new(histBlock)
	} else {
		clear(b[:])
	}
	return hists{min: b[:histBins], max: b[histBins : 2*histBins], luma: b[2*histBins:]}
}

// recycleHists gives back histograms that newHists made.
func (p *pool) recycleHists(h hists) {
	if p == nil || cap(h.min) != len(histBlock{}) {
		return
	}
	p.hists.Put((*histBlock)(h.min[:cap(h.min)]))
}

// pngBuffers lets PNG encoders reuse their state (png.EncoderBufferPool):
// its zlib compressor is 1.2 MB however small the image.
type pngBuffers struct{ p sync.Pool }

// Get implements png.EncoderBufferPool.
func (b *pngBuffers) Get() *png.EncoderBuffer {
	e, _ := b.p.Get().(*png.EncoderBuffer)
	return e
}

// Put implements png.EncoderBufferPool.
func (b *pngBuffers) Put(e *png.EncoderBuffer) { b.p.Put(e) }

// pngEncoders is the pool of PNG encoders' state (nil: none).
func (p *pool) pngEncoders() png.EncoderBufferPool {
	if p == nil {
		return nil
	}
	return &p.png
}

// newImage is NewImage with planes from the pool; release gives them back.
func (p *pool) newImage(width, height, n int, alpha bool) *Image {
	img := &Image{Width: width, Height: height, Planes: make([][]float32, n), pool: p}
	for i := range img.Planes {
		img.Planes[i] = p.plane(width * height)
	}
	if alpha {
		img.Alpha = p.plane(width * height)
	}
	return img
}

// release gives m's planes back to its pool once nothing reads them any
// more (the last stage of an operation), and leaves m without planes, so
// that a use after it fails loudly instead of reading another image.
func (m *Image) release() {
	given := make([]*float32, 0, 4)
	for _, s := range append(m.Planes[:len(m.Planes):len(m.Planes)], m.Alpha) {
		if len(s) == 0 || slices.Contains(given, &s[0]) {
			continue // a plane held twice is given back once
		}
		given = append(given, &s[0])
		m.pool.recycle(s)
	}
	m.Planes, m.Alpha = nil, nil
}
