-- The event log: one row per event, in global order. Positions are assigned by the single
-- writer inside a `BEGIN IMMEDIATE` transaction, so they are gap-free and strictly increasing.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,           -- global position, 1, 2, 3, … (no gaps)
    stream_id      TEXT    NOT NULL,              -- "<aggregate type>:<aggregate id>"
    stream_version INTEGER NOT NULL,              -- 1, 2, 3, … within the stream
    event_id       BLOB    NOT NULL UNIQUE,       -- UUIDv7, 16 bytes; a retried append is idempotent
    event_type     TEXT    NOT NULL,
    schema_version TEXT    NOT NULL,              -- "MAJOR.MINOR" of the payload's schema
    payload        BLOB    NOT NULL,              -- JSON; personal fields encrypted per subject
    metadata       BLOB    NOT NULL,              -- JSON: actor, correlation, causation, trace
    recorded_at    INTEGER NOT NULL,              -- microseconds since the Unix epoch, UTC, non-decreasing
    prev_hash      BLOB    NOT NULL,              -- hash of position - 1 (32 zero bytes for position 1)
    hash           BLOB    NOT NULL,              -- SHA-256 over prev_hash and this row's stored bytes
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_by_type ON events (event_type, position);
CREATE INDEX events_by_time ON events (recorded_at);

-- The head of the chain: lets `audit verify` notice a truncated tail, and serialises writers.
CREATE TABLE log_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    hash     BLOB    NOT NULL,
    recorded_at INTEGER NOT NULL                      -- recorded_at of the last event (keeps time monotonic)
);
INSERT INTO log_head (id, position, hash, recorded_at) VALUES (1, 0, zeroblob(32), 0);

-- Per-subject data keys (crypto-shredding). Keys are wrapped with the master key; erasing a
-- subject deletes its rows (with secure_delete on, the bytes are zeroed in the file).
CREATE TABLE subject_keys (
    subject_id  TEXT    NOT NULL,
    purpose     TEXT    NOT NULL,
    wrapped_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,                          -- retention deadline (µs), NULL = none
    PRIMARY KEY (subject_id, purpose)
);
CREATE INDEX subject_keys_by_expiry ON subject_keys (expires_at);

-- Catch-up subscription checkpoints, committed with the read-model change they cover.
CREATE TABLE checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Read models: one JSON document per (projection, key). Never holds plaintext personal data.
CREATE TABLE read_models (
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    doc        BLOB NOT NULL,
    PRIMARY KEY (projection, key)
);
