-- Every account has a plan; its monthly grant lives in code (credits.Plans).
ALTER TABLE accounts ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';

-- The credit ledger: append-only but for a charge's state. A charge is
-- 'pending' while its request runs, then 'final', or 'refunded' with a
-- refund entry pointing at it. Grants are extra credits from an operator.
-- Everything in a period adds up to the balance:
--   remaining = plan grant + grants + refunds − charges.
CREATE TABLE ledger (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_id       TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('charge', 'refund', 'grant')),
    amount       INTEGER NOT NULL CHECK (amount >= 0),
    operation    TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    state        TEXT NOT NULL,
    refund_of    INTEGER,
    time         INTEGER NOT NULL
);

CREATE INDEX ledger_account_period ON ledger (account_id, period_start, id);
CREATE INDEX ledger_pending ON ledger (state, time) WHERE state = 'pending';
