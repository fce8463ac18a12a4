package neural

import (
	"encoding/json"
	"fmt"
)

// Colorizer predicts CIELAB a and b from L (train/colormodel.py): it
// runs on L over 100 at a working size of about WorkSide pixels on the
// long side and answers a and b at a quarter of that size (rounded up).
type Colorizer struct {
	net *Net
	// WorkSide is the long side, in pixels, the network was trained at.
	WorkSide int
	// Reduction is how many working pixels one output pixel covers, per side.
	Reduction int
	// Meta is the header's description and provenance.
	Meta map[string]any
}

// LoadColorizer parses a colorization network from .nnw bytes.
func LoadColorizer(b []byte) (*Colorizer, error) {
	f, err := parseFile(b)
	if err != nil {
		return nil, err
	}
	var h struct {
		Model     string          `json:"model"`
		WorkSide  int             `json:"work_side"`
		Reduction int             `json:"reduction"`
		Layers    json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(f.header, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if h.Model != "colorize-lab-ab" || h.WorkSide < 16 || h.Reduction < 1 {
		return nil, fmt.Errorf("%w: model %q (work side %d, reduction %d) is not a colorization network", ErrFormat, h.Model, h.WorkSide, h.Reduction)
	}
	net, err := singleInputNet(h.Layers, f)
	if err != nil {
		return nil, err
	}
	stride := 1
	out := 1
	for _, l := range net.layers {
		switch l := l.(type) {
		case *conv:
			stride *= l.stride
			out = l.out
		default:
			return nil, fmt.Errorf("%w: a colorization network is convolutions only", ErrFormat)
		}
	}
	if stride != h.Reduction || out != 2 {
		return nil, fmt.Errorf("%w: strides reduce by %d and end in %d channels; the header says %d and a, b", ErrFormat, stride, out, h.Reduction)
	}
	var meta map[string]any
	_ = json.Unmarshal(f.header, &meta)
	delete(meta, "layers")
	return &Colorizer{net: net, WorkSide: h.WorkSide, Reduction: h.Reduction, Meta: meta}, nil
}

// Params is the network's number of learned parameters.
func (c *Colorizer) Params() int { return c.net.Params }

// OutSize is the size of the ab planes for a w×h input: each stride-s
// convolution gives ⌈n/s⌉, and ⌈⌈n/a⌉/b⌉ = ⌈n/(ab)⌉.
func (c *Colorizer) OutSize(w, h int) (int, int) {
	r := c.Reduction
	return (w + r - 1) / r, (h + r - 1) / r
}

// Predict gives a and b (CIELAB units) for a w×h plane of L (0..100), at
// OutSize(w, h). workers goroutines share each layer's rows.
func (c *Colorizer) Predict(l []float32, w, h, workers int) (a, b []float32) {
	in := Tensor{H: h, W: w, C: 1, Data: make([]float32, w*h)}
	for i, v := range l[:w*h] {
		in.Data[i] = v / 100
	}
	var ar Arena
	out := c.net.Forward(in, &ar, workers)
	n := out.H * out.W
	a, b = make([]float32, n), make([]float32, n)
	for i := range n {
		a[i], b[i] = 100*out.Data[2*i], 100*out.Data[2*i+1]
	}
	return a, b
}
