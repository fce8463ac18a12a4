package neural

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/smartimage/enhance/internal/bands"
)

// layerSpec is one layer as the .nnw header describes it.
type layerSpec struct {
	Op       string `json:"op"`
	In       int    `json:"in"`
	Out      int    `json:"out"`
	Kernel   int    `json:"kernel"`
	Stride   int    `json:"stride"`
	Dilation int    `json:"dilation"`
	Padding  int    `json:"padding"`
	Factor   int    `json:"factor"`
	Weight   []int  `json:"weight"`
	Bias     []int  `json:"bias"`
	Alpha    []int  `json:"alpha"`
}

// Net is a sequence of layers: convolutions, each with the activation
// that follows it folded in, and the resampling layers between them.
type Net struct {
	layers []layer
	// Params is the number of learned parameters.
	Params int
	// Radius is how many input pixels beyond a region can change its
	// output: a tile needs that much margin to come out exactly as the
	// whole image would.
	Radius int
}

// layer is one step of a Net.
type layer interface {
	// channels checks the input channel count and gives the output's.
	channels(in int) (int, error)
}

// activation is what follows a convolution: none (factor nil), ReLU, or
// PReLU with a slope per channel. It is kept as each channel's factors for
// non-negative and negative values, so that applying it is a
// multiplication chosen by the sign bit: a branch on the sign would be
// mispredicted about half the time.
type activation struct {
	factor [][2]float32
}

// prelu is the activation with these slopes for negative values (zeros:
// ReLU).
func prelu(slopes []float32) activation {
	a := activation{factor: make([][2]float32, len(slopes))}
	for i, s := range slopes {
		a.factor[i] = [2]float32{1, s}
	}
	return a
}

// apply applies the activation to one pixel's channels.
func (a activation) apply(v []float32) {
	if a.factor == nil {
		return
	}
	f := a.factor[:len(v)]
	for i, u := range v {
		v[i] = u * f[i][math.Float32bits(u)>>31]
	}
}

// shuffle is PyTorch's pixel_shuffle: C·r² channels become C channels at
// r times the size.
type shuffle struct{ r int }

func (s shuffle) channels(in int) (int, error) {
	if in%(s.r*s.r) != 0 {
		return 0, fmt.Errorf("%w: pixel shuffle by %d of %d channels", ErrFormat, s.r, in)
	}
	return in / (s.r * s.r), nil
}

// upsample repeats each pixel r×r times (nearest neighbour).
type upsample struct{ r int }

func (upsample) channels(in int) (int, error) { return in, nil }

// newNet builds a Net from header layers over f's data, checking every
// shape against the input's channel count.
func newNet(specs []layerSpec, f file, inChannels int) (*Net, error) {
	n := &Net{}
	c := inChannels
	scale := 1 // input pixels per current-resolution pixel, for Radius
	var down int
	for i, s := range specs {
		switch s.Op {
		case "conv":
			if s.In != c || s.Out < 1 || s.Kernel < 1 || s.Kernel > 7 || s.Kernel%2 == 0 || s.Stride < 1 || s.Dilation < 1 ||
				s.Padding != s.Dilation*(s.Kernel-1)/2 {
				return nil, fmt.Errorf("%w: layer %d: conv %+v on %d channels is not a same-padded odd kernel", ErrFormat, i, s, c)
			}
			w, err := f.span(s.Weight, s.Out*s.In*s.Kernel*s.Kernel, "conv weight")
			if err != nil {
				return nil, err
			}
			b, err := f.span(s.Bias, s.Out, "conv bias")
			if err != nil {
				return nil, err
			}
			n.layers = append(n.layers, newConv(s, w, b))
			n.Params += len(w) + len(b)
			n.Radius += s.Padding * scale
			scale *= s.Stride
			down = max(down, scale)
			c = s.Out
		case "prelu", "relu":
			cv, ok := lastConv(n.layers)
			if !ok || cv.act.factor != nil {
				return nil, fmt.Errorf("%w: layer %d: %s does not follow a convolution", ErrFormat, i, s.Op)
			}
			if s.Op == "relu" {
				cv.act = prelu(make([]float32, c))
				continue
			}
			a, err := f.span(s.Alpha, c, "prelu alpha")
			if err != nil {
				return nil, err
			}
			cv.act = prelu(a)
			n.Params += len(a)
		case "pixel_shuffle", "upsample":
			if s.Factor < 2 {
				return nil, fmt.Errorf("%w: layer %d: %s by %d", ErrFormat, i, s.Op, s.Factor)
			}
			var l layer = shuffle{s.Factor}
			if s.Op == "upsample" {
				l = upsample{s.Factor}
			}
			out, err := l.channels(c)
			if err != nil {
				return nil, err
			}
			n.layers = append(n.layers, l)
			c = out
			scale = max(1, scale/s.Factor)
		default:
			return nil, fmt.Errorf("%w: layer %d: unknown op %q", ErrFormat, i, s.Op)
		}
	}
	if len(n.layers) == 0 {
		return nil, fmt.Errorf("%w: no layers", ErrFormat)
	}
	// A layer after a stride-s convolution reaches s input pixels per
	// pixel of its own; a tile aligned to the largest stride keeps the
	// grid, so the margin is rounded up to it.
	if down > 1 {
		n.Radius = (n.Radius + down - 1) / down * down
	}
	return n, nil
}

func lastConv(ls []layer) (*conv, bool) {
	if len(ls) == 0 {
		return nil, false
	}
	c, ok := ls[len(ls)-1].(*conv)
	return c, ok
}

// singleInputNet builds the network a header's "layers" describe, on one
// input channel (luma or lightness), with f's tensors: what both models'
// loaders need.
func singleInputNet(layers json.RawMessage, f file) (*Net, error) {
	specs, err := parseLayers(layers)
	if err != nil {
		return nil, err
	}
	return newNet(specs, f, 1)
}

// parseLayers decodes a header's "layers".
func parseLayers(raw json.RawMessage) ([]layerSpec, error) {
	var specs []layerSpec
	if err := json.Unmarshal(raw, &specs); err != nil {
		return nil, fmt.Errorf("%w: layers: %w", ErrFormat, err)
	}
	return specs, nil
}

// Arena holds one goroutine's working buffers, reused from call to call
// so that running a network allocates nothing once they have grown.
type Arena struct {
	bufs [3][]float32
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// Forward runs the network on in. The result lives in the arena: it is
// valid until the arena's next use. workers > 1 splits each convolution's
// rows among that many goroutines.
func (n *Net) Forward(in Tensor, a *Arena, workers int) Tensor {
	cur := in
	slot := 0
	next := func(h, w, c int) Tensor {
		slot = (slot + 1) % 2
		a.bufs[slot] = grow(a.bufs[slot], h*w*c)
		return Tensor{H: h, W: w, C: c, Data: a.bufs[slot]}
	}
	for _, l := range n.layers {
		switch l := l.(type) {
		case *conv:
			padded := l.prepare(cur, &a.bufs[2])
			oh, ow := (cur.H+l.stride-1)/l.stride, (cur.W+l.stride-1)/l.stride
			out := next(oh, ow, l.out)
			rows(oh, workers, func(y0, y1 int) { l.run(padded, out, y0, y1) })
			cur = out
		case shuffle:
			out := next(cur.H*l.r, cur.W*l.r, cur.C/(l.r*l.r))
			pixelShuffle(cur, out, l.r)
			cur = out
		case upsample:
			out := next(cur.H*l.r, cur.W*l.r, cur.C)
			nearest(cur, out, l.r)
			cur = out
		}
	}
	return cur
}

// rows runs fn on bands of [0, h) in up to workers goroutines; a layer's
// row is work enough for a band of its own.
func rows(h, workers int, fn func(y0, y1 int)) {
	bands.Run(h, workers, 1, fn)
}

// pixelShuffle moves channel c·r²+i·r+j of pixel (y, x) to channel c of
// pixel (y·r+i, x·r+j), as PyTorch's pixel_shuffle does.
func pixelShuffle(in, out Tensor, r int) {
	c := out.C
	for y := range in.H {
		for x := range in.W {
			src := in.Data[(y*in.W+x)*in.C:][:in.C]
			for ch := range c {
				for i := range r {
					for j := range r {
						out.Data[((y*r+i)*out.W+x*r+j)*c+ch] = src[ch*r*r+i*r+j]
					}
				}
			}
		}
	}
}

// nearest enlarges in r times by repeating pixels.
func nearest(in, out Tensor, r int) {
	c := in.C
	for y := range out.H {
		for x := range out.W {
			copy(out.Data[(y*out.W+x)*c:][:c], in.Data[((y/r)*in.W+x/r)*c:][:c])
		}
	}
}
