package engine

import (
	"encoding/binary"
	"errors"
	"image"
	"math"
	"math/bits"
)

// encodeJPEG writes m (*image.YCbCr 4:2:0 or *image.Gray) as a baseline
// JPEG with the standard (ITU T.81 Annex K) quantisation tables scaled for
// quality as libjpeg and Go's image/jpeg scale them, and the standard
// Huffman tables, so a quality number means what users know it to mean.
//
// It is our own encoder rather than image/jpeg's for speed: a restart
// marker after every row of MCUs makes the rows independent, so they are
// encoded on every core and joined; the forward DCT is the AAN float
// factorisation (Arai, Agui and Nakajima 1988, as libjpeg's jfdctflt) with
// its output scaling folded into the quantiser, which is then a multiply
// instead of Go's rounding integer division (18% of an upscale's time in a
// profile); and the bit writer flushes 32 bits at a time.
func encodeJPEG(m image.Image, quality, workers int) ([]byte, error) {
	var comps []jpegComponent
	var w, h int
	switch m := m.(type) {
	case *image.YCbCr:
		if m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			return nil, errors.New("engine: JPEG encoder wants 4:2:0 chroma")
		}
		b := m.Bounds()
		w, h = b.Dx(), b.Dy()
		cw, ch := (w+1)/2, (h+1)/2
		yOff := m.YOffset(b.Min.X, b.Min.Y)
		cOff := m.COffset(b.Min.X, b.Min.Y)
		comps = []jpegComponent{
			{pix: m.Y[yOff:], stride: m.YStride, w: w, h: h, blocks: 2, table: 0},
			{pix: m.Cb[cOff:], stride: m.CStride, w: cw, h: ch, blocks: 1, table: 1},
			{pix: m.Cr[cOff:], stride: m.CStride, w: cw, h: ch, blocks: 1, table: 1},
		}
	case *image.Gray:
		b := m.Bounds()
		w, h = b.Dx(), b.Dy()
		comps = []jpegComponent{{pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], stride: m.Stride, w: w, h: h, blocks: 1, table: 0}}
	default:
		return nil, errors.New("engine: JPEG encoder wants *image.YCbCr or *image.Gray")
	}
	if w < 1 || h < 1 || w > 65535 || h > 65535 {
		return nil, errors.New("engine: JPEG dimensions must be 1 to 65535")
	}
	quality = min(max(quality, 1), 100)
	var quant [2][64]uint8
	for t, base := range [2]*[64]uint8{&jpegLumaQuant, &jpegChromaQuant} {
		quant[t] = scaleQuant(base, quality)
	}
	enc := jpegScan{comps: comps, mcu: 8 * comps[0].blocks}
	for t := range quant {
		enc.divisors[t] = quantDivisors(&quant[t])
	}
	mcusPerRow := (w + enc.mcu - 1) / enc.mcu
	rows := (h + enc.mcu - 1) / enc.mcu

	// One restart interval per row of MCUs, each encoded on its own.
	parts := make([][]byte, rows)
	parallelRows(rows, workers, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			parts[r] = enc.row(r, mcusPerRow)
		}
	})

	size := 1024
	for _, p := range parts {
		size += len(p) + 2
	}
	out := make([]byte, 0, size)
	out = appendJPEGHeaders(out, w, h, len(comps), &quant, mcusPerRow)
	for r, p := range parts {
		if r > 0 {
			out = append(out, 0xff, 0xd0+byte((r-1)%8))
		}
		out = append(out, p...)
	}
	return append(out, 0xff, 0xd9), nil
}

// jpegComponent is one plane to encode: its samples, size, how many
// blocks across and down it has in each MCU (2 for luma with 4:2:0
// chroma, otherwise 1) and which quantisation and Huffman tables it uses.
type jpegComponent struct {
	pix          []uint8
	stride, w, h int
	blocks       int
	table        int
}

// jpegScan holds what every row of MCUs shares; it is read-only while the
// rows are encoded.
type jpegScan struct {
	comps    []jpegComponent
	mcu      int // MCU width and height in pixels
	divisors [2][64]float32
}

// row entropy-codes one row of MCUs, with fresh DC predictors as a
// restart requires and padded with 1-bits to a whole byte.
func (s *jpegScan) row(r, mcusPerRow int) []byte {
	var bw bitWriter
	bw.buf = make([]byte, 0, 64*mcusPerRow)
	var prevDC [3]int32
	var block [64]float32
	for m := range mcusPerRow {
		for c := range s.comps {
			comp := &s.comps[c]
			t := comp.table
			for by := range comp.blocks {
				for bx := range comp.blocks {
					comp.load(&block, (m*comp.blocks+bx)*8, (r*comp.blocks+by)*8)
					fdct(&block)
					prevDC[c] = bw.block(&block, &s.divisors[t], prevDC[c], &jpegHuffman[2*t], &jpegHuffman[2*t+1])
				}
			}
		}
	}
	bw.pad()
	return bw.buf
}

// load copies the 8×8 block at (x0, y0), level-shifted to −128..127, with
// the last column and row repeated past the plane's edge.
func (c *jpegComponent) load(b *[64]float32, x0, y0 int) {
	for y := range 8 {
		row := c.pix[min(y0+y, c.h-1)*c.stride:]
		dst := b[8*y : 8*y+8]
		if x0+8 <= c.w {
			src := row[x0 : x0+8]
			for x := range dst {
				dst[x] = float32(src[x]) - 128
			}
			continue
		}
		for x := range dst {
			dst[x] = float32(row[min(x0+x, c.w-1)]) - 128
		}
	}
}

// fdct is the AAN forward DCT of b in place, rows then columns. Each
// output is the true DCT coefficient times 8·aan[u]·aan[v], which
// quantDivisors removes.
func fdct(b *[64]float32) {
	for i := range 8 {
		fdct8(b, 8*i, 1)
	}
	for i := range 8 {
		fdct8(b, i, 8)
	}
}

// fdct8 transforms the eight values b[o], b[o+s], … b[o+7s].
func fdct8(b *[64]float32, o, s int) {
	d0, d1, d2, d3 := b[o], b[o+s], b[o+2*s], b[o+3*s]
	d4, d5, d6, d7 := b[o+4*s], b[o+5*s], b[o+6*s], b[o+7*s]
	t0, t7 := d0+d7, d0-d7
	t1, t6 := d1+d6, d1-d6
	t2, t5 := d2+d5, d2-d5
	t3, t4 := d3+d4, d3-d4

	// Even part.
	t10, t13 := t0+t3, t0-t3
	t11, t12 := t1+t2, t1-t2
	b[o] = t10 + t11
	b[o+4*s] = t10 - t11
	z1 := (t12 + t13) * 0.707106781
	b[o+2*s] = t13 + z1
	b[o+6*s] = t13 - z1

	// Odd part.
	t10 = t4 + t5
	t11 = t5 + t6
	t12 = t6 + t7
	z5 := (t10 - t12) * 0.382683433
	z2 := 0.541196100*t10 + z5
	z4 := 1.306562965*t12 + z5
	z3 := t11 * 0.707106781
	z11, z13 := t7+z3, t7-z3
	b[o+5*s] = z13 + z2
	b[o+3*s] = z13 - z2
	b[o+1*s] = z11 + z4
	b[o+7*s] = z11 - z4
}

// quantDivisors turns a quantisation table into the multipliers that
// take fdct's scaled output to quantised coefficients (both in natural
// order).
func quantDivisors(q *[64]uint8) [64]float32 {
	var aan [8]float64
	aan[0] = 1
	for k := 1; k < 8; k++ {
		aan[k] = math.Cos(float64(k)*math.Pi/16) * math.Sqrt2
	}
	var d [64]float32
	for n, v := range q {
		d[n] = float32(1 / (float64(v) * aan[n%8] * aan[n/8] * 8))
	}
	return d
}

// scaleQuant scales a base table for quality 1..100 as libjpeg does.
func scaleQuant(base *[64]uint8, quality int) [64]uint8 {
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	var q [64]uint8
	for i, v := range base {
		q[i] = uint8(min(max((int(v)*scale+50)/100, 1), 255))
	}
	return q
}

// bitWriter packs Huffman codes into bytes, stuffing a zero after each
// 0xFF as the format requires.
type bitWriter struct {
	buf  []byte
	acc  uint64
	bits uint
}

// put appends the low n bits of v (n ≤ 32).
func (w *bitWriter) put(v uint32, n uint) {
	w.acc = w.acc<<n | uint64(v)
	w.bits += n
	if w.bits < 32 {
		return
	}
	for w.bits >= 8 {
		w.bits -= 8
		b := byte(w.acc >> w.bits)
		w.buf = append(w.buf, b)
		if b == 0xff {
			w.buf = append(w.buf, 0)
		}
	}
}

// pad fills the last byte with 1-bits and flushes it.
func (w *bitWriter) pad() {
	w.put(0x7f, 7)
	for w.bits >= 8 {
		w.bits -= 8
		b := byte(w.acc >> w.bits)
		w.buf = append(w.buf, b)
		if b == 0xff {
			w.buf = append(w.buf, 0)
		}
	}
	w.acc, w.bits = 0, 0
}

// block quantises a transformed block and writes it; it returns its DC
// coefficient, the next block's predictor.
func (w *bitWriter) block(b *[64]float32, div *[64]float32, prevDC int32, dc, ac *huffCodes) int32 {
	var q [64]int32
	for i, v := range b {
		// Rounds half up; the offset keeps the argument positive.
		q[i] = int32(v*div[i]+16384.5) - 16384
	}
	w.putValue(q[0]-prevDC, 0, dc)
	run := uint32(0)
	for _, n := range jpegZigzag[1:] {
		// Baseline AC values have at most 10 bits, which rounding could
		// pass; the DC (down to −1024) needs no bound.
		v := min(max(q[n], -1023), 1023)
		if v == 0 {
			run++
			continue
		}
		for run > 15 {
			w.put(ac.code[0xf0], uint(ac.size[0xf0]))
			run -= 16
		}
		w.putValue(v, run, ac)
		run = 0
	}
	if run > 0 {
		w.put(ac.code[0], uint(ac.size[0]))
	}
	return q[0]
}

// putValue writes the symbol (run, size of v) and v's bits: a negative v
// is written as v−1 in size bits, as the format requires.
func (w *bitWriter) putValue(v int32, run uint32, h *huffCodes) {
	a := v
	if v < 0 {
		a = -v
		v--
	}
	size := uint32(bits.Len32(uint32(a)))
	sym := run<<4 | size
	n := uint(h.size[sym]) + uint(size)
	w.put(h.code[sym]<<size|uint32(v)&(1<<size-1), n)
}

// huffCodes is a Huffman table as codes and lengths per symbol.
type huffCodes struct {
	code [256]uint32
	size [256]uint8
}

// huffSpec is a Huffman table as a JPEG stores it: how many codes of each
// length 1..16, then the symbols in code order.
type huffSpec struct {
	counts [16]uint8
	values []uint8
}

// codes assigns the canonical codes (T.81 Annex C).
func (s *huffSpec) codes() huffCodes {
	var h huffCodes
	code, k := uint32(0), 0
	for n, count := range s.counts {
		for range count {
			h.code[s.values[k]] = code
			h.size[s.values[k]] = uint8(n + 1)
			code++
			k++
		}
		code <<= 1
	}
	return h
}

// appendJPEGHeaders writes SOI, JFIF, the tables, the frame, the restart
// interval and the scan header.
func appendJPEGHeaders(out []byte, w, h, ncomp int, quant *[2][64]uint8, interval int) []byte {
	segment := func(marker byte, body ...byte) {
		out = append(out, 0xff, marker)
		out = binary.BigEndian.AppendUint16(out, uint16(len(body)+2))
		out = append(out, body...)
	}
	out = append(out, 0xff, 0xd8)
	segment(0xe0, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	tables := 2
	if ncomp == 1 {
		tables = 1
	}
	var dqt []byte
	for t := range tables {
		dqt = append(dqt, byte(t))
		for _, n := range jpegZigzag {
			dqt = append(dqt, quant[t][n])
		}
	}
	segment(0xdb, dqt...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(ncomp)}
	if ncomp == 1 {
		sof = append(sof, 1, 0x11, 0)
	} else {
		sof = append(sof, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	}
	segment(0xc0, sof...)
	var dht []byte
	for t := range tables {
		for class, spec := range []*huffSpec{&jpegHuffmanSpecs[2*t], &jpegHuffmanSpecs[2*t+1]} {
			dht = append(dht, byte(class<<4|t))
			dht = append(dht, spec.counts[:]...)
			dht = append(dht, spec.values...)
		}
	}
	segment(0xc4, dht...)
	segment(0xdd, byte(interval>>8), byte(interval))
	sos := []byte{byte(ncomp)}
	for c := range ncomp {
		t := min(c, 1)
		sos = append(sos, byte(c+1), byte(t<<4|t))
	}
	segment(0xda, append(sos, 0, 63, 0)...)
	return out
}

// jpegZigzag[k] is the natural (row-major) index of the k-th coefficient
// in zigzag order.
var jpegZigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// The T.81 Annex K quantisation tables for quality 50, in natural
// (row-major) order.
var (
	jpegLumaQuant = [64]uint8{
		16, 11, 10, 16, 24, 40, 51, 61,
		12, 12, 14, 19, 26, 58, 60, 55,
		14, 13, 16, 24, 40, 57, 69, 56,
		14, 17, 22, 29, 51, 87, 80, 62,
		18, 22, 37, 56, 68, 109, 103, 77,
		24, 35, 55, 64, 81, 104, 113, 92,
		49, 64, 78, 87, 103, 121, 120, 101,
		72, 92, 95, 98, 112, 100, 103, 99,
	}
	jpegChromaQuant = [64]uint8{
		17, 18, 24, 47, 99, 99, 99, 99,
		18, 21, 26, 66, 99, 99, 99, 99,
		24, 26, 56, 99, 99, 99, 99, 99,
		47, 66, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
	}
)

// The T.81 Annex K Huffman tables: luma DC, luma AC, chroma DC, chroma AC.
var jpegHuffmanSpecs = [4]huffSpec{
	{
		counts: [16]uint8{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
		values: []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	},
	{
		counts: [16]uint8{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125},
		values: []uint8{
			0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
			0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
			0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
			0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
			0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
			0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
			0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
			0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
			0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
			0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		},
	},
	{
		counts: [16]uint8{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
		values: []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	},
	{
		counts: [16]uint8{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119},
		values: []uint8{
			0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
			0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
			0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
			0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
			0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
			0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
			0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
			0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
			0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
			0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		},
	},
}

// jpegHuffman is jpegHuffmanSpecs as codes, in the same order.
var jpegHuffman = func() (h [4]huffCodes) {
	for i := range jpegHuffmanSpecs {
		h[i] = jpegHuffmanSpecs[i].codes()
	}
	return h
}()
