package apiv1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/fetch"
)

// ImageServer implements enhancev1.ImageServiceServer.
type ImageServer struct {
	enhancev1.UnimplementedImageServiceServer
	engine   *engine.Engine
	fetcher  *fetch.Fetcher
	maxBytes int64
	log      *slog.Logger
}

// NewImageServer returns the image service; maxBytes bounds an inline image.
func NewImageServer(e *engine.Engine, f *fetch.Fetcher, maxBytes int64, log *slog.Logger) (*ImageServer, error) {
	if e == nil || f == nil || log == nil || maxBytes <= 0 {
		return nil, errors.New("apiv1: image server needs an engine, a fetcher, a logger and a byte limit")
	}
	return &ImageServer{engine: e, fetcher: f, maxBytes: maxBytes, log: log}, nil
}

// Enhance implements enhancev1.ImageServiceServer.
func (s *ImageServer) Enhance(ctx context.Context, req *enhancev1.EnhanceRequest) (*enhancev1.EnhanceResponse, error) {
	opts, err := encodeOptions(req.GetOutputFormat(), req.GetQuality())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	kind := engine.EnhancementType(strings.ToLower(req.GetEnhancementType()))
	if _, err := engine.PipelineFor(kind); err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	strength := float32(1)
	if req.Strength != nil {
		strength = req.GetStrength()
		if !(strength >= 0 && strength <= 1) { // also refuses NaN
			return nil, toStatus(ctx, s.log, fmt.Errorf("%w: strength %g is outside 0..1", engine.ErrInvalidOption, strength))
		}
	}
	src, err := s.source(ctx, req.GetImageUrl(), req.GetImage())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	res, err := s.engine.Enhance(ctx, src, engine.EnhanceOptions{Type: kind, Strength: strength, EncodeOptions: opts})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &enhancev1.EnhanceResponse{
		Image:        &httpbody.HttpBody{ContentType: res.Format.MIMEType(), Data: res.Data},
		WidthPixels:  int32(res.Width),
		HeightPixels: int32(res.Height),
		Steps:        appliedSteps(res.Steps),
	}, nil
}

// Upscale implements enhancev1.ImageServiceServer.
func (s *ImageServer) Upscale(ctx context.Context, req *enhancev1.UpscaleRequest) (*enhancev1.UpscaleResponse, error) {
	opts, err := encodeOptions(req.GetOutputFormat(), req.GetQuality())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	factor := int(req.GetScaleFactor())
	if factor < 2 || factor > 4 {
		return nil, toStatus(ctx, s.log, fmt.Errorf("%w: scaleFactor must be 2, 3 or 4 (got %d)", engine.ErrInvalidOption, factor))
	}
	src, err := s.source(ctx, req.GetImageUrl(), req.GetImage())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	res, err := s.engine.UpscaleBytes(ctx, src, engine.UpscaleOptions{Factor: factor, EncodeOptions: opts})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &enhancev1.UpscaleResponse{
		Image:        &httpbody.HttpBody{ContentType: res.Format.MIMEType(), Data: res.Data},
		WidthPixels:  int32(res.Width),
		HeightPixels: int32(res.Height),
		Steps:        appliedSteps(res.Steps),
	}, nil
}

// Colorize implements enhancev1.ImageServiceServer; see Upscale.
func (s *ImageServer) Colorize(ctx context.Context, _ *enhancev1.ColorizeRequest) (*enhancev1.ColorizeResponse, error) {
	return nil, toStatus(ctx, s.log, fmt.Errorf("%w: colorization is not available yet", engine.ErrNotImplemented))
}

// source returns the image bytes from exactly one of url and inline.
func (s *ImageServer) source(ctx context.Context, url string, inline []byte) ([]byte, error) {
	switch {
	case url != "" && len(inline) > 0:
		return nil, fmt.Errorf("%w: give the image once: imageUrl or imageBase64 (or a raw image body), not both", errInvalidRequest)
	case url != "":
		return s.fetcher.Fetch(ctx, url)
	case len(inline) > 0:
		if int64(len(inline)) > s.maxBytes {
			return nil, fmt.Errorf("%w: the image is %d bytes; the limit is %d", errInvalidRequest, len(inline), s.maxBytes)
		}
		return inline, nil
	}
	return nil, fmt.Errorf("%w: an image is required: give imageUrl or imageBase64, or send the image as a raw image/* body", errInvalidRequest)
}

func encodeOptions(format string, quality int32) (engine.EncodeOptions, error) {
	opts := engine.EncodeOptions{Quality: int(quality)}
	if format != "" {
		f, err := engine.ParseFormat(strings.ToLower(format))
		if err != nil {
			return opts, err
		}
		opts.Format = f
	}
	return opts, opts.Validate()
}

func appliedSteps(steps []engine.Applied) []*enhancev1.AppliedStep {
	out := make([]*enhancev1.AppliedStep, len(steps))
	for i, st := range steps {
		out[i] = &enhancev1.AppliedStep{Name: st.Name, Parameters: st.Params}
	}
	return out
}
