// Package clientaddr finds the network address a request came from, for
// audit records and throttling.
package clientaddr

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// From returns the caller's IP address. A direct gRPC caller is its TCP
// peer. A REST call reaches the gRPC server from the gateway on this
// machine, which appends the real client to X-Forwarded-For: only then,
// with a loopback peer, is the last entry of that header believed, since
// anything before it was written by the client.
func From(ctx context.Context) string {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(pr.Addr.String())
	if err != nil {
		host = pr.Addr.String()
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return host
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-forwarded-for"); len(v) > 0 {
		hops := strings.Split(v[len(v)-1], ",")
		if last := strings.TrimSpace(hops[len(hops)-1]); last != "" {
			if a, err := netip.ParseAddr(last); err == nil {
				return a.String()
			}
		}
	}
	return host
}
