package neural

import (
	"context"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func embeddedSR(t testing.TB) *SR {
	t.Helper()
	sr, err := EmbeddedSR()
	require.NoError(t, err)
	if sr == nil {
		t.Skip("this build carries no SR weights")
	}
	return sr
}

// TestSRMatchesPyTorch runs the embedded network on the crops
// train/export_sr.py stored with PyTorch's output for them, untiled and
// tiled (tiles smaller than the crop, so that seams would show), with one
// and two workers.
func TestSRMatchesPyTorch(t *testing.T) {
	t.Parallel()
	sr := embeddedSR(t)
	f, cases := loadRefs(t, "sr_x2_ref.nnw")
	for _, c := range cases {
		in, want := refTensor(t, f, c.Input), refTensor(t, f, c.Output)
		require.Equal(t, [2]int{2 * in.H, 2 * in.W}, [2]int{want.H, want.W})
		// The network adds visibly to the bicubic base, so the comparison
		// tests its layers and not only the base.
		base := make([]float32, len(want.Data))
		bicubic2(in.Data, in.W, in.H, base, 1)
		require.Greater(t, maxDiff(t, want.Data, base), 0.02)
		for _, tile := range []int{srTile, 7, 16} {
			for _, workers := range []int{1, 2} {
				got, err := sr.upscale2(context.Background(), in.Data, in.W, in.H, workers, tile)
				require.NoError(t, err)
				d := maxDiff(t, got, want.Data)
				t.Logf("%s tile %d workers %d: max |Go - PyTorch| = %.2g", c.Name, tile, workers, d)
				require.Less(t, d, 1e-4, "%s tile %d workers %d", c.Name, tile, workers)
			}
		}
	}
}

func TestSRTileBytesCoversTheArena(t *testing.T) {
	t.Parallel()
	sr := embeddedSR(t)
	src := make([]float32, 300*260)
	for i := range src {
		src[i] = float32(i%97) / 97
	}
	var a Arena
	// The largest tile the upscaler makes: srTile plus its margin each side.
	side := srTile + 2*sr.net.Radius
	sr.net.Forward(Tensor{H: side, W: side, C: 1, Data: src[:side*side]}, &a, 1)
	held := 0
	for _, b := range a.bufs {
		held += 4 * cap(b)
	}
	require.LessOrEqual(t, int64(held), sr.TileBytes())
}

func BenchmarkSRUpscale2(b *testing.B) {
	sr := embeddedSR(b)
	const w, h = 512, 512 // 1 MP of output
	src := make([]float32, w*h)
	for i := range src {
		src[i] = float32((i*7919)%251) / 251
	}
	b.ReportAllocs()
	cpu0 := cpuSeconds(b)
	for b.Loop() {
		if _, err := sr.Upscale2(context.Background(), src, w, h, 2); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared machine wall time says more about the neighbours than
	// about the code: the CPU time is reported beside it.
	mp := float64(b.N) * 4 * w * h / 1e6
	b.ReportMetric(b.Elapsed().Seconds()/mp, "s/output-MP")
	b.ReportMetric((cpuSeconds(b)-cpu0)/mp, "cpu-s/output-MP")
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func TestSRStopsWhenTheContextIsDone(t *testing.T) {
	t.Parallel()
	sr := embeddedSR(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sr.Upscale2(ctx, make([]float32, 300*300), 300, 300, 2)
	require.ErrorIs(t, err, context.Canceled)
}
