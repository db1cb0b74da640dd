-- OAuth refresh tokens of connected Google accounts, sealed (AES-256-GCM) with the account's
-- data key (subject = account id, purpose "account"). Never in events, never in plaintext.
-- Revoking deletes the row; forgetting the account also destroys its key.
CREATE TABLE google_tokens (
    account_id TEXT    PRIMARY KEY,
    sealed     BLOB    NOT NULL,
    updated_at INTEGER NOT NULL                   -- microseconds since the Unix epoch, UTC
);
