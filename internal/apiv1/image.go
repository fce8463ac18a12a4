package apiv1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/admission"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/fetch"
	"github.com/smartimage/enhance/internal/requestid"
)

// ImageServer implements enhancev1.ImageServiceServer.
type ImageServer struct {
	enhancev1.UnimplementedImageServiceServer
	engine   *engine.Engine
	fetcher  *fetch.Fetcher
	gate     *admission.Gate
	maxBytes int64
	log      *slog.Logger
	observer Observer
}

// Observer is told what each image call's stages cost and how large its
// source is, for metrics, the access line (server.Metrics) and traces.
type Observer interface {
	// Stage reports that the call of ctx spent d in stage (one of the
	// Stage constants), from start.
	Stage(ctx context.Context, stage string, start time.Time, d time.Duration)
	// Source reports the size of the call's source image.
	Source(ctx context.Context, bytes, pixels int)
}

// Stages of an image call, as an Observer is told them.
const (
	// StageFetch reads a source (or colorize reference) from its URL.
	StageFetch = "fetch"
	// StageQueue waits for a worker and the memory the work will hold.
	StageQueue = "queue"
	// StageDecode reads the source (and a reference image) into pixels.
	StageDecode = "decode"
	// StageProcess is the operation's pipeline alone: filters, upscale or
	// colorization, without decode and encode.
	StageProcess = "process"
	// StageEncode writes the output image.
	StageEncode = "encode"
)

// observers tells each of several Observers.
type observers []Observer

func (o observers) Stage(ctx context.Context, stage string, start time.Time, d time.Duration) {
	for _, ob := range o {
		ob.Stage(ctx, stage, start, d)
	}
}

func (o observers) Source(ctx context.Context, bytes, pixels int) {
	for _, ob := range o {
		ob.Source(ctx, bytes, pixels)
	}
}

// NewImageServer returns the image service; maxBytes bounds an inline
// image and gate bounds how many images are worked on and waiting; each of
// obs that is not nil is told the cost of every call's stages.
func NewImageServer(e *engine.Engine, f *fetch.Fetcher, gate *admission.Gate, maxBytes int64, log *slog.Logger, obs ...Observer) (*ImageServer, error) {
	if e == nil || f == nil || gate == nil || log == nil || maxBytes <= 0 {
		return nil, errors.New("apiv1: image server needs an engine, a fetcher, a gate, a logger and a byte limit")
	}
	var told observers
	for _, o := range obs {
		if o != nil {
			told = append(told, o)
		}
	}
	return &ImageServer{engine: e, fetcher: f, gate: gate, maxBytes: maxBytes, log: log, observer: told}, nil
}

// Enhance implements enhancev1.ImageServiceServer.
func (s *ImageServer) Enhance(ctx context.Context, req *enhancev1.EnhanceRequest) (*enhancev1.EnhanceResponse, error) {
	opts, err := encodeOptions(req.GetOutputFormat(), req.GetQuality())
	if err != nil {
		return nil, err
	}
	kind := engine.EnhancementType(strings.ToLower(req.GetEnhancementType()))
	pipeline, err := engine.PipelineFor(kind)
	if err != nil {
		return nil, apierror.Param("enhancementType", err)
	}
	if req.Strength != nil {
		if st := req.GetStrength(); !(st >= 0 && st <= 1) { // also refuses NaN
			return nil, apierror.Paramf("strength", engine.ErrInvalidOption, "strength %g is outside 0..1", st)
		}
	}
	var steps []string
	for _, step := range pipeline {
		steps = append(steps, step.Name())
	}
	out, err := s.run(ctx, imageJob{
		url: req.GetImageUrl(), inline: req.GetImage(), dryRun: req.GetDryRun(),
		operation: credits.OpEnhance, price: func(int) int { return credits.PriceEnhance }, steps: steps,
		plan: func() engine.PlanOptions {
			return engine.PlanOptions{Operation: engine.OpEnhance, Pipeline: kind, Output: opts.Format}
		},
		work: func(ctx context.Context, src []byte) (engine.Result, error) {
			return s.engine.Enhance(ctx, src, engine.EnhanceOptions{Type: kind, Strength: req.Strength, EncodeOptions: opts})
		},
	})
	if err != nil {
		return nil, err
	}
	return &enhancev1.EnhanceResponse{Image: out.image, WidthPixels: out.width, HeightPixels: out.height, Steps: out.steps}, nil
}

// Upscale implements enhancev1.ImageServiceServer.
func (s *ImageServer) Upscale(ctx context.Context, req *enhancev1.UpscaleRequest) (*enhancev1.UpscaleResponse, error) {
	opts, err := encodeOptions(req.GetOutputFormat(), req.GetQuality())
	if err != nil {
		return nil, err
	}
	factor := int(req.GetScaleFactor())
	if factor == 0 {
		factor = defaultScaleFactor
	}
	if factor < 2 || factor > 4 {
		return nil, apierror.Paramf("scaleFactor", engine.ErrInvalidOption, "scaleFactor must be 2, 3 or 4 (got %d)", factor)
	}
	mode, err := engine.ParseUpscaleMode(req.GetMode())
	if err != nil {
		return nil, apierror.Param("mode", err)
	}
	out, err := s.run(ctx, imageJob{
		url: req.GetImageUrl(), inline: req.GetImage(), dryRun: req.GetDryRun(),
		operation: credits.OpUpscale, steps: []string{"upscale"},
		price: func(pixels int) int { return credits.UpscalePrice(pixels * factor * factor) },
		plan: func() engine.PlanOptions {
			return engine.PlanOptions{Operation: engine.OpUpscale, Factor: factor, Mode: mode, Output: opts.Format}
		},
		work: func(ctx context.Context, src []byte) (engine.Result, error) {
			return s.engine.UpscaleBytes(ctx, src, engine.UpscaleOptions{Factor: factor, Mode: mode, EncodeOptions: opts})
		},
	})
	if err != nil {
		return nil, err
	}
	return &enhancev1.UpscaleResponse{Image: out.image, WidthPixels: out.width, HeightPixels: out.height, Steps: out.steps}, nil
}

// defaultScaleFactor is Upscale's factor when the request names none.
const defaultScaleFactor = 2

// Colorize implements enhancev1.ImageServiceServer.
func (s *ImageServer) Colorize(ctx context.Context, req *enhancev1.ColorizeRequest) (*enhancev1.ColorizeResponse, error) {
	opts, err := encodeOptions(req.GetOutputFormat(), req.GetQuality())
	if err != nil {
		return nil, err
	}
	hints, err := colorHints(req.GetHints())
	if err != nil {
		return nil, err
	}
	if len(hints) == 0 && req.GetReferenceImageUrl() == "" && len(req.GetReferenceImage()) == 0 && !s.engine.ColorizesAlone() {
		return nil, apierror.Param("hints", fmt.Errorf("%w: %w: give hints, or referenceImageUrl or referenceImageBase64", engine.ErrInvalidOption, engine.ErrNeedsHints))
	}
	var ref []byte
	out, err := s.run(ctx, imageJob{
		url: req.GetImageUrl(), inline: req.GetImage(), dryRun: req.GetDryRun(),
		operation: credits.OpColorize, price: func(int) int { return credits.PriceColorize }, steps: []string{"colorize"},
		plan: func() engine.PlanOptions {
			return engine.PlanOptions{Operation: engine.OpColorize, Hints: hints, Reference: ref, Output: opts.Format}
		},
		prepare: func(ctx context.Context) error {
			if req.GetReferenceImageUrl() == "" && len(req.GetReferenceImage()) == 0 {
				return nil
			}
			var fetchErr error
			ref, fetchErr = s.sourceNamed(ctx, "referenceImageUrl", "referenceImageBase64", req.GetReferenceImageUrl(), req.GetReferenceImage())
			return fetchErr
		},
		work: func(ctx context.Context, src []byte) (engine.Result, error) {
			return s.engine.ColorizeBytes(ctx, src, engine.ColorizeOptions{Hints: hints, Reference: ref, EncodeOptions: opts})
		},
	})
	if err != nil {
		return nil, err
	}
	return &enhancev1.ColorizeResponse{Image: out.image, WidthPixels: out.width, HeightPixels: out.height, Steps: out.steps}, nil
}

// imageJob is what one image call asks of run: where its source is, what
// it costs, and the work itself.
type imageJob struct {
	url    string
	inline []byte
	dryRun bool
	// operation, price and steps make the quote, with the plan.
	operation string
	price     func(sourcePixels int) int
	steps     []string
	// plan is what the engine needs besides the source to check the
	// request against every limit the headers settle and to weigh it;
	// it is called after prepare.
	plan func() engine.PlanOptions
	// prepare, when set, runs once the request is admitted and before the
	// source is read (colorize fetches its reference there).
	prepare func(ctx context.Context) error
	work    func(ctx context.Context, src []byte) (engine.Result, error)
}

// imageOutput is what the three responses share.
type imageOutput struct {
	image         *httpbody.HttpBody
	width, height int32
	steps         []*enhancev1.AppliedStep
}

// run is the life of every image call, in order: a place in the gate, the
// source, the plan from its header (every size limit, the output's size
// and the memory the work will hold, which must fit the gate's budget),
// the quote (a dry run ends there), the credits, a worker and the memory,
// then the work. Nothing the header already settles can fail after the
// quote, so a dry run never quotes what would be refused and a refusal
// never waits on credits. Errors come back as gRPC statuses.
func (s *ImageServer) run(ctx context.Context, job imageJob) (imageOutput, error) {
	ticket, err := s.gate.Admit()
	if err != nil {
		return imageOutput{}, err
	}
	defer ticket.Done()
	if job.prepare != nil {
		if err := job.prepare(ctx); err != nil {
			return imageOutput{}, err
		}
	}
	src, err := s.source(ctx, job.url, job.inline)
	if err != nil {
		return imageOutput{}, err
	}
	plan, err := s.plan(src, job.plan())
	if err != nil {
		return imageOutput{}, err
	}
	s.observer.Source(ctx, len(src), plan.SourcePixels)
	q := quote{
		Operation: job.operation, Credits: job.price(plan.SourcePixels),
		WidthPixels: plan.Width, HeightPixels: plan.Height,
	}
	if job.dryRun {
		q.Steps = job.steps
		body, w, h := q.response()
		return imageOutput{image: body, width: w, height: h}, nil
	}
	if err := s.begin(ctx, ticket, q, plan.Memory); err != nil {
		return imageOutput{}, err
	}
	started := time.Now()
	res, err := job.work(ctx, src)
	s.engineStages(ctx, started, res.Timings)
	if err != nil {
		return imageOutput{}, err
	}
	return imageOutput{
		image:  &httpbody.HttpBody{ContentType: res.Format.MIMEType(), Data: res.Data},
		width:  int32(res.Width),
		height: int32(res.Height),
		steps:  appliedSteps(res.Steps),
	}, nil
}

// engineStages reports the engine's stages of a call whose work began at
// started, laid end to end in the order they run (a colorize reference's
// decode is counted in decode); a stage the work never reached is left
// out.
func (s *ImageServer) engineStages(ctx context.Context, started time.Time, t engine.Timings) {
	for _, st := range []struct {
		name string
		d    time.Duration
	}{{StageDecode, t.Decode}, {StageProcess, t.Process}, {StageEncode, t.Encode}} {
		if st.d > 0 {
			s.observer.Stage(ctx, st.name, started, st.d)
			started = started.Add(st.d)
		}
	}
}

// quote is what a request will cost and produce.
type quote struct {
	DryRun       bool     `json:"dryRun"`
	Operation    string   `json:"operation"`
	Credits      int      `json:"credits"`
	WidthPixels  int      `json:"widthPixels"`
	HeightPixels int      `json:"heightPixels"`
	Steps        []string `json:"steps"`
}

// plan reads the image headers (and nothing more) and checks the request
// against every limit they settle, the memory budget included. A request
// that fails here goes no further and costs nothing; an image heavier
// than the whole budget is too large, as one over a pixel limit is.
func (s *ImageServer) plan(src []byte, opts engine.PlanOptions) (engine.Plan, error) {
	plan, err := s.engine.Plan(src, opts)
	if err != nil {
		return engine.Plan{}, err
	}
	if err := s.gate.Check(plan.Memory); err != nil {
		return engine.Plan{}, fmt.Errorf("%w: %w", engine.ErrTooLarge, err)
	}
	return plan, nil
}

// response is a dry run's answer: the quote as JSON in place of the image.
func (q quote) response() (*httpbody.HttpBody, int32, int32) {
	q.DryRun = true
	data, _ := json.Marshal(q) // plain fields: cannot fail
	return &httpbody.HttpBody{ContentType: "application/json", Data: data}, int32(q.WidthPixels), int32(q.HeightPixels)
}

// errNoMeter means a call reached a priced method without passing the
// quota interceptor: refused rather than done for free.
var errNoMeter = errors.New("apiv1: no credit meter on the request")

// begin takes the quoted price, then waits its turn for a worker and
// weight bytes of the memory budget; the quota interceptor commits the
// price on success and refunds it on any failure, a client that gave up
// in the queue included. Credits come first so that a caller who has none
// is told at once rather than after queueing.
func (s *ImageServer) begin(ctx context.Context, ticket *admission.Ticket, q quote, weight int64) error {
	m, ok := credits.MeterFrom(ctx)
	if !ok {
		return errNoMeter
	}
	if err := m.Reserve(ctx, q.Operation, q.Credits); err != nil {
		return err
	}
	started := time.Now()
	err := ticket.Start(ctx, weight)
	s.observer.Stage(ctx, StageQueue, started, time.Since(started))
	return err
}

// colorHints converts hints from the API, checking colours and the
// drawing they ask for.
func colorHints(in []*enhancev1.ColorHint) ([]engine.ColorHint, error) {
	out := make([]engine.ColorHint, len(in))
	for i, h := range in {
		r, g, b, ok := parseHexColor(h.GetColor())
		if !ok {
			return nil, apierror.Paramf(fmt.Sprintf("hints[%d].color", i), engine.ErrInvalidOption, "hint %d color is not #rrggbb, like #3366cc", i)
		}
		pts := make([][2]int, len(h.GetPoints()))
		for k, p := range h.GetPoints() {
			pts[k] = [2]int{int(p.GetX()), int(p.GetY())}
		}
		out[i] = engine.ColorHint{Points: pts, R: r, G: g, B: b, Width: int(h.GetWidthPixels())}
	}
	if err := engine.CheckHintWork(out); err != nil {
		return nil, apierror.Param("hints", err)
	}
	return out, nil
}

func parseHexColor(s string) (r, g, b float32, ok bool) {
	if len(s) != 7 || s[0] != '#' {
		return 0, 0, 0, false
	}
	var v [3]float32
	for i := range 3 {
		n, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return 0, 0, 0, false
		}
		v[i] = float32(n) / 255
	}
	return v[0], v[1], v[2], true
}

// source returns the image bytes from exactly one of url and inline.
func (s *ImageServer) source(ctx context.Context, url string, inline []byte) ([]byte, error) {
	if url == "" && len(inline) == 0 {
		return nil, apierror.Paramf("imageUrl", apierror.ErrInvalidRequest, "an image is required: give imageUrl or imageBase64, or send the image as the body (image/jpeg, image/png or image/webp)")
	}
	return s.sourceNamed(ctx, "imageUrl", "imageBase64", url, inline)
}

// sourceNamed returns image bytes from exactly one of url and inline,
// naming the fields in errors.
func (s *ImageServer) sourceNamed(ctx context.Context, urlField, inlineField, url string, inline []byte) ([]byte, error) {
	switch {
	case url != "" && len(inline) > 0:
		return nil, apierror.Paramf(urlField, apierror.ErrInvalidRequest, "give the image once: %s or %s, not both", urlField, inlineField)
	case url != "":
		started := time.Now()
		data, err := s.fetcher.Fetch(ctx, url)
		s.observer.Stage(ctx, StageFetch, started, time.Since(started))
		if err != nil {
			s.logFetchFailure(ctx, urlField, url, err)
			return nil, apierror.Param(urlField, err)
		}
		return data, nil
	case len(inline) > 0:
		if int64(len(inline)) > s.maxBytes {
			return nil, apierror.Paramf(inlineField, apierror.ErrInvalidRequest, "the image is %d bytes; the limit is %d", len(inline), s.maxBytes)
		}
		return inline, nil
	}
	return nil, apierror.Paramf(urlField, apierror.ErrInvalidRequest, "give %s or %s", urlField, inlineField)
}

// logFetchFailure records why a source URL was not used, with the request
// id; the caller saw only a generic message. The URL is logged without its
// query and fragment, which may carry the origin's own secrets.
func (s *ImageServer) logFetchFailure(ctx context.Context, field, rawURL string, err error) {
	where := "(unparseable)"
	if u, perr := neturl.Parse(rawURL); perr == nil {
		where = u.Scheme + "://" + u.Host + u.EscapedPath()
	}
	reason := err.Error()
	var r *fetch.RefusedError
	if errors.As(err, &r) {
		reason = "refused: " + r.Reason
	}
	s.log.WarnContext(ctx, "source not fetched", "request_id", requestid.From(ctx), "field", field, "url", where, "reason", reason)
}

func encodeOptions(format string, quality int32) (engine.EncodeOptions, error) {
	opts := engine.EncodeOptions{Quality: int(quality)}
	if format != "" {
		f, err := engine.ParseFormat(strings.ToLower(format))
		if err != nil {
			return opts, apierror.Param("outputFormat", err)
		}
		opts.Format = f
	}
	if err := opts.Validate(); err != nil {
		return opts, apierror.Param("quality", err)
	}
	return opts, nil
}

func appliedSteps(steps []engine.Applied) []*enhancev1.AppliedStep {
	out := make([]*enhancev1.AppliedStep, len(steps))
	for i, st := range steps {
		out[i] = &enhancev1.AppliedStep{Name: st.Name, Parameters: st.Params}
	}
	return out
}
