-- The email's key (account.emailKey: Unicode-aware, which COLLATE NOCASE
-- is not), unique, the one compared at registration and sign-in. Rows
-- from before it are filled in by the application at start; legacy rows
-- whose keys collide get one unlike any key (the key, NUL, the account
-- id), so that neither is found under the other's spelling and the key
-- stays taken.
ALTER TABLE accounts ADD COLUMN email_key TEXT;
CREATE UNIQUE INDEX accounts_email_key ON accounts (email_key);
