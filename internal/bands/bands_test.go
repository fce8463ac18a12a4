package bands

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunCoversEveryRowOnce: the bands tile [0, height) exactly, their
// number is bounded by workers and by minRows.
func TestRunCoversEveryRowOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ height, workers, minRows, bands int }{
		{100, 4, 16, 4},
		{100, 8, 16, 6},
		{20, 4, 16, 1},
		{5, 8, 1, 5},
		{7, 0, 1, 1},
		{0, 3, 1, 1},
		{138, 2, 1, 2},
	} {
		var mu sync.Mutex
		seen := make([]int, tt.height)
		calls := 0
		Run(tt.height, tt.workers, tt.minRows, func(y0, y1 int) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			for y := y0; y < y1; y++ {
				seen[y]++
			}
		})
		require.Equal(t, tt.bands, calls, "%+v", tt)
		for y, n := range seen {
			require.Equal(t, 1, n, "%+v: row %d", tt, y)
		}
	}
}
