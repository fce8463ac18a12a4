package neural

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// naiveConv is the textbook convolution in PyTorch's terms (NCHW weights,
// zero padding), written for clarity, to check the packed one against.
func naiveConv(in Tensor, s layerSpec, w, b []float32) Tensor {
	oh, ow := (in.H+2*s.Padding-s.Dilation*(s.Kernel-1)-1)/s.Stride+1, (in.W+2*s.Padding-s.Dilation*(s.Kernel-1)-1)/s.Stride+1
	out := NewTensor(oh, ow, s.Out)
	for y := range oh {
		for x := range ow {
			for o := range s.Out {
				acc := float64(b[o])
				for i := range s.In {
					for ky := range s.Kernel {
						for kx := range s.Kernel {
							sy, sx := y*s.Stride+ky*s.Dilation-s.Padding, x*s.Stride+kx*s.Dilation-s.Padding
							if sy < 0 || sy >= in.H || sx < 0 || sx >= in.W {
								continue
							}
							acc += float64(w[((o*s.In+i)*s.Kernel+ky)*s.Kernel+kx]) * float64(in.Data[(sy*in.W+sx)*s.In+i])
						}
					}
				}
				out.Data[(y*ow+x)*s.Out+o] = float32(acc)
			}
		}
	}
	return out
}

func randoms(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// randomPReLUConv makes a convolution of shape s with random weights,
// followed by PReLU, a random h×w input for it, and the output naiveConv
// and a plain PReLU give.
func randomPReLUConv(r *rand.Rand, s layerSpec, h, w int) (c *conv, in, want Tensor) {
	weights, bias, alpha := randoms(r, s.Out*s.In*s.Kernel*s.Kernel), randoms(r, s.Out), randoms(r, s.Out)
	in = Tensor{H: h, W: w, C: s.In, Data: randoms(r, h*w*s.In)}
	want = naiveConv(in, s, weights, bias)
	for i, v := range want.Data {
		if v < 0 {
			want.Data[i] = v * alpha[i%s.Out]
		}
	}
	c = newConv(s, weights, bias)
	c.act = prelu(alpha)
	return c, in, want
}

// TestConvMatchesNaive checks every convolution shape the kernels branch
// on (unfolded or not, odd widths, strides, dilations, channel counts
// not a multiple of 4) against naiveConv, each followed by PReLU.
func TestConvMatchesNaive(t *testing.T) {
	t.Parallel()
	for i, tt := range []struct{ in, out, k, stride, dil, h, w int }{
		{1, 8, 5, 1, 1, 9, 11},
		{3, 5, 3, 1, 1, 7, 6},
		{16, 16, 3, 1, 1, 8, 9},
		{16, 6, 1, 1, 1, 5, 5},
		{8, 4, 3, 2, 1, 9, 10},
		{8, 7, 3, 1, 2, 10, 7},
		{2, 2, 3, 2, 2, 11, 12},
		{4, 9, 7, 1, 1, 3, 4},
	} {
		t.Run(fmt.Sprintf("%+v", tt), func(t *testing.T) {
			t.Parallel()
			s := layerSpec{Op: "conv", In: tt.in, Out: tt.out, Kernel: tt.k, Stride: tt.stride, Dilation: tt.dil, Padding: tt.dil * (tt.k - 1) / 2}
			// Each subtest its own generator: they run in parallel.
			c, in, want := randomPReLUConv(rand.New(rand.NewPCG(1, uint64(i))), s, tt.h, tt.w)
			n := &Net{layers: []layer{c}}
			for _, workers := range []int{1, 3} {
				got := n.Forward(in, &Arena{}, workers)
				require.Equal(t, [3]int{want.H, want.W, want.C}, [3]int{got.H, got.W, got.C})
				require.Less(t, maxDiff(t, got.Data, want.Data), convTolerance(tt.in, tt.k))
			}
		})
	}
}

// convTolerance bounds the float32 error of a k×k convolution over in
// channels of unit-variance inputs and weights, whose outputs are of
// order sqrt(k·k·in): winograd's F(4×4, 3×3) transforms (winograd.go)
// measured up to about 1e-4 of that over 300 seeds per shape, the direct
// product about 1e-6; a wrong tap or transform is off by the order of
// the output itself, thousands of times the bound.
func convTolerance(in, k int) float64 { return 4e-4 * math.Sqrt(float64(k*k*in)) }

func TestPixelShuffleOrder(t *testing.T) {
	t.Parallel()
	// One pixel of 8 channels, shuffled by 2: channel c·4+i·2+j goes to
	// channel c of pixel (i, j), as torch.nn.functional.pixel_shuffle.
	in := Tensor{H: 1, W: 1, C: 8, Data: []float32{0, 1, 2, 3, 4, 5, 6, 7}}
	out := NewTensor(2, 2, 2)
	pixelShuffle(in, out, 2)
	require.Equal(t, []float32{0, 4, 1, 5, 2, 6, 3, 7}, out.Data)
}

// BenchmarkConv3x3 is the mapping layers' shape (16 to 16 channels, 3×3)
// on a 138×138 tile, computed by both kernels, in the direct
// convolution's multiply-adds per CPU second.
func BenchmarkConv3x3(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	s := layerSpec{Op: "conv", In: 16, Out: 16, Kernel: 3, Stride: 1, Dilation: 1, Padding: 1}
	wino := newConv(s, randoms(r, 16*16*9), randoms(r, 16))
	direct := *wino
	direct.wino = nil
	in := Tensor{H: 138, W: 138, C: 16, Data: randoms(r, 138*138*16)}
	for _, k := range []struct {
		name string
		c    *conv
	}{{"direct", &direct}, {"winograd", wino}} {
		b.Run(k.name, func(b *testing.B) {
			n := &Net{layers: []layer{k.c}}
			var a Arena
			b.ReportAllocs()
			cpu0 := cpuSeconds(b)
			for b.Loop() {
				n.Forward(in, &a, 1)
			}
			b.ReportMetric(float64(b.N)*138*138*16*16*9/(cpuSeconds(b)-cpu0)/1e9, "GMAC/cpu-s")
		})
	}
}

// TestWinogradMatchesDirect checks the winograd kernel against the direct
// one (and naiveConv) on the shapes it takes: sizes that are not whole
// blocks (so the last blocks hang over the right and bottom edges), one
// row or column, output channels not a multiple of 4, bands of rows that
// cut blocks (three workers), each followed by PReLU.
func TestWinogradMatchesDirect(t *testing.T) {
	t.Parallel()
	for i, tt := range []struct{ in, out, h, w int }{
		{16, 16, 13, 11},
		{16, 16, 4, 4},
		{16, 16, 1, 9},
		{16, 16, 7, 1},
		{64, 4, 10, 17},
		{5, 7, 6, 5},
		{4, 1, 3, 2},
	} {
		t.Run(fmt.Sprintf("%+v", tt), func(t *testing.T) {
			t.Parallel()
			s := layerSpec{Op: "conv", In: tt.in, Out: tt.out, Kernel: 3, Stride: 1, Dilation: 1, Padding: 1}
			require.True(t, usesWinograd(s))
			wino, in, want := randomPReLUConv(rand.New(rand.NewPCG(5, uint64(i))), s, tt.h, tt.w)
			require.NotNil(t, wino.wino)
			direct := *wino
			direct.wino = nil
			for _, workers := range []int{1, 3} {
				got := (&Net{layers: []layer{wino}}).Forward(in, &Arena{}, workers)
				ref := (&Net{layers: []layer{&direct}}).Forward(in, &Arena{}, workers)
				require.Equal(t, [3]int{want.H, want.W, want.C}, [3]int{got.H, got.W, got.C})
				dw, dd := maxDiff(t, got.Data, want.Data), maxDiff(t, ref.Data, want.Data)
				t.Logf("workers %d: max |winograd - naive| = %.2g, |direct - naive| = %.2g (bound %.2g)", workers, dw, dd, convTolerance(tt.in, 3))
				require.Less(t, dw, convTolerance(tt.in, 3))
				require.Less(t, dd, convTolerance(tt.in, 3))
			}
		})
	}
}
