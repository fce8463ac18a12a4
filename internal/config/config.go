// Package config holds the server's settings and loads them from flags,
// their ENHANCE_* environment twins and an optional YAML file (a flag wins
// over its twin, which wins over the file, which wins over the default).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smartimage/enhance/internal/throttle"
)

// Config is every setting of the server.
type Config struct {
	// File is the YAML file the settings were read from (--config or
	// ENHANCE_CONFIG), "" for none.
	File        string
	HTTPAddr    string
	GRPCAddr    string
	MetricsAddr string
	DataDir     string
	TLSCert     string
	TLSKey      string
	// DatabaseURL, when set (postgres://...), puts accounts, keys, credits
	// and the ledger in PostgreSQL, shared by every instance; empty keeps
	// them in SQLite under DataDir.
	DatabaseURL string
	// RedisURL, when set (redis://... or rediss://...), shares rate limits
	// and key revocations between instances.
	RedisURL string

	// FetchAllowPrivate lets imageUrl reach loopback and private addresses.
	FetchAllowPrivate bool
	// RegistrationClosed refuses POST /v1/accounts.
	RegistrationClosed bool
	// DevAccount creates a development account and key on an empty
	// database and writes the key to <data-dir>/dev-api-key.
	DevAccount bool

	MaxSourcePixels int
	MaxOutputPixels int
	MaxBodyBytes    int64
	MaxJPEGScans    int
	MaxFrames       int
	// FetchPorts are the ports imageUrl may reach (80 and 443 by default).
	FetchPorts []uint16
	// FetchAllowCIDRs are non-public networks imageUrl may reach anyway,
	// such as an internal image store.
	FetchAllowCIDRs []netip.Prefix
	FetchTimeout    time.Duration
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	// Workers is how many images are worked on at once; Queue how many
	// more requests may wait for a worker before new ones get 429.
	Workers int
	Queue   int
	// LogFormat is text, json, or auto: text when stderr is a terminal
	// (a person running it), JSON otherwise (a container, a service
	// manager, a pipe to a log shipper).
	LogFormat string
	// PasswordHashes is how many password hashes run at once (0: half
	// the CPUs, fewer under a small memory limit; auth.DefaultHashSlots of
	// admission.MemoryLimit).
	PasswordHashes int
	// MemoryBudget is the memory, in bytes, the images being worked on
	// may hold together (each weighed from its header before decoding);
	// 0 means half the memory limit read at start (the cgroup's, else
	// physical memory: admission.DefaultBudget).
	MemoryBudget int64
}

// Load reads the settings: each from its flag in args (without the
// program name), else its ENHANCE_* twin from getenv, else its key in the
// --config file (or ENHANCE_CONFIG), else its default. Every problem found,
// in any of them and by Validate, is reported together, each naming where
// its value came from; a password in a URL is never repeated. Only a
// malformed command line (an unknown flag, a flag without its value) stops
// at once, with the usage.
func Load(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("enhanced", flag.ContinueOnError)
	fs.SetOutput(usage)
	define(fs, &c)
	// A bad value on the command line is noted, not fatal, so that it is
	// reported with the rest; -h prints the flags as they were defined.
	var errs []error
	fs.VisitAll(func(f *flag.Flag) { f.Value = &noting{Value: f.Value, name: f.Name, errs: &errs} })
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage of %s:\n", fs.Name())
		plain := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		plain.SetOutput(usage)
		define(plain, new(Config))
		plain.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	cli := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { cli[f.Name] = true })
	if !cli["config"] {
		c.File = getenv(EnvName("config"))
	}
	file, err := readFile(c.File, fs)
	errs = append(errs, err...)

	// A value that loses to a stronger source is still parsed, on a
	// scratch set of flags: a line of the file that does not parse is
	// reported even while a flag hides it, before the day the flag goes.
	scratch := flag.NewFlagSet("", flag.ContinueOnError)
	define(scratch, new(Config))
	origin := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		own := f.Value.(*noting).Value
		env := EnvName(f.Name)
		envValue := getenv(env)
		if s, ok := file[f.Name]; ok {
			v, err := s.text(own)
			if err == nil {
				target := scratch.Lookup(f.Name).Value
				if !cli[f.Name] && envValue == "" {
					target, origin[f.Name] = own, s.where
				}
				err = set(target, v)
				if err != nil {
					err = fmt.Errorf("%s %s: %w", f.Name, show(f.Name, v), err)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", s.where, err))
			}
		}
		if envValue != "" {
			target := scratch.Lookup(f.Name).Value
			if !cli[f.Name] {
				target, origin[f.Name] = own, env
			}
			if err := set(target, envValue); err != nil {
				errs = append(errs, fmt.Errorf("config: %s=%s: %w", env, show(f.Name, envValue), err))
			}
		}
	})
	if c.Queue == -1 {
		c.Queue = 4 * c.Workers
	}
	if err := c.Validate(); err != nil {
		for _, e := range unjoin(err) {
			errs = append(errs, locate(e, origin))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// define declares every setting's flag on fs, writing into c.
func define(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.File, "config", "", "YAML file of settings keyed by flag name (http-addr: \":8443\"); flags and ENHANCE_* variables win over it")
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8443", "HTTPS address of the REST gateway")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", ":9443", "TLS address of the gRPC server")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "127.0.0.1:9090", "address of the Prometheus metrics endpoint (empty: off)")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "folder for the SQLite database and the development certificate")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://user:password@host:5432/db) for state shared by several instances; empty: SQLite in --data-dir")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis URL (redis://host:6379/0) to share rate limits and key revocations between instances; empty: in this process only")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate, read again whenever the file changes; without it a development certificate is made")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.BoolVar(&c.RegistrationClosed, "registration-closed", false, "refuse new accounts (POST /v1/accounts answers 403)")
	fs.BoolVar(&c.FetchAllowPrivate, "fetch-allow-private", false, "let imageUrl reach private and loopback addresses on any port (development and tests only)")
	fs.BoolVar(&c.DevAccount, "dev-account", false, "on an empty database, create a development account and write its key to <data-dir>/dev-api-key")
	fs.IntVar(&c.MaxSourcePixels, "max-source-pixels", 25_000_000, "largest source image, in pixels, checked before decoding")
	fs.IntVar(&c.MaxOutputPixels, "max-output-pixels", 64_000_000, "largest output image, in pixels, checked before upscaling")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 20<<20, "largest uploaded or fetched image, in bytes")
	fs.IntVar(&c.MaxJPEGScans, "max-jpeg-scans", 100, "most scans a progressive JPEG may have")
	fs.IntVar(&c.MaxFrames, "max-frames", 1000, "most frames an animated PNG or WebP may have (only the first is used)")
	c.FetchPorts = []uint16{80, 443}
	fs.Func("fetch-ports", "comma-separated ports imageUrl may reach (default 80,443)", func(v string) error {
		ports, err := parsePorts(v)
		if err == nil {
			c.FetchPorts = ports
		}
		return err
	})
	fs.Func("fetch-allow-cidrs", "comma-separated private networks imageUrl may reach anyway, e.g. 10.1.2.0/24 for an internal image store", func(v string) error {
		cidrs, err := parseCIDRs(v)
		if err == nil {
			c.FetchAllowCIDRs = cidrs
		}
		return err
	})
	fs.DurationVar(&c.FetchTimeout, "fetch-timeout", 10*time.Second, "time allowed to download an imageUrl")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 30*time.Second, "longest a request may run, whatever the client asks")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 35*time.Second, "how long SIGTERM waits for in-flight requests")
	// GOMAXPROCS, not NumCPU: since Go 1.25 it follows a container's CPU
	// limit (rounded up, at least 2), where NumCPU counts the node's cores.
	fs.IntVar(&c.Workers, "workers", runtime.GOMAXPROCS(0), "images worked on at once (each also uses every core for its filters); the default is GOMAXPROCS, the CPUs this process may use: a container's CPU limit, rounded up (at least 2), else the machine's")
	c.Queue = -1 // until set: four per worker, decided after parsing
	fs.Func("queue", "requests that may wait for a worker before new ones get 429 (default 4 × workers)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err == nil && n < 0 {
			// Refused here: -1 is the mark of a queue left unset.
			err = errors.New("must not be negative")
		}
		if err == nil {
			c.Queue = n
		}
		return err
	})
	fs.Func("memory-budget", "memory the images being worked on may hold together, in bytes or with a unit (1.5GiB, 800MiB, 2GB); an image that needs more is refused (default: half the cgroup memory limit, else of physical memory)", func(v string) error {
		n, err := parseBytes(v)
		if err == nil {
			c.MemoryBudget = n
		}
		return err
	})
	fs.StringVar(&c.LogFormat, "log-format", "auto", "log format: text, json, or auto (text when stderr is a terminal, JSON otherwise: in a container or under a service manager)")
	fs.IntVar(&c.PasswordHashes, "password-hashes", 0, "password hashes computed at once, each holding 19 MiB and a core (0: half of GOMAXPROCS, fewer under a small GOMEMLIMIT or cgroup memory limit)")
}

// EnvName is the environment twin of a flag: "http-addr" → ENHANCE_HTTP_ADDR.
func EnvName(flagName string) string {
	return "ENHANCE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.HTTPAddr == "" || c.GRPCAddr == "" {
		errs = append(errs, invalid("--http-addr and --grpc-addr must be set", "http-addr", "grpc-addr"))
	}
	if c.DataDir == "" {
		errs = append(errs, invalid("--data-dir must be set", "data-dir"))
	}
	if err := checkURL("database-url", c.DatabaseURL, "postgres", "postgresql"); err != nil {
		errs = append(errs, err)
	}
	if err := checkURL("redis-url", c.RedisURL, "redis", "rediss", "unix"); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, invalid("--tls-cert and --tls-key go together", "tls-cert", "tls-key"))
	}
	if c.MaxSourcePixels <= 0 {
		errs = append(errs, invalid("--max-source-pixels must be positive", "max-source-pixels"))
	}
	if c.MaxOutputPixels <= 0 {
		errs = append(errs, invalid("--max-output-pixels must be positive", "max-output-pixels"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, invalid("--max-body-bytes must be positive", "max-body-bytes"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"fetch-timeout", c.FetchTimeout}, {"request-timeout", c.RequestTimeout}, {"shutdown-timeout", c.ShutdownTimeout}} {
		if d.d <= 0 {
			errs = append(errs, invalid("--"+d.name+" must be positive", d.name))
		}
	}
	if c.RequestTimeout >= throttle.Hold {
		// A request still running past Hold has lost its place among the
		// throttles' attempts in flight, which then stop counting it.
		errs = append(errs, invalid(fmt.Sprintf("--request-timeout must be under %s, how long a throttled attempt in flight is held", throttle.Hold), "request-timeout"))
	}
	if c.Workers <= 0 {
		errs = append(errs, invalid("--workers must be positive", "workers"))
	}
	if c.MaxJPEGScans <= 0 || c.MaxFrames <= 0 {
		errs = append(errs, invalid("--max-jpeg-scans and --max-frames must be positive", "max-jpeg-scans", "max-frames"))
	}
	if len(c.FetchPorts) == 0 {
		errs = append(errs, invalid("--fetch-ports must name at least one port", "fetch-ports"))
	}
	if c.Queue < 0 {
		errs = append(errs, invalid("--queue must not be negative", "queue"))
	}
	if c.MemoryBudget < 0 {
		errs = append(errs, invalid("--memory-budget must not be negative", "memory-budget"))
	}
	if c.PasswordHashes < 0 {
		errs = append(errs, invalid("--password-hashes must not be negative", "password-hashes"))
	}
	if c.LogFormat != "auto" && c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, invalid("--log-format must be auto, text or json", "log-format"))
	}
	return errors.Join(errs...)
}

// invalidError is a setting Validate refuses; flags names the settings
// it concerns, so that Load can say where each value came from.
type invalidError struct {
	msg   string
	flags []string
}

func invalid(msg string, flags ...string) error { return &invalidError{msg: msg, flags: flags} }

func (e *invalidError) Error() string { return "config: " + e.msg }

// locate adds to a refusal from Validate where the values it concerns
// came from, unless every one is from the command line (which the message
// names already) or a default.
func locate(err error, origin map[string]string) error {
	var bad *invalidError
	if !errors.As(err, &bad) {
		return err
	}
	var from []string
	for _, f := range bad.flags {
		if o := origin[f]; o != "" {
			from = append(from, fmt.Sprintf("--%s from %s", f, o))
		}
	}
	if len(from) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(from, ", "))
}

// unjoin lists the errors errors.Join put together.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// noting is a flag's value that notes a bad value among errs instead of
// stopping the parse, so that a bad flag is reported with every other
// problem.
type noting struct {
	flag.Value
	name string
	errs *[]error
}

func (n *noting) Set(v string) error {
	if err := set(n.Value, v); err != nil {
		*n.errs = append(*n.errs, fmt.Errorf("config: --%s %s: %w", n.name, show(n.name, v), err))
	}
	return nil
}

// set sets a flag's value to s, leaving it as it was when s is refused:
// the flag package's numbers take 0 on a parse error, which Validate would
// then refuse again. (The Func flags here change nothing on an error.)
func set(v flag.Value, s string) error {
	g, ok := v.(flag.Getter)
	if !ok {
		return v.Set(s)
	}
	was := g.String()
	err := v.Set(s)
	if err != nil {
		_ = v.Set(was)
	}
	return err
}

// IsBoolFlag keeps a boolean flag usable without a value (--dev-account).
func (n *noting) IsBoolFlag() bool {
	b, ok := n.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// show quotes a value for an error message, unless it may hold a password.
func show(flagName, v string) string {
	if secret(flagName) {
		return "(value not shown)"
	}
	return strconv.Quote(v)
}

// secret reports whether a setting's value may hold a password.
func secret(flagName string) bool {
	return flagName == "database-url" || flagName == "redis-url"
}

// checkURL refuses a set URL whose scheme is not one of schemes; the
// drivers check the rest when they connect (a PostgreSQL URL may name
// its host, a Unix socket folder, in its query). The message never
// repeats the URL: it may hold a password.
func checkURL(flagName, v string, schemes ...string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || !slices.Contains(schemes, u.Scheme) {
		return invalid(fmt.Sprintf("--%s must be a URL like %s://host/...", flagName, schemes[0]), flagName)
	}
	return nil
}

func parsePorts(v string) ([]uint16, error) {
	var ports []uint16
	for f := range strings.SplitSeq(v, ",") {
		p, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("%q is not a port", f)
		}
		ports = append(ports, uint16(p))
	}
	return ports, nil
}

func parseCIDRs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network like 10.1.2.0/24", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// byteUnits are the units --memory-budget takes, longest first so that
// "MiB" is not read as "B".
var byteUnits = []struct {
	suffix string
	size   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// parseBytes reads a size in bytes: a plain number, or a number and a
// unit (KiB, MiB, GiB, TiB; KB, MB, GB, TB; B), any case, a space allowed.
func parseBytes(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	size := 1.0
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, size = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n >= 0 && n*size < 1<<62) { // also refuses NaN and Inf
		return 0, fmt.Errorf("%q is not a size like 1073741824, 1GiB or 800MiB", v)
	}
	return int64(n * size), nil
}
