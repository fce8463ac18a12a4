package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHintWorkIsBounded: a wide stroke drawn back and forth across the
// image asks for far more drawing than the pixels it covers; it is refused
// as an invalid option, while long strokes of ordinary width pass.
func TestHintWorkIsBounded(t *testing.T) {
	t.Parallel()
	zigzag := make([][2]int, 200)
	for i := range zigzag {
		if i%2 == 1 {
			zigzag[i] = [2]int{999, 999}
		}
	}
	_, _, _, err := rasterizeHints([]ColorHint{{Points: zigzag, Width: 64}}, 1000, 1000)
	require.ErrorIs(t, err, ErrInvalidOption)
	require.ErrorContains(t, err, "too long for their width")

	strokes := make([]ColorHint, 20)
	for i := range strokes {
		strokes[i] = ColorHint{Points: [][2]int{{0, 50 * i}, {999, 50 * i}, {999, 50*i + 40}}, Width: 16}
	}
	_, _, _, err = rasterizeHints(strokes, 1000, 1000)
	require.NoError(t, err)
}
