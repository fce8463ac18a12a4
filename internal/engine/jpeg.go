package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"sync"
)

// encodeJPEG encodes m (*image.YCbCr 4:2:0, *image.RGBA or *image.Gray)
// on several cores.
// Go's encoder is single-threaded, but it always uses the same tables for
// a given quality, so horizontal strips can be encoded independently and
// joined into one baseline JPEG with restart markers between them: a
// restart resets the DC predictors exactly as starting a new file does.
func encodeJPEG(m image.Image, quality, workers int) ([]byte, error) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	mcu := 16 // 4:2:0 colour
	if _, ok := m.(*image.Gray); ok {
		mcu = 8
	}
	mcusPerRow := (w + mcu - 1) / mcu
	rowsOfMCUs := (h + mcu - 1) / mcu
	strips := min(workers*2, rowsOfMCUs)
	perStrip := (rowsOfMCUs + strips - 1) / strips
	for perStrip*mcusPerRow > 65535 { // the restart interval is 16 bits
		perStrip--
	}
	if strips <= 1 || perStrip < 1 {
		var buf bytes.Buffer
		err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: quality})
		return buf.Bytes(), err
	}
	strips = (rowsOfMCUs + perStrip - 1) / perStrip
	if strips > 8*65535 {
		return nil, errors.New("engine: image too tall for strip encoding")
	}
	parts := make([][]byte, strips)
	errs := make([]error, strips)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for s := range strips {
		y0 := b.Min.Y + s*perStrip*mcu
		y1 := min(y0+perStrip*mcu, b.Max.Y)
		sub := m.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(b.Min.X, y0, b.Max.X, y1))
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var buf bytes.Buffer
			errs[s] = jpeg.Encode(&buf, sub, &jpeg.Options{Quality: quality})
			parts[s] = buf.Bytes()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return joinStrips(parts, h, perStrip*mcusPerRow)
}

// joinStrips splices independently encoded strips into one JPEG: the
// first strip's headers with the full height and a restart interval, then
// each strip's entropy-coded data separated by RSTn markers.
func joinStrips(parts [][]byte, height, interval int) ([]byte, error) {
	header, first, err := splitScan(parts[0])
	if err != nil {
		return nil, err
	}
	// Patch the SOF0 height and insert DRI before SOS.
	out := make([]byte, 0, len(parts)*len(parts[0]))
	sos := bytes.LastIndex(header, []byte{0xff, 0xda})
	sof := bytes.Index(header, []byte{0xff, 0xc0})
	if sos < 0 || sof < 0 {
		return nil, errors.New("engine: unexpected JPEG structure")
	}
	out = append(out, header[:sos]...)
	binary.BigEndian.PutUint16(out[sof+5:], uint16(height))
	out = append(out, 0xff, 0xdd, 0, 4, byte(interval>>8), byte(interval))
	out = append(out, header[sos:]...)
	out = append(out, first...)
	for i, p := range parts[1:] {
		_, data, err := splitScan(p)
		if err != nil {
			return nil, err
		}
		out = append(out, 0xff, 0xd0+byte(i%8))
		out = append(out, data...)
	}
	return append(out, 0xff, 0xd9), nil
}

// splitScan returns a JPEG's bytes up to and including the SOS header,
// and its entropy-coded data without the final EOI.
func splitScan(j []byte) (header, data []byte, err error) {
	i := 2
	for i+4 <= len(j) {
		if j[i] != 0xff {
			return nil, nil, errors.New("engine: bad JPEG marker")
		}
		n := int(binary.BigEndian.Uint16(j[i+2:]))
		if j[i+1] == 0xda {
			end := i + 2 + n
			if end > len(j)-2 {
				return nil, nil, errors.New("engine: truncated JPEG scan")
			}
			return j[:end], j[end : len(j)-2], nil
		}
		i += 2 + n
	}
	return nil, nil, errors.New("engine: JPEG without a scan")
}
