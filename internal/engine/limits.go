package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Limits a file's structure must respect before any pixel is decoded.
// They bound work the header's size alone does not: a progressive JPEG
// is decoded once per scan, and libwebp's demuxer indexes every frame of
// an animation before handing over the first. The size limits are in
// decode.go (source pixels) and plan.go (output pixels, hints); what the
// work will hold in memory is in memory.go.

// DefaultMaxJPEGScans is far above what encoders write (libjpeg's
// progressive script has 10 scans, mozjpeg's about 12).
const DefaultMaxJPEGScans = 100

// DefaultMaxFrames bounds an animation's frame count; only the first
// frame is ever decoded.
const DefaultMaxFrames = 1000

// checkStructure applies the scan and frame limits to data of format.
func (e *Engine) checkStructure(data []byte, format Format) error {
	switch format {
	case JPEG:
		if n := jpegScans(data, e.cfg.MaxJPEGScans+1); n > e.cfg.MaxJPEGScans {
			return fmt.Errorf("%w: the JPEG has more than %d scans (the scan limit is %d)", ErrTooLarge, e.cfg.MaxJPEGScans, e.cfg.MaxJPEGScans)
		}
	case PNG, WebP:
		if format == WebP && len(data) >= 8 && int64(binary.LittleEndian.Uint32(data[4:]))+8 > int64(len(data)) {
			// libwebp decodes an animation's first frame from a file cut
			// short after it; the file is still not what was sent.
			return fmt.Errorf("%w: the WebP data is truncated", ErrInvalidImage)
		}
		if n := frames(data, format); n > e.cfg.MaxFrames {
			return fmt.Errorf("%w: the animation has %d frames (the frame limit is %d; only the first is used)", ErrTooLarge, n, e.cfg.MaxFrames)
		}
	}
	return nil
}

// jpegScans counts the start-of-scan markers in a JPEG, stopping once it
// reaches stopAt. It walks the marker segments and skips entropy-coded
// data (where 0xFF is followed by 0x00 stuffing or a restart marker);
// anything malformed ends the walk and is left to the decoder to reject.
func jpegScans(data []byte, stopAt int) int {
	scans := 0
	i := 2 // after SOI
	for i+1 < len(data) && scans < stopAt {
		if data[i] != 0xff {
			// Entropy-coded data: jump to the next 0xFF.
			j := bytes.IndexByte(data[i:], 0xff)
			if j < 0 {
				break
			}
			i += j
			continue
		}
		marker := data[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x00 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01:
			// Stuffed 0xFF, restart marker or TEM: no length, part of a scan.
			i += 2
			continue
		case marker == 0xd9: // EOI
			return scans
		}
		if i+4 > len(data) {
			break
		}
		length := int(binary.BigEndian.Uint16(data[i+2:]))
		if length < 2 {
			break
		}
		if marker == 0xda {
			scans++
		}
		i += 2 + length
	}
	return scans
}

// frames counts an animation's frames: ANMF chunks in a WebP, the acTL
// frame count of an APNG; 1 for a still image.
func frames(data []byte, format Format) int {
	n := 0
	switch format {
	case WebP:
		// RIFF header, then chunks: FourCC, little-endian size, payload
		// padded to even length, up to the RIFF's own end.
		end := len(data)
		if len(data) >= 8 {
			end = min(end, int(binary.LittleEndian.Uint32(data[4:]))+8)
		}
		for i := 12; i+8 <= end; {
			size := int(binary.LittleEndian.Uint32(data[i+4:]))
			if string(data[i:i+4]) == "ANMF" {
				n++
			}
			if size < 0 || size > len(data) {
				break
			}
			i += 8 + size + size&1
		}
	case PNG:
		// Signature, then chunks: big-endian length, type, data, CRC.
		// acTL comes before the first IDAT.
		for i := 8; i+12 <= len(data); {
			length := int(binary.BigEndian.Uint32(data[i:]))
			typ := string(data[i+4 : i+8])
			if typ == "IDAT" || length < 0 || length > len(data) {
				break
			}
			if typ == "acTL" && length >= 8 && i+16 <= len(data) {
				return int(binary.BigEndian.Uint32(data[i+8:]))
			}
			i += 12 + length
		}
	}
	return max(n, 1)
}
