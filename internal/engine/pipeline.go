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

// Run applies every step in order, stopping early if ctx ends, and returns
// the steps that changed the image.
func (p Pipeline) Run(ctx context.Context, img *Image, workers int) ([]Applied, error) {
	var done []Applied
	for _, s := range p {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if params, ok := s.Apply(img, workers); ok {
			done = append(done, Applied{Name: s.Name(), Params: params})
		}
	}
	return done, nil
}

func formatFloat(v float32) string {
	return strconv.FormatFloat(float64(v), 'f', 3, 32)
}
