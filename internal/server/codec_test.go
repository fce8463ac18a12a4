package server

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// pieces splits b into n buffers, as a request larger than a frame
// arrives.
func pieces(b []byte, n int) mem.BufferSlice {
	var s mem.BufferSlice
	for i := range n {
		s = append(s, mem.SliceBuffer(b[len(b)*i/n:len(b)*(i+1)/n]))
	}
	return s
}

// TestBoundedCodecReadsPieces: a request in pieces is decoded whole, and
// a request of too many elements is refused before it is decoded.
func TestBoundedCodecReadsPieces(t *testing.T) {
	t.Parallel()
	c := newBoundedCodec()
	want := &enhancev1.EnhanceRequest{Image: bytes.Repeat([]byte("0123456789"), 10_000), OutputFormat: "png"}
	wire, err := proto.Marshal(want)
	require.NoError(t, err)
	for _, n := range []int{1, 2, 7} {
		var got enhancev1.EnhanceRequest
		require.NoError(t, c.Unmarshal(pieces(wire, n), &got), n)
		require.True(t, proto.Equal(want, &got), n)
	}

	hints := (&enhancev1.ColorizeRequest{}).ProtoReflect().Descriptor().Fields().ByName("hints")
	require.NotNil(t, hints)
	var many []byte
	for range MaxRequestElements + 1 {
		many = protowire.AppendTag(many, hints.Number(), protowire.BytesType)
		many = protowire.AppendBytes(many, nil)
	}
	require.ErrorIs(t, c.Unmarshal(pieces(many, 3), &enhancev1.ColorizeRequest{}), errTooManyElements)
}
