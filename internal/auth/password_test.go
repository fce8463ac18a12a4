package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/throttle"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(2)
	require.NoError(t, err)
	hash, err := h.Hash(ctx, "correct horse battery staple")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$"), hash)
	require.NotContains(t, hash, "correct horse")
	require.NoError(t, h.Check(ctx, hash, "correct horse battery staple"))
	require.ErrorIs(t, h.Check(ctx, hash, "correct horse battery stable"), ErrPasswordMismatch)
	require.ErrorIs(t, h.Check(ctx, hash, strings.Repeat("x", MaxPasswordBytes+1)), ErrPasswordMismatch)

	h2, err := h.Hash(ctx, "correct horse battery staple")
	require.NoError(t, err)
	require.NotEqual(t, hash, h2, "each hash has its own salt")

	require.Error(t, h.Check(ctx, "$2a$10$bcrypt", "x"))
	require.Error(t, h.Check(ctx, "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdA$aGFzaA", "x"), "no stored hash asks for 4 GiB")
}

func TestPasswordsAreNormalised(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(1)
	require.NoError(t, err)
	// NFC and NFD spellings, and a full-width digit, are one password.
	hash, err := h.Hash(ctx, "caf\u00e9 au lait \uff11")
	require.NoError(t, err)
	require.NoError(t, h.Check(ctx, hash, "cafe\u0301 au lait 1"))
	// An account hashed before normalisation, as typed, still matches.
	legacy, err := hashPassword("cafe\u0301 au lait", DefaultCost)
	require.NoError(t, err)
	require.NoError(t, h.Check(ctx, legacy, "cafe\u0301 au lait"))
	require.NoError(t, CheckPassword(legacy, "cafe\u0301 au lait"))
}

func TestHasherRefusesWhatCannotGetASlotInTime(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(1)
	require.NoError(t, err)
	require.Equal(t, 1, h.Slots())
	hash, err := HashPassword("correct horse battery staple")
	require.NoError(t, err)

	// The one slot is taken (as by a flood) for the whole test, so the
	// outcomes below do not depend on the machine's speed.
	holder, err := h.Queue()
	require.NoError(t, err)
	release, err := holder.slot(context.Background())
	require.NoError(t, err)

	// A request with a deadline waits until little of it is left, then
	// is refused as busy: a throttle refusal with a retry time.
	ctx, cancel := context.WithTimeout(context.Background(), answerMargin+100*time.Millisecond)
	defer cancel()
	err = h.Check(ctx, hash, "correct horse battery staple")
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	require.ErrorIs(t, err, throttle.ErrThrottled)
	require.Equal(t, time.Second, busy.RetryDelay())
	require.NoError(t, ctx.Err(), "refused before its deadline, while an answer can still reach the caller")

	// One with too little time left is refused at once.
	short, cancelShort := context.WithTimeout(context.Background(), answerMargin/2)
	defer cancelShort()
	_, err = h.Hash(short, "correct horse battery staple")
	require.ErrorAs(t, err, &busy)

	// One without a deadline waits until it is cancelled.
	gone, leave := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Check(gone, hash, "correct horse battery staple") }()
	leave()
	require.ErrorIs(t, <-done, context.Canceled)

	// With the queue full (five places for one slot: its holder's and
	// four), one more is refused at once, deadline or not; a place given
	// up is free again.
	var turns []*Turn
	for range QueuePerSlot {
		turn, err := h.Queue()
		require.NoError(t, err)
		turns = append(turns, turn)
	}
	_, err = h.Hash(context.Background(), "correct horse battery staple")
	require.ErrorAs(t, err, &busy)
	turns[0].Leave()
	turns[0].Leave() // twice does nothing
	turn, err := h.Queue()
	require.NoError(t, err)
	for _, turn := range append(turns, turn) {
		turn.Leave()
	}

	// A waiter gets the slot when it is freed.
	waiting, cancelWaiting := context.WithTimeout(context.Background(), time.Minute)
	defer cancelWaiting()
	go func() { done <- h.Check(waiting, hash, "correct horse battery staple") }()
	release()
	require.NoError(t, <-done)
}

func TestDefaultHashSlots(t *testing.T) {
	t.Parallel()
	n := DefaultHashSlots(0)
	require.GreaterOrEqual(t, n, 1)
	require.Equal(t, 1, DefaultHashSlots(HashMemory*8), "a small memory limit leaves one slot")
	h, err := NewHasher(0)
	require.NoError(t, err)
	require.Equal(t, n, h.Slots())
	_, err = NewHasher(-1)
	require.Error(t, err)
	require.False(t, errors.Is(&BusyError{}, ErrPasswordMismatch))
}

func TestHashCostIsRecordedAndHonoured(t *testing.T) {
	t.Parallel()
	cheap, err := NewHasherCost(1, Cost{MemoryKiB: 8, Passes: 1})
	require.NoError(t, err)
	hash, err := cheap.Hash(context.Background(), "correct horse battery")
	require.NoError(t, err)
	require.Contains(t, hash, "$m=8,t=1,p=1$")
	full, err := NewHasher(1)
	require.NoError(t, err)
	require.NoError(t, full.Check(context.Background(), hash, "correct horse battery"), "any Hasher checks a hash at its own cost")
	dummy, err := full.Dummy()
	require.NoError(t, err)
	require.Contains(t, dummy, fmt.Sprintf("$m=%d,t=%d,p=1$", DefaultCost.MemoryKiB, DefaultCost.Passes))
	_, err = NewHasherCost(1, Cost{MemoryKiB: 1 << 20, Passes: 1})
	require.Error(t, err, "a cost the server would refuse to check is refused")
}

// TestHasherRefusesEndedRequestsWithASlotFree: a free slot is no reason
// to hash for a request that has ended or cannot be answered in time:
// the hash would be paid for and, its caller gone, counted by nobody.
func TestHasherRefusesEndedRequestsWithASlotFree(t *testing.T) {
	t.Parallel()
	h, err := NewHasherCost(1, Cost{MemoryKiB: 8, Passes: 1})
	require.NoError(t, err)
	hash, err := h.Dummy()
	require.NoError(t, err)

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = h.Hash(gone, "correct horse battery staple")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, h.Check(gone, hash, "correct horse battery staple"), context.Canceled)

	short, cancelShort := context.WithTimeout(context.Background(), answerMargin/2)
	defer cancelShort()
	_, err = h.Hash(short, "correct horse battery staple")
	var busy *BusyError
	require.ErrorAs(t, err, &busy)

	// The refusals gave their places back: the one slot is free.
	roomy, cancelRoomy := context.WithTimeout(context.Background(), time.Minute)
	defer cancelRoomy()
	_, err = h.Hash(roomy, "correct horse battery staple")
	require.NoError(t, err)
	require.Len(t, h.queue, 0)
	require.Len(t, h.slots, 0)
}

// TestOneClientHoldsFewPlacesInTheQueue: one client's flood fills its own
// few places, not the queue, so that others still get a turn.
func TestOneClientHoldsFewPlacesInTheQueue(t *testing.T) {
	t.Parallel()
	h, err := NewHasherCost(2, Cost{MemoryKiB: 8, Passes: 1})
	require.NoError(t, err)
	var turns []*Turn
	for range QueuePerClient {
		turn, err := h.QueueFor("192.0.2.1")
		require.NoError(t, err)
		turns = append(turns, turn)
	}
	_, err = h.QueueFor("192.0.2.1")
	var busy *BusyError
	require.ErrorAs(t, err, &busy, "the client's places are taken")
	other, err := h.QueueFor("192.0.2.2")
	require.NoError(t, err, "another client finds room")
	other.Leave()
	turns[0].Leave()
	turns[0].Leave() // twice does nothing
	again, err := h.QueueFor("192.0.2.1")
	require.NoError(t, err, "a place given up is the client's again")
	again.Leave()
	turns[1].Leave()
	require.Empty(t, h.held)
	require.Len(t, h.queue, 0)
}
