package clientaddr

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestFrom(t *testing.T) {
	t.Parallel()
	at := func(addr string, xff ...string) context.Context {
		ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 5555}})
		if len(xff) > 0 {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-forwarded-for", xff[0]))
		}
		return ctx
	}
	require.Equal(t, "203.0.113.9", From(at("203.0.113.9")))
	require.Equal(t, "203.0.113.9", From(at("203.0.113.9", "198.51.100.1")), "a remote caller cannot claim another address")
	require.Equal(t, "198.51.100.1", From(at("127.0.0.1", "198.51.100.1")), "the gateway's report is believed")
	require.Equal(t, "198.51.100.1", From(at("127.0.0.1", "10.9.9.9, 198.51.100.1")), "only its last hop")
	require.Equal(t, "127.0.0.1", From(at("127.0.0.1", "garbage")))
	require.Equal(t, "", From(context.Background()))
}
