package neural

import (
	"embed"
	"errors"
	"io/fs"
)

// embedded holds the trained weights that ship in the binary; their
// provenance (trainer, data, seed, time, scores) is in models/README.md
// and in each file's header.
//
//go:embed models
var embedded embed.FS

// EmbeddedSR is the ×2 super-resolution network built into the binary,
// or nil when this build carries none.
func EmbeddedSR() (*SR, error) {
	b, err := fs.ReadFile(embedded, "models/sr_x2.nnw")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return LoadSR(b)
}

// EmbeddedColorizer is the automatic colorization network built into the
// binary, or nil when this build carries none.
func EmbeddedColorizer() (*Colorizer, error) {
	b, err := fs.ReadFile(embedded, "models/colorize.nnw")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return LoadColorizer(b)
}
