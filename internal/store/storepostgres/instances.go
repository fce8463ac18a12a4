package storepostgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Every process sharing the database holds a session-level advisory lock
// named after it, on a connection of its own taken out of the pool. The
// server drops the lock when that connection closes, and so when the
// process dies however it dies, so whether a process is alive is one
// look at the server's locks, with no heartbeat and no guessing from time.
// (A network fault that closes the connection also drops the mark, and
// other instances then take the process for dead: they refund its
// pending charges, which its requests then fail to commit.)

// Hold implements store.Store.
func (s *Store) Hold(ctx context.Context, instanceID string) (func() error, error) {
	if err := checkInstance(instanceID); err != nil {
		return nil, err
	}
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fail(ctx, "liveness connection", err)
	}
	// Out of the pool for good: the lock lives as long as the connection,
	// which no other call may use or close.
	conn := pc.Hijack()
	name := s.lockKey("instance", instanceID)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, name).Scan(&got); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fail(ctx, "liveness lock", err)
	}
	if !got {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("storepostgres: liveness lock of %s is taken", instanceID)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Unlocked before closing: the server ends a closed session a
			// moment later, and Alive must say no at once.
			_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, name)
			if cerr := conn.Close(ctx); err == nil {
				err = cerr
			}
			err = fail(ctx, "release liveness lock", err)
		})
		return err
	}, nil
}

// Alive implements store.Store: whether any session holds instanceID's
// lock, read from pg_locks, which takes nothing (trying the lock would
// hold it for a moment, and could refuse the process its own Hold).
func (s *Store) Alive(ctx context.Context, instanceID string) (bool, error) {
	if err := checkInstance(instanceID); err != nil {
		return false, err
	}
	var alive bool
	// A bigint key is shown as its high and low 32 bits (classid, objid)
	// with objsubid 1.
	err := s.pool.QueryRow(ctx,
		`WITH k AS (SELECT hashtextextended($1, 0) AS h)
		 SELECT EXISTS (SELECT 1 FROM pg_locks, k
		   WHERE locktype = 'advisory' AND granted AND objsubid = 1
		     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		     AND classid = ((k.h >> 32) & 4294967295)::oid AND objid = (k.h & 4294967295)::oid)`,
		s.lockKey("instance", instanceID)).Scan(&alive)
	if err != nil {
		return false, fail(ctx, "read liveness lock", err)
	}
	return alive, nil
}

// Holders implements store.Store.
func (s *Store) Holders(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT instance_id FROM ledger WHERE kind = 'charge' AND state = 'pending' AND instance_id <> ''
		 UNION SELECT instance_id FROM idempotency WHERE state = 'running' AND instance_id <> ''`)
	if err != nil {
		return nil, fail(ctx, "list holders", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fail(ctx, "list holders", err)
		}
		ids = append(ids, id)
	}
	return ids, fail(ctx, "list holders", rows.Err())
}

// checkInstance refuses an id that is not a plain name, as storesqlite
// does (there it names a file), so that both take the same ids.
func checkInstance(instanceID string) error {
	if instanceID == "" || len(instanceID) > 64 || strings.Trim(instanceID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("storepostgres: instance id %q is not a plain name", instanceID)
	}
	return nil
}
