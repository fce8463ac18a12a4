package admission

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// plenty is a budget no test image comes near, for tests about counts.
const plenty = 1 << 40

// newGate is New that fails the test on error, with a channel that
// receives once each time a Start joins the line (so tests know a request
// waits without sleeping).
func newGate(t *testing.T, cfg Config) (*Gate, chan struct{}) {
	t.Helper()
	g, err := New(cfg)
	require.NoError(t, err)
	queued := make(chan struct{}, 16)
	g.queued = func() { queued <- struct{}{} }
	return g, queued
}

// admit takes a place, failing the test if there is none.
func admit(t *testing.T, g *Gate) *Ticket {
	t.Helper()
	tk, err := g.Admit()
	require.NoError(t, err)
	return tk
}

// startAsync starts tk in a goroutine; the channel gets Start's answer.
func startAsync(ctx context.Context, tk *Ticket, weight int64) chan error {
	errc := make(chan error, 1)
	go func() { errc <- tk.Start(ctx, weight) }()
	return errc
}

// pending reports whether a started request is still waiting.
func pending(errc chan error) bool {
	select {
	case err := <-errc:
		errc <- err // put it back for the caller
		return false
	default:
		return true
	}
}

func TestAdmitRefusesBeyondWorkersPlusQueue(t *testing.T) {
	t.Parallel()
	g, _ := newGate(t, Config{Workers: 2, Queue: 3, Budget: plenty})
	var tickets []*Ticket
	for range 5 {
		tickets = append(tickets, admit(t, g))
	}
	_, err := g.Admit()
	require.ErrorIs(t, err, ErrBusy)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	require.Equal(t, BusyError{Workers: 2, Queue: 3}, *busy)
	require.Contains(t, err.Error(), "all 2 image workers are taken and 3 requests are already waiting")
	require.Equal(t, Stats{Working: 0, Waiting: 5, Refused: 1}, g.Stats())

	tickets[0].Done()
	tickets[0].Done() // twice is harmless
	admit(t, g).Done()
	for _, tk := range tickets[1:] {
		tk.Done()
	}
	require.Equal(t, Stats{Refused: 1}, g.Stats())
}

func TestStartWaitsForAWorker(t *testing.T) {
	t.Parallel()
	g, queued := newGate(t, Config{Workers: 1, Queue: 1, Budget: plenty})
	ctx := context.Background()
	first := admit(t, g)
	require.NoError(t, first.Start(ctx, 10))
	require.NoError(t, first.Start(ctx, 10), "a second Start is a no-op")

	second := admit(t, g)
	started := startAsync(ctx, second, 10)
	<-queued
	require.True(t, pending(started), "the second request started while the only worker was taken")
	require.Equal(t, Stats{Working: 1, Waiting: 1, Reserved: 10}, g.Stats())
	first.Done()
	require.NoError(t, <-started)
	require.Equal(t, Stats{Working: 1, Reserved: 10}, g.Stats())
	second.Done()
	require.Equal(t, Stats{}, g.Stats())
}

// TestBudgetBoundsTheBytesAtWork: with workers to spare, requests wait
// for memory instead, in the order they came: a small one does not
// overtake a large one that came first, so the large one is never starved.
func TestBudgetBoundsTheBytesAtWork(t *testing.T) {
	t.Parallel()
	g, queued := newGate(t, Config{Workers: 4, Queue: 4, Budget: 100})
	ctx := context.Background()
	a, b, c := admit(t, g), admit(t, g), admit(t, g)
	require.NoError(t, a.Start(ctx, 60))
	require.Equal(t, Stats{Working: 1, Waiting: 2, Reserved: 60}, g.Stats())

	bStarted := startAsync(ctx, b, 50) // 60 + 50 > 100: waits
	<-queued
	cStarted := startAsync(ctx, c, 30) // would fit beside a, but b came first
	<-queued
	require.True(t, pending(bStarted))
	require.True(t, pending(cStarted), "the small request did not overtake the large one")
	require.Equal(t, Stats{Working: 1, Waiting: 2, Reserved: 60}, g.Stats())

	a.Done() // b (50) and then c (30) both fit in 100
	require.NoError(t, <-bStarted)
	require.NoError(t, <-cStarted)
	require.Equal(t, Stats{Working: 2, Reserved: 80}, g.Stats())
	b.Done()
	c.Done()
	require.Equal(t, Stats{}, g.Stats())
}

// TestBudgetAndWorkersBothBound: a request needs a worker and its bytes;
// whichever is short, it waits.
func TestBudgetAndWorkersBothBound(t *testing.T) {
	t.Parallel()
	g, queued := newGate(t, Config{Workers: 2, Queue: 2, Budget: 100})
	ctx := context.Background()
	a, b, c := admit(t, g), admit(t, g), admit(t, g)
	require.NoError(t, a.Start(ctx, 10))
	require.NoError(t, b.Start(ctx, 10))
	cStarted := startAsync(ctx, c, 10) // bytes to spare, no worker
	<-queued
	require.True(t, pending(cStarted))
	b.Done()
	require.NoError(t, <-cStarted)
	require.Equal(t, Stats{Working: 2, Reserved: 20}, g.Stats())
	a.Done()
	c.Done()
}

func TestTooHeavyIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	g, _ := newGate(t, Config{Workers: 1, Queue: 1, Budget: 3 << 30})
	require.NoError(t, g.Check(3<<30), "the whole budget is allowed")
	err := g.Check(3<<30 + 1)
	require.ErrorIs(t, err, ErrTooHeavy)
	var heavy *TooHeavyError
	require.ErrorAs(t, err, &heavy)
	require.Equal(t, TooHeavyError{Weight: 3<<30 + 1, Budget: 3 << 30}, *heavy)

	tk := admit(t, g)
	err = tk.Start(context.Background(), 5<<30)
	require.ErrorIs(t, err, ErrTooHeavy, "Start refuses it too rather than wait forever")
	require.EqualError(t, err, "processing it needs about 5.0 GiB of memory; the memory budget for images is 3.0 GiB")
	require.Equal(t, Stats{Waiting: 1}, g.Stats(), "it holds no worker and no memory")
	tk.Done()
	require.Equal(t, Stats{}, g.Stats())
}

// TestLeavingTheLineLetsOthersThrough: a request that gives up (its
// client left, or its deadline passed) frees its turn, and those behind it
// that fit go ahead.
func TestLeavingTheLineLetsOthersThrough(t *testing.T) {
	t.Parallel()
	g, queued := newGate(t, Config{Workers: 4, Queue: 4, Budget: 100})
	a, b, c := admit(t, g), admit(t, g), admit(t, g)
	require.NoError(t, a.Start(context.Background(), 80))
	bCtx, cancelB := context.WithCancel(context.Background())
	bStarted := startAsync(bCtx, b, 50)
	<-queued
	cStarted := startAsync(context.Background(), c, 20)
	<-queued
	require.True(t, pending(cStarted), "c waits behind b")

	cancelB()
	require.ErrorIs(t, <-bStarted, context.Canceled)
	require.NoError(t, <-cStarted, "with b gone, c fits beside a")
	b.Done()
	require.Equal(t, Stats{Working: 2, Reserved: 100}, g.Stats())
	a.Done()
	c.Done()
	require.Equal(t, Stats{}, g.Stats())

	// A deadline that passed before the turn came frees the same way.
	d := admit(t, g)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, d.Start(done, 10), context.Canceled)
	d.Done()
	require.Equal(t, Stats{}, g.Stats())
}

// TestGrantedAsTheClientLeaves: a turn granted at the moment its waiter
// gave up is still handed back by Done.
func TestGrantedAsTheClientLeaves(t *testing.T) {
	t.Parallel()
	g, _ := newGate(t, Config{Workers: 1, Queue: 1, Budget: 100})
	w, queued := g.enqueue(40)
	require.False(t, queued)
	require.False(t, g.leave(w), "already granted: leaving is refused, the caller must give it back")
	g.release(40)
	require.Equal(t, Stats{}, g.Stats())
}

func TestNewChecksItsArguments(t *testing.T) {
	t.Parallel()
	for _, bad := range []Config{{Workers: 0, Queue: 1, Budget: 1}, {Workers: 1, Queue: -1, Budget: 1}, {Workers: 1, Queue: 1}} {
		_, err := New(bad)
		require.Error(t, err, "%+v", bad)
	}
	g, err := New(Config{Workers: 3, Queue: 0, Budget: 1 << 30})
	require.NoError(t, err)
	require.Equal(t, 3, g.Workers())
	require.Equal(t, 0, g.Queue())
	require.Equal(t, int64(1<<30), g.Budget())
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		}
	}
	meminfo := "MemTotal:       16318256 kB\nMemFree:         1000000 kB\n"
	tests := []struct {
		name  string
		files map[string]string
		limit int64
		from  string
	}{
		{"physical memory only", map[string]string{"/proc/meminfo": meminfo}, 16318256 << 10, "physical memory"},
		{"cgroup v2 in a container", map[string]string{
			"/proc/meminfo": meminfo, "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "2147483648\n",
		}, 2 << 30, "cgroup limit /sys/fs/cgroup/memory.max"},
		{"cgroup v2 on a host", map[string]string{
			"/proc/meminfo": meminfo, "/proc/self/cgroup": "0::/system.slice/enhanced.service\n",
			"/sys/fs/cgroup/system.slice/enhanced.service/memory.max": "1073741824\n", "/sys/fs/cgroup/memory.max": "max\n",
		}, 1 << 30, "cgroup limit /sys/fs/cgroup/system.slice/enhanced.service/memory.max"},
		{"cgroup v2 without a limit", map[string]string{
			"/proc/meminfo": meminfo, "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max\n",
		}, 16318256 << 10, "physical memory"},
		{"cgroup v1", map[string]string{
			"/proc/meminfo": meminfo, "/proc/self/cgroup": "4:memory:/docker/abc\n3:cpu:/docker/abc\n",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "3221225472\n",
		}, 3 << 30, "cgroup limit /sys/fs/cgroup/memory/memory.limit_in_bytes"},
		{"cgroup v1 without a limit", map[string]string{
			"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 16318256 << 10, "physical memory"},
		{"a limit above physical memory", map[string]string{
			"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory.max": "68719476736\n",
		}, 16318256 << 10, "physical memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limit, from, ok := MemoryLimit(files(tt.files))
			require.True(t, ok)
			require.Equal(t, tt.limit, limit)
			require.Equal(t, tt.from, from)
		})
	}
	_, _, ok := MemoryLimit(files(nil))
	require.False(t, ok, "nothing readable: unknown")
}

func TestBytes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1.5 GiB", Bytes(3<<29))
	require.Equal(t, "300 MiB", Bytes(300<<20))
	require.Equal(t, "900 KiB", Bytes(900<<10))
}
