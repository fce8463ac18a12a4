// Command enhanced is the Smart Image Enhancement server: gRPC over TLS
// and the REST gateway over HTTPS. Every flag has an ENHANCE_* twin and a
// key in the optional --config file; run with -h for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/redis/go-redis/v9"
	"golang.org/x/term"

	"github.com/smartimage/enhance/internal/app"
	"github.com/smartimage/enhance/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "enhanced:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	log := slog.New(logHandler(cfg.LogFormat, os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))))
	if cfg.File != "" {
		log.Info("settings read from a file; flags and ENHANCE_* variables win over it", "file", cfg.File)
	}
	// go-redis reports each failed dial itself, on its own logger; the
	// rate limiter's fallback logs what matters once.
	redis.SetLogger(quietRedisLog{})
	if cfg.FetchAllowPrivate {
		log.Warn("--fetch-allow-private is on: imageUrl may reach loopback and private addresses; never use this in production")
	}
	if len(cfg.FetchAllowCIDRs) > 0 {
		log.Warn("--fetch-allow-cidrs lets imageUrl reach these private networks", "networks", fmt.Sprint(cfg.FetchAllowCIDRs))
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\nSmart Image Enhancement\n  REST:    https://%s\n  gRPC:    %s\n  dashboard: https://%s/dashboard/\n", display(a.HTTPAddr()), display(a.GRPCAddr()), display(a.HTTPAddr()))
	if m := a.MetricsAddr(); m != "" {
		fmt.Fprintf(os.Stderr, "  metrics: http://%s/metrics\n", m)
	}
	if ca := a.CAPath(); ca != "" {
		fmt.Fprintf(os.Stderr, "  development CA (trust it): %s\n", ca)
	}
	keyFile, passwordFile := filepath.Join(cfg.DataDir, app.DevKeyFile), filepath.Join(cfg.DataDir, app.DevPasswordFile)
	if k := a.DevKey(); k != "" {
		fmt.Fprintf(os.Stderr, "  development API key, allowed every scope (shown once; also in %s):\n    %s\n", keyFile, k)
		fmt.Fprintf(os.Stderr, "  development account: %s, password %s (also in %s)\n", app.DevEmail, a.DevPassword(), passwordFile)
	} else if cfg.DevAccount {
		fmt.Fprintf(os.Stderr, "  development API key: in %s\n", keyFile)
		if _, err := os.Stat(passwordFile); err == nil {
			fmt.Fprintf(os.Stderr, "  development account: %s, password in %s\n", app.DevEmail, passwordFile)
		}
	}
	fmt.Fprintln(os.Stderr)
	return a.Run(ctx)
}

// logHandler writes the log in format: text or json, or auto, which is
// text for a person at a terminal (make run) and JSON where stderr is not
// one, which is how a container, a service manager or a log shipper runs
// the server: production, for the log's purposes.
func logHandler(format string, w io.Writer, terminal bool) slog.Handler {
	if format == "text" || format == "auto" && terminal {
		return slog.NewTextHandler(w, nil)
	}
	return slog.NewJSONHandler(w, nil)
}

// quietRedisLog drops go-redis's own log lines.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

// display names an address as a client would dial it: a listener on every
// interface is reached at localhost, which the development certificate
// covers.
func display(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
