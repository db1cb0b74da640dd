-- Lead intake beside the log (issue 14, ADR 0022 decisions 3, 7 and 8). Nothing here is part
-- of the hash chain: these rows expire, and go with a subject's erasure.

-- One random 32-byte secret per project: the key of its keyed fingerprints (HMAC-SHA256).
-- Sealed (nonce ‖ AES-256-GCM) with the master key, bound to the project's name.
CREATE TABLE project_secrets (
    project    TEXT    PRIMARY KEY,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL                   -- microseconds since the Unix epoch, UTC
);

-- Dedup fingerprints: HMAC-SHA256 of a normalised email or E.164 phone number under the
-- project's secret, with the lead that claimed it. A row counts until expires_at (the end of
-- the dedup window); retention deletes it after, and erasure deletes a subject's rows.
CREATE TABLE fingerprints (
    project     TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('email', 'phone')),
    fingerprint BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    lead_id     TEXT    NOT NULL,
    subject_id  TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,                 -- µs; the row counts while now < expires_at
    PRIMARY KEY (project, kind, fingerprint)
) WITHOUT ROWID;
CREATE INDEX fingerprints_by_subject ON fingerprints (subject_id);
CREATE INDEX fingerprints_by_expiry ON fingerprints (expires_at);

-- Idempotency-Key records (Stripe's semantics): the first answer to a key, replayed for the
-- same key; the request's hash tells a retry from another request reusing the key.
CREATE TABLE idempotency_keys (
    project      TEXT    NOT NULL,
    api_key_id   TEXT    NOT NULL,
    key          TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL,                -- the first answer's HTTP status
    body         TEXT    NOT NULL,                -- and its body
    created_at   INTEGER NOT NULL,                -- µs
    PRIMARY KEY (project, api_key_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
