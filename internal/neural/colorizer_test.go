package neural

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestColorizerMatchesPyTorch runs the embedded network on the L crops
// train/export_color.py stored with PyTorch's a and b for them.
func TestColorizerMatchesPyTorch(t *testing.T) {
	t.Parallel()
	c, err := EmbeddedColorizer()
	require.NoError(t, err)
	if c == nil {
		t.Skip("this build carries no colorization weights")
	}
	f, cases := loadRefs(t, "colorize_ref.nnw")
	for _, tc := range cases {
		in, want := refTensor(t, f, tc.Input), refTensor(t, f, tc.Output)
		// The reference is not near zero, so the comparison tests the layers.
		require.Greater(t, maxDiff(t, want.Data, make([]float32, len(want.Data))), 0.01)
		ow, oh := c.OutSize(in.W, in.H)
		require.Equal(t, [3]int{oh, ow, 2}, [3]int{want.H, want.W, want.C})
		l := make([]float32, len(in.Data))
		for i, v := range in.Data {
			l[i] = 100 * v
		}
		for _, workers := range []int{1, 2} {
			a, b := c.Predict(l, in.W, in.H, workers)
			got := make([]float32, 0, 2*len(a))
			for i := range a {
				got = append(got, a[i]/100, b[i]/100)
			}
			d := maxDiff(t, got, want.Data)
			t.Logf("%s workers %d: max |Go - PyTorch| = %.2g (ab/100)", tc.Name, workers, d)
			require.Less(t, d, 1e-4)
		}
	}
}
