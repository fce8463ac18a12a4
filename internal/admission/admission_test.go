package admission

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdmitRefusesBeyondWorkersPlusQueue(t *testing.T) {
	t.Parallel()
	g, err := New(2, 3)
	require.NoError(t, err)
	var tickets []*Ticket
	for range 5 {
		tk, err := g.Admit()
		require.NoError(t, err)
		tickets = append(tickets, tk)
	}
	_, err = g.Admit()
	require.ErrorIs(t, err, ErrBusy)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	require.Equal(t, BusyError{Workers: 2, Queue: 3}, *busy)
	require.Contains(t, err.Error(), "all 2 image workers are taken and 3 requests are already waiting")
	require.Equal(t, Stats{Working: 0, Waiting: 5, Refused: 1}, g.Stats())

	tickets[0].Done()
	tickets[0].Done() // twice is harmless
	tk, err := g.Admit()
	require.NoError(t, err, "a finished request frees its place")
	tk.Done()
	for _, tk := range tickets[1:] {
		tk.Done()
	}
	require.Equal(t, Stats{Refused: 1}, g.Stats())
}

func TestStartWaitsForAWorker(t *testing.T) {
	t.Parallel()
	g, err := New(1, 1)
	require.NoError(t, err)
	ctx := context.Background()
	first, err := g.Admit()
	require.NoError(t, err)
	require.NoError(t, first.Start(ctx))
	require.NoError(t, first.Start(ctx), "a second Start is a no-op")

	second, err := g.Admit()
	require.NoError(t, err)
	started := make(chan error, 1)
	go func() { started <- second.Start(ctx) }()
	select {
	case <-started:
		t.Fatal("the second request started while the only worker was taken")
	case <-time.After(50 * time.Millisecond):
	}
	require.Equal(t, Stats{Working: 1, Waiting: 1}, g.Stats())
	first.Done()
	require.NoError(t, <-started)
	require.Equal(t, Stats{Working: 1}, g.Stats())
	second.Done()
	require.Equal(t, Stats{}, g.Stats())
}

func TestLeavingTheQueueFreesThePlace(t *testing.T) {
	t.Parallel()
	g, err := New(1, 1)
	require.NoError(t, err)
	busy, err := g.Admit()
	require.NoError(t, err)
	require.NoError(t, busy.Start(context.Background()))

	waiting, err := g.Admit()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- waiting.Start(ctx) }()
	cancel()
	require.True(t, errors.Is(<-errc, context.Canceled))
	waiting.Done()
	require.Equal(t, Stats{Working: 1}, g.Stats(), "the client that left holds neither worker nor place")

	again, err := g.Admit()
	require.NoError(t, err)
	again.Done()
	busy.Done()
}

func TestNewChecksItsArguments(t *testing.T) {
	t.Parallel()
	_, err := New(0, 1)
	require.Error(t, err)
	_, err = New(1, -1)
	require.Error(t, err)
	g, err := New(3, 0)
	require.NoError(t, err)
	require.Equal(t, 3, g.Workers())
	require.Equal(t, 0, g.Queue())
}
