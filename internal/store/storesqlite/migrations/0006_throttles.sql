-- Throttles: attempts counted per key (a client address, or an account
-- seen from one address: a hash, never an email), and the attempts in
-- flight, so that a check and its record are one transaction and every
-- process sharing the database sees the same counts.
CREATE TABLE throttle_counts (
    key           TEXT PRIMARY KEY,
    attempts      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL,
    -- After it the row says nothing any more (its window and block are
    -- over) and may be swept.
    expire_time   INTEGER NOT NULL
);

CREATE INDEX throttle_counts_expiry ON throttle_counts (expire_time);

-- One row per key of a reservation; an attempt in flight past its expire
-- time (its process died) no longer counts.
CREATE TABLE throttle_pending (
    reservation INTEGER NOT NULL,
    key         TEXT NOT NULL,
    expire_time INTEGER NOT NULL,
    PRIMARY KEY (reservation, key)
);

CREATE INDEX throttle_pending_key ON throttle_pending (key, expire_time);
CREATE INDEX throttle_pending_expiry ON throttle_pending (expire_time);
