package redisclient

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewSetsTheRequestPathsTimeoutsUnlessTheURLSetsThem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		url              string
		dial, read, pool time.Duration
		retries          int
	}{
		{"defaults", "redis://127.0.0.1:6379/0", dialTimeout, ioTimeout, poolTimeout, maxRetries},
		{"the URL's own", "redis://127.0.0.1:6379/0?dial_timeout=3s&read_timeout=2s&pool_timeout=5s&max_retries=4", 3 * time.Second, 2 * time.Second, 5 * time.Second, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.url)
			require.NoError(t, err)
			defer c.Close()
			opt := c.Options()
			require.Equal(t, tt.dial, opt.DialTimeout)
			require.Equal(t, tt.read, opt.ReadTimeout)
			require.Equal(t, tt.pool, opt.PoolTimeout)
			require.Equal(t, tt.retries, opt.MaxRetries)
			require.Equal(t, dialRetries, opt.DialerRetries)
			require.True(t, opt.ContextTimeoutEnabled)
		})
	}
}

func TestNewRefusesABadURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"", "http://127.0.0.1:6379", "redis://127.0.0.1:6379/0?no_such_option=1"} {
		_, err := New(url)
		require.Error(t, err, url)
	}
}

func TestAnAbsentRedisIsAnError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := New("redis://" + addr + "/0")
	require.NoError(t, err)
	defer c.Close()
	require.Error(t, c.Ping(context.Background()).Err())
}
