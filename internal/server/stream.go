package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/smartimage/enhance/internal/apierror"
)

// guardStream guards the API's server-streaming methods with the unary
// guards themselves (authentication and scope, rate limits,
// Idempotency-Key, credits, the inner panic recovery), rather than with a
// stream copy of each: such a method is a unary call whose answer goes
// out in pieces, so it needs exactly what the unary call needs, in the
// same order, and one chain keeps the two from drifting apart.
//
// It receives the one request, runs guards around the method with a
// stream that holds the method's messages back, and sends them once the
// guards are done. So the charge is committed, or an Idempotency-Key's
// first answer found, before the first piece goes out, as a unary answer
// is settled before it crosses the wire: a client that leaves mid-stream
// has been charged (a retry with the same Idempotency-Key gets the whole
// answer again, free), and one that leaves before the answer is ready is
// refunded. Holding the pieces costs nothing the unary call does not: the
// method's pieces share the bytes of the one answer it made.
//
// A method that takes a stream of requests fits none of the guards (they
// see one request) and is refused; health and reflection streams pass.
func guardStream(guards grpc.UnaryServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		service, _, _ := strings.Cut(strings.TrimPrefix(info.FullMethod, "/"), "/")
		if isInfrastructure(service) {
			return handler(srv, ss)
		}
		if info.IsClientStream {
			return apierror.New(codes.Unimplemented, apierror.Unimplemented, "no guard takes a stream of requests: "+info.FullMethod, "", 0).Err()
		}
		md, err := method(info.FullMethod)
		if err != nil {
			return err
		}
		in, err := messageType(md.Input())
		if err != nil {
			return err
		}
		req := in.New().Interface()
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		answer, err := guards(ss.Context(), req, &grpc.UnaryServerInfo{Server: srv, FullMethod: info.FullMethod},
			func(ctx context.Context, req any) (any, error) {
				held := &heldStream{ServerStream: ss, ctx: ctx, req: req.(proto.Message)}
				if err := handler(srv, held); err != nil {
					return nil, err
				}
				return &streamAnswer{msgs: held.sent}, nil
			})
		if err != nil {
			return err
		}
		msgs, ok := answer.(*streamAnswer)
		if !ok {
			return fmt.Errorf("server: %s answered %T, not a stream", info.FullMethod, answer)
		}
		for _, m := range msgs.msgs {
			if err := ss.SendMsg(m); err != nil {
				if cerr := ss.Context().Err(); cerr != nil {
					// The client left or ran out of time: say so, not
					// "internal" (context errors are in the error table).
					return cerr
				}
				return err
			}
		}
		return nil
	}
}

// streamAnswer is a server-streaming method's answer inside the guards:
// the messages it sent, in order, not yet on the wire.
type streamAnswer struct {
	msgs []proto.Message
}

// marshal writes the messages one after another, each after its length,
// for the Idempotency-Key's stored answer.
func (a *streamAnswer) marshal() ([]byte, error) {
	var buf bytes.Buffer
	for _, m := range a.msgs {
		if _, err := protodelim.MarshalTo(&buf, m); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// unmarshalStreamAnswer reads what marshal wrote, as messages of out.
func unmarshalStreamAnswer(data []byte, out protoreflect.MessageType) (*streamAnswer, error) {
	r := bytes.NewReader(data)
	a := &streamAnswer{}
	for r.Len() > 0 {
		m := out.New().Interface()
		// The stored answer is ours, as large as the answer it holds.
		if err := (protodelim.UnmarshalOptions{MaxSize: -1}).UnmarshalFrom(r, m); err != nil {
			return nil, err
		}
		a.msgs = append(a.msgs, m)
	}
	return a, nil
}

// heldStream is the stream a guarded method sees: its request is the one
// already received, its context the guards', and what it sends is held
// for guardStream to send. A method must not change a message after
// sending it (the generated code and ours make a new one per piece).
type heldStream struct {
	grpc.ServerStream
	ctx      context.Context
	req      proto.Message
	received bool
	sent     []proto.Message
}

func (h *heldStream) Context() context.Context { return h.ctx }

// RecvMsg hands over the request, sharing its fields (an inline image is
// not copied): guardStream does not use it again.
func (h *heldStream) RecvMsg(m any) error {
	if h.received {
		return io.EOF
	}
	dst, ok := m.(proto.Message)
	if !ok || dst.ProtoReflect().Descriptor() != h.req.ProtoReflect().Descriptor() {
		return fmt.Errorf("server: stream request %T is not %T", m, h.req)
	}
	h.received = true
	to := dst.ProtoReflect()
	h.req.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		to.Set(fd, v)
		return true
	})
	return nil
}

func (h *heldStream) SendMsg(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("server: stream message %T is not a protobuf message", m)
	}
	h.sent = append(h.sent, msg)
	return nil
}

// method is the descriptor of method ("/package.Service/Method") in the
// protobuf registry.
func method(name string) (protoreflect.MethodDescriptor, error) {
	service, short, ok := strings.Cut(strings.TrimPrefix(name, "/"), "/")
	if !ok {
		return nil, fmt.Errorf("server: malformed method %q", name)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, err
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("server: %s is not a service", service)
	}
	md := sd.Methods().ByName(protoreflect.Name(short))
	if md == nil {
		return nil, fmt.Errorf("server: no method %s", name)
	}
	return md, nil
}

// messageType is the registered type of a message descriptor.
func messageType(md protoreflect.MessageDescriptor) (protoreflect.MessageType, error) {
	return protoregistry.GlobalTypes.FindMessageByName(md.FullName())
}

// chainUnary makes one interceptor of several, the first outermost, as
// grpc.ChainUnaryInterceptor does, so that the same guards can run both
// as part of the unary chain and inside guardStream.
func chainUnary(interceptors ...grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		next := handler
		for i := len(interceptors) - 1; i >= 0; i-- {
			ic, inner := interceptors[i], next
			next = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, inner) }
		}
		return next(ctx, req)
	}
}
