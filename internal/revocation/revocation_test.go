package revocation

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/logtest"
	"github.com/smartimage/enhance/internal/redisclient"
	"github.com/smartimage/enhance/internal/redisclient/redistest"
)

// wait bounds every wait for something to arrive; a test that reaches it
// has failed.
const wait = 10 * time.Second

// listener is a Bus listening in the background, whose heard key ids
// arrive on heard.
type listener struct {
	heard chan string
	done  chan struct{}
}

// listen starts b's Listen, stopped when t ends.
func listen(t *testing.T, b *Bus) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{heard: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		b.Listen(ctx, func(keyID string) { l.heard <- keyID })
	}()
	t.Cleanup(func() {
		cancel()
		<-l.done
	})
	return l
}

func (l *listener) next(t *testing.T) string {
	t.Helper()
	select {
	case id := <-l.heard:
		return id
	case <-time.After(wait):
		t.Fatalf("nothing heard in %v", wait)
		return ""
	}
}

// subscribers waits until n clients are subscribed to channel, so that
// what is published next reaches them.
func subscribers(t *testing.T, c *redis.Client, channel string, n int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		return c.PubSubNumSub(context.Background(), channel).Val()[channel] == n
	}, wait, 5*time.Millisecond, "%d subscribers to %s", n, channel)
}

func newBus(t *testing.T, c redis.UniversalClient, channel string, lg *logtest.Buffer) *Bus {
	t.Helper()
	b, err := New(c, channel, slog.New(slog.NewTextHandler(lg, nil)))
	require.NoError(t, err)
	return b
}

func TestAPublishReachesEveryInstance(t *testing.T) {
	t.Parallel()
	channel := redistest.Name("enhance-test:revocations:")
	a, b := redistest.New(t), redistest.New(t)
	onA := listen(t, newBus(t, a, channel, &logtest.Buffer{}))
	onB := listen(t, newBus(t, b, channel, &logtest.Buffer{}))
	subscribers(t, a, channel, 2)

	require.NoError(t, newBus(t, a, channel, &logtest.Buffer{}).Publish(context.Background(), "key-1"))
	require.Equal(t, "key-1", onB.next(t), "the other instance")
	require.Equal(t, "key-1", onA.next(t), "and the publisher's own")
	require.NoError(t, newBus(t, b, channel, &logtest.Buffer{}).Publish(context.Background(), "key-2"))
	require.Equal(t, "key-2", onA.next(t))
	require.Equal(t, "key-2", onB.next(t))
}

func TestALaterListenerHearsLaterMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	channel := redistest.Name("enhance-test:revocations:")
	a, b := redistest.New(t), redistest.New(t)
	pub := newBus(t, a, channel, &logtest.Buffer{})
	require.NoError(t, pub.Publish(ctx, "before"))

	lg := &logtest.Buffer{}
	l := listen(t, newBus(t, b, channel, lg))
	subscribers(t, a, channel, 1)
	require.NoError(t, pub.Publish(ctx, "after"))
	require.Equal(t, "after", l.next(t), "what was sent before it listened is not heard")
	require.Equal(t, 1, lg.Count("revocation: listening"))
}

func TestListenSubscribesAgainAfterLosingRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	channel := redistest.Name("enhance-test:revocations:")
	name := redistest.Name("enhance-test-listener-")
	opt, err := redisclient.Options(redistest.URL(t))
	require.NoError(t, err)
	opt.ClientName = name
	sub := redis.NewClient(opt)
	t.Cleanup(func() { sub.Close() })
	admin := redistest.New(t)

	lg := &logtest.Buffer{}
	l := listen(t, newBus(t, sub, channel, lg))
	subscribers(t, admin, channel, 1)

	// Redis drops the listener's connection, as a restart or a failover
	// would.
	list, err := admin.ClientList(ctx).Result()
	require.NoError(t, err)
	var id string
	for line := range strings.Lines(list) {
		if strings.Contains(line, " name="+name+" ") && strings.Contains(line, "sub=1") {
			id = strings.TrimPrefix(strings.Fields(line)[0], "id=")
		}
	}
	require.NotEmpty(t, id, "the listener's connection in CLIENT LIST")
	require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err())

	require.Eventually(t, func() bool { return lg.Count("revocation: listening again") == 1 }, wait, 5*time.Millisecond)
	require.Equal(t, 1, lg.Count("level=WARN"), "one line for the gap's start")
	require.NoError(t, newBus(t, admin, channel, &logtest.Buffer{}).Publish(ctx, "after-the-gap"))
	require.Equal(t, "after-the-gap", l.next(t))
}

func TestListenNoticesASilentlyDeadConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	channel := redistest.Name("enhance-test:revocations:")
	p := redistest.NewProxy(t)
	sub, err := redisclient.New(p.URL())
	require.NoError(t, err)
	t.Cleanup(func() { sub.Close() })
	admin := redistest.New(t)

	lg := &logtest.Buffer{}
	b := newBus(t, sub, channel, lg)
	b.quiet = 50 * time.Millisecond
	b.retry = 10 * time.Millisecond
	l := listen(t, b)
	subscribers(t, admin, channel, 1)

	// The network drops everything and nothing closes: only a ping that
	// goes unanswered tells the listener.
	p.Stall()
	require.Eventually(t, func() bool { return lg.Count("level=WARN") == 1 }, wait, 5*time.Millisecond)
	p.Restore()
	require.Eventually(t, func() bool { return lg.Count("revocation: listening again") == 1 }, wait, 5*time.Millisecond)
	require.Equal(t, 1, lg.Count("level=WARN"), "one line for the gap's start")
	require.NoError(t, newBus(t, admin, channel, &logtest.Buffer{}).Publish(ctx, "after-the-gap"))
	require.Equal(t, "after-the-gap", l.next(t))
}

func TestListenWithoutRedisKeepsTryingAndStops(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := redisclient.New("redis://" + addr + "/0")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })

	lg := &logtest.Buffer{}
	b := newBus(t, c, "enhance-test:revocations", lg)
	b.retry = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Listen(ctx, func(string) { t.Error("heard something from no Redis") })
	}()
	require.Eventually(t, func() bool { return lg.Count("level=WARN") == 1 }, wait, 5*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Listen went on after its context ended")
	}
	require.Equal(t, 1, lg.Count("level=WARN"), "one line for the whole gap")
	require.Error(t, b.Publish(context.Background(), "key-1"))
}

func TestListenStopsWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	c := redistest.New(t)
	channel := redistest.Name("enhance-test:revocations:")
	b := newBus(t, c, channel, &logtest.Buffer{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Listen(ctx, func(string) {})
	}()
	subscribers(t, c, channel, 1)
	cancel()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Listen went on after its context ended")
	}
	subscribers(t, c, channel, 0)
}

func TestNewAndPublishCheckTheirArguments(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	log := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		name    string
		client  redis.UniversalClient
		channel string
		log     *slog.Logger
	}{
		{"no client", nil, Channel, log},
		{"no channel", c, "", log},
		{"no logger", c, Channel, nil},
	} {
		_, err := New(tt.client, tt.channel, tt.log)
		require.Error(t, err, tt.name)
	}
	b, err := New(c, Channel, log)
	require.NoError(t, err)
	require.Error(t, b.Publish(context.Background(), ""))
}
