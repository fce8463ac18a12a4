// Package fetch downloads source images from caller-supplied URLs without
// letting those URLs reach the service's own network: every address
// actually dialled, on every redirect, is checked, and the body is read
// through a hard byte limit.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors callers map to responses. Their messages are safe to show; the
// upstream's own words never are.
var (
	// ErrRefused: the URL's scheme, port or address is not allowed.
	ErrRefused = errors.New("the source URL is not allowed: only http and https URLs on public addresses can be fetched")
	// ErrUnreachable: the source could not be downloaded.
	ErrUnreachable = errors.New("the source URL could not be fetched")
	// ErrTooLarge: the body exceeded the byte limit.
	ErrTooLarge = errors.New("the source image is larger than the byte limit")
)

// Config bounds what a fetch may do.
type Config struct {
	// AllowPrivate lets URLs reach loopback, private and other non-public
	// addresses on any port: development and tests only.
	AllowPrivate bool
	// MaxBytes is the largest body read.
	MaxBytes int64
	// Timeout bounds the whole download, connection included.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed.
	MaxRedirects int
}

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
	f := &Fetcher{cfg: cfg}
	dialer := &net.Dialer{
		Timeout: min(cfg.Timeout, 5*time.Second),
		// Control sees the resolved address about to be dialled, so DNS
		// tricks and odd IP spellings are judged by where they really go.
		Control: func(_, address string, _ syscall.RawConn) error { return f.checkAddress(address) },
	}
	transport := &http.Transport{
		Proxy:                 nil, // never a proxy from the environment
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
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
		return nil, fmt.Errorf("%w (the URL does not parse)", ErrRefused)
	}
	if err := f.checkURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, ErrRefused
	}
	req.Header.Set("Accept", "image/jpeg, image/png, image/webp")
	req.Header.Set("User-Agent", "SmartImageEnhancement-Fetcher/1")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return nil, ErrRefused
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrUnreachable
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: the origin answered HTTP %d", ErrUnreachable, resp.StatusCode)
	}
	// Read one byte past the limit to tell "exactly at" from "over",
	// whatever Content-Length claimed.
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrUnreachable
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, f.cfg.MaxBytes)
	}
	return body, nil
}

func (f *Fetcher) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return ErrRefused
	}
	if u.Host == "" || u.User != nil {
		return ErrRefused
	}
	// Numeric hosts in the legacy forms inet_aton accepts (2130706433,
	// 0x7f.1, 127.1) are refused outright: some resolvers turn them into
	// addresses, and no legitimate image URL is written that way.
	host := u.Hostname()
	if _, ok := legacyIPv4(host); ok {
		if a, err := netip.ParseAddr(host); err != nil || a.String() != host {
			return ErrRefused
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
		return ErrRefused
	}
	if f.cfg.AllowPrivate {
		return nil
	}
	if p := ap.Port(); p != 80 && p != 443 {
		return ErrRefused
	}
	if !IsPublic(ap.Addr()) {
		return ErrRefused
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
