package app

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/config"
)

func withKey(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "x-api-key", key)
}

func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// flattened returns the PNG src with its contrast squeezed into 60..190,
// a damage the general pipeline repairs.
func flattened(t *testing.T, src []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(src))
	require.NoError(t, err)
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			flat := func(v uint8) uint8 { return uint8(60 + int(v)*130/255) }
			out.SetNRGBA(x, y, color.NRGBA{flat(c.R), flat(c.G), flat(c.B), c.A})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, out))
	return buf.Bytes()
}

func TestGRPCEnhance(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	client := enhancev1.NewImageServiceClient(s.grpc)
	var header metadata.MD
	// A photo whose contrast was flattened: the pipeline has something to
	// do, and says what.
	resp, err := client.Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: flattened(t, testImage(t, "bird.png")), OutputFormat: "jpeg"}, grpc.Header(&header))
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", resp.GetImage().GetContentType())
	require.Equal(t, int32(288), resp.GetWidthPixels())
	require.NotEmpty(t, resp.GetSteps())
	require.Len(t, header.Get("x-request-id"), 1)

	_, err = client.Enhance(context.Background(), &enhancev1.EnhanceRequest{Image: testImage(t, "bird.png")})
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	_, err = client.Enhance(withKey(s.key), &enhancev1.EnhanceRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "INVALID_REQUEST", reasonOf(err))

	up, err := client.Upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: testImage(t, "bird.png"), ScaleFactor: 2})
	require.NoError(t, err)
	require.Equal(t, int32(576), up.GetHeightPixels())

	// Upscale's mode: learned by default (this build carries the network),
	// classical on request, anything else refused.
	for mode, method := range map[string]string{"": "fsrcnn-x2", "learned": "fsrcnn-x2", "classical": "back-projection"} {
		up, err := client.Upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: testImage(t, "bird.png"), ScaleFactor: 2, Mode: mode})
		require.NoError(t, err, "mode %q", mode)
		last := up.GetSteps()[len(up.GetSteps())-1]
		require.Equal(t, "upscale", last.GetName())
		require.Equal(t, method, last.GetParameters()["method"], "mode %q", mode)
	}
	_, err = client.Upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: testImage(t, "bird.png"), Mode: "neural"})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "INVALID_OPTION", reasonOf(err))
	require.Contains(t, status.Convert(err).Message(), `mode "neural" is not one of learned, classical`)

	// With neither hints nor a reference, Colorize colours automatically.
	auto, err := client.Colorize(withKey(s.key), &enhancev1.ColorizeRequest{Image: testImage(t, "bird.png")})
	require.NoError(t, err)
	require.Equal(t, "learned", auto.GetSteps()[len(auto.GetSteps())-1].GetParameters()["method"])
	col, err := client.Colorize(withKey(s.key), &enhancev1.ColorizeRequest{Image: testImage(t, "bird.png"),
		Hints: []*enhancev1.ColorHint{{Points: []*enhancev1.Point{{X: 5, Y: 5}}, Color: "#20a040"}}})
	require.NoError(t, err)
	require.Equal(t, "colorize", col.GetSteps()[len(col.GetSteps())-1].GetName())
}

func TestGRPCScopeIsEnforced(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	token := s.signUpAndIn(t, "limited@example.com")
	limited := s.createKey(t, token, "upscale only", auth.ScopeImagesUpscale)
	client := enhancev1.NewImageServiceClient(s.grpc)
	_, err := client.Enhance(withKey(limited), &enhancev1.EnhanceRequest{Image: testImage(t, "bird.png")})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), auth.ScopeImagesEnhance)

	resp := s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": "http://example.invalid/x.png"}, limited)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	problem := readProblem(t, resp)
	require.Equal(t, "MISSING_SCOPE", problem.Code)
	require.Contains(t, problem.Detail, auth.ScopeImagesEnhance)
}

func TestHealthReflectionAndMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	h, err := healthpb.NewHealthClient(s.grpc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, h.GetStatus())

	stream, err := reflectionpb.NewServerReflectionClient(s.grpc).ServerReflectionInfo(context.Background())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}))
	r, err := stream.Recv()
	require.NoError(t, err)
	var names []string
	for _, svc := range r.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	require.Contains(t, names, "smartimage.enhance.v1.ImageService")
	require.Contains(t, names, "smartimage.enhance.v1.AccountService")

	// One REST call shows up in the gRPC per-method metrics: the gateway
	// went through the gRPC server.
	resp := s.post(t, "/v1/enhance", "image/png", testImage(t, "bird.png"), map[string]string{"x-api-key": s.key})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	mresp, err := http.Get("http://" + s.app.MetricsAddr() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	text := string(body)
	require.Contains(t, text, `grpc_server_handled_total{grpc_code="OK",grpc_method="Enhance",grpc_service="smartimage.enhance.v1.ImageService",grpc_type="unary"} 1`)
	require.Contains(t, text, `grpc_server_handling_seconds_bucket{grpc_method="Enhance"`)
	require.Contains(t, text, "go_goroutines")
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	// Time enough for the request to finish on a loaded machine: the test
	// is about finishing it, not how fast.
	s := startServer(t, func(c *config.Config) { c.ShutdownTimeout = 2 * time.Minute })
	arrived := make(chan struct{})
	release := make(chan struct{})
	img := origin(t)
	img.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.Write(testImage(t, "bird.png"))
	})
	result := make(chan int, 1)
	go func() {
		a := s.send(http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "`+img.URL+`/slow.png"}`), map[string]string{"x-api-key": s.key})
		result <- a.status
	}()
	<-arrived
	s.cancel() // as SIGTERM does
	// New connections are refused once shutdown has begun.
	require.Eventually(t, func() bool {
		_, err := http.Get("https://" + s.app.HTTPAddr() + "/healthz")
		return err != nil && (strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "reset"))
	}, time.Minute, 10*time.Millisecond)
	close(release)
	require.Equal(t, http.StatusOK, <-result, "the in-flight request completes")
	select {
	case err := <-s.done:
		require.NoError(t, err)
		s.done <- nil
	case <-time.After(3 * time.Minute):
		t.Fatal("Run did not return after shutdown")
	}
}

// TestRequestDeadline: the server's cap wins over a longer deadline the
// caller asks for, on both doors. No clock is read: the origin holds its
// answer for a minute and the fetch timeout is 10 s, so only the 2 s cap
// can end the call with DEADLINE_EXCEEDED (the fetch timeout would be
// SOURCE_UNREACHABLE), however slow the machine.
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.RequestTimeout = 2 * time.Second })
	img := origin(t)
	img.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	// The caller asks for 100 s (REST's Grpc-Timeout, and a gRPC deadline).
	resp := s.call(t, http.MethodPost, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/never.png"},
		map[string]string{"x-api-key": s.key, "Grpc-Timeout": "100S"}, nil)
	require.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
	require.Equal(t, "DEADLINE_EXCEEDED", readProblem(t, resp).Code)

	ctx, cancel := context.WithTimeout(withKey(s.key), 100*time.Second)
	defer cancel()
	_, err := enhancev1.NewImageServiceClient(s.grpc).Enhance(ctx, &enhancev1.EnhanceRequest{ImageUrl: img.URL + "/never.png"})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err))
	require.Zero(t, s.devBalance(t).Used, "neither call was charged")
}

func TestGRPCMessageLimitFollowsTheImageLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.MaxBodyBytes = 1 << 20 })
	client := enhancev1.NewImageServiceClient(s.grpc)
	_, err := client.Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: make([]byte, 3<<20)}, grpc.MaxCallSendMsgSize(8<<20))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "a message beyond the image limit plus framing is refused before the handler")
	require.Contains(t, status.Convert(err).Message(), "larger than max")

	// Within the message limit but over the image limit: the handler says
	// which limit.
	_, err = client.Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: make([]byte, 1<<20+1)})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "the limit is 1048576")
	require.Zero(t, s.devBalance(t).Used)
}
