// Package engine does the image work: it decodes within limits into planar
// float buffers, runs a Pipeline of Steps, and encodes the result. It knows
// nothing of gRPC, HTTP or accounts, so it can be used and tested alone.
//
// Every limit that the headers settle (source pixels, JPEG scans,
// animation frames, the upscale factor and output size, colour hints and
// the reference image) is applied by Plan from the headers alone, which
// also reports the output's size and the memory the work will hold, so a
// caller can price, quote and admit a request before decoding a pixel.
// The operations apply the same checks again, so the engine is safe to
// call without a Plan.
package engine

import (
	"errors"
	"fmt"

	"github.com/smartimage/enhance/internal/neural"
)

// Errors callers map to responses. Each is wrapped with details that are
// safe to show to the caller.
var (
	// ErrUnsupportedFormat: the bytes are not a JPEG, PNG or WebP image.
	ErrUnsupportedFormat = errors.New("unsupported image format")
	// ErrInvalidImage: the image could not be decoded.
	ErrInvalidImage = errors.New("invalid image")
	// ErrTooLarge: the image exceeds a configured limit (pixels, output
	// pixels, scans, frames; the server adds its memory budget).
	ErrTooLarge = errors.New("image too large")
	// ErrInvalidOption: an option value is out of range or unknown.
	ErrInvalidOption = errors.New("invalid option")
)

// Format is an image encoding the engine reads and writes.
type Format string

// The formats the engine accepts and produces. No other decoder is used.
const (
	PNG  Format = "png"
	JPEG Format = "jpeg"
	WebP Format = "webp"
)

// ParseFormat accepts "png", "jpeg" (or "jpg") and "webp".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "png":
		return PNG, nil
	case "jpeg", "jpg":
		return JPEG, nil
	case "webp":
		return WebP, nil
	}
	return "", fmt.Errorf("%w: outputFormat %q is not one of png, jpeg, webp", ErrInvalidOption, s)
}

// MIMEType is the Content-Type of f.
func (f Format) MIMEType() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case WebP:
		return "image/webp"
	default:
		return "image/png"
	}
}

// Config bounds the work the engine accepts.
type Config struct {
	// MaxSourcePixels is the largest source (width × height) decoded,
	// checked from the header (DecodeConfig, Plan).
	MaxSourcePixels int
	// MaxOutputPixels is the largest image an operation may produce,
	// checked from the header (Plan) before anything is charged or run.
	MaxOutputPixels int
	// Workers is how many goroutines one image's filters use.
	Workers int
	// MaxJPEGScans bounds a progressive JPEG's scans
	// (DefaultMaxJPEGScans when zero).
	MaxJPEGScans int
	// MaxFrames bounds an animation's frames (DefaultMaxFrames when zero).
	MaxFrames int
	// Classical leaves the trained networks out: Upscale and Colorize
	// behave as in a build without their weights (for comparisons).
	Classical bool
}

// Engine runs image operations within its Config.
type Engine struct {
	cfg Config
	// pool recycles buffers from one image to the next (pool.go).
	pool *pool
	// sr and colorizer are the trained networks built into the binary
	// (internal/neural/models), nil where a build carries none.
	sr        *neural.SR
	colorizer *neural.Colorizer
}

// New returns an Engine after checking cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.MaxSourcePixels <= 0 {
		return nil, errors.New("engine: MaxSourcePixels must be positive")
	}
	if cfg.MaxOutputPixels <= 0 {
		return nil, errors.New("engine: MaxOutputPixels must be positive")
	}
	if cfg.Workers <= 0 {
		return nil, errors.New("engine: Workers must be positive")
	}
	if cfg.MaxJPEGScans < 0 || cfg.MaxFrames < 0 {
		return nil, errors.New("engine: MaxJPEGScans and MaxFrames must not be negative")
	}
	if cfg.MaxJPEGScans == 0 {
		cfg.MaxJPEGScans = DefaultMaxJPEGScans
	}
	if cfg.MaxFrames == 0 {
		cfg.MaxFrames = DefaultMaxFrames
	}
	sr, err := neural.EmbeddedSR()
	if err != nil {
		return nil, fmt.Errorf("engine: super-resolution weights: %w", err)
	}
	colorizer, err := neural.EmbeddedColorizer()
	if err != nil {
		return nil, fmt.Errorf("engine: colorization weights: %w", err)
	}
	if cfg.Classical {
		sr, colorizer = nil, nil
	}
	return &Engine{cfg: cfg, pool: &pool{}, sr: sr, colorizer: colorizer}, nil
}
