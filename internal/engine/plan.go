package engine

import (
	"fmt"
	"image/color"
)

// Operation names what is done to an image, for planning.
type Operation string

// The operations the engine plans.
const (
	OpEnhance  Operation = "enhance"
	OpUpscale  Operation = "upscale"
	OpColorize Operation = "colorize"
)

// PlanOptions are the parts of a request that decide, with the source's
// header, whether it can run and what it will hold.
type PlanOptions struct {
	Operation Operation
	// Pipeline is an enhancement's type ("" is General).
	Pipeline EnhancementType
	// Output is the format the result will be written in ("" is the
	// source's): encoders differ in what they hold.
	Output Format
	// Factor is an upscale's scale factor: 2, 3 or 4.
	Factor int
	// Mode is an upscale's mode ("" is the default).
	Mode UpscaleMode
	// Hints and Reference are a colorization's: hint points must lie in
	// the image as it will be seen (EXIF orientation applied), and the
	// reference's header must pass the same limits as the source's.
	Hints     []ColorHint
	Reference []byte
}

// Plan is what an operation on a source will produce and hold, known from
// the headers alone: everything a price, a quote or an admission decision
// needs, decided before any pixel is decoded.
type Plan struct {
	// Format is the source's.
	Format Format
	// SourcePixels is the source's width × height.
	SourcePixels int
	// Width and Height are the output's, EXIF orientation applied.
	Width, Height int
	// Memory is the estimated peak of the bytes the operation holds
	// (decoder output, float planes, working copies, encoding), the weight
	// the admission gate reserves against its memory budget. See
	// memory.go for the model and the measurements behind it.
	Memory int64
}

// Plan reads only the headers of src (and of opts.Reference) and applies
// every limit that depends on nothing else: the source pixel, scan and
// frame limits (DecodeConfig), the upscale factor and output size, and a
// colorization's hints and reference. An operation that passes Plan can
// still fail on corrupt pixel data, but never on a size or an option the
// header already settled, so a quote made from a Plan is a quote the
// server will honour. The operations themselves apply the same rules, so
// the engine is safe to call without a Plan.
func (e *Engine) Plan(src []byte, opts PlanOptions) (Plan, error) {
	cfg, format, err := e.DecodeConfig(src)
	if err != nil {
		return Plan{}, err
	}
	w, h := cfg.Width, cfg.Height
	if ReadMetadata(src, format).Orientation >= 5 { // the four that swap the axes
		w, h = h, w
	}
	p := Plan{Format: format, SourcePixels: cfg.Width * cfg.Height, Width: w, Height: h}
	l := sourceLayout(src, cfg, format)
	out := opts.Output
	if out == "" {
		out = format
	}
	switch opts.Operation {
	case OpEnhance:
		if _, err := PipelineFor(opts.Pipeline); err != nil {
			return Plan{}, err
		}
		p.Memory = enhanceMemory(l, opts.Pipeline, out)
	case OpUpscale:
		if err := checkFactor(opts.Factor); err != nil {
			return Plan{}, err
		}
		if err := e.checkOutput(cfg.Width, cfg.Height, opts.Factor); err != nil {
			return Plan{}, err
		}
		learned, err := e.learned(opts.Factor, cfg.Width*cfg.Height*opts.Factor*opts.Factor, opts.Mode)
		if err != nil {
			return Plan{}, err
		}
		p.Width, p.Height = w*opts.Factor, h*opts.Factor
		p.Memory = upscaleMemory(l, opts.Factor, out) + e.upscaleWork(learned)
	case OpColorize:
		if len(opts.Hints) == 0 && len(opts.Reference) == 0 && e.colorizer == nil {
			return Plan{}, fmt.Errorf("%w: %w", ErrInvalidOption, ErrNeedsHints)
		}
		if err := checkHints(opts.Hints, w, h); err != nil {
			return Plan{}, err
		}
		var ref *layout
		if len(opts.Reference) > 0 {
			rcfg, rformat, err := e.DecodeConfig(opts.Reference)
			if err != nil {
				return Plan{}, fmt.Errorf("reference image: %w", err)
			}
			if rcfg.ColorModel == color.GrayModel || rcfg.ColorModel == color.Gray16Model {
				return Plan{}, errGrayReference
			}
			l := sourceLayout(opts.Reference, rcfg, rformat)
			ref = &l
		}
		p.Memory = colorizeMemory(l, ref, out) + e.colorizeWork(l.pixels)
	default:
		return Plan{}, fmt.Errorf("engine: unknown operation %q", opts.Operation)
	}
	return p, nil
}

// errGrayReference: a reference photo must have colour to give.
var errGrayReference = fmt.Errorf("%w: the reference image is grayscale; it must have colour", ErrInvalidOption)

// checkFactor accepts the upscale factors the engine has filters for.
func checkFactor(factor int) error {
	if factor < 2 || factor > 4 {
		return fmt.Errorf("%w: scaleFactor %d is not one of 2, 3, 4", ErrInvalidOption, factor)
	}
	return nil
}

// checkOutput applies MaxOutputPixels to a w×h source enlarged by factor.
func (e *Engine) checkOutput(w, h, factor int) error {
	if px := w * h * factor * factor; px > e.cfg.MaxOutputPixels {
		return fmt.Errorf("%w: the output would be %dx%d (%.1f megapixels); the limit is %.1f megapixels",
			ErrTooLarge, w*factor, h*factor, float64(px)/1e6, float64(e.cfg.MaxOutputPixels)/1e6)
	}
	return nil
}

// checkHints applies the rules on hints that need only the image's size
// (w×h as it will be seen): every hint has a point, no stroke is wider
// than 64 pixels, every point lies in the image. How many pixels the
// strokes cover is counted when they are drawn (rasterizeHints).
func checkHints(hints []ColorHint, w, h int) error {
	for n, hint := range hints {
		if len(hint.Points) == 0 {
			return fmt.Errorf("%w: hint %d has no points", ErrInvalidOption, n)
		}
		if width := max(hint.Width, 1); width > maxHintWidth {
			return fmt.Errorf("%w: hint %d is %d pixels wide; the most is %d", ErrInvalidOption, n, width, maxHintWidth)
		}
		for _, p := range hint.Points {
			if p[0] < 0 || p[1] < 0 || p[0] >= w || p[1] >= h {
				return fmt.Errorf("%w: hint %d point (%d, %d) is outside the %dx%d image", ErrInvalidOption, n, p[0], p[1], w, h)
			}
		}
	}
	return nil
}

// maxHintWidth is the widest stroke a hint may draw.
const maxHintWidth = 64
