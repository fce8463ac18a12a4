package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/smartimage/enhance/internal/apierror"
)

// The limits of a multipart form besides its image: a form with the
// options as fields needs a handful of short parts.
const (
	maxFormParts      = 64
	maxFormFieldBytes = 4 << 10
)

// multipartUpload serves multipart/form-data on the image calls, as
// remove.bg and Cloudinary take it (curl -F image=@photo.jpg): exactly one
// file part, the image, under any name; the other parts are options by the
// same names as in the query string, which may hold options too. The
// image has the raw upload's byte limit.
func (g *Gateway) multipartUpload(w http.ResponseWriter, r *http.Request) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		g.refuse(w, r, badf("", "a multipart/form-data body needs the boundary parameter in its Content-Type header (curl -F and browsers add it)"))
		return
	}
	// The form is parsed as it arrives, so that the image is copied once,
	// from the connection into its own buffer, not read whole and then
	// copied out of the whole.
	limit := g.cfg.MaxImageBytes + maxPlainBody
	body := &cappedReader{r: r.Body, left: limit}
	fields, image, f := readForm(body, params["boundary"], g.cfg.MaxImageBytes, min(r.ContentLength, limit))
	var tooBig *http.MaxBytesError
	switch {
	case body.over:
		writeError(w, r, http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, fmt.Sprintf("the request body is larger than %d bytes", limit))
		return
	case errors.As(body.err, &tooBig):
		// The front handler's bound on every body, met first.
		writeError(w, r, http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit))
		return
	case body.err != nil:
		writeError(w, r, http.StatusBadRequest, apierror.BadBody, "the request body could not be read")
		return
	case f != nil:
		g.refuse(w, r, f)
		return
	}
	q := newOptions(r.URL.Query())
	q.addForm(fields)
	g.upload(w, r, image, q)
}

// cappedReader reads at most left bytes of r, noting whether r held more
// (over) and the first error of r's other than its end.
type cappedReader struct {
	r    io.Reader
	left int64
	over bool
	err  error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more says whether the body goes on.
		var b [1]byte
		if n, _ := io.ReadFull(c.r, b[:]); n > 0 {
			c.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) && c.err == nil {
		c.err = err
	}
	return n, err
}

// readForm reads a multipart form: its text fields, and the image of its
// one file part. A part is a file when it has a file name, or when its
// bytes are a JPEG, PNG or WebP (curl -F 'image=<photo.jpg' sends none).
// A file is read into a buffer of the body's declared size (sizeHint,
// when known), so that it is not copied as it grows.
func readForm(body io.Reader, boundary string, maxImage, sizeHint int64) (map[string][]string, []byte, *fault) {
	mr := multipart.NewReader(body, boundary)
	fields := map[string][]string{}
	var image []byte
	var file string // the file part's name, for messages
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) && n == 0 {
			return nil, nil, badf("", "the multipart/form-data body has no parts: is the boundary in the Content-Type the one the body uses?")
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, badf("", "the multipart/form-data body is malformed: its parts could not be read (is the boundary in the Content-Type the one the body uses?)")
		}
		if n == maxFormParts {
			return nil, nil, badf("", "the form has more than %d parts: send one image file and the options", maxFormParts)
		}
		var buf bytes.Buffer
		if p.FileName() != "" && sizeHint > 0 {
			buf.Grow(int(min(sizeHint, maxImage+1)) + bytes.MinRead) // ReadFrom wants MinRead free
		}
		_, err = buf.ReadFrom(io.LimitReader(p, maxImage+1))
		data := buf.Bytes()
		if err != nil {
			return nil, nil, badf("", "the multipart/form-data body is malformed: a part is cut short")
		}
		name := p.FormName()
		if p.FileName() == "" && sniffImage(data) == "" {
			if name == "" {
				return nil, nil, badf("", "a form field has no name (its Content-Disposition needs name=\"...\")")
			}
			if len(data) > maxFormFieldBytes {
				return nil, nil, badf(name, "form field %s is longer than %d bytes; only the image goes in a file part", name, maxFormFieldBytes)
			}
			if !utf8.ValidString(name) || !utf8.Valid(data) {
				return nil, nil, badf("", "a form field's name or value is not valid UTF-8")
			}
			fields[name] = append(fields[name], string(data))
			continue
		}
		label := name
		if label == "" {
			label = p.FileName()
		}
		if image != nil {
			return nil, nil, &fault{code: apierror.InvalidRequest, param: label,
				detail: fmt.Sprintf("the form has more than one file (%q and %q): send exactly one image file", file, label)}
		}
		if int64(len(data)) > maxImage {
			return nil, nil, &fault{status: http.StatusRequestEntityTooLarge, code: apierror.BodyTooLarge, param: label,
				detail: fmt.Sprintf("the image is larger than %d bytes", maxImage)}
		}
		mt := mediaType(p.Header.Get("Content-Type"))
		switch {
		case acceptedImageTypes[mt]:
			// The engine reads the bytes for what they are, as with a raw upload.
		case strings.HasPrefix(mt, "image/"):
			return nil, nil, &fault{status: http.StatusUnsupportedMediaType, code: apierror.UnsupportedMediaType, param: label,
				detail: fmt.Sprintf("%s files are not accepted: send image/jpeg, image/png or image/webp", mt)}
		case sniffImage(data) == "":
			detail := fmt.Sprintf("the file %q is not a JPEG, PNG or WebP image", label)
			if like := notAnImage(data); like != "" {
				detail += " (" + like + ")"
			}
			return nil, nil, &fault{status: http.StatusUnsupportedMediaType, code: apierror.UnsupportedMediaType, param: label,
				detail: detail + ": send image/jpeg, image/png or image/webp"}
		}
		image, file = data, label
		if image == nil {
			image = []byte{}
		}
	}
	if image == nil {
		return nil, nil, &fault{code: apierror.InvalidRequest,
			detail: "the form has no file: send the image as one file part, like curl -F image=@photo.jpg"}
	}
	return fields, image, nil
}
