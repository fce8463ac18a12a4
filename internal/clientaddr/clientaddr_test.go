package clientaddr

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	proof := NewProof()
	at := func(addr string, md ...string) context.Context {
		ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 5555}})
		return metadata.NewIncomingContext(ctx, metadata.Pairs(md...))
	}
	require.Equal(t, "203.0.113.9", Resolve(at("203.0.113.9"), proof))
	require.Equal(t, "198.51.100.1", Resolve(at("127.0.0.1", ProofHeader, string(proof), ClientHeader, "198.51.100.1"), proof), "the gateway's word, with proof")
	require.Equal(t, "127.0.0.1", Resolve(at("127.0.0.1", ClientHeader, "198.51.100.1"), proof), "a loopback caller without proof is its peer")
	require.Equal(t, "127.0.0.1", Resolve(at("127.0.0.1", ProofHeader, "guess", ClientHeader, "198.51.100.1"), proof), "a wrong proof is no proof")
	require.Equal(t, "127.0.0.1", Resolve(at("127.0.0.1", "x-forwarded-for", "198.51.100.1"), proof), "x-forwarded-for is not believed")
	require.Equal(t, "127.0.0.1", Resolve(at("127.0.0.1", ProofHeader, string(proof), ClientHeader, "garbage"), proof))
	require.Equal(t, "127.0.0.1", Resolve(at("127.0.0.1", ProofHeader, "", ClientHeader, "198.51.100.1"), ""), "no proof configured, none accepted")
	require.Equal(t, "", Resolve(context.Background(), proof))
	require.Equal(t, "192.0.2.1", From(With(context.Background(), "192.0.2.1")))
	require.Equal(t, "", From(context.Background()))
}

func TestBucket(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ addr, bucket string }{
		{"203.0.113.9", "203.0.113.9"},
		{"::ffff:203.0.113.9", "203.0.113.9"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"", ""},
		{"not an address", "not an address"},
	} {
		require.Equal(t, tt.bucket, Bucket(tt.addr), tt.addr)
	}
}
