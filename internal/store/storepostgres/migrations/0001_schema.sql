-- The whole schema as SQLite's seven migrations left it, written for
-- PostgreSQL, plus the balance counters. Text columns compare byte by byte
-- (COLLATE "C") as SQLite's do, whatever the database's locale: key
-- order, paging and lower() (ASCII only, like NOCASE) are the same on both.

CREATE TABLE accounts (
    id            text COLLATE "C" PRIMARY KEY,
    email         text COLLATE "C" NOT NULL,
    password_hash text NOT NULL,
    create_time   timestamptz NOT NULL,
    plan          text COLLATE "C" NOT NULL DEFAULT 'free',
    -- bytea, not text: a legacy collision's key holds a NUL (key, NUL,
    -- account id), which text cannot.
    email_key     bytea
);

CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));
CREATE UNIQUE INDEX accounts_email_key ON accounts (email_key);
CREATE INDEX accounts_without_email_key ON accounts (create_time, id) WHERE email_key IS NULL;

CREATE TABLE api_keys (
    id                   text COLLATE "C" PRIMARY KEY,
    account_id           text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    display_name         text NOT NULL,
    secret_hash          bytea NOT NULL,
    scopes               text NOT NULL,
    create_time          timestamptz NOT NULL,
    expire_time          timestamptz,
    revoke_time          timestamptz,
    last_use_time        timestamptz,
    previous_secret_hash bytea,
    previous_expire_time timestamptz
);

CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE sessions (
    id             text COLLATE "C" PRIMARY KEY,
    account_id     text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret_hash    bytea NOT NULL,
    create_time    timestamptz NOT NULL,
    expire_time    timestamptz NOT NULL,
    client_address text NOT NULL
);

CREATE INDEX sessions_account ON sessions (account_id);
-- Every sign-in sweeps the expired ones.
CREATE INDEX sessions_expiry ON sessions (expire_time);

-- Failed authentications naming no known key have no account.
CREATE TABLE audit_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     text COLLATE "C" REFERENCES accounts (id) ON DELETE CASCADE,
    time           timestamptz NOT NULL,
    kind           text NOT NULL,
    key_id         text NOT NULL,
    client_address text NOT NULL,
    reason         text NOT NULL
);

CREATE INDEX audit_events_account ON audit_events (account_id, id);

CREATE TABLE secrets (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

-- The credit ledger: append-only but for a charge's state. A charge is
-- 'pending' while its request runs (in the process instance_id), then
-- 'final', or 'refunded' with a refund entry pointing at it; reason says
-- why a refund was made. Grants are extra credits from an operator.
CREATE TABLE ledger (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    account_id   text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_id       text NOT NULL,
    period_start timestamptz NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('charge', 'refund', 'grant')),
    amount       bigint NOT NULL CHECK (amount >= 0),
    operation    text NOT NULL,
    request_id   text NOT NULL,
    state        text NOT NULL,
    refund_of    bigint,
    time         timestamptz NOT NULL,
    instance_id  text COLLATE "C" NOT NULL DEFAULT '',
    reason       text NOT NULL DEFAULT '',
    -- Keyed by account: the ledger's pages are read by account in id
    -- order, and no index in id order alone lets the planner walk the
    -- whole ledger filtering one account's entries out of it (a small
    -- account's last page would read everything after it).
    PRIMARY KEY (account_id, id)
);

-- A charge is found by its id alone (identity: unique), for equality only.
CREATE INDEX ledger_id ON ledger USING hash (id);
CREATE INDEX ledger_account_period ON ledger (account_id, period_start, id);
CREATE INDEX ledger_pending ON ledger (time) WHERE state = 'pending';
CREATE INDEX ledger_pending_instance ON ledger (instance_id) WHERE state = 'pending';

-- The ledger's sums per account and period, kept in the transaction of
-- every ledger write, so that a reservation reads (and locks) one row
-- instead of summing the period:
--   remaining = plan grant + granted + refunded − charged.
CREATE TABLE balances (
    account_id   text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    period_start timestamptz NOT NULL,
    charged      bigint NOT NULL DEFAULT 0,
    refunded     bigint NOT NULL DEFAULT 0,
    granted      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, period_start)
);

-- Idempotency-Key: the first result of an image request, replayed to a
-- retry with the same key and request.
CREATE TABLE idempotency (
    account_id   text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key          text COLLATE "C" NOT NULL,
    request_hash bytea NOT NULL,
    state        text NOT NULL CHECK (state IN ('running', 'done')),
    response     bytea,
    header       bytea,
    create_time  timestamptz NOT NULL,
    instance_id  text COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, key)
);

CREATE INDEX idempotency_age ON idempotency (create_time);
CREATE INDEX idempotency_running_instance ON idempotency (instance_id) WHERE state = 'running';

-- Throttles: attempts counted per key, and the attempts in flight.
CREATE TABLE throttle_counts (
    key           text COLLATE "C" PRIMARY KEY,
    attempts      bigint NOT NULL,
    window_start  timestamptz NOT NULL,
    blocked_until timestamptz NOT NULL,
    -- After it the row says nothing any more and may be swept.
    expire_time   timestamptz NOT NULL
);

CREATE INDEX throttle_counts_expiry ON throttle_counts (expire_time);

CREATE TABLE throttle_pending (
    reservation bigint NOT NULL,
    key         text COLLATE "C" NOT NULL,
    expire_time timestamptz NOT NULL,
    PRIMARY KEY (reservation, key)
);

CREATE INDEX throttle_pending_key ON throttle_pending (key, expire_time);
CREATE INDEX throttle_pending_expiry ON throttle_pending (expire_time);
