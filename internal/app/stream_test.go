package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/apiv1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/server"
)

// streamedImage is what a client reads from UpscaleStream: the pieces'
// bytes joined, the first piece's description, and how many pieces.
type streamedImage struct {
	data   []byte
	image  *enhancev1.StreamedImage
	pieces int
	header metadata.MD
}

// readStream reads an image stream to its end, checking that only the
// first piece describes the image and that no piece is over PieceBytes.
func readStream(t *testing.T, stream grpc.ServerStreamingClient[enhancev1.UpscaleStreamResponse]) (streamedImage, error) {
	t.Helper()
	var out streamedImage
	for {
		piece, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			out.header, err = stream.Header()
			require.NoError(t, err)
			return out, nil
		}
		if err != nil {
			return out, err
		}
		require.LessOrEqual(t, len(piece.GetData()), apiv1.PieceBytes)
		if out.pieces == 0 {
			require.NotNil(t, piece.GetImage(), "the first piece describes the image")
			out.image = piece.GetImage()
		} else {
			require.Nil(t, piece.GetImage(), "only the first piece describes the image")
		}
		out.pieces++
		out.data = append(out.data, piece.GetData()...)
	}
}

// TestLargeAnswersReachADefaultClientThroughTheStream is the case:
// a ×4 upscale of an ordinary photo is larger than the 4 MiB a gRPC
// client receives by default. The test's client keeps that default.
func TestLargeAnswersReachADefaultClientThroughTheStream(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	client := enhancev1.NewImageServiceClient(s.grpc)
	req := &enhancev1.UpscaleRequest{Image: testImage(t, "kodim23.jpg"), ScaleFactor: 4, OutputFormat: "png"}
	price := credits.UpscalePrice(768 * 512 * 16)

	// The unary answer, read by a client that raised its limit: the
	// bytes to compare with.
	unary, err := client.Upscale(withKey(s.key), req, grpc.MaxCallRecvMsgSize(64<<20))
	require.NoError(t, err)
	want := unary.GetImage().GetData()
	require.Greater(t, len(want), 4<<20, "the answer is over a default client's limit")
	require.Equal(t, price, s.devBalance(t).Used)

	// The stream at the default limit: the same bytes and description,
	// charged once, before the first piece.
	ctx := metadata.AppendToOutgoingContext(withKey(s.key), "idempotency-key", "stream-1")
	stream, err := client.UpscaleStream(ctx, &enhancev1.UpscaleStreamRequest{Request: req})
	require.NoError(t, err)
	got, err := readStream(t, stream)
	require.NoError(t, err)
	require.Equal(t, want, got.data, "the same bytes as the unary answer")
	require.Equal(t, (len(want)+apiv1.PieceBytes-1)/apiv1.PieceBytes, got.pieces)
	require.Equal(t, "image/png", got.image.GetContentType())
	require.Equal(t, int64(len(want)), got.image.GetTotalBytes())
	require.Equal(t, int32(3072), got.image.GetWidthPixels())
	require.Equal(t, int32(2048), got.image.GetHeightPixels())
	require.Equal(t, "upscale", got.image.GetSteps()[0].GetName())
	require.Equal(t, []string{strconv.Itoa(price)}, got.header.Get(server.CreditsChargedHeader))
	require.Len(t, got.header.Get("x-request-id"), 1)
	require.Equal(t, 2*price, s.devBalance(t).Used)

}

// TestClientLeavingMidStreamIsChargedAndMayRetryFree: the charge is
// settled when the answer is ready, before any piece is sent, as a unary
// answer's is before it crosses the wire; were it settled after the last
// piece, a client could read all but the last and be refunded. So a
// client that leaves mid-stream has been charged, and its retry with the
// same Idempotency-Key gets the whole answer, free.
func TestClientLeavingMidStreamIsChargedAndMayRetryFree(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	// A client that reads slowly: a fixed 64 KiB flow-control window
	// (no growth by bandwidth estimation), so that the server cannot
	// have sent the whole answer by the time the client leaves.
	caPEM, err := os.ReadFile(s.app.CAPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	conn, err := grpc.NewClient(s.app.GRPCAddr(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	client := enhancev1.NewImageServiceClient(conn)
	// 1152×1152 as PNG: two pieces.
	req := &enhancev1.UpscaleStreamRequest{Request: &enhancev1.UpscaleRequest{Image: testImage(t, "bird.png"), ScaleFactor: 4}}
	price := credits.UpscalePrice(288 * 288 * 16)

	leaving, leave := context.WithCancel(metadata.AppendToOutgoingContext(withKey(s.key), "idempotency-key", "order-1"))
	defer leave()
	stream, err := client.UpscaleStream(leaving, req)
	require.NoError(t, err)
	first, err := stream.Recv()
	require.NoError(t, err)
	require.Len(t, first.GetData(), apiv1.PieceBytes)
	total := first.GetImage().GetTotalBytes()
	require.Greater(t, total, int64(apiv1.PieceBytes), "the client leaves mid-stream")
	leave()
	for err == nil {
		_, err = stream.Recv()
	}
	require.Equal(t, codes.Canceled, status.Code(err), "the client left before the last piece: %v", err)
	require.Equal(t, price, s.devBalance(t).Used, "charged once, when the answer was ready")

	retry, err := client.UpscaleStream(metadata.AppendToOutgoingContext(withKey(s.key), "idempotency-key", "order-1"), req)
	require.NoError(t, err)
	again, err := readStream(t, retry)
	require.NoError(t, err)
	require.Len(t, again.data, int(total))
	require.Equal(t, first.GetData(), again.data[:apiv1.PieceBytes])
	require.Equal(t, []string{"0"}, again.header.Get(server.CreditsChargedHeader))
	require.Equal(t, []string{"true"}, again.header.Get("x-idempotent-replay"))
	require.Equal(t, price, s.devBalance(t).Used, "the replay is free")
}

// TestStreamRefusalsChargeNothing: a stream is refused for the reasons
// its unary method is, with the same codes, and costs nothing.
func TestStreamRefusalsChargeNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	client := enhancev1.NewImageServiceClient(s.grpc)
	png := testImage(t, "bird.png")
	token := s.signUpAndIn(t, "enhance-only@example.com")
	enhanceOnly := s.createKey(t, token, "enhance only", auth.ScopeImagesEnhance)

	upscale := func(ctx context.Context, req *enhancev1.UpscaleRequest) error {
		stream, err := client.UpscaleStream(ctx, &enhancev1.UpscaleStreamRequest{Request: req})
		require.NoError(t, err)
		got, err := readStream(t, stream)
		require.Zero(t, got.pieces, "nothing is sent before the call is settled")
		return err
	}
	tests := []struct {
		name   string
		ctx    context.Context
		req    *enhancev1.UpscaleRequest
		code   codes.Code
		reason string
	}{
		{"no key", context.Background(), &enhancev1.UpscaleRequest{Image: png}, codes.Unauthenticated, "UNAUTHENTICATED"},
		{"key without the scope", withKey(enhanceOnly), &enhancev1.UpscaleRequest{Image: png}, codes.PermissionDenied, "MISSING_SCOPE"},
		{"no image", withKey(s.key), nil, codes.InvalidArgument, "INVALID_REQUEST"},
		{"bad factor", withKey(s.key), &enhancev1.UpscaleRequest{Image: png, ScaleFactor: 5}, codes.InvalidArgument, "INVALID_OPTION"},
		{"truncated image", withKey(s.key), &enhancev1.UpscaleRequest{Image: png[:len(png)/2]}, codes.InvalidArgument, "INVALID_IMAGE"},
	}
	for _, tt := range tests {
		err := upscale(tt.ctx, tt.req)
		require.Equal(t, tt.code, status.Code(err), "%s: %v", tt.name, err)
		require.Equal(t, tt.reason, reasonOf(err), tt.name)
	}
	require.Zero(t, s.devBalance(t).Used, "refused calls cost nothing")

	// Out of credits: refused before any work, and nothing charged.
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	c, err := s.app.ledger.Reserve(context.Background(), acct.ID, "k", credits.OpEnhance, "setup", credits.Plans["free"].MonthlyCredits)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Commit(context.Background(), c))
	err = upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: png, ScaleFactor: 2})
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Equal(t, "CREDITS_EXHAUSTED", reasonOf(err))
	require.Equal(t, credits.Plans["free"].MonthlyCredits, s.devBalance(t).Used, "nothing more was charged")
}
