package neural

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// SR is a ×2 super-resolution network on luma: it predicts what a fixed
// bicubic ×2 upsampling misses (train/srmodel.py). It works on BT.601
// studio-range luma over 255, the convention of the SR literature.
type SR struct {
	net *Net
	// Meta is the header's description and provenance.
	Meta map[string]any
}

// srHeader is the part of an SR .nnw header the code needs.
type srHeader struct {
	Model  string          `json:"model"`
	Scale  int             `json:"scale"`
	Layers json.RawMessage `json:"layers"`
}

// LoadSR parses an SR network from .nnw bytes.
func LoadSR(b []byte) (*SR, error) {
	f, err := parseFile(b)
	if err != nil {
		return nil, err
	}
	var h srHeader
	if err := json.Unmarshal(f.header, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if h.Model != "fsrcnn-residual-bicubic-x2" || h.Scale != 2 {
		return nil, fmt.Errorf("%w: model %q ×%d is not a ×2 residual SR network", ErrFormat, h.Model, h.Scale)
	}
	net, err := singleInputNet(h.Layers, f)
	if err != nil {
		return nil, err
	}
	last, ok := net.layers[len(net.layers)-1].(shuffle)
	if !ok || last.r != 2 {
		return nil, fmt.Errorf("%w: an SR network must end with a ×2 pixel shuffle", ErrFormat)
	}
	for _, l := range net.layers[:len(net.layers)-1] {
		if c, ok := l.(*conv); ok && c.stride != 1 {
			return nil, fmt.Errorf("%w: an SR network has no strided convolution", ErrFormat)
		}
	}
	var meta map[string]any
	_ = json.Unmarshal(f.header, &meta) // already valid JSON
	delete(meta, "layers")
	return &SR{net: net, Meta: meta}, nil
}

// Params is the network's number of learned parameters.
func (s *SR) Params() int { return s.net.Params }

// srTile is the side of the region of the source each tile computes
// (before its margin of Radius pixels): 120 keeps the margin's extra work
// near 30% while a 64-channel tile (with margin) stays under 6 MB, in
// cache on most machines' L2+L3.
const srTile = 120

// TileBytes is the working memory one worker holds while upscaling: its
// arena's three buffers at the widest layer of a tile with margin (and
// padding, up to whole winograd blocks).
func (s *SR) TileBytes() int64 {
	side := int64(srTile + 2*s.net.Radius + 2*maxPad(s.net) + winoM - 1)
	widest := int64(1)
	for _, l := range s.net.layers {
		if c, ok := l.(*conv); ok {
			widest = max(widest, int64(c.out), int64(c.depth))
		}
	}
	return 3 * 4 * side * side * widest
}

func maxPad(n *Net) int {
	p := 0
	for _, l := range n.layers {
		if c, ok := l.(*conv); ok {
			p = max(p, c.pad)
		}
	}
	return p
}

// Upscale2 enlarges a w×h plane of studio-range luma over 255 to 2w×2h.
// The network runs on tiles of srTile² source pixels, each with a margin
// of Radius pixels so that it comes out exactly as on the whole image;
// workers goroutines take tiles in turn.
// It stops between tiles once ctx is done, answering ctx's error.
func (s *SR) Upscale2(ctx context.Context, src []float32, w, h, workers int) ([]float32, error) {
	return s.upscale2(ctx, src, w, h, workers, srTile)
}

// upscale2 is Upscale2 with tiles of a given side.
func (s *SR) upscale2(ctx context.Context, src []float32, w, h, workers, tile int) ([]float32, error) {
	W := 2 * w
	out := make([]float32, W*2*h)
	bicubic2(src, w, h, out, workers)
	r := s.net.Radius
	tx, ty := (w+tile-1)/tile, (h+tile-1)/tile
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, tx*ty)) {
		wg.Go(func() {
			var a Arena
			var in Tensor
			for {
				t := int(next.Add(1) - 1)
				if t >= tx*ty || ctx.Err() != nil {
					return
				}
				x0, y0 := (t%tx)*tile, (t/tx)*tile
				x1, y1 := min(x0+tile, w), min(y0+tile, h)
				// The region with its margin, clipped to the image: at
				// the image's edges the network's own zero padding applies.
				mx0, my0 := max(x0-r, 0), max(y0-r, 0)
				mx1, my1 := min(x1+r, w), min(y1+r, h)
				in.H, in.W, in.C = my1-my0, mx1-mx0, 1
				in.Data = grow(in.Data, in.H*in.W)
				for y := my0; y < my1; y++ {
					copy(in.Data[(y-my0)*in.W:][:in.W], src[y*w+mx0:y*w+mx1])
				}
				res := s.net.Forward(in, &a, 1)
				for y := 2 * y0; y < 2*y1; y++ {
					row := out[y*W:]
					rr := res.Data[(y-2*my0)*res.W:]
					for x := 2 * x0; x < 2*x1; x++ {
						row[x] += rr[x-2*mx0]
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// bicubicEven and bicubicOdd are the weights of source samples i-2..i+2
// for output samples 2i and 2i+1 of a ×2 bicubic (a = -0.5) upsampling
// (train/srmodel.py, bicubic2_kernel).
var (
	bicubicEven = [5]float32{-0.0234375, 0.2265625, 0.8671875, -0.0703125, 0}
	bicubicOdd  = [5]float32{0, -0.0703125, 0.8671875, 0.2265625, -0.0234375}
)

// bicubic2 writes the ×2 bicubic upsampling of src into out, replicating
// edge samples: rows first into a 2w-wide intermediate, then columns.
func bicubic2(src []float32, w, h int, out []float32, workers int) {
	W := 2 * w
	tmp := make([]float32, W*h)
	rows(h, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s, t := src[y*w:(y+1)*w], tmp[y*W:(y+1)*W]
			for i := range w {
				var e, o float32
				for k := range 5 {
					v := s[min(max(i+k-2, 0), w-1)]
					e += bicubicEven[k] * v
					o += bicubicOdd[k] * v
				}
				t[2*i], t[2*i+1] = e, o
			}
		}
	})
	rows(h, workers, func(y0, y1 int) {
		for i := y0; i < y1; i++ {
			e, o := out[2*i*W:(2*i+1)*W], out[(2*i+1)*W:(2*i+2)*W]
			for k := range 5 {
				t := tmp[min(max(i+k-2, 0), h-1)*W:][:W]
				we, wo := bicubicEven[k], bicubicOdd[k]
				for x, v := range t {
					e[x] += we * v
					o[x] += wo * v
				}
			}
		}
	})
}
