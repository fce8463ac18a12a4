package engine

import "sync"

// parallelRows splits rows [0, height) into contiguous bands and runs fn on
// each band in its own goroutine, at most workers at once.
func parallelRows(height, workers int, fn func(y0, y1 int)) {
	if workers < 1 {
		workers = 1
	}
	// Bands of at least 16 rows keep goroutine overhead negligible.
	bands := min(workers, max(1, height/16))
	if bands <= 1 {
		fn(0, height)
		return
	}
	var wg sync.WaitGroup
	for b := range bands {
		y0, y1 := height*b/bands, height*(b+1)/bands
		wg.Go(func() { fn(y0, y1) })
	}
	wg.Wait()
}
