package storepostgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store/storetest"
)

// BenchmarkLedger runs the stores' ledger benchmark on a fresh schema:
//
//	ENHANCE_TEST_POSTGRES_URL=postgres://... go test -run '^$' -bench BenchmarkLedger -benchtime 2s ./internal/store/storepostgres
func BenchmarkLedger(b *testing.B) {
	s := openTest(b)
	storetest.BenchmarkLedger(b, s, func(b *testing.B, accountID string, periodStart time.Time, rows int) {
		ctx := context.Background()
		err := s.inTx(ctx, "seed ledger", func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx,
				`INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
				 SELECT $1, 'seed', $2, 'charge', 1, 'enhance', 'seed-' || i, 'final', NULL, $2::timestamptz + i * interval '1 millisecond', '', ''
				 FROM generate_series(1, $3::bigint) AS i`, accountID, periodStart, rows)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO balances (account_id, period_start, charged) VALUES ($1, $2, $3)
				ON CONFLICT (account_id, period_start) DO UPDATE SET charged = balances.charged + excluded.charged`,
				accountID, periodStart, rows)
			return err
		})
		require.NoError(b, err)
		// What autovacuum would do soon after such a load, done before the
		// timings rather than during them.
		_, err = s.pool.Exec(ctx, `VACUUM (ANALYZE) ledger`)
		require.NoError(b, err)
	})
}
