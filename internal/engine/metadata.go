package engine

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
)

// Metadata is what the engine carries from a source file to its output:
// the EXIF orientation (applied to the pixels, then dropped) and the ICC
// colour profile (kept, embedded in the output, so colours are never
// silently reinterpreted). Other EXIF data, GPS included, is dropped.
type Metadata struct {
	// Orientation is the EXIF orientation, 1..8; 0 or 1 means as stored.
	Orientation int
	// ICC is the embedded colour profile, nil for none (sRGB assumed).
	ICC []byte
}

// maxICCBytes bounds a colour profile; real ones are under 1 MiB.
const maxICCBytes = 4 << 20

// ReadMetadata extracts orientation and colour profile from an encoded
// JPEG, PNG or WebP. Malformed metadata is ignored, not fatal: the pixels
// still decode.
func ReadMetadata(data []byte, format Format) Metadata {
	switch format {
	case JPEG:
		return jpegMetadata(data)
	case PNG:
		return pngMetadata(data)
	case WebP:
		return webpMetadata(data)
	}
	return Metadata{}
}

func jpegMetadata(data []byte) Metadata {
	var m Metadata
	icc := map[int][]byte{}
	count := 0
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			break
		}
		marker := data[i+1]
		if marker == 0xd8 || marker >= 0xd0 && marker <= 0xd7 || marker == 0x01 {
			i += 2
			continue
		}
		if marker == 0xda || marker == 0xd9 { // start of scan: no more headers
			break
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			break
		}
		seg := data[i+4 : i+2+n]
		switch {
		case marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")):
			m.Orientation = exifOrientation(seg[6:])
		case marker == 0xe2 && bytes.HasPrefix(seg, []byte("ICC_PROFILE\x00")) && len(seg) > 14:
			icc[int(seg[12])] = seg[14:]
			count = int(seg[13])
		}
		i += 2 + n
	}
	if count > 0 && len(icc) == count {
		var all []byte
		for k := 1; k <= count; k++ {
			part, ok := icc[k]
			if !ok || len(all)+len(part) > maxICCBytes {
				all = nil
				break
			}
			all = append(all, part...)
		}
		m.ICC = all
	}
	return m
}

func pngMetadata(data []byte) Metadata {
	var m Metadata
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		if n < 0 || i+12+n > len(data) {
			break
		}
		typ := string(data[i+4 : i+8])
		body := data[i+8 : i+8+n]
		switch typ {
		case "eXIf":
			m.Orientation = exifOrientation(body)
		case "iCCP":
			if z := bytes.IndexByte(body, 0); z >= 0 && z+2 <= len(body) {
				if r, err := zlib.NewReader(bytes.NewReader(body[z+2:])); err == nil {
					icc, err := io.ReadAll(io.LimitReader(r, maxICCBytes+1))
					if err == nil && len(icc) <= maxICCBytes {
						m.ICC = icc
					}
				}
			}
		case "IDAT", "IEND":
			return m
		}
		i += 12 + n
	}
	return m
}

func webpMetadata(data []byte) Metadata {
	var m Metadata
	for i := 12; i+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || i+8+n > len(data) {
			break
		}
		body := data[i+8 : i+8+n]
		switch string(data[i : i+4]) {
		case "ICCP":
			if n <= maxICCBytes {
				m.ICC = append([]byte(nil), body...)
			}
		case "EXIF":
			m.Orientation = exifOrientation(bytes.TrimPrefix(body, []byte("Exif\x00\x00")))
		}
		i += 8 + n + n%2
	}
	return m
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF
// block; 0 when absent or malformed.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(tiff[4:]))
	if off < 8 || off+2 > len(tiff) {
		return 0
	}
	entries := int(bo.Uint16(tiff[off:]))
	for e := range entries {
		p := off + 2 + 12*e
		if p+12 > len(tiff) {
			return 0
		}
		if bo.Uint16(tiff[p:]) == 0x0112 && bo.Uint16(tiff[p+2:]) == 3 {
			if v := int(bo.Uint16(tiff[p+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}

// Orient applies an EXIF orientation to the pixels, so the image is
// stored the way it is meant to be seen.
func Orient(img *Image, orientation int) *Image {
	if orientation <= 1 || orientation > 8 {
		return img
	}
	w, h := img.Width, img.Height
	ow, oh := w, h
	if orientation >= 5 { // the four that swap the axes
		ow, oh = h, w
	}
	// src maps a destination pixel to its source pixel.
	src := func(x, y int) int {
		switch orientation {
		case 2:
			return y*w + (w - 1 - x)
		case 3:
			return (h-1-y)*w + (w - 1 - x)
		case 4:
			return (h-1-y)*w + x
		case 5:
			return x*w + y
		case 6:
			return (h-1-x)*w + y
		case 7:
			return (h-1-x)*w + (w - 1 - y)
		default: // 8
			return x*w + (w - 1 - y)
		}
	}
	remap := func(p []float32) []float32 {
		out := make([]float32, len(p))
		for y := range oh {
			for x := range ow {
				out[y*ow+x] = p[src(x, y)]
			}
		}
		return out
	}
	out := &Image{Width: ow, Height: oh, Planes: make([][]float32, len(img.Planes)), HighDepth: img.HighDepth, ICC: img.ICC, Orientation: orientation}
	for i, p := range img.Planes {
		out.Planes[i] = remap(p)
	}
	if img.Alpha != nil {
		out.Alpha = remap(img.Alpha)
	}
	return out
}

// embedICC writes profile into an encoded image of the given format.
func embedICC(data []byte, format Format, profile []byte, hasAlpha bool, w, h int) ([]byte, error) {
	if len(profile) == 0 {
		return data, nil
	}
	switch format {
	case PNG:
		return pngWithICC(data, profile)
	case JPEG:
		return jpegWithICC(data, profile)
	case WebP:
		return webpWithICC(data, profile, hasAlpha, w, h)
	}
	return data, nil
}

func pngWithICC(data, profile []byte) ([]byte, error) {
	const ihdrEnd = 8 + 25
	if len(data) < ihdrEnd {
		return nil, fmt.Errorf("engine: PNG too short")
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(profile)
	zw.Close()
	body := append([]byte("ICC Profile\x00\x00"), z.Bytes()...)
	chunk := make([]byte, 0, len(body)+12)
	chunk = binary.BigEndian.AppendUint32(chunk, uint32(len(body)))
	typed := append([]byte("iCCP"), body...)
	chunk = append(chunk, typed...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32IEEE(typed))
	out := make([]byte, 0, len(data)+len(chunk))
	out = append(out, data[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, data[ihdrEnd:]...), nil
}

func jpegWithICC(data, profile []byte) ([]byte, error) {
	const maxPart = 65519 // 65535 − 2 (length) − 14 (signature, sequence, count)
	parts := (len(profile) + maxPart - 1) / maxPart
	if parts > 255 {
		return nil, fmt.Errorf("engine: colour profile too large for JPEG")
	}
	// After SOI and, where there is one, the JFIF segment, which must
	// come first.
	head := 2
	if len(data) > 6 && data[2] == 0xff && data[3] == 0xe0 {
		head += 2 + int(binary.BigEndian.Uint16(data[4:]))
	}
	if head > len(data) {
		return nil, fmt.Errorf("engine: JPEG too short")
	}
	out := make([]byte, 0, len(data)+len(profile)+parts*18)
	out = append(out, data[:head]...)
	for k := range parts {
		part := profile[k*maxPart : min((k+1)*maxPart, len(profile))]
		out = append(out, 0xff, 0xe2)
		out = binary.BigEndian.AppendUint16(out, uint16(2+14+len(part)))
		out = append(out, "ICC_PROFILE\x00"...)
		out = append(out, byte(k+1), byte(parts))
		out = append(out, part...)
	}
	return append(out, data[head:]...), nil
}

func webpWithICC(data, profile []byte, hasAlpha bool, w, h int) ([]byte, error) {
	if len(data) < 20 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil, fmt.Errorf("engine: not a WebP file")
	}
	chunks := data[12:]
	iccp := riffChunk("ICCP", profile)
	var body []byte
	if string(chunks[:4]) == "VP8X" {
		vp8x := append([]byte(nil), chunks[:18]...)
		vp8x[8] |= 0x20 // ICC flag
		body = append(append(vp8x, iccp...), chunks[18:]...)
	} else {
		payload := make([]byte, 10)
		payload[0] = 0x20
		if hasAlpha {
			payload[0] |= 0x10
		}
		put24 := func(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }
		put24(payload[4:], w-1)
		put24(payload[7:], h-1)
		body = append(append(riffChunk("VP8X", payload), iccp...), chunks...)
	}
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	out = append(out, "WEBP"...)
	out = append(out, body...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}

func riffChunk(fourcc string, payload []byte) []byte {
	c := append([]byte(fourcc), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(payload)))
	c = append(c, payload...)
	if len(payload)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// sourceSteps reports what was done to the source before any pipeline:
// the orientation applied and the colour profile kept.
func sourceSteps(img *Image) []Applied {
	var steps []Applied
	if img.Orientation > 1 {
		steps = append(steps, Applied{Name: "orient", Params: map[string]string{"exif_orientation": strconv.Itoa(img.Orientation)}})
	}
	if len(img.ICC) > 0 {
		steps = append(steps, Applied{Name: "color_profile", Params: map[string]string{"handling": "kept", "bytes": strconv.Itoa(len(img.ICC))}})
	}
	return steps
}
