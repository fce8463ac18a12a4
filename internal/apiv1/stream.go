package apiv1

import (
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// PieceBytes bounds the image bytes in one piece of a streamed answer: a
// quarter of the 4 MiB that gRPC clients receive by default, which leaves
// room for the first piece's description, steps included.
const PieceBytes = 1 << 20

// EnhanceStream implements enhancev1.ImageServiceServer: Enhance, answered
// in pieces. The server's guards run around it as around Enhance, and
// send the pieces once the call is settled (server.guardStream).
func (s *ImageServer) EnhanceStream(req *enhancev1.EnhanceStreamRequest, stream grpc.ServerStreamingServer[enhancev1.EnhanceStreamResponse]) error {
	inner := req.GetRequest()
	if inner == nil {
		inner = &enhancev1.EnhanceRequest{}
	}
	resp, err := s.Enhance(stream.Context(), inner)
	if err != nil {
		return err
	}
	return sendPieces(stream, resp, func(image *enhancev1.StreamedImage, data []byte) *enhancev1.EnhanceStreamResponse {
		return &enhancev1.EnhanceStreamResponse{Image: image, Data: data}
	})
}

// UpscaleStream implements enhancev1.ImageServiceServer: Upscale, answered
// in pieces.
func (s *ImageServer) UpscaleStream(req *enhancev1.UpscaleStreamRequest, stream grpc.ServerStreamingServer[enhancev1.UpscaleStreamResponse]) error {
	inner := req.GetRequest()
	if inner == nil {
		inner = &enhancev1.UpscaleRequest{}
	}
	resp, err := s.Upscale(stream.Context(), inner)
	if err != nil {
		return err
	}
	return sendPieces(stream, resp, func(image *enhancev1.StreamedImage, data []byte) *enhancev1.UpscaleStreamResponse {
		return &enhancev1.UpscaleStreamResponse{Image: image, Data: data}
	})
}

// ColorizeStream implements enhancev1.ImageServiceServer: Colorize,
// answered in pieces.
func (s *ImageServer) ColorizeStream(req *enhancev1.ColorizeStreamRequest, stream grpc.ServerStreamingServer[enhancev1.ColorizeStreamResponse]) error {
	inner := req.GetRequest()
	if inner == nil {
		inner = &enhancev1.ColorizeRequest{}
	}
	resp, err := s.Colorize(stream.Context(), inner)
	if err != nil {
		return err
	}
	return sendPieces(stream, resp, func(image *enhancev1.StreamedImage, data []byte) *enhancev1.ColorizeStreamResponse {
		return &enhancev1.ColorizeStreamResponse{Image: image, Data: data}
	})
}

// imageResponse is what the three unary image responses share.
type imageResponse interface {
	GetImage() *httpbody.HttpBody
	GetWidthPixels() int32
	GetHeightPixels() int32
	GetSteps() []*enhancev1.AppliedStep
}

// sendPieces sends resp's image in pieces of at most PieceBytes, the
// first with the image's description, each a new message that shares
// the image's bytes.
func sendPieces[T any](stream grpc.ServerStreamingServer[T], resp imageResponse, piece func(*enhancev1.StreamedImage, []byte) *T) error {
	data := resp.GetImage().GetData()
	image := &enhancev1.StreamedImage{
		ContentType:  resp.GetImage().GetContentType(),
		TotalBytes:   int64(len(data)),
		WidthPixels:  resp.GetWidthPixels(),
		HeightPixels: resp.GetHeightPixels(),
		Steps:        resp.GetSteps(),
	}
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), PieceBytes)
		if err := stream.Send(piece(image, data[:n:n])); err != nil {
			return err
		}
		image, data = nil, data[n:]
	}
	return nil
}
