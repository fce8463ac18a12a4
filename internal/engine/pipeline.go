package engine

import (
	"context"
	"strconv"
)

// Step is one operation of a pipeline. Apply changes img in place and
// reports the parameters it chose, or applied=false when the image did not
// need it (so a good photo passes through untouched).
type Step interface {
	Name() string
	Apply(img *Image, workers int) (params map[string]string, applied bool)
}

// Applied records a step that changed the image and how.
type Applied struct {
	Name   string
	Params map[string]string
}

// Pipeline is an ordered list of steps.
type Pipeline []Step

// Run applies every step in order at full strength, stopping early if
// ctx ends, and returns the steps that changed the image.
func (p Pipeline) Run(ctx context.Context, img *Image, workers int) ([]Applied, error) {
	return p.RunAt(ctx, img, workers, 1)
}

// RunAt applies every step scaled by strength in [0, 1]: each step's
// output is blended with its input, so 0 leaves the image as it was and
// 0.5 goes half way at every step.
func (p Pipeline) RunAt(ctx context.Context, img *Image, workers int, strength float32) ([]Applied, error) {
	var done []Applied
	if strength <= 0 {
		return nil, ctx.Err()
	}
	// Decoded images are always in [0, 1]; images built otherwise (a
	// resampler's overshoot) are brought there, which every step assumes.
	for _, p := range img.Planes {
		clampPlane(p)
	}
	var before [][]float32
	for _, s := range p {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if Skips(s, len(done) > 0) {
			continue
		}
		if strength < 1 {
			before = snapshot(img.Planes, before)
		}
		params, ok := s.Apply(img, workers)
		if !ok {
			continue
		}
		if strength < 1 {
			blend(img, before, strength, workers)
			params["strength"] = formatFloat(strength)
		}
		done = append(done, Applied{Name: s.Name(), Params: params})
	}
	return done, nil
}

// follower is a step that acts only on a photo an earlier step changed.
type follower interface{ onlyAfterCorrection() bool }

// Skips reports whether a pipeline leaves step s out, given whether an
// earlier step changed the photo (see Sharpen.AfterCorrection). A harness
// that applies steps one at a time asks it as Run does.
func Skips(s Step, corrected bool) bool {
	f, ok := s.(follower)
	return ok && f.onlyAfterCorrection() && !corrected
}

// snapshot copies planes into dst, reusing its memory.
func snapshot(planes, dst [][]float32) [][]float32 {
	if len(dst) != len(planes) {
		dst = make([][]float32, len(planes))
	}
	for i, p := range planes {
		dst[i] = append(dst[i][:0], p...)
	}
	return dst
}

// blend moves img back toward before: img = before + s·(img − before).
func blend(img *Image, before [][]float32, s float32, workers int) {
	w := img.Width
	parallelRows(img.Height, workers, func(y0, y1 int) {
		for c, p := range img.Planes {
			b := before[c]
			for i := y0 * w; i < y1*w; i++ {
				p[i] = b[i] + s*(p[i]-b[i])
			}
		}
	})
}

func formatFloat(v float32) string {
	return strconv.FormatFloat(float64(v), 'f', 3, 32)
}
