-- Idempotency-Key: the first result of an image request, replayed to a
-- retry with the same key and request, for 24 hours.
CREATE TABLE idempotency (
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('running', 'done')),
    response     BLOB,
    header       BLOB,
    create_time  INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE INDEX idempotency_age ON idempotency (create_time);
