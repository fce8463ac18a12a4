// Package bands runs work on an image's rows in parallel: the rows are
// split into contiguous bands, one goroutine each. The engine's filters
// and the neural networks' layers both work this way.
package bands

import "sync"

// Run splits rows [0, height) into at most workers contiguous bands of at
// least minRows rows each (fewer bands when the height is short) and runs
// fn on each band in its own goroutine; one band runs on the caller's.
func Run(height, workers, minRows int, fn func(y0, y1 int)) {
	n := min(max(workers, 1), max(1, height/max(minRows, 1)))
	if n <= 1 {
		fn(0, height)
		return
	}
	var wg sync.WaitGroup
	for b := range n {
		y0, y1 := height*b/n, height*(b+1)/n
		wg.Go(func() { fn(y0, y1) })
	}
	wg.Wait()
}
