package storesqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Every process sharing the database file holds an exclusive flock on a
// file of its own beside it. The kernel drops the lock when the process
// dies however it dies (kill -9 included), so whether a process is alive
// is one try of its lock, with no heartbeat and no guessing from time.

// Hold implements store.Store.
func (s *Store) Hold(_ context.Context, instanceID string) (func() error, error) {
	path, err := s.lockPath(instanceID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.instances, 0o700); err != nil {
		return nil, fmt.Errorf("storesqlite: liveness folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: liveness lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("storesqlite: liveness lock of %s is taken: %w", instanceID, err)
	}
	s.removeDeadLocks(path)
	return func() error {
		os.Remove(path)
		return f.Close()
	}, nil
}

// Alive implements store.Store. A process that never held a lock here,
// or whose lock is free, is not alive; the free lock's file is removed.
func (s *Store) Alive(_ context.Context, instanceID string) (bool, error) {
	path, err := s.lockPath(instanceID)
	if err != nil {
		return false, err
	}
	// Read-only is enough for flock, and works on another user's file.
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storesqlite: liveness lock: %w", err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("storesqlite: try liveness lock: %w", err)
	}
	os.Remove(path)
	return false, nil
}

// removeDeadLocks deletes the lock files of processes that died holding
// nothing the database names (Alive removes the others'). A file younger
// than a minute is left alone: its process may not have locked it yet.
func (s *Store) removeDeadLocks(own string) {
	entries, err := os.ReadDir(s.instances)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(s.instances, e.Name())
		info, err := e.Info()
		if path == own || err != nil || !strings.HasSuffix(e.Name(), ".lock") || time.Since(info.ModTime()) < time.Minute {
			continue
		}
		if _, err := s.Alive(context.Background(), strings.TrimSuffix(e.Name(), ".lock")); err != nil {
			continue
		}
	}
}

// Holders implements store.Store.
func (s *Store) Holders(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT instance_id FROM ledger WHERE kind = 'charge' AND state = 'pending' AND instance_id != ''
		 UNION SELECT instance_id FROM idempotency WHERE state = 'running' AND instance_id != ''`)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: list holders: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// lockPath is the lock file of instanceID, which must be a plain name.
func (s *Store) lockPath(instanceID string) (string, error) {
	if instanceID == "" || len(instanceID) > 64 || strings.Trim(instanceID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return "", fmt.Errorf("storesqlite: instance id %q is not a plain name", instanceID)
	}
	return filepath.Join(s.instances, instanceID+".lock"), nil
}
