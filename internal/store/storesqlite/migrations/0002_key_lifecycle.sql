-- Rotation keeps the replaced secret working for a grace period; last use
-- is written in batches.
ALTER TABLE api_keys ADD COLUMN last_use_time INTEGER;
ALTER TABLE api_keys ADD COLUMN previous_secret_hash BLOB;
ALTER TABLE api_keys ADD COLUMN previous_expire_time INTEGER;

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret_hash    BLOB NOT NULL,
    create_time    INTEGER NOT NULL,
    expire_time    INTEGER NOT NULL,
    client_address TEXT NOT NULL
);

CREATE INDEX sessions_account ON sessions (account_id);

-- Failed authentications naming no known key have no account.
CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    time           INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    client_address TEXT NOT NULL,
    reason         TEXT NOT NULL
);

CREATE INDEX audit_events_account ON audit_events (account_id, id);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
