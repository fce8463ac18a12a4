-- Which server process holds each pending charge and running idempotent
-- call, so that a process that starts can release at once what a dead one
-- left behind (its liveness lock is free), instead of waiting out the
-- longest a request may run. '' is a row written before this migration.
ALTER TABLE ledger ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
-- Why a refund was made: 'failed' (the request failed or was cancelled),
-- 'interrupted' (its process died), 'stale' (it outlived any request);
-- '' for charges, grants and refunds written before this migration.
ALTER TABLE ledger ADD COLUMN reason TEXT NOT NULL DEFAULT '';

CREATE INDEX ledger_pending_instance ON ledger (instance_id) WHERE state = 'pending';
CREATE INDEX idempotency_running_instance ON idempotency (instance_id) WHERE state = 'running';
