// Package neural runs small convolutional networks trained by train/ (in
// PyTorch) in pure Go: the layers those networks use (convolution with
// PReLU or ReLU, pixel shuffle, nearest upsampling), read from the .nnw
// weight format, on channel-last float32 tensors.
//
// The convolution is the only costly part. It is computed as a
// register-blocked product, two output pixels by four output channels at
// a time over every kernel tap and input channel, on an input padded once
// with zeros, so that the inner loop has no branch, no bounds check it can
// avoid and no allocation; a layer with few input channels (the first, on
// one channel of luma) is first unfolded (im2col) so that its inner loop
// is long enough to pay for itself. A 3×3 stride-1 layer (most of the
// super-resolution network's work) is computed by Winograd's F(4×4, 3×3)
// instead (winograd.go): the same product, on blocks transformed so that
// it needs a quarter of the multiplications.
package neural

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ErrFormat means a weight or reference file is not a well-formed .nnw.
var ErrFormat = errors.New("neural: malformed .nnw file")

// Tensor is an H×W×C image of float32 in channel-last (HWC) order.
type Tensor struct {
	H, W, C int
	Data    []float32
}

// NewTensor allocates a zero tensor.
func NewTensor(h, w, c int) Tensor {
	return Tensor{H: h, W: w, C: c, Data: make([]float32, h*w*c)}
}

// file is a parsed .nnw container: the JSON header and the tensor data.
type file struct {
	header json.RawMessage
	data   []float32
}

// parseFile splits a .nnw container (see train/nnw.py) into its header
// and its float32 data.
func parseFile(b []byte) (file, error) {
	if len(b) < 8 || string(b[:4]) != "NNW1" {
		return file{}, fmt.Errorf("%w: no NNW1 magic", ErrFormat)
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if n < 2 || n > len(b)-8 {
		return file{}, fmt.Errorf("%w: header length %d out of range", ErrFormat, n)
	}
	rest := b[8+n:]
	if len(rest)%4 != 0 {
		return file{}, fmt.Errorf("%w: tensor data is %d bytes, not whole float32s", ErrFormat, len(rest))
	}
	data := make([]float32, len(rest)/4)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
	}
	return file{header: b[8 : 8+n], data: data}, nil
}

// span reads the floats [offset, offset+count) and checks that there are
// want of them.
func (f file) span(s []int, want int, what string) ([]float32, error) {
	if len(s) != 2 || s[0] < 0 || s[1] != want || s[0]+s[1] > len(f.data) {
		return nil, fmt.Errorf("%w: %s: span %v, want %d floats of %d", ErrFormat, what, s, want, len(f.data))
	}
	return f.data[s[0] : s[0]+s[1]], nil
}
