package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

// TestQuotaRefundsOnFailureAndPanic drives the quota interceptor alone:
// a handler that reserves and then fails, or panics, leaves the balance
// as it was; one that succeeds is charged once.
func TestQuotaRefundsOnFailureAndPanic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	require.NoError(t, db.CreateAccount(ctx,
		store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
	ledger, err := credits.NewLedger(db, "", nil)
	require.NoError(t, err)
	quota := quotaUnary(ledger, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), nil)
	call := auth.WithPrincipal(ctx, auth.Principal{AccountID: "a1", KeyID: "k1"})
	info := &grpc.UnaryServerInfo{FullMethod: "/test/Method"}
	reserving := func(then func() error) grpc.UnaryHandler {
		return func(ctx context.Context, _ any) (any, error) {
			m, ok := credits.MeterFrom(ctx)
			require.True(t, ok)
			require.NoError(t, m.Reserve(ctx, credits.OpUpscale, 7))
			return "done", then()
		}
	}
	used := func() int {
		u, err := ledger.Usage(ctx, "a1")
		require.NoError(t, err)
		return u.Used
	}

	_, err = quota(call, nil, info, reserving(func() error { return errors.New("decode failed") }))
	require.Error(t, err)
	require.Zero(t, used(), "refunded on failure")

	require.Panics(t, func() {
		_, _ = quota(call, nil, info, reserving(func() error { panic("boom") }))
	})
	require.Zero(t, used(), "refunded while the panic unwinds")

	cancelled, cancel := context.WithCancel(call)
	_, err = quota(cancelled, nil, info, reserving(func() error { cancel(); return context.Canceled }))
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, used(), "refunded when the client went away, though its context is done")

	resp, err := quota(call, nil, info, reserving(func() error { return nil }))
	require.NoError(t, err)
	require.Equal(t, "done", resp)
	require.Equal(t, 7, used(), "charged once on success")
}

// lostReply is a ledger store whose first commit lands but answers
// store.ErrUnavailable, as when COMMIT reaches the server and its reply
// is lost.
type lostReply struct {
	credits.Store
	lost bool
}

func (l *lostReply) Settle(ctx context.Context, chargeID int64, commit bool, at time.Time) error {
	err := l.Store.Settle(ctx, chargeID, commit, at)
	if err == nil && commit && !l.lost {
		l.lost = true
		return fmt.Errorf("commit reply lost: %w", store.ErrUnavailable)
	}
	return err
}

// A commit whose reply is lost is sent again: it landed, so the answer
// the customer pays for is delivered.
func TestQuotaCommitsAgainWhenTheReplyIsLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	require.NoError(t, db.CreateAccount(ctx,
		store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
	flaky := &lostReply{Store: db}
	ledger, err := credits.NewLedger(flaky, "", nil)
	require.NoError(t, err)
	quota := quotaUnary(ledger, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), nil)
	call := auth.WithPrincipal(ctx, auth.Principal{AccountID: "a1", KeyID: "k1"})
	resp, err := quota(call, nil, &grpc.UnaryServerInfo{FullMethod: "/test/Method"}, func(ctx context.Context, _ any) (any, error) {
		m, ok := credits.MeterFrom(ctx)
		require.True(t, ok)
		require.NoError(t, m.Reserve(ctx, credits.OpUpscale, 7))
		return "done", nil
	})
	require.NoError(t, err)
	require.Equal(t, "done", resp)
	require.True(t, flaky.lost)
	u, err := ledger.Usage(ctx, "a1")
	require.NoError(t, err)
	require.Equal(t, 7, u.Used, "charged once")
}
