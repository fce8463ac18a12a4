package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Metrics are the service's own Prometheus collectors, beside the
// per-method gRPC ones (grpcprom): requests by plan, the image pipeline's
// stages and source sizes, credits and authentication failures. The
// caller registers them (Metrics is a prometheus.Collector); nothing here
// touches a global registry.
type Metrics struct {
	requests         *prometheus.CounterVec
	stages           *prometheus.HistogramVec
	charged          *prometheus.CounterVec
	refunded         *prometheus.CounterVec
	authFailures     *prometheus.CounterVec
	sourceBytes      prometheus.Histogram
	sourceMegapixels prometheus.Histogram
	gatewayAnswers   *prometheus.CounterVec
}

// Reasons a charge is refunded (enhance_credits_refunded_total).
const (
	// refundFailed: the call failed after its price was reserved.
	refundFailed = "failed"
	// refundCanceled: the caller went away or its deadline passed.
	refundCanceled = "canceled"
	// refundCommitFailed: the work was done but the charge could not be
	// made final.
	refundCommitFailed = "commit_failed"
)

// NewMetrics returns the collectors, unregistered.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enhance_requests_total",
			Help: "Finished calls by method (Service/Method), gRPC code and the caller's plan (none without an API key).",
		}, []string{"method", "code", "plan"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "enhance_stage_seconds",
			Help: "Time an image call spent in each stage: fetch (the source URL), queue (waiting for a worker and memory), decode (source to pixels), process (the pipeline alone: filters, upscale or colorization), encode (the output image).",
			// 1 ms to about 33 s.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"method", "stage"}),
		charged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enhance_credits_charged_total",
			Help: "Credits charged (committed) by operation.",
		}, []string{"operation"}),
		refunded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enhance_credits_refunded_total",
			Help: "Credits reserved and then refunded by the request path, by operation and reason (failed, canceled, commit_failed).",
		}, []string{"operation", "reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enhance_auth_failures_total",
			Help: "Refused credentials by reason (no_key, malformed, unknown_key, wrong_secret, revoked, expired, missing_scope, other).",
		}, []string{"reason"}),
		sourceBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "enhance_source_bytes",
			Help: "Size of the source images of image calls, in bytes.",
			// 1 KiB to 256 MiB.
			Buckets: prometheus.ExponentialBuckets(1024, 4, 10),
		}),
		sourceMegapixels: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "enhance_source_megapixels",
			Help:    "Pixels of the source images of image calls, in millions.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 100},
		}),
		gatewayAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enhance_gateway_answers_total",
			Help: "REST calls the gateway answered without the gRPC server (which counts the rest): health, readiness and the OpenAPI document, and refusals before a call (unknown route, wrong method, body too large or that does not parse), by HTTP status and error code (none on success).",
		}, []string{"status", "code"}),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.stages, m.charged, m.refunded, m.authFailures, m.sourceBytes, m.sourceMegapixels, m.gatewayAnswers}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// Stage records that the image call of ctx spent d in stage, in the
// histogram and on the call's access line (apiv1.Observer).
func (m *Metrics) Stage(ctx context.Context, stage string, _ time.Time, d time.Duration) {
	full, _ := grpc.Method(ctx)
	m.stages.WithLabelValues(methodLabel(full), stage).Observe(d.Seconds())
	if r := recordFrom(ctx); r != nil {
		r.stage(stage, d)
	}
}

// Source records the size of the image call's source (apiv1.Observer).
func (m *Metrics) Source(ctx context.Context, bytes, pixels int) {
	m.sourceBytes.Observe(float64(bytes))
	m.sourceMegapixels.Observe(float64(pixels) / 1e6)
	if r := recordFrom(ctx); r != nil {
		r.source(bytes, pixels)
	}
}

// GatewayAnswer counts a REST call the gateway answered itself
// (gateway.Config.Answered); code is the error code, "" on success.
func (m *Metrics) GatewayAnswer(status int, code string) {
	if code == "" {
		code = "none"
	}
	m.gatewayAnswers.WithLabelValues(strconv.Itoa(status), code).Inc()
}

func (m *Metrics) authFailed(reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) charge(operation string, amount int) {
	if m != nil {
		m.charged.WithLabelValues(operation).Add(float64(amount))
	}
}

func (m *Metrics) refund(operation, reason string, amount int) {
	if m != nil {
		m.refunded.WithLabelValues(operation, reason).Add(float64(amount))
	}
}

func (m *Metrics) request(method, code, plan string) {
	if m != nil {
		if plan == "" {
			plan = "none"
		}
		m.requests.WithLabelValues(method, code, plan).Inc()
	}
}

// methodLabel is a full gRPC method without its proto package:
// "/smartimage.enhance.v1.ImageService/Enhance" is "ImageService/Enhance".
func methodLabel(full string) string {
	full = strings.TrimPrefix(full, "/")
	service, method, ok := strings.Cut(full, "/")
	if !ok {
		return full
	}
	if i := strings.LastIndexByte(service, '.'); i >= 0 {
		service = service[i+1:]
	}
	return service + "/" + method
}
