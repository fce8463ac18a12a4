package app

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/server"
)

// TestRequestElementsAreBoundedBeforeDecoding: a request is made of
// messages and list items that cost two or three bytes to send and about
// a hundred once decoded. Both doors count them before decoding, with the
// same count: one hint plus its points.
func TestRequestElementsAreBoundedBeforeDecoding(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	png := tinyPNG(t, 16, 16)
	withPoints := func(n int) *enhancev1.ColorizeRequest {
		points := make([]*enhancev1.Point, n)
		for i := range points {
			points[i] = &enhancev1.Point{}
		}
		return &enhancev1.ColorizeRequest{Image: png, Hints: []*enhancev1.ColorHint{{Points: points, Color: "#3366cc"}}}
	}
	const refusal = "more than 100000"
	images := enhancev1.NewImageServiceClient(s.grpc)

	for _, tc := range []struct {
		points  int
		refused bool
	}{
		{server.MaxRequestElements, true},
		{server.MaxRequestElements - 1, false}, // with its hint, exactly the bound
	} {
		req := withPoints(tc.points)
		_, err := images.Colorize(withKey(s.key), req)
		body, jerr := protojson.Marshal(req)
		require.NoError(t, jerr)
		a := s.send(http.MethodPost, "/v1/colorize", "application/json", body, map[string]string{"x-api-key": s.key})
		require.NoError(t, a.err)
		if tc.refused {
			// gRPC decodes before any interceptor, and reports a request
			// it will not decode as INTERNAL, in its own words.
			require.Equal(t, codes.Internal, status.Code(err))
			require.Contains(t, status.Convert(err).Message(), refusal+" messages and list items")
			require.Equal(t, http.StatusBadRequest, a.status)
			require.Equal(t, "MALFORMED_REQUEST", a.problem.Code)
			require.Contains(t, a.problem.Detail, refusal+" objects and list items")
			require.Zero(t, s.devBalance(t).Used, "nothing charged")
		} else {
			if err != nil {
				require.NotContains(t, status.Convert(err).Message(), refusal)
			}
			require.NotContains(t, a.problem.Detail, refusal)
		}
	}
}

// TestHintsThatTakeTooLongToDrawAreRefused: a wide stroke drawn back and
// forth across the image costs far more to draw than its size suggests;
// it is refused, naming hints, before anything is fetched or charged.
func TestHintsThatTakeTooLongToDrawAreRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	zigzag := make([]*enhancev1.Point, 2000)
	for i := range zigzag {
		zigzag[i] = &enhancev1.Point{X: int32(i % 2 * 255), Y: int32(i % 2 * 255)}
	}
	req := &enhancev1.ColorizeRequest{Image: tinyPNG(t, 256, 256), Hints: []*enhancev1.ColorHint{{Points: zigzag, Color: "#3366cc", WidthPixels: 64}}}
	body, err := protojson.Marshal(req)
	require.NoError(t, err)
	a := s.send(http.MethodPost, "/v1/colorize", "application/json", body, map[string]string{"x-api-key": s.key})
	require.NoError(t, a.err)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, "INVALID_OPTION", a.problem.Code)
	require.Equal(t, "hints", a.problem.Param)
	require.Contains(t, a.problem.Detail, "too long for their width")
	require.Zero(t, s.devBalance(t).Used)
}
