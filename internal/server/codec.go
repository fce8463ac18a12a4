package server

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxRequestElements bounds the messages and list items one request may
// hold. gRPC decodes a request before any interceptor runs, and an empty
// message costs two bytes on the wire but about a hundred once decoded:
// a 2 MiB request of empty colour hints became 95 MB. Real requests hold
// a few thousand at most (hint points); the engine's own limits on hints
// are far lower.
const MaxRequestElements = 100_000

// maxWalkDepth bounds how deep the count follows nested messages; protobuf
// refuses deeper nesting itself.
const maxWalkDepth = 100

// errTooManyElements is what a client sees, inside gRPC's own words for a
// request it could not decode.
var errTooManyElements = fmt.Errorf("the request holds more than %d messages and list items", MaxRequestElements)

// boundedCodec is gRPC's protobuf codec with a count of a request's
// elements before it is decoded, so that decoding cannot be a memory lever.
type boundedCodec struct {
	encoding.CodecV2
}

func newBoundedCodec() boundedCodec {
	return boundedCodec{encoding.GetCodecV2("proto")}
}

func (c boundedCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	// A request larger than a frame arrives in pieces: they are joined
	// once, counted, and decoded from the joined copy (a buffer of one
	// piece is not joined again).
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	n := 0
	if err := countElements(buf.ReadOnlyData(), m.ProtoReflect().Descriptor(), &n, 0); err != nil {
		return err
	}
	return c.CodecV2.Unmarshal(mem.BufferSlice{buf}, v)
}

// countElements adds to n one for each message and list item in b, the
// wire form of a message md, following known message fields. Malformed
// bytes end the count quietly: protobuf's own decoding reports them.
func countElements(b []byte, md protoreflect.MessageDescriptor, n *int, depth int) error {
	if depth > maxWalkDepth {
		return nil
	}
	for len(b) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return nil
		}
		valueLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if valueLen < 0 {
			return nil
		}
		value := b[tagLen : tagLen+valueLen]
		b = b[tagLen+valueLen:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			continue
		}
		if fd.Message() == nil && !fd.IsList() {
			continue
		}
		if *n++; *n > MaxRequestElements {
			return errTooManyElements
		}
		if fd.Message() != nil {
			inner, m := protowire.ConsumeBytes(value)
			if m < 0 {
				return nil
			}
			if err := countElements(inner, fd.Message(), n, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
