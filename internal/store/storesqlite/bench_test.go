package storesqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storetest"
)

// BenchmarkLedger runs the stores' ledger benchmark on a fresh file:
//
//	go test -tags nodynamic -run '^$' -bench BenchmarkLedger -benchtime 2s ./internal/store/storesqlite
func BenchmarkLedger(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "enhance.db"))
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	storetest.BenchmarkLedger(b, s, func(b *testing.B, accountID string, periodStart time.Time, rows int) {
		ctx := context.Background()
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			period := periodStart.UnixMicro()
			_, err := tx.ExecContext(ctx,
				`WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				 INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
				 SELECT ?, 'seed', ?, 'charge', 1, 'enhance', 'seed-' || i, 'final', NULL, ? + i * 1000, '', '' FROM n`,
				rows, accountID, period, period)
			if err != nil {
				return err
			}
			return count(ctx, tx, accountID, period, store.Totals{Charged: rows})
		})
		require.NoError(b, err)
	})
}
