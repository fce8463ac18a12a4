package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestSettings: tracing is off unless the variables say where traces go,
// follows the specification's meaning of each, and every bad value is
// reported together.
func TestSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		env      map[string]string
		exporter string
		protocol string
		errs     []string
	}{
		{"nothing set: off", nil, "", "http/protobuf", nil},
		{"an endpoint: otlp over http/protobuf", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp", "http/protobuf", nil},
		{"a traces endpoint, over gRPC", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "otlp", "grpc", nil},
		{"the traces protocol wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, "otlp", "http/protobuf", nil},
		{"exporter named without an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, "otlp", "http/protobuf", nil},
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, "console", "http/protobuf", nil},
		{"exporter none", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"}, "", "http/protobuf", nil},
		{"SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, "", "", nil},
		{"SDK not disabled", map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"}, "otlp", "http/protobuf", nil},
		{"sampler with a ratio", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, "otlp", "http/protobuf", nil},
		{"every bad value at once", map[string]string{
			"OTEL_SDK_DISABLED":           "yes",
			"OTEL_TRACES_EXPORTER":        "zipkin",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
			"OTEL_TRACES_SAMPLER":         "traceidratio",
			"OTEL_TRACES_SAMPLER_ARG":     "1.5",
			"OTEL_PROPAGATORS":            "b3",
		}, "", "", []string{"OTEL_SDK_DISABLED", `"zipkin" is not supported`, "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS"}},
		{"an unknown sampler", map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "", "", []string{"OTEL_TRACES_SAMPLER="}},
		{"two exporters", map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"}, "", "", []string{"name one exporter"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := readSettings(env(tt.env))
			if len(tt.errs) > 0 {
				require.Error(t, err)
				for _, want := range tt.errs {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.exporter, s.exporter)
			if tt.exporter != "" {
				require.Equal(t, tt.protocol, s.protocol)
			}
		})
	}
}

// TestOffIsNothing: with tracing off, New returns nil and every hook
// hands back what it was given, so a request pays nothing for tracing.
func TestOffIsNothing(t *testing.T) {
	t.Parallel()
	tr, err := New(context.Background(), env(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.Nil(t, tr)
	require.False(t, tr.Enabled())
	h := http.NotFoundHandler()
	require.Equal(t, "http.HandlerFunc", fmt.Sprintf("%T", tr.Handler(h)), "the handler itself")
	require.Nil(t, tr.ServerHandler())
	ctx := context.Background()
	got, end := tr.Client(ctx, "/s.S/M")
	end(nil)
	require.Equal(t, ctx, got)
	_, hasMD := metadata.FromOutgoingContext(got)
	require.False(t, hasMD, "nothing propagated")
	require.Equal(t, "", TraceID(ctx))
	require.NoError(t, tr.Shutdown(ctx))
}

// recording is Tracing on an in-memory exporter.
func recording(t testing.TB) (*Tracing, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	return withExporter(t, exp), exp
}

func withExporter(t testing.TB, exp sdktrace.SpanExporter) *Tracing {
	p := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return &Tracing{provider: p, tracer: p.Tracer(scope), propagator: propagation.TraceContext{}}
}

// TestClientPropagates: the gateway's client span is a child of the REST
// span and travels in the call's metadata as a W3C traceparent.
func TestClientPropagates(t *testing.T) {
	t.Parallel()
	tr, exp := recording(t)
	ctx, parent := tr.tracer.Start(context.Background(), "REST POST")
	ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("x-request-id", "r1"))
	ctx, end := tr.Client(ctx, "/smartimage.enhance.v1.ImageService/Enhance")
	end(nil)
	parent.End()
	md, _ := metadata.FromOutgoingContext(ctx)
	require.Equal(t, []string{"r1"}, md.Get("x-request-id"), "the call's own metadata is kept")
	tp := md.Get("traceparent")
	require.Len(t, tp, 1)
	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	client := spans[0]
	require.Equal(t, trace.SpanKindClient, client.SpanKind)
	require.Equal(t, parent.SpanContext().SpanID(), client.Parent.SpanID())
	require.Equal(t, "00-"+client.SpanContext.TraceID().String()+"-"+client.SpanContext.SpanID().String()+"-01", tp[0])
}

// BenchmarkHandler compares a REST request through the front door with
// tracing off (the handler itself) and on (otelhttp, a span per request,
// handed to an exporter that drops it): what tracing costs per request,
// and that off costs nothing.
func BenchmarkHandler(b *testing.B) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	on := withExporter(b, tracetest.NewNoopExporter())
	for _, bb := range []struct {
		name string
		tr   *Tracing
	}{{"off", nil}, {"on", on}} {
		b.Run(bb.name, func(b *testing.B) {
			h := bb.tr.Handler(inner)
			req := httptest.NewRequest(http.MethodPost, "/v1/enhance", nil)
			req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
