package server

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/engine"
)

// streamingImages answers EnhanceStream with three pieces after
// reserving 3 credits; its first call fails as fail says (or panics).
type streamingImages struct {
	enhancev1.UnimplementedImageServiceServer
	calls atomic.Int32
	fail  func() error
}

func (f *streamingImages) EnhanceStream(req *enhancev1.EnhanceStreamRequest, stream grpc.ServerStreamingServer[enhancev1.EnhanceStreamResponse]) error {
	m, ok := credits.MeterFrom(stream.Context())
	if !ok {
		return errors.New("no meter: the guards did not run")
	}
	if err := m.Reserve(stream.Context(), credits.OpEnhance, 3); err != nil {
		return err
	}
	if f.calls.Add(1) == 1 && f.fail != nil {
		if err := f.fail(); err != nil {
			return err
		}
	}
	data := req.GetRequest().GetImage()
	for i, piece := range [][]byte{data[:1], data[1:2], data[2:]} {
		out := &enhancev1.EnhanceStreamResponse{Data: piece}
		if i == 0 {
			out.Image = &enhancev1.StreamedImage{ContentType: "image/png", TotalBytes: int64(len(data))}
		}
		if err := stream.Send(out); err != nil {
			return err
		}
	}
	return nil
}

// receive reads a stream to its end: the pieces' data joined, and the
// first piece's description.
func receive(stream grpc.ServerStreamingClient[enhancev1.EnhanceStreamResponse]) ([]byte, *enhancev1.StreamedImage, int, error) {
	var (
		data   []byte
		image  *enhancev1.StreamedImage
		pieces int
	)
	for {
		piece, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return data, image, pieces, nil
		}
		if err != nil {
			return data, image, pieces, err
		}
		if pieces == 0 {
			image = piece.GetImage()
		}
		pieces++
		data = append(data, piece.GetData()...)
	}
}

func TestStreamsPassTheUnaryGuards(t *testing.T) {
	t.Parallel()
	images := &streamingImages{}
	c := newChain(t, imagesAccess, func(s *grpc.Server) {
		enhancev1.RegisterImageServiceServer(s, images)
		healthpb.RegisterHealthServer(s, health.NewServer())
	})
	client := enhancev1.NewImageServiceClient(c.conn)
	req := &enhancev1.EnhanceStreamRequest{Request: &enhancev1.EnhanceRequest{Image: []byte("abcdef")}}
	used := func() int {
		u, err := c.ledger.Usage(context.Background(), "a1")
		require.NoError(t, err)
		return u.Balance.Used
	}

	// Without a key: refused before the method runs, nothing sent.
	stream, err := client.EnhanceStream(context.Background(), req)
	require.NoError(t, err)
	_, _, pieces, err := receive(stream)
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	require.Zero(t, pieces)
	require.Zero(t, images.calls.Load())

	// With one: the pieces in order, and the charge in the header, which
	// is settled before the first piece.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", c.key, "idempotency-key", "order-1")
	stream, err = client.EnhanceStream(ctx, req)
	require.NoError(t, err)
	data, image, pieces, err := receive(stream)
	require.NoError(t, err)
	require.Equal(t, "abcdef", string(data))
	require.Equal(t, 3, pieces)
	require.Equal(t, "image/png", image.GetContentType())
	header, err := stream.Header()
	require.NoError(t, err)
	require.Equal(t, []string{"3"}, header.Get(CreditsChargedHeader))
	require.Equal(t, []string{"47"}, header.Get(CreditsRemainingHeader))
	require.Len(t, header.Get("x-request-id"), 1)
	require.NotEmpty(t, header.Get("x-ratelimit-remaining"))
	require.Equal(t, 3, used())

	// The same Idempotency-Key: the same pieces again, free.
	stream, err = client.EnhanceStream(ctx, req)
	require.NoError(t, err)
	again, _, pieces, err := receive(stream)
	require.NoError(t, err)
	require.Equal(t, data, again)
	require.Equal(t, 3, pieces)
	header, err = stream.Header()
	require.NoError(t, err)
	require.Equal(t, []string{"0"}, header.Get(CreditsChargedHeader))
	require.Equal(t, []string{"true"}, header.Get("x-idempotent-replay"))
	require.Equal(t, 3, used(), "charged once")

	// The same key with another request is refused.
	other := &enhancev1.EnhanceStreamRequest{Request: &enhancev1.EnhanceRequest{Image: []byte("ghijkl")}}
	stream, err = client.EnhanceStream(ctx, other)
	require.NoError(t, err)
	_, _, _, err = receive(stream)
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.Equal(t, apierror.IdempotencyKeyReused, apierror.ReasonOf(status.Convert(err)))

	require.Equal(t, 2.0, c.handled(t, "EnhanceStream", codes.OK), "counted per method and code")
	require.Contains(t, c.logs.String(), "msg=access request_id=", "one access line per call")
	require.Contains(t, c.logs.String(), "method=ImageService/EnhanceStream kind=stream", "with its method")

	// Health watches are infrastructure: no key, no guards.
	watch, err := healthpb.NewHealthClient(c.conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	st, err := watch.Recv()
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, st.GetStatus())
}

func TestStreamFailuresAreRefundedAndMapped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fail   func() error
		code   codes.Code
		reason apierror.Reason
	}{
		{"domain error", func() error {
			return apierror.Param("outputFormat", engine.ErrInvalidOption)
		}, codes.InvalidArgument, apierror.InvalidOption},
		{"internal error", func() error { return errors.New("storesqlite: disk I/O error") }, codes.Internal, apierror.Internal},
		{"panic", func() error { panic("bug with a secret: /var/lib/enhance") }, codes.Internal, apierror.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, imagesAccess, func(s *grpc.Server) {
				enhancev1.RegisterImageServiceServer(s, &streamingImages{fail: tt.fail})
			})
			client := enhancev1.NewImageServiceClient(c.conn)
			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", c.key, "idempotency-key", "order-1")
			req := &enhancev1.EnhanceStreamRequest{Request: &enhancev1.EnhanceRequest{Image: []byte("abc")}}
			stream, err := client.EnhanceStream(ctx, req)
			require.NoError(t, err)
			_, _, pieces, err := receive(stream)
			st := status.Convert(err)
			require.Equal(t, tt.code, st.Code(), st.Message())
			require.Equal(t, tt.reason, apierror.ReasonOf(st))
			require.NotContains(t, st.Message(), "storesqlite")
			require.NotContains(t, st.Message(), "/var/lib")
			require.Zero(t, pieces, "nothing is sent before the call is settled")
			u, err := c.ledger.Usage(context.Background(), "a1")
			require.NoError(t, err)
			require.Zero(t, u.Balance.Used, "a failed call is refunded")
			require.Equal(t, 1.0, c.handled(t, "EnhanceStream", tt.code))

			// The Idempotency-Key was released: the retry runs, charged once.
			stream, err = client.EnhanceStream(ctx, req)
			require.NoError(t, err)
			data, _, _, err := receive(stream)
			require.NoError(t, err)
			require.Equal(t, "abc", string(data))
			u, err = c.ledger.Usage(context.Background(), "a1")
			require.NoError(t, err)
			require.Equal(t, 3, u.Balance.Used)
			if tt.name == "panic" {
				require.True(t, strings.Contains(c.logs.String(), "bug with a secret"), "the cause goes to the log")
			}
		})
	}
}
