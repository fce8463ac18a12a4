package apiv1

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// sentPieces records what sendPieces sends.
type sentPieces struct {
	grpc.ServerStreamingServer[enhancev1.UpscaleStreamResponse]
	sent []*enhancev1.UpscaleStreamResponse
}

func (s *sentPieces) Send(m *enhancev1.UpscaleStreamResponse) error {
	s.sent = append(s.sent, m)
	return nil
}

func TestSendPieces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int
		pieces int
	}{
		{"empty", 0, 1},
		{"small", 10, 1},
		{"exactly one piece", PieceBytes, 1},
		{"one byte more", PieceBytes + 1, 2},
		{"several", 5*PieceBytes + 7, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := bytes.Repeat([]byte{7}, tt.size)
			resp := &enhancev1.UpscaleResponse{
				Image:       &httpbody.HttpBody{ContentType: "image/png", Data: data},
				WidthPixels: 3, HeightPixels: 2,
				Steps: []*enhancev1.AppliedStep{{Name: "upscale"}},
			}
			out := &sentPieces{}
			require.NoError(t, sendPieces(out, resp, func(image *enhancev1.StreamedImage, data []byte) *enhancev1.UpscaleStreamResponse {
				return &enhancev1.UpscaleStreamResponse{Image: image, Data: data}
			}))
			require.Len(t, out.sent, tt.pieces)
			var joined []byte
			for i, p := range out.sent {
				require.LessOrEqual(t, len(p.GetData()), PieceBytes)
				require.Equal(t, i == 0, p.GetImage() != nil, "only the first piece describes the image")
				joined = append(joined, p.GetData()...)
			}
			require.True(t, bytes.Equal(data, joined))
			first := out.sent[0].GetImage()
			require.Equal(t, "image/png", first.GetContentType())
			require.Equal(t, int64(tt.size), first.GetTotalBytes())
			require.Equal(t, int32(3), first.GetWidthPixels())
			require.Equal(t, "upscale", first.GetSteps()[0].GetName())
		})
	}
}
