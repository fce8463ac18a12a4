package engine

import "github.com/smartimage/enhance/internal/bands"

// parallelRows runs fn on bands of rows [0, height), at most workers at
// once; bands of at least 16 rows keep goroutine overhead negligible.
func parallelRows(height, workers int, fn func(y0, y1 int)) {
	bands.Run(height, workers, 16, fn)
}
