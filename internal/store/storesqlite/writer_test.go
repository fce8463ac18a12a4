package storesqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
)

// While another writer holds the turn, a lone audit write waits for it
// instead of racing SQLite's busy handler.
func TestAuditWriteWaitsForTheWritersTurn(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "enhance.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	done, err := s.writer(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = s.RecordAudit(ctx, store.AuditEvent{Time: time.Now(), Kind: "sign_in_failed", ClientAddress: "192.0.2.1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	done()
	require.NoError(t, s.RecordAudit(context.Background(), store.AuditEvent{Time: time.Now(), Kind: "sign_in_failed", ClientAddress: "192.0.2.1"}))
}
