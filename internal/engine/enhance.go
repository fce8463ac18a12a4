package engine

import (
	"context"
	"fmt"
)

// EnhancementType names a pipeline.
type EnhancementType string

// The enhancement pipelines. Only General is built so far; the others
// are refused with ErrInvalidOption rather than served by General under
// another name.
const (
	General   EnhancementType = "general"
	Portrait  EnhancementType = "portrait"
	Landscape EnhancementType = "landscape"
)

// ErrNotImplemented marks an operation the engine does not offer yet.
var ErrNotImplemented = fmt.Errorf("not implemented")

// GeneralPipeline is automatic levels, white balance and gentle sharpening.
// White balance runs first so that levels stretch the corrected colours.
func GeneralPipeline() Pipeline {
	return Pipeline{
		WhiteBalance{MaxGain: 1.5, MinCast: 0.07},
		Levels{ClipFraction: 0.002, Slack: 0.04, MaxGain: 3, MedianLow: 0.3, MedianHigh: 0.7},
		Sharpen{Sigma: 1.0, Amount: 0.5, Threshold: 0.008, MaxDelta: 0.08},
	}
}

// PipelineFor returns the pipeline for t ("" means General).
func PipelineFor(t EnhancementType) (Pipeline, error) {
	switch t {
	case General, "":
		return GeneralPipeline(), nil
	case Portrait, Landscape:
		return nil, fmt.Errorf("%w: enhancementType %q is not available yet; use \"general\"", ErrNotImplemented, t)
	}
	return nil, fmt.Errorf("%w: enhancementType %q is not one of general, portrait, landscape", ErrInvalidOption, t)
}

// Result is an encoded output image and what produced it.
type Result struct {
	Data          []byte
	Format        Format
	Width, Height int
	Steps         []Applied
}

// Enhance decodes src, runs the pipeline for t and encodes the result in
// opts.Format (the source's format when empty).
func (e *Engine) Enhance(ctx context.Context, src []byte, t EnhancementType, opts EncodeOptions) (Result, error) {
	pipeline, err := PipelineFor(t)
	if err != nil {
		return Result{}, err
	}
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	img, format, err := e.Decode(src)
	if err != nil {
		return Result{}, err
	}
	steps, err := pipeline.Run(ctx, img, e.cfg.Workers)
	if err != nil {
		return Result{}, err
	}
	if opts.Format == "" {
		opts.Format = format
	}
	data, err := e.Encode(img, opts)
	if err != nil {
		return Result{}, err
	}
	return Result{Data: data, Format: opts.Format, Width: img.Width, Height: img.Height, Steps: steps}, nil
}
