package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// grpcDoor calls the server's gRPC services.
type grpcDoor struct {
	addr    string
	conn    *grpc.ClientConn
	timeout time.Duration
}

func newGRPCDoor(addr string, cfg *tls.Config, timeout time.Duration) (*grpcDoor, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithUserAgent("enhancectl"),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxAnswerBytes)),
	)
	if err != nil {
		return nil, usageError(fmt.Sprintf("--server %s: %v", addr, err))
	}
	return &grpcDoor{addr: addr, conn: conn, timeout: timeout}, nil
}

func (d *grpcDoor) close() error { return d.conn.Close() }

// invoke makes one call and returns the answer's header metadata.
func (d *grpcDoor) invoke(ctx context.Context, method string, cred credential, req, resp proto.Message) (metadata.MD, error) {
	switch {
	case cred.key != "":
		ctx = metadata.AppendToOutgoingContext(ctx, "x-api-key", cred.key)
	case cred.bearer != "":
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+cred.bearer)
	}
	var header, trailer metadata.MD
	err := withTimeout(ctx, d.timeout, d.addr, func(ctx context.Context) error {
		err := d.conn.Invoke(ctx, method, req, resp, grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			return fromStatus(err, d.addr, first(header, trailer, "x-request-id"))
		}
		return nil
	})
	return header, err
}

func (d *grpcDoor) call(ctx context.Context, r rpc, cred credential, req, resp proto.Message) error {
	_, err := d.invoke(ctx, r.grpc, cred, req, resp)
	return err
}

func (d *grpcDoor) image(ctx context.Context, r rpc, cred credential, req proto.Message, resp imageResponse) (imageAnswer, error) {
	header, err := d.invoke(ctx, r.grpc, cred, req, resp)
	if err != nil {
		return imageAnswer{}, err
	}
	a := imageAnswer{
		data:        resp.GetImage().GetData(),
		contentType: resp.GetImage().GetContentType(),
		width:       int(resp.GetWidthPixels()),
		height:      int(resp.GetHeightPixels()),
		charged:     atoi(first(header, nil, "x-credits-charged")),
		remaining:   atoi(first(header, nil, "x-credits-remaining")),
		requestID:   first(header, nil, "x-request-id"),
	}
	for _, s := range resp.GetSteps() {
		a.steps = append(a.steps, s.GetName())
	}
	return a, nil
}

// first is key's first value in a, else in b.
func first(a, b metadata.MD, key string) string {
	if v := a.Get(key); len(v) > 0 {
		return v[0]
	}
	if v := b.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// atoi reads a count the server sent; -1 when it sent none.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
