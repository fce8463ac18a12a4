package account

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
	"github.com/smartimage/enhance/internal/throttle"
)

// hangUpStore ends the request (hangUp) as its account is written: a
// caller who hangs up once the hash is done.
type hangUpStore struct {
	*storesqlite.Store
	hangUp func()
}

func (s hangUpStore) CreateAccount(ctx context.Context, a store.Account, k store.APIKey) error {
	s.hangUp()
	return s.Store.CreateAccount(ctx, a, k)
}

// TestRegistrationsCountOnceHashed: a registration whose caller hangs up
// (or whose deadline ends) after its hash still counts against the
// address, so that a short deadline buys no free hashes.
func TestRegistrationsCountOnceHashed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var cancel context.CancelFunc
	svc := *f.svc
	svc.store = hangUpStore{Store: f.db, hangUp: func() { cancel() }}
	client := "192.0.2.7"
	for i := range registrations.Limit {
		ctx, stop := context.WithCancel(context.Background())
		cancel = stop
		_, err := svc.Register(ctx, fmt.Sprintf("gone%d@example.com", i), "correct horse battery", client)
		stop()
		// The account is made (its key shown to nobody); the answer is
		// the caller's lost cause either way.
		require.NoError(t, err, i)
	}
	_, err := f.svc.Register(context.Background(), "later@example.com", "correct horse battery", client)
	var te *throttle.Error
	require.ErrorAs(t, err, &te, "every hashed registration counted")
	n, err := f.db.AccountCount(context.Background())
	require.NoError(t, err)
	require.Equal(t, registrations.Limit, n)
}
