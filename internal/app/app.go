// Package app is the composition root: it builds every part of the server
// in dependency order, starts the listeners and stops them gracefully.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/admission"
	"github.com/smartimage/enhance/internal/apikeys"
	"github.com/smartimage/enhance/internal/apiv1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/dashboard"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/fetch"
	"github.com/smartimage/enhance/internal/gateway"
	"github.com/smartimage/enhance/internal/idempotency"
	"github.com/smartimage/enhance/internal/openapi"
	"github.com/smartimage/enhance/internal/ratelimit"
	"github.com/smartimage/enhance/internal/redisclient"
	"github.com/smartimage/enhance/internal/revocation"
	"github.com/smartimage/enhance/internal/server"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storepostgres"
	"github.com/smartimage/enhance/internal/store/storesqlite"
	"github.com/smartimage/enhance/internal/telemetry"
	"github.com/smartimage/enhance/internal/tlsconfig"
)

// DevKeyFile and DevPasswordFile are where --dev-account writes the
// development account's key and password, in the data folder.
const (
	DevKeyFile      = "dev-api-key"
	DevPasswordFile = "dev-password"
)

// App is a running server: gRPC and REST listeners, metrics, and the
// state behind them.
type App struct {
	cfg    config.Config
	log    *slog.Logger
	store  store.Store
	tls    tlsconfig.Source
	health *health.Server
	// stopTLSWatch ends the watch on a configured certificate's files and
	// waits for it (nil with the development certificate).
	stopTLSWatch func()

	grpcServer   *grpc.Server
	grpcListener net.Listener
	// gatewayListener is the gRPC server's in-memory door, which only the
	// gateway's connection (conn) reaches.
	gatewayListener *bufconn.Listener
	conn            *grpc.ClientConn

	httpServer    *http.Server
	httpListener  net.Listener
	metricsServer *http.Server
	metricsLis    net.Listener

	verifier *auth.Verifier
	accounts *account.Service
	ledger   *credits.Ledger
	devKey   string
	// devPassword is the development account's, made by this start.
	devPassword string

	// instance names this process in the database; releaseInstance gives
	// up its liveness mark at close.
	instance string
	// liveMu guards releaseInstance, which keepAlive replaces.
	liveMu          sync.Mutex
	releaseInstance func() error
	// suspects are processes the last sweep found dead (releaseOrphans,
	// one at a time under orphansMu).
	orphansMu sync.Mutex
	suspects  map[string]bool
	// leftRefunds counts the charges refunded because no request was left
	// to settle them (enhance_abandoned_charges_refunded_total), apart
	// from the refunds the request path makes itself.
	leftRefunds *prometheus.CounterVec

	// redis, with --redis-url, shares rate limits and carries key
	// revocations (revocations) between instances.
	redis       *redis.Client
	revocations *revocation.Bus
	// limiter is the Redis one with its fallback, when Redis is set: while
	// it limits alone, Redis is down and a revocation is not announced.
	limiter *ratelimit.Failover
	// revocationsHeard counts the revocations other instances (and this
	// one) announced, for operators to see that the bus carries them.
	revocationsHeard prometheus.Counter
	// tracing is nil unless the OTEL_* variables turn it on.
	tracing *telemetry.Tracing
}

// lastUseFlush is how often key last-use times are written.
const lastUseFlush = 5 * time.Second

// Option changes how New builds the server, for tests.
type Option func(*options)

type options struct {
	// now is the clock of what counts time per caller (time.Now).
	now func() time.Time
	// hashCost is the password hash's (auth.DefaultCost).
	hashCost auth.Cost
	// tlsReload is how often a configured certificate's files are looked
	// at (tlsconfig.ReloadInterval).
	tlsReload time.Duration
}

// WithClock makes the rate limits read now instead of time.Now, so that a
// test can hold time still.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithHashCost makes password hashes cheaper, for tests that are not
// about hashing: under the race detector a default hash takes most of a
// second, and every server a test starts makes one or two.
func WithHashCost(c auth.Cost) Option {
	return func(o *options) { o.hashCost = c }
}

// New builds the server and opens its listeners; Run serves.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (_ *App, err error) {
	o := options{now: time.Now, hashCost: auth.DefaultCost, tlsReload: tlsconfig.ReloadInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, leftRefunds: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "enhance_abandoned_charges_refunded_total",
		Help: "Charges refunded because the request that reserved them was gone: its process died (dead_process) or it outlived the longest request (stale).",
	}, []string{"why"})}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	// Traces, when the standard OTEL_* variables ask for them.
	if a.tracing, err = telemetry.New(ctx, os.Getenv, log); err != nil {
		return nil, err
	}
	if a.tracing.Enabled() {
		log.Info("tracing on", "exporter", a.tracing.Exporter)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data dir: %w", err)
	}
	if a.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if a.tls, err = tlsconfig.Load(cfg.TLSCert, cfg.TLSKey, filepath.Join(cfg.DataDir, "tls"), time.Now()); err != nil {
		return nil, err
	}
	if r := a.tls.Reloader; r != nil {
		// A renewed certificate (same files, replaced) is served on both
		// doors, and met by the gateway's pin, without a restart.
		watchCtx, stop := context.WithCancel(context.Background())
		watched := make(chan struct{})
		go func() { defer close(watched); r.Watch(watchCtx, o.tlsReload, log) }()
		a.stopTLSWatch = func() { stop(); <-watched }
		log.Info("TLS certificate from files, read again when they change", "cert", cfg.TLSCert, "key", cfg.TLSKey, "every", o.tlsReload)
	}
	// Each image's filters use every core this process may use (GOMAXPROCS
	// follows a container's CPU limit); --workers bounds how many images
	// run at once (the gate below).
	eng, err := engine.New(engine.Config{
		MaxSourcePixels: cfg.MaxSourcePixels, MaxOutputPixels: cfg.MaxOutputPixels,
		MaxJPEGScans: cfg.MaxJPEGScans, MaxFrames: cfg.MaxFrames,
		Workers: runtime.GOMAXPROCS(0),
	})
	if err != nil {
		return nil, err
	}
	fetcher, err := fetch.New(fetch.Config{
		AllowPrivate: cfg.FetchAllowPrivate,
		AllowCIDRs:   cfg.FetchAllowCIDRs,
		Ports:        cfg.FetchPorts,
		MaxBytes:     cfg.MaxBodyBytes,
		Timeout:      cfg.FetchTimeout,
		MaxRedirects: 5,
		IsImage:      func(b []byte) bool { _, err := engine.Sniff(b); return err == nil },
	})
	if err != nil {
		return nil, err
	}
	// The key checksum secret is shared through the database, so every
	// instance accepts the keys any of them issued.
	secret, err := a.store.Secret(ctx, "key-checksum", auth.NewCodecSecret)
	if err != nil {
		return nil, fmt.Errorf("app: key checksum secret: %w", err)
	}
	codec, err := auth.NewCodec(secret)
	if err != nil {
		return nil, err
	}
	if a.verifier, err = auth.NewVerifier(a.store, codec, nil); err != nil {
		return nil, err
	}
	limiter, err := a.openRedis(o.now)
	if err != nil {
		return nil, err
	}
	log.Info("shared state", "database", databaseKind(cfg), "rate_limits_and_revocations", sharingKind(cfg))
	hashes := cfg.PasswordHashes
	if hashes == 0 {
		limit, _, _ := admission.MemoryLimit(os.ReadFile)
		hashes = auth.DefaultHashSlots(limit)
	}
	hasher, err := auth.NewHasherCost(hashes, o.hashCost)
	if err != nil {
		return nil, err
	}
	a.accounts, err = account.New(account.Config{Store: a.store, Codec: codec, Hasher: hasher, RegistrationClosed: cfg.RegistrationClosed, Forget: a.forgetKey, Log: log})
	if err != nil {
		return nil, err
	}
	if cfg.DevAccount {
		if err := a.ensureDevAccount(ctx); err != nil {
			return nil, err
		}
	}
	// This process is alive while it holds its mark; what a dead one
	// left pending is released now, before any request (releaseOrphans).
	a.instance = newInstanceID()
	if a.releaseInstance, err = a.store.Hold(ctx, a.instance); err != nil {
		return nil, err
	}
	if a.ledger, err = credits.NewLedger(a.store, a.instance, nil); err != nil {
		return nil, err
	}
	if err := a.releaseOrphans(ctx, true); err != nil {
		// What could not be judged now is tried again every minute.
		log.Error("releasing what dead server processes held failed", "err", err)
	}
	// A charge still pending after the longest a request may run is
	// refunded whatever process holds it, now and then every minute
	// (sweepStaleCharges): the backstop for charges written before
	// processes named theirs, and for a process that cannot be judged.
	if n, err := a.ledger.RefundStale(ctx, a.staleChargeAge()); err != nil {
		return nil, fmt.Errorf("app: refund stale charges: %w", err)
	} else if n > 0 {
		a.leftRefunds.WithLabelValues("stale").Add(float64(n))
		log.Warn("refunded charges left pending by an earlier run", "charges", n)
	}
	keyManager, err := apikeys.New(a.store, codec, forgetter(a.forgetKey), nil)
	if err != nil {
		return nil, err
	}
	keys, err := apiv1.NewKeyServer(keyManager)
	if err != nil {
		return nil, err
	}
	usage, err := apiv1.NewUsageServer(a.ledger)
	if err != nil {
		return nil, err
	}
	// Each image request is weighed by the memory its work will hold
	// (engine.Plan, from the header) and waits until that fits in the
	// budget beside the images already at work.
	budget, budgetFrom := cfg.MemoryBudget, "--memory-budget"
	if budget == 0 {
		budget, budgetFrom = admission.DefaultBudget()
	}
	gate, err := admission.New(admission.Config{Workers: cfg.Workers, Queue: cfg.Queue, Budget: budget})
	if err != nil {
		return nil, err
	}
	log.Info("image memory budget", "budget", admission.Bytes(budget), "bytes", budget, "from", budgetFrom)
	// The service's own metrics (server.Metrics): requests by plan, the
	// image stages and sources, credits and authentication failures.
	ownMetrics := server.NewMetrics()
	observers := []apiv1.Observer{ownMetrics}
	if a.tracing.Enabled() {
		observers = append(observers, a.tracing)
	}
	images, err := apiv1.NewImageServer(eng, fetcher, gate, cfg.MaxBodyBytes, log, observers...)
	if err != nil {
		return nil, err
	}
	accounts, err := apiv1.NewAccountServer(a.accounts, a.store)
	if err != nil {
		return nil, err
	}

	registry := prometheus.NewRegistry()
	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	registry.MustRegister(metrics, ownMetrics, a.leftRefunds, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerGateMetrics(registry, gate)
	registerLimiterMetrics(registry, limiter)
	if a.revocations != nil {
		a.revocationsHeard = prometheus.NewCounter(prometheus.CounterOpts{Name: "enhance_key_revocations_heard_total", Help: "Revoked or rotated keys announced over Redis and dropped from this instance's cache of verified keys."})
		registry.MustRegister(a.revocationsHeard)
	}

	// The gateway proves to the gRPC server that it is the gateway, so
	// that its word on who its client is is believed.
	proof := clientaddr.NewProof()
	a.grpcServer, err = server.New(server.Config{
		TLS: a.tls.ServerConfig([]string{"h2"}),
		// An inline image plus protobuf framing and options.
		MaxRecvBytes:   int(cfg.MaxBodyBytes) + 1<<20,
		MaxSendBytes:   maxResponseBytes,
		RequestTimeout: cfg.RequestTimeout,
		Access:         apiv1.Access,
		RateLimiter:    limiter,
		Errors:         apiv1.Errors,
		AbandonAfter:   a.staleChargeAge(),
		Instance:       a.instance,
		GatewayProof:   proof,
		Metrics:        ownMetrics,
		StatsHandler:   a.tracing.ServerHandler(),
	}, a.verifier, a.store, a.ledger, metrics, log)
	if err != nil {
		return nil, err
	}
	enhancev1.RegisterImageServiceServer(a.grpcServer, images)
	enhancev1.RegisterAccountServiceServer(a.grpcServer, accounts)
	enhancev1.RegisterKeyServiceServer(a.grpcServer, keys)
	enhancev1.RegisterUsageServiceServer(a.grpcServer, usage)
	a.health = health.NewServer()
	healthpb.RegisterHealthServer(a.grpcServer, a.health)
	reflection.Register(a.grpcServer)
	if err := server.CheckAccess(a.grpcServer, apiv1.Access); err != nil {
		return nil, err
	}
	metrics.InitializeMetrics(a.grpcServer)

	if a.grpcListener, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("app: gRPC listener: %w", err)
	}
	if a.httpListener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("app: HTTPS listener: %w", err)
	}
	if cfg.MetricsAddr != "" {
		if a.metricsLis, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("app: metrics listener: %w", err)
		}
		a.metricsServer = &http.Server{
			Handler:           promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
			ReadHeaderTimeout: 5 * time.Second,
		}
	}

	// The gateway dials the gRPC server like any client, so the full
	// interceptor chain guards REST calls too; but over an in-memory
	// connection the same server serves, not TCP on loopback: no kernel
	// round trip, no port an outside caller could reach. grpc.Creds holds
	// for every listener of the server, so this connection is TLS too,
	// with the gateway's pin: a few microseconds of AES for a small image.
	a.gatewayListener = bufconn.Listen(gatewayBufferBytes)
	a.conn, err = grpc.NewClient("passthrough:///"+gatewayTarget,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return a.gatewayListener.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(credentials.NewTLS(a.tls.PinnedClientConfig())),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes), grpc.MaxCallSendMsgSize(int(cfg.MaxBodyBytes)+1<<20)),
	)
	if err != nil {
		return nil, fmt.Errorf("app: gateway connection: %w", err)
	}
	pages, err := dashboard.New()
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(ctx, gateway.Config{
		Conn:          a.conn,
		MaxImageBytes: cfg.MaxBodyBytes,
		Ready:         a.ready,
		OpenAPI:       openapi.JSON(),
		Proof:         proof,
		Dashboard:     pages,
		Tracing:       a.tracing,
		Answered:      ownMetrics.GatewayAnswer,
	}, log)
	if err != nil {
		return nil, err
	}
	a.httpServer = &http.Server{
		Handler:           a.tracing.Handler(gw),
		TLSConfig:         a.tls.ServerConfig([]string{"h2", "http/1.1"}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    server.MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:      server.MaxConcurrentStreams,
			MaxReceiveBufferPerStream: 1 << 20,
			SendPingTimeout:           20 * time.Second,
			PingTimeout:               20 * time.Second,
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// openRedis connects to Redis when --redis-url names one and returns the
// rate limiter: shared through Redis, falling back to this process's own
// while Redis cannot be reached, so that an outage of Redis never stops
// the service; without Redis, this process's own.
func (a *App) openRedis(now func() time.Time) (ratelimit.Limiter, error) {
	local := ratelimit.NewLocal(now)
	if a.cfg.RedisURL == "" {
		return local, nil
	}
	var err error
	if a.redis, err = redisclient.New(a.cfg.RedisURL); err != nil {
		return nil, err
	}
	// Redis's clock, not this process's: every instance then counts on
	// one clock. A test's frozen clock applies to the fallback only.
	shared, err := ratelimit.NewRedis(a.redis, ratelimit.KeyPrefix, nil)
	if err != nil {
		return nil, err
	}
	if a.revocations, err = revocation.New(a.redis, revocation.Channel, a.log); err != nil {
		return nil, err
	}
	if a.limiter, err = ratelimit.NewFailover(ratelimit.FailoverConfig{}, shared, local, a.log); err != nil {
		return nil, err
	}
	return a.limiter, nil
}

// forgetKey drops a revoked or rotated key from this instance's cache of
// verified keys and, through Redis, from every other instance's; one that
// misses the message still drops it within auth.CacheTTL.
func (a *App) forgetKey(id string) {
	a.verifier.Forget(id)
	if a.revocations == nil || !a.limiter.Shared() {
		// Without Redis, or while it is down (a publish would only wait
		// out its timeout): other instances drop the key within the
		// cache's life.
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.revocations.Publish(ctx, id); err != nil {
		a.log.Warn("telling other instances of a revoked key failed; they drop it within the cache's life",
			"key_id", id, "cache_ttl", auth.CacheTTL, "err", err)
	}
}

// forgetter makes a function an apikeys.Forgetter.
type forgetter func(id string)

func (f forgetter) Forget(id string) { f(id) }

// registerLimiterMetrics says whether rate limits are shared through
// Redis now, and how many decisions were made alone while it was down.
func registerLimiterMetrics(r prometheus.Registerer, l ratelimit.Limiter) {
	f, ok := l.(*ratelimit.Failover)
	if !ok {
		return
	}
	r.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enhance_ratelimit_shared", Help: "1 while rate limits are shared through Redis; 0 while this instance limits alone because Redis cannot be reached."},
			func() float64 {
				if f.Shared() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "enhance_ratelimit_fallback_decisions_total", Help: "Rate-limit decisions made by this instance alone because Redis could not be reached."},
			func() float64 { return float64(f.Fallbacks()) }),
	)
}

func databaseKind(cfg config.Config) string {
	if cfg.DatabaseURL != "" {
		return "postgresql"
	}
	return "sqlite in " + cfg.DataDir
}

func sharingKind(cfg config.Config) string {
	if cfg.RedisURL != "" {
		return "redis"
	}
	return "this process only"
}

// openStore opens PostgreSQL when --database-url names one, shared by
// every instance, else SQLite in the data folder.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return storepostgres.Open(ctx, cfg.DatabaseURL)
	}
	return storesqlite.Open(ctx, filepath.Join(cfg.DataDir, "enhance.db"))
}

// registerGateMetrics exports the image workers' load and the memory
// budget's, so operators see saturation before callers see 429s.
func registerGateMetrics(r prometheus.Registerer, g *admission.Gate) {
	r.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enhance_image_workers", Help: "Images that may be worked on at once."},
			func() float64 { return float64(g.Workers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enhance_image_workers_busy", Help: "Images being worked on now."},
			func() float64 { return float64(g.Stats().Working) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enhance_image_requests_waiting", Help: "Admitted image requests holding no worker: queued, or reading their source."},
			func() float64 { return float64(g.Stats().Waiting) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "enhance_image_requests_refused_total", Help: "Image requests answered 429 because workers and queue were full."},
			func() float64 { return float64(g.Stats().Refused) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enhance_image_memory_budget_bytes", Help: "Memory the images being worked on may hold together (--memory-budget)."},
			func() float64 { return float64(g.Budget()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enhance_image_memory_reserved_bytes", Help: "Memory reserved now by the images being worked on, by their estimated weight."},
			func() float64 { return float64(g.Stats().Reserved) }),
	)
}

// maxResponseBytes bounds an encoded output image (64 megapixels as PNG
// is at most about 256 MiB uncompressed RGBA).
const maxResponseBytes = 256 << 20

// gatewayTarget names the gateway's in-memory connection (its TLS server
// name; the gateway trusts the server's certificate by its pin).
const gatewayTarget = "enhance-gateway.internal"

// gatewayBufferBytes is each direction's buffer of the in-memory
// connection: a writer waits while it is full, as on a socket. 256 KiB
// holds a small image in one write and is allocated once per connection.
const gatewayBufferBytes = 256 << 10

// HTTPAddr is the REST listener's address.
func (a *App) HTTPAddr() string { return a.httpListener.Addr().String() }

// GRPCAddr is the gRPC listener's address.
func (a *App) GRPCAddr() string { return a.grpcListener.Addr().String() }

// MetricsAddr is the metrics listener's address, "" when off.
func (a *App) MetricsAddr() string {
	if a.metricsLis == nil {
		return ""
	}
	return a.metricsLis.Addr().String()
}

// CAPath is the development CA clients should trust; "" with a real certificate.
func (a *App) CAPath() string { return a.tls.CAPath }

// DevKey is the development key made by this start, "" if none was.
func (a *App) DevKey() string { return a.devKey }

// DevPassword is the development account's password made by this start,
// "" if none was.
func (a *App) DevPassword() string { return a.devPassword }

// Store is the state behind the server; tests use it to inspect results.
func (a *App) Store() store.Store { return a.store }

func (a *App) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	resp, err := healthpb.NewHealthClient(a.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("gRPC health: %w", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("gRPC health: %s", resp.GetStatus())
	}
	return nil
}

// Run serves until ctx ends, then stops taking new work, lets in-flight
// requests finish (up to ShutdownTimeout) and releases everything.
func (a *App) Run(ctx context.Context) error {
	errc := make(chan error, 4)
	go func() { errc <- a.grpcServer.Serve(a.grpcListener) }()
	go func() { errc <- a.grpcServer.Serve(a.gatewayListener) }()
	go func() {
		if err := a.httpServer.ServeTLS(a.httpListener, "", ""); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	if a.metricsServer != nil {
		go func() {
			if err := a.metricsServer.Serve(a.metricsLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	a.log.Info("serving", "https", a.HTTPAddr(), "grpc", a.GRPCAddr(), "metrics", a.MetricsAddr())
	flushDone := make(chan struct{})
	flushCtx, stopFlush := context.WithCancel(context.Background())
	go func() {
		defer close(flushDone)
		// Both end before close releases the store they use.
		swept, listened, kept := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() { defer close(swept); a.sweepStaleCharges(flushCtx) }()
		go func() { defer close(kept); a.keepAliveEvery(flushCtx) }()
		go func() {
			defer close(listened)
			if a.revocations != nil {
				a.revocations.Listen(flushCtx, func(id string) {
					a.verifier.Forget(id)
					a.revocationsHeard.Inc()
				})
			}
		}()
		a.flushLastUse(flushCtx)
		<-swept
		<-listened
		<-kept
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		a.log.Error("listener failed", "err", runErr)
	}
	a.log.Info("shutting down: finishing in-flight requests", "timeout", a.cfg.ShutdownTimeout)
	a.health.Shutdown()
	stopCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	// REST first: its in-flight requests still need the gRPC server.
	if err := a.httpServer.Shutdown(stopCtx); err != nil {
		a.log.Warn("HTTPS shutdown incomplete", "err", err)
	}
	stopped := make(chan struct{})
	go func() { a.grpcServer.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-stopCtx.Done():
		a.grpcServer.Stop()
	}
	if a.metricsServer != nil {
		a.metricsServer.Close()
	}
	stopFlush()
	<-flushDone
	a.close()
	a.log.Info("stopped")
	return runErr
}

// flushLastUse writes key last-use times every lastUseFlush until ctx
// ends, and once more then.
func (a *App) flushLastUse(ctx context.Context) {
	t := time.NewTicker(lastUseFlush)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		if err := a.verifier.FlushLastUse(context.Background()); err != nil {
			a.log.Error("writing key last-use times failed", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// staleChargeAge is older than any request can run: a charge still
// pending after it belongs to a request whose server died.
func (a *App) staleChargeAge() time.Duration {
	return a.cfg.RequestTimeout + time.Minute
}

// keepAliveInterval is how often the liveness mark is checked: well
// inside the sweep's minute, so that a mark lost with a database
// connection is back before another instance's second look.
const keepAliveInterval = 5 * time.Second

// keepAliveEvery runs keepAlive every keepAliveInterval until ctx ends.
func (a *App) keepAliveEvery(ctx context.Context) {
	t := time.NewTicker(keepAliveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.keepAlive(ctx)
		}
	}
}

// keepAlive takes this process's liveness mark again if it was lost (a
// PostgreSQL connection that dropped): without it, other instances would
// take the process for dead and refund its requests while they run.
func (a *App) keepAlive(ctx context.Context) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	alive, err := a.store.Alive(ctx, a.instance)
	if err != nil || alive {
		return
	}
	a.log.Warn("this process's liveness mark was lost; taking it again", "instance", a.instance)
	a.releaseInstance()
	release, err := a.store.Hold(ctx, a.instance)
	if err != nil {
		a.log.Error("taking the liveness mark again failed; retrying in a minute", "err", err)
		a.releaseInstance = func() error { return nil }
		return
	}
	a.releaseInstance = release
}

// sweepStaleCharges refunds dead requests' charges every minute until ctx
// ends, for instances that outlive the one that died, and forgets
// idempotency keys older than a day.
func (a *App) sweepStaleCharges(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.releaseOrphans(ctx, false); err != nil {
				a.log.Error("releasing what dead server processes held failed", "err", err)
			}
			if n, err := a.ledger.RefundStale(ctx, a.staleChargeAge()); err != nil {
				a.log.Error("refunding stale charges failed", "err", err)
			} else if n > 0 {
				a.leftRefunds.WithLabelValues("stale").Add(float64(n))
				a.log.Warn("refunded charges left pending by a dead request", "charges", n)
			}
			if _, err := a.store.SweepIdempotent(ctx, time.Now().Add(-idempotency.TTL)); err != nil {
				a.log.Error("sweeping idempotency keys failed", "err", err)
			}
		}
	}
}

// close releases what New acquired; safe on a partly built App.
func (a *App) close() {
	if a.stopTLSWatch != nil {
		a.stopTLSWatch()
	}
	if a.conn != nil {
		a.conn.Close()
	}
	for _, l := range []net.Listener{a.grpcListener, a.httpListener, a.metricsLis} {
		if l != nil {
			l.Close()
		}
	}
	if a.gatewayListener != nil {
		a.gatewayListener.Close()
	}
	a.liveMu.Lock()
	if a.releaseInstance != nil {
		a.releaseInstance()
	}
	a.liveMu.Unlock()
	if a.store != nil {
		a.store.Close()
	}
	if a.redis != nil {
		a.redis.Close()
	}
	// Last: the spans of everything above are exported before exit.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.tracing.Shutdown(ctx); err != nil {
		a.log.Warn("tracing: exporting the last spans failed", "err", err)
	}
}
