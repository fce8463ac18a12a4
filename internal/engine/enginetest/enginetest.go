// Package enginetest builds the hostile images that tests throw at the
// engine and at the server: files whose headers, scans or frames promise
// far more work than their few bytes suggest.
package enginetest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
)

// PNGOfZeros is a valid w×h PNG of zeros at the given bit depth and colour
// type (0 gray, 2 RGB, 4 gray and alpha, 6 RGBA): a few kilobytes that
// decode to w×h pixels (25 MP of 16-bit RGBA, 200 MB decoded, is 200 KB).
func PNGOfZeros(w, h int, depth, colorType byte) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colorType
	writeChunk(&out, "IHDR", ihdr)
	channels := map[byte]int{0: 1, 2: 3, 4: 2, 6: 4}[colorType]
	row := make([]byte, 1+(w*channels*int(depth)+7)/8)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	for range h {
		zw.Write(row)
	}
	zw.Close()
	writeChunk(&out, "IDAT", z.Bytes())
	writeChunk(&out, "IEND", nil)
	return out.Bytes()
}

// PNGHeaderOnly is a PNG signature and an IHDR claiming w×h, with no
// pixels at all.
func PNGHeaderOnly(w, h uint32) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	writeChunk(&out, "IHDR", ihdr)
	return out.Bytes()
}

// APNG is a small still PNG whose acTL chunk claims frames frames.
func APNG(frames uint32) []byte {
	still := PNGOfZeros(8, 8, 8, 2)
	idat := bytes.Index(still, []byte("IDAT")) - 4
	actl := make([]byte, 8) // frame count, then plays (0: forever)
	binary.BigEndian.PutUint32(actl, frames)
	var c bytes.Buffer
	writeChunk(&c, "acTL", actl)
	return append(append(append([]byte{}, still[:idat]...), c.Bytes()...), still[idat:]...)
}

// JPEGClaiming is a small baseline JPEG whose frame header claims w×h.
func JPEGClaiming(w, h uint16) []byte {
	b := grayJPEG(16)
	sof := bytes.Index(b, []byte{0xff, 0xc0})
	binary.BigEndian.PutUint16(b[sof+5:], h)
	binary.BigEndian.PutUint16(b[sof+7:], w)
	return b
}

// ScanBomb repeats a baseline JPEG's one scan n times: the shape of a
// file whose every scan makes a decoder walk the whole image again.
func ScanBomb(n int) []byte {
	b := grayJPEG(64)
	sos := bytes.Index(b, []byte{0xff, 0xda})
	out := append([]byte{}, b[:sos]...)
	for range n {
		out = append(out, b[sos:len(b)-2]...) // the scan, up to EOI
	}
	return append(out, 0xff, 0xd9)
}

// WebPCanvas is an extended WebP header claiming a w×h canvas, and no image.
func WebPCanvas(w, h int) []byte {
	vp8x := make([]byte, 10)
	vp8x[4], vp8x[5], vp8x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	vp8x[7], vp8x[8], vp8x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+len(vp8x)))
	b.WriteString("WEBPVP8X")
	binary.Write(&b, binary.LittleEndian, uint32(len(vp8x)))
	b.Write(vp8x)
	return b.Bytes()
}

// FlatJPEG is a flat (mid-grey) w×h JPEG of the kinds image/jpeg's
// encoder does not write: progressive (one DC scan), RGB or CMYK, every
// component sampled 4:4:4. ids names the components, one byte each: one
// for gray, three for YCbCr ("\x01\x02\x03") or RGB ("RGB"), four for
// CMYK or YCbCrK. An adobe transform of 0 or more adds an Adobe APP14
// segment with it (0: RGB or CMYK, 1: YCbCr, 2: YCbCrK); -1 adds none.
// Each 8×8 block is a bit or two, so 12 MP is tens of kilobytes.
func FlatJPEG(w, h int, ids string, progressive bool, adobe int) []byte {
	b := []byte{0xff, 0xd8}
	segment := func(marker byte, body ...byte) {
		b = append(b, 0xff, marker)
		b = binary.BigEndian.AppendUint16(b, uint16(2+len(body)))
		b = append(b, body...)
	}
	if adobe >= 0 {
		segment(0xee, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, byte(adobe))
	}
	segment(0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...) // quantisation table 0: all ones
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(ids))}
	sos := []byte{byte(len(ids))}
	for _, id := range []byte(ids) {
		sof = append(sof, id, 0x11, 0)
		sos = append(sos, id, 0x00)
	}
	sofMarker, bitsPerBlock := byte(0xc0), 2 // DC difference 0, then end of block
	if progressive {
		sofMarker, bitsPerBlock = 0xc2, 1 // the DC scan alone
	}
	segment(sofMarker, sof...)
	// One code of one bit, "0", for symbol 0: a DC difference of 0 and,
	// for AC, the end of the block.
	dht := make([]byte, 1+16+1) // class and table, 16 counts by length, the symbol
	dht[1] = 1
	segment(0xc4, dht...) // DC table 0
	if !progressive {
		dht[0] = 0x10
		segment(0xc4, dht...) // AC table 0
		sos = append(sos, 0, 63, 0)
	} else {
		sos = append(sos, 0, 0, 0)
	}
	segment(0xda, sos...)
	blocks := ((w + 7) / 8) * ((h + 7) / 8) * len(ids)
	bits := blocks * bitsPerBlock
	b = append(b, make([]byte, bits/8)...)
	if r := bits % 8; r != 0 {
		b = append(b, byte(0xff>>r)) // padded with ones, never a whole 0xFF
	}
	return append(b, 0xff, 0xd9)
}

// JPEGPadded inserts pad after a JPEG's SOI marker and its first
// segments marker segments: bytes that image/jpeg's decoder passes over
// before the next marker (stray bytes, 0xFF fill bytes, a restart marker,
// which has no length), and that a reader stopping at the first byte it
// does not expect takes for the end of the headers. (Stray bytes right
// after SOI make a file that Sniff does not take for a JPEG.)
func JPEGPadded(b []byte, segments int, pad ...byte) []byte {
	at := 2
	for range segments {
		at += 2 + int(binary.BigEndian.Uint16(b[at+2:]))
	}
	return append(append(append([]byte{}, b[:at]...), pad...), b[at:]...)
}

func grayJPEG(side int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, side, side)), nil); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return buf.Bytes()
}

func writeChunk(out *bytes.Buffer, typ string, data []byte) {
	binary.Write(out, binary.BigEndian, uint32(len(data)))
	body := append([]byte(typ), data...)
	out.Write(body)
	binary.Write(out, binary.BigEndian, crc32.ChecksumIEEE(body))
}
