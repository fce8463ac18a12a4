// Package telemetry sets up OpenTelemetry tracing from the standard OTEL_*
// environment variables. Tracing is off unless they say where traces go;
// off, nothing is wrapped, propagated or exported, and every hook here
// hands back what it was given.
//
// On, a REST call is one trace: the HTTP server span (otelhttp, continuing
// a client's W3C traceparent), the gateway's client span for the gRPC call
// it makes, the gRPC server span (otelgrpc, continuing the gateway's), and
// one span for each stage of an image call (fetch, queue, decode, process,
// encode). A direct gRPC call starts at the gRPC server span.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// ServiceName is the service.name of the traces unless OTEL_SERVICE_NAME
// or OTEL_RESOURCE_ATTRIBUTES names another.
const ServiceName = "enhanced"

// scope names the tracer of the spans this service makes itself.
const scope = "github.com/smartimage/enhance"

// Tracing is the service's tracer provider and propagator, or nothing at
// all when tracing is off. Its methods are safe on a nil *Tracing, which
// is off.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	// Exporter says where spans go, for the start-up log.
	Exporter string
}

// New reads the OTEL_* variables through getenv and returns tracing, off
// unless they ask for it; every bad value is reported together. Tracing is
// on when OTEL_TRACES_EXPORTER names an exporter (otlp, console), or, with
// it unset, when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; OTEL_SDK_DISABLED=true and
// OTEL_TRACES_EXPORTER=none keep it off. (The specification's default
// exporter is otlp to localhost; a service that exports nowhere until told
// is what operators expect, so unset means off here.) Sampling, batching,
// the exporter's endpoint, headers, TLS and timeouts, and the resource
// are the SDK's own reading of the same variables, which it takes from the
// process environment.
func New(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Tracing, error) {
	s, err := readSettings(getenv)
	if err != nil || s.exporter == "" {
		return nil, err
	}
	var exporter sdktrace.SpanExporter
	switch {
	case s.exporter == "console":
		exporter, err = stdouttrace.New()
		s.exporter = "console (stdout)"
	case s.protocol == "grpc":
		exporter, err = otlptracegrpc.New(ctx)
		s.exporter = "otlp grpc"
	default:
		exporter, err = otlptracehttp.New(ctx)
		s.exporter = "otlp http/protobuf"
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s exporter: %w", s.exporter, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithTelemetrySDK(),
		// Last, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	// Export failures are the SDK's to report, through OpenTelemetry's one
	// process-wide handler: they go to this log rather than to the
	// standard logger's plain lines.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: span export failed", "err", err)
	}))
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return &Tracing{
		provider:   provider,
		tracer:     provider.Tracer(scope),
		propagator: s.propagator,
		Exporter:   s.exporter,
	}, nil
}

// settings are what New reads from the environment itself.
type settings struct {
	// exporter is otlp or console; "" is off.
	exporter   string
	protocol   string
	propagator propagation.TextMapPropagator
}

func readSettings(getenv func(string) string) (settings, error) {
	var s settings
	var errs []error
	if disabled := strings.TrimSpace(getenv("OTEL_SDK_DISABLED")); strings.EqualFold(disabled, "true") {
		return s, nil
	} else if disabled != "" && !strings.EqualFold(disabled, "false") {
		errs = append(errs, fmt.Errorf("OTEL_SDK_DISABLED=%q: must be true or false", disabled))
	}
	exporters := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	switch {
	case exporters == "":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
			s.exporter = "otlp"
		}
	default:
		for e := range strings.SplitSeq(exporters, ",") {
			switch e = strings.TrimSpace(e); e {
			case "none":
				s.exporter = ""
			case "otlp", "console":
				if s.exporter != "" && s.exporter != e {
					errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: name one exporter, otlp or console", exporters))
				}
				s.exporter = e
			default:
				errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: %q is not supported; use otlp, console or none", exporters, e))
			}
			if e == "none" {
				break // none anywhere: off
			}
		}
	}
	s.protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	protocolVar := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if s.protocol == "" {
		s.protocol, protocolVar = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL")), "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	switch s.protocol {
	case "":
		s.protocol = "http/protobuf" // the specification's default
	case "grpc", "http/protobuf":
	default:
		errs = append(errs, fmt.Errorf("%s=%q: use grpc or http/protobuf", protocolVar, s.protocol))
	}
	if err := checkSampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		errs = append(errs, err)
	}
	var err error
	if s.propagator, err = propagators(getenv("OTEL_PROPAGATORS")); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, fmt.Errorf("telemetry: %w", err)
	}
	return s, nil
}

// checkSampler refuses what the SDK would only complain of in its log,
// falling back to sampling everything: a sampler it does not know, or a
// ratio that is not one.
func checkSampler(name, arg string) error {
	name, arg = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(arg)
	switch name {
	case "", "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		return nil
	case "traceidratio", "parentbased_traceidratio":
		if arg == "" {
			return nil
		}
		if v, err := strconv.ParseFloat(arg, 64); err != nil || !(v >= 0 && v <= 1) {
			return fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: a ratio from 0 to 1", arg)
		}
		return nil
	}
	return fmt.Errorf("OTEL_TRACES_SAMPLER=%q: use always_on, always_off, traceidratio or their parentbased_ forms", name)
}

// propagators reads OTEL_PROPAGATORS: tracecontext and baggage (the
// default is both) or none.
func propagators(list string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(list) == "" {
		list = "tracecontext,baggage"
	}
	var ps []propagation.TextMapPropagator
	for name := range strings.SplitSeq(list, ",") {
		switch name = strings.TrimSpace(name); name {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS=%q: %q is not supported; use tracecontext, baggage or none", list, name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}

// Enabled reports whether spans are made and exported.
func (t *Tracing) Enabled() bool { return t != nil }

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Handler wraps the REST front door: one server span per request, which
// continues the client's traceparent. Health and readiness probes are
// left out. Off, it is h itself.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, "REST",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" }),
		// The method alone: a path may hold a key's id, and span names
		// must stay few. The gRPC span beneath names the call.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "REST " + r.Method }),
	)
}

// ServerHandler is the gRPC server's stats handler: one server span per
// call, continuing the caller's trace (the gateway's, for REST calls).
// Health checks and reflection are left out. Off, it is nil.
func (t *Tracing) ServerHandler() stats.Handler {
	if t == nil {
		return nil
	}
	return otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
			return !strings.HasPrefix(info.FullMethodName, "/grpc.health.") && !strings.HasPrefix(info.FullMethodName, "/grpc.reflection.")
		}),
	)
}

// Client starts the span of a gRPC call the gateway makes for a REST
// request and puts its context in the call's metadata, so that the gRPC
// server's span is its child; end closes it with the call's outcome. Off,
// ctx is returned as it is.
func (t *Tracing) Client(ctx context.Context, fullMethod string) (_ context.Context, end func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	ctx, span := t.tracer.Start(ctx, strings.TrimPrefix(fullMethod, "/"),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.RPCSystemNameGRPC, semconv.RPCMethod(service+"/"+method)),
	)
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	t.propagator.Inject(ctx, metadataCarrier(md))
	ctx = metadata.NewOutgoingContext(ctx, md)
	return ctx, func(err error) {
		if err != nil {
			st := status.Convert(err)
			span.SetAttributes(attribute.String("rpc.response.status_code", st.Code().String()))
			span.SetStatus(codes.Error, st.Code().String())
		}
		span.End()
	}
}

// metadataCarrier lets a propagator write into gRPC metadata.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Stage records an image call's stage as a child span of the call's
// (apiv1.Observer), drawn from start for d: the engine reports its stages
// after the fact.
func (t *Tracing) Stage(ctx context.Context, stage string, start time.Time, d time.Duration) {
	if t == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	_, span := t.tracer.Start(ctx, stage, trace.WithTimestamp(start))
	span.End(trace.WithTimestamp(start.Add(d)))
}

// Source adds the source image's size to the call's span (apiv1.Observer).
func (t *Tracing) Source(ctx context.Context, bytes, pixels int) {
	if t == nil {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("image.source_bytes", bytes), attribute.Int("image.source_pixels", pixels))
}

// TraceID is the trace of ctx's span for a log line, "" when there is none.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
