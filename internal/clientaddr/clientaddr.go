// Package clientaddr finds the network address a request came from, for
// audit records and throttling. A direct gRPC caller is its TCP peer,
// whatever metadata it sends. A REST call reaches the gRPC server through
// the gateway in the same process, which says who its client was and
// proves it is the gateway with a secret made at start (Proof): only then
// is its word taken.
package clientaddr

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"net"
	"net/netip"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// The metadata the gateway adds to every call it makes.
const (
	// ProofHeader carries the gateway's proof.
	ProofHeader = "x-enhance-gateway-proof"
	// ClientHeader carries the address of the gateway's client.
	ClientHeader = "x-enhance-client"
)

// Proof is the secret the gateway shows: made afresh by each process, and
// known only to its gateway and its gRPC server.
type Proof string

// NewProof makes a proof.
func NewProof() Proof { return Proof(rand.Text()) }

// Metadata is what the gateway adds to a call made for client.
func (p Proof) Metadata(client string) metadata.MD {
	return metadata.Pairs(ProofHeader, string(p), ClientHeader, client)
}

// Resolve is the caller's IP address: the client the gateway names when
// the call carries proof, the TCP peer otherwise.
func Resolve(ctx context.Context, proof Proof) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if shown := md.Get(ProofHeader); proof != "" && len(shown) == 1 &&
		subtle.ConstantTimeCompare([]byte(shown[0]), []byte(proof)) == 1 {
		if c := md.Get(ClientHeader); len(c) == 1 {
			if a, err := netip.ParseAddr(c[0]); err == nil {
				return a.String()
			}
		}
	}
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(pr.Addr.String())
	if err != nil {
		return pr.Addr.String()
	}
	return host
}

type key struct{}

// With returns ctx carrying addr, the address Resolve found.
func With(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, key{}, addr)
}

// From is the caller's address that the server's interceptor resolved,
// "" when there is none.
func From(ctx context.Context) string {
	addr, _ := ctx.Value(key{}).(string)
	return addr
}

// Bucket is the part of addr that throttles count as one client: an IPv6
// address's /64, which one customer's line is given whole, so that
// rotating through its 2^64 addresses is one client; an IPv4-mapped IPv6
// address as the IPv4 address it is; an IPv4 address as itself. What does
// not parse is its own bucket.
func Bucket(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}
