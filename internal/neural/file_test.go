package neural

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// refCase is one stored input and the PyTorch model's output for it.
type refCase struct {
	Name   string `json:"name"`
	Input  []int  `json:"input"`  // offset, h, w, c
	Output []int  `json:"output"` // offset, h, w, c
}

// loadRefs reads a reference file written by train/export_*.py.
func loadRefs(t *testing.T, name string) (file, []refCase) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "neural", name))
	require.NoError(t, err)
	f, err := parseFile(b)
	require.NoError(t, err)
	var h struct {
		Cases []refCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(f.header, &h))
	require.NotEmpty(t, h.Cases)
	return f, h.Cases
}

func refTensor(t *testing.T, f file, s []int) Tensor {
	t.Helper()
	require.Len(t, s, 4)
	d, err := f.span([]int{s[0], s[1] * s[2] * s[3]}, s[1]*s[2]*s[3], "reference")
	require.NoError(t, err)
	return Tensor{H: s[1], W: s[2], C: s[3], Data: d}
}

// maxDiff is the largest absolute difference between two equal-sized slices.
func maxDiff(t *testing.T, a, b []float32) float64 {
	t.Helper()
	require.Equal(t, len(a), len(b))
	m := 0.0
	for i := range a {
		d := float64(a[i] - b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

func TestParseFileRefusesMalformed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"wrong magic", []byte("NNW2\x02\x00\x00\x00{}")},
		{"header longer than file", []byte("NNW1\xff\x00\x00\x00{}")},
		{"ragged data", []byte("NNW1\x02\x00\x00\x00{}\x00\x00\x00")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFile(tt.b)
			require.ErrorIs(t, err, ErrFormat)
		})
	}
}

func TestNewNetRefusesBadShapes(t *testing.T) {
	t.Parallel()
	f := file{data: make([]float32, 1000)}
	for i, specs := range [][]layerSpec{
		{{Op: "conv", In: 2, Out: 4, Kernel: 3, Stride: 1, Dilation: 1, Padding: 1, Weight: []int{0, 72}, Bias: []int{72, 4}}},   // input has 1 channel
		{{Op: "conv", In: 1, Out: 4, Kernel: 3, Stride: 1, Dilation: 1, Padding: 0, Weight: []int{0, 36}, Bias: []int{36, 4}}},   // not same-padded
		{{Op: "conv", In: 1, Out: 4, Kernel: 3, Stride: 1, Dilation: 1, Padding: 1, Weight: []int{0, 35}, Bias: []int{36, 4}}},   // wrong weight count
		{{Op: "conv", In: 1, Out: 4, Kernel: 3, Stride: 1, Dilation: 1, Padding: 1, Weight: []int{990, 36}, Bias: []int{36, 4}}}, // past the data
		{{Op: "relu"}}, // activation without a convolution
		{{Op: "conv", In: 1, Out: 3, Kernel: 1, Stride: 1, Dilation: 1, Weight: []int{0, 3}, Bias: []int{3, 3}}, {Op: "pixel_shuffle", Factor: 2}}, // 3 channels cannot shuffle by 2
		{{Op: "softmax"}},
		{},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			_, err := newNet(specs, f, 1)
			require.ErrorIs(t, err, ErrFormat)
		})
	}
}
