package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // the Kodak photo the small image is cut from
	"image/png"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// inputs writes every body the script sends:
//
//	small.png      a 256×256 crop of the photo: the image every load run enhances
//	truncated.png  small.png cut in half: a good header, then nothing (400 INVALID_IMAGE, charged then refunded)
//	notimage.txt   text (400 UNSUPPORTED_IMAGE)
//	huge.png       a valid PNG header claiming 20000×20000 pixels (400 IMAGE_TOO_LARGE, before decoding)
//	toolarge.png   a PNG signature padded past the body limit (413 BODY_TOO_LARGE)
//	enhance.bin    ghz's EnhanceRequest for small.png, serialized (ghz --binary)
//	bad.bin        ghz's EnhanceRequest for truncated.png
func inputs(args []string) error {
	fs := flag.NewFlagSet("inputs", flag.ContinueOnError)
	photo := fs.String("photo", "testdata/images/kodim23.jpg", "the photo the small image is cut from")
	out := fs.String("out", "", "folder to write into")
	side := fs.Int("side", 256, "the small image's width and height")
	tooLarge := fs.Int("too-large-bytes", 21<<20, "size of toolarge.png: past the server's --max-body-bytes (20 MiB by default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("inputs: -out is required")
	}
	f, err := os.Open(*photo)
	if err != nil {
		return err
	}
	src, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("inputs: %s: %w", *photo, err)
	}
	b := src.Bounds()
	if b.Dx() < *side || b.Dy() < *side {
		return fmt.Errorf("inputs: %s is smaller than %d×%d", *photo, *side, *side)
	}
	// The centre: on the Kodak parrots, colour and edges rather than sky.
	x0, y0 := b.Min.X+(b.Dx()-*side)/2, b.Min.Y+(b.Dy()-*side)/2
	crop := image.NewNRGBA(image.Rect(0, 0, *side, *side))
	draw.Draw(crop, crop.Bounds(), src, image.Pt(x0, y0), draw.Src)
	var small bytes.Buffer
	if err := png.Encode(&small, crop); err != nil {
		return err
	}
	huge, err := pngClaiming(20000, 20000)
	if err != nil {
		return err
	}
	large := make([]byte, *tooLarge)
	copy(large, small.Bytes()[:8])
	files := map[string][]byte{
		"small.png":     small.Bytes(),
		"truncated.png": small.Bytes()[:small.Len()/2],
		"notimage.txt":  []byte("this is a text file, not an image\n"),
		"huge.png":      huge,
		"toolarge.png":  large,
	}
	for name, img := range map[string][]byte{"enhance.bin": small.Bytes(), "bad.bin": small.Bytes()[:small.Len()/2]} {
		// Serialized once here, so that ghz sends the same bytes every
		// time instead of rendering a JSON template of the image per call.
		if files[name], err = proto.Marshal(&enhancev1.EnhanceRequest{Image: img, OutputFormat: "png"}); err != nil {
			return err
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// pngClaiming is a 1×1 PNG whose header says width×height: what a
// decompression bomb looks like to a server that reads headers first.
func pngClaiming(width, height uint32) ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.SetGray(0, 0, color.Gray{Y: 128})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	// The signature (8 bytes), then IHDR: length (4), type (4), width,
	// height, ..., and a CRC over type and data (13 bytes).
	if string(data[12:16]) != "IHDR" {
		return nil, fmt.Errorf("inputs: image/png wrote no IHDR first")
	}
	binary.BigEndian.PutUint32(data[16:20], width)
	binary.BigEndian.PutUint32(data[20:24], height)
	binary.BigEndian.PutUint32(data[29:33], crc32.ChecksumIEEE(data[12:29]))
	return data, nil
}
