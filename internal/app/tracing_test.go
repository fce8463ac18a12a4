package app

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP trace collector in the test: it keeps every span it
// is sent, over gRPC or HTTP.
type receiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (r *receiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.keep(req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (r *receiver) keep(req *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				r.services = append(r.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
}

func (r *receiver) received() ([]*tracepb.Span, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...), append([]string(nil), r.services...)
}

// startReceiver serves OTLP over protocol (grpc or http/protobuf) on
// loopback and returns its endpoint URL.
func startReceiver(t testing.TB, protocol string) (*receiver, string) {
	t.Helper()
	r := &receiver{}
	if protocol == "grpc" {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := grpc.NewServer()
		collectortrace.RegisterTraceServiceServer(srv, r)
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		return r, "http://" + lis.Addr().String()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var export collectortrace.ExportTraceServiceRequest
		if err != nil || req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &export) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		r.keep(&export)
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// otelVariables are every OTEL_* variable the server reads; each test
// sets all of them, so that the machine's environment plays no part.
var otelVariables = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS",
}

func setOTEL(t testing.TB, env map[string]string) {
	for _, k := range otelVariables {
		t.Setenv(k, env[k])
	}
}

// A client's trace: its id and the id of the client's own span.
const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
	traceparent   = "00-" + clientTraceID + "-" + clientSpanID + "-01"
)

// enhanceFromURL makes a REST enhance of an image at an origin, with the
// client's traceparent and request id, and returns the request id.
func enhanceFromURL(t *testing.T, s *testServer, requestID string) {
	t.Helper()
	img := origin(t)
	body, err := json.Marshal(map[string]any{"imageUrl": img.URL + "/bird.png", "outputFormat": "png"})
	require.NoError(t, err)
	a := s.send(http.MethodPost, "/v1/enhance", "application/json", body,
		map[string]string{"x-api-key": s.key, "traceparent": traceparent, "X-Request-Id": requestID})
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
}

// TestTracingRESTToStages: with the standard variables pointing at a
// collector (over gRPC and over HTTP), a REST enhance that carries a
// client's traceparent is one trace with the client's id: the REST server
// span under the client's span, the gateway's client span, the gRPC
// server span, and the stages of the image call under it. The access line
// names the trace.
func TestTracingRESTToStages(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			r, endpoint := startReceiver(t, protocol)
			setOTEL(t, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
				"OTEL_SERVICE_NAME":           "enhance-test",
			})
			s := startServer(t, nil)
			require.True(t, s.app.tracing.Enabled())
			id := "traced-" + strings.ReplaceAll(protocol, "/", "-")
			enhanceFromURL(t, s, id)
			lines := s.accessLines(id)
			require.Len(t, lines, 1)
			require.Contains(t, lines[0], "trace_id="+clientTraceID)
			// A call the gateway refuses itself names the trace too.
			refused := s.send(http.MethodGet, "/v1/nowhere", "", nil, map[string]string{"traceparent": traceparent, "X-Request-Id": id + "-404"})
			require.NoError(t, refused.err)
			require.Equal(t, http.StatusNotFound, refused.status)
			lines = s.accessLines(id + "-404")
			require.Len(t, lines, 1)
			require.Contains(t, lines[0], "kind=http")
			require.Contains(t, lines[0], "trace_id="+clientTraceID)
			s.stop(t) // exports what is buffered

			spans, services := r.received()
			require.NotEmpty(t, services)
			for _, name := range services {
				require.Equal(t, "enhance-test", name, "OTEL_SERVICE_NAME names the service")
			}
			byID := map[string]*tracepb.Span{}
			var rest *tracepb.Span
			for _, sp := range spans {
				require.Equal(t, clientTraceID, hex.EncodeToString(sp.GetTraceId()), "one trace: %s", sp.GetName())
				byID[hex.EncodeToString(sp.GetSpanId())] = sp
				if sp.GetName() == "REST POST" {
					rest = sp
				}
			}
			require.NotNil(t, rest, "the REST span")
			require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, rest.GetKind())
			require.Equal(t, clientSpanID, hex.EncodeToString(rest.GetParentSpanId()), "under the client's span")
			// Each span's chain of parents, up to the REST one.
			chain := func(sp *tracepb.Span) []string {
				var names []string
				for sp != nil && sp != rest {
					names = append(names, sp.GetName()+"/"+strings.TrimPrefix(sp.GetKind().String(), "SPAN_KIND_"))
					sp = byID[hex.EncodeToString(sp.GetParentSpanId())]
				}
				require.NotNil(t, sp, "%v does not lead to the REST span", names)
				return names
			}
			const call = "smartimage.enhance.v1.ImageService/Enhance"
			seen := map[string]bool{}
			for _, sp := range spans {
				if sp == rest || sp.GetName() == "REST GET" {
					continue // the REST span, and the refused call's own
				}
				c := chain(sp)
				seen[sp.GetName()] = true
				switch sp.GetName() {
				case "fetch", "queue", "decode", "process", "encode":
					require.Equal(t, []string{sp.GetName() + "/INTERNAL", call + "/SERVER", call + "/CLIENT"}, c)
					require.Less(t, sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano())
				}
			}
			for _, stage := range []string{call, "fetch", "queue", "decode", "process", "encode"} {
				require.True(t, seen[stage], "a %s span", stage)
			}
		})
	}
}

// TestTracingOff: without the variables nothing is wrapped (the REST
// handler is the gateway itself, the gRPC server has no stats handler)
// and no access line names a trace; with an endpoint set but the SDK
// disabled, or the exporter none, nothing reaches the collector.
func TestTracingOff(t *testing.T) {
	setOTEL(t, nil)
	s := startServer(t, nil)
	require.False(t, s.app.tracing.Enabled())
	require.Equal(t, "*gateway.Gateway", fmt.Sprintf("%T", s.app.httpServer.Handler), "the REST handler is the gateway itself")
	require.Nil(t, s.app.tracing.ServerHandler(), "the gRPC server has no stats handler")
	enhanceFromURL(t, s, "untraced-1")
	lines := s.accessLines("untraced-1")
	require.Len(t, lines, 1)
	require.NotContains(t, lines[0], "trace_id=")

	for _, env := range []map[string]string{
		{"OTEL_SDK_DISABLED": "true"},
		{"OTEL_TRACES_EXPORTER": "none"},
	} {
		r, endpoint := startReceiver(t, "http/protobuf")
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
		setOTEL(t, env)
		s := startServer(t, nil)
		require.False(t, s.app.tracing.Enabled(), "%v", env)
		enhanceFromURL(t, s, "untraced-2")
		s.stop(t)
		spans, _ := r.received()
		require.Empty(t, spans, "%v", env)
	}
}
