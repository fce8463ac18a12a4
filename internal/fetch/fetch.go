// Package fetch downloads source images from caller-supplied URLs without
// letting those URLs reach the service's own network: every address
// actually dialled, on every redirect, is checked, and the body is read
// through a hard byte limit.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors callers map to responses. Their messages are safe to show; the
// upstream's own words never are.
var (
	// ErrRefused: the URL's scheme, port or address is not allowed. Every
	// refusal shows this one message; *RefusedError carries the reason
	// for the log.
	ErrRefused = errors.New("the source URL is not allowed: only http and https URLs on public addresses and allowed ports can be fetched")
	// ErrUnreachable: the source could not be downloaded.
	ErrUnreachable = errors.New("the source URL could not be fetched")
	// ErrTooLarge: the body exceeded the byte limit.
	ErrTooLarge = errors.New("the source image is larger than the byte limit")
	// ErrNotImage: the body does not start like an accepted image.
	ErrNotImage = errors.New("unsupported image format: the source URL did not return a JPEG, PNG or WebP image")
)

// RefusedError is a refusal with its reason. Its message is ErrRefused's
// alone, so callers cannot learn which check a URL failed; Reason is for
// the operator's log.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return ErrRefused.Error() }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refused(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// Config bounds what a fetch may do.
type Config struct {
	// AllowPrivate lets URLs reach loopback, private and other non-public
	// addresses on any port: development and tests only.
	AllowPrivate bool
	// AllowCIDRs are non-public networks URLs may reach anyway (an
	// internal image store); the port rule still applies.
	AllowCIDRs []netip.Prefix
	// Ports are the ports URLs may reach; 80 and 443 when empty.
	Ports []uint16
	// MaxBytes is the largest body read.
	MaxBytes int64
	// Timeout bounds the whole download, connection included.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed.
	MaxRedirects int
	// IsImage judges a body by its first bytes (at most SniffBytes), so a
	// download that is not an image stops there. Nil accepts anything.
	IsImage func(prefix []byte) bool
	// Resolver looks up host names (net.DefaultResolver when nil); tests
	// point it at their own DNS server.
	Resolver *net.Resolver
}

// SniffBytes is how much of a body IsImage sees.
const SniffBytes = 16

// Fetcher downloads URLs within its Config.
type Fetcher struct {
	cfg    Config
	client *http.Client
}

// New returns a Fetcher after checking cfg.
func New(cfg Config) (*Fetcher, error) {
	if cfg.MaxBytes <= 0 || cfg.Timeout <= 0 || cfg.MaxRedirects < 0 {
		return nil, errors.New("fetch: MaxBytes and Timeout must be positive, MaxRedirects not negative")
	}
	if len(cfg.Ports) == 0 {
		cfg.Ports = []uint16{80, 443}
	}
	f := &Fetcher{cfg: cfg}
	dialer := &net.Dialer{
		Timeout:  min(cfg.Timeout, 5*time.Second),
		Resolver: cfg.Resolver,
		// Control sees the resolved address about to be dialled, so DNS
		// tricks and odd IP spellings are judged by where they really go.
		Control: func(_, address string, _ syscall.RawConn) error { return f.checkAddress(address) },
	}
	transport := &http.Transport{
		Proxy:                  nil, // never a proxy from the environment
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	f.client = &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrUnreachable, cfg.MaxRedirects)
			}
			return f.checkURL(req.URL)
		},
	}
	return f, nil
}

// Fetch downloads rawURL and returns its body.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, refused("the URL does not parse")
	}
	if err := f.checkURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, refused("no request can be made of the URL")
	}
	req.Header.Set("Accept", "image/jpeg, image/png, image/webp")
	req.Header.Set("User-Agent", "SmartImageEnhancement-Fetcher/1")
	resp, err := f.client.Do(req)
	if err != nil {
		var r *RefusedError
		if errors.As(err, &r) {
			return nil, r
		}
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(ue.Err, ErrUnreachable) {
			return nil, ue.Err // too many redirects, in CheckRedirect's words
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, describe(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: the origin answered HTTP %d", ErrUnreachable, resp.StatusCode)
	}
	// The first bytes decide whether this is an image at all, whatever
	// Content-Type claimed; a web page or an endless stream stops here.
	head := make([]byte, SniffBytes)
	n, err := io.ReadFull(resp.Body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, f.readError(ctx)
	}
	head = head[:n]
	if f.cfg.IsImage != nil && !f.cfg.IsImage(head) {
		return nil, ErrNotImage
	}
	// Read one byte past the limit to tell "exactly at" from "over",
	// whatever Content-Length claimed; the head is read again from memory
	// so the body is assembled once.
	body, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(head), resp.Body), f.cfg.MaxBytes+1))
	if err != nil {
		return nil, f.readError(ctx)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, f.cfg.MaxBytes)
	}
	return body, nil
}

func (f *Fetcher) readError(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: the download did not finish within %v", ErrUnreachable, f.cfg.Timeout)
}

// describe names a transport failure in words safe to show: never the
// origin's own bytes.
func describe(err error) string {
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "the origin did not answer in time"
	case errors.As(err, &dns):
		return "the host name does not resolve"
	}
	return "the connection failed"
}

func (f *Fetcher) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return refused("scheme %q", u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return refused("no host, or credentials in the URL")
	}
	if p := u.Port(); p != "" && !f.cfg.AllowPrivate {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || !slices.Contains(f.cfg.Ports, uint16(n)) {
			return refused("port %s", p)
		}
	}
	// Numeric hosts in the legacy forms inet_aton accepts (2130706433,
	// 0x7f.1, 127.1) are refused outright: some resolvers turn them into
	// addresses, and no legitimate image URL is written that way.
	host := u.Hostname()
	if _, ok := legacyIPv4(host); ok {
		if a, err := netip.ParseAddr(host); err != nil || a.String() != host {
			return refused("legacy IPv4 form %q", host)
		}
	}
	return nil
}

// legacyIPv4 parses host as inet_aton does: one to four parts, each
// decimal, octal (leading 0) or hex (0x), the last filling the
// remaining bytes.
func legacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func (f *Fetcher) checkAddress(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refused("dial address %q does not parse", address)
	}
	if f.cfg.AllowPrivate {
		return nil
	}
	if !slices.Contains(f.cfg.Ports, ap.Port()) {
		return refused("port %d", ap.Port())
	}
	if a := ap.Addr().Unmap(); !IsPublic(a) && !slices.ContainsFunc(f.cfg.AllowCIDRs, func(p netip.Prefix) bool { return p.Contains(a) }) {
		return refused("address %s is not public", a)
	}
	return nil
}

// Non-public ranges beyond what netip's predicates cover.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("fec0::/10"),       // old site-local
}

// IPv6 prefixes that embed an IPv4 address in their low 32 bits
// (NAT64) or at bits 16..48 (6to4); the embedded address is judged too.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64l    = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
	teredo    = netip.MustParsePrefix("2001::/32")
)

// IsPublic reports whether a is a globally routable unicast address.
func IsPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a) || nat64l.Contains(a):
			return IsPublic(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(a):
			return IsPublic(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		case teredo.Contains(a):
			// Teredo's client address is stored inverted.
			return IsPublic(netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}))
		}
		// IPv4-compatible (deprecated) ::a.b.c.d
		if a.Is6() && [12]byte(b[:12]) == [12]byte{} {
			return false
		}
	}
	return true
}
