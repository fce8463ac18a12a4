package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResizeKeepsFlatImagesFlatAndSizes(t *testing.T) {
	t.Parallel()
	flat := NewImage(40, 30, 3, false)
	for _, p := range flat.Planes {
		for i := range p {
			p[i] = 0.37
		}
	}
	for _, k := range []Kernel{Bicubic, Lanczos3} {
		for _, size := range [][2]int{{80, 60}, {13, 7}, {40, 90}, {1, 1}} {
			out := Resize(flat, size[0], size[1], k, 2)
			require.Equal(t, size[0], out.Width)
			require.Equal(t, size[1], out.Height)
			for _, p := range out.Planes {
				for _, v := range p {
					require.InDelta(t, 0.37, v, 1e-5, "%s to %v", k.Name, size)
				}
			}
		}
	}
}

func TestDownscaleAntialiases(t *testing.T) {
	t.Parallel()
	// A one-pixel checkerboard shrunk by 4 must come out gray, not aliased.
	img := NewImage(64, 64, 1, false)
	for y := range 64 {
		for x := range 64 {
			img.Planes[0][y*64+x] = float32((x + y) % 2)
		}
	}
	out := Resize(img, 16, 16, Bicubic, 2)
	for _, v := range out.Planes[0][16*4+4 : 16*4+12] {
		require.InDelta(t, 0.5, v, 0.02)
	}
}
