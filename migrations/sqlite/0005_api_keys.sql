-- HTTP API keys (ADR 0022, decision 11). A key is shown once; only its SHA-256 is kept, and
-- the hash is also how a request's key is found. Keys are credentials, not history: they live
-- in this table, not in the immutable log (ADR 0023).
CREATE TABLE api_keys (
    key_id     TEXT    PRIMARY KEY,              -- public id, e.g. key_3kT9xQ2mWb
    project    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,          -- SHA-256 of the whole key
    prefix     TEXT    NOT NULL,                 -- the first characters, to recognise it in lists
    scopes     TEXT    NOT NULL,                 -- comma-separated: ingest,capacity,read,rules,admin
    allow_ips  TEXT    NOT NULL,                 -- comma-separated CIDRs; empty: any address
    created_at INTEGER NOT NULL,                 -- microseconds since the Unix epoch, UTC
    created_by TEXT    NOT NULL,
    revoked_at INTEGER                           -- NULL while the key works
);
CREATE UNIQUE INDEX api_keys_project_name ON api_keys (project, name) WHERE revoked_at IS NULL;

-- Every authenticated API request: who (key), what (method, route template), the answer's
-- status, from where (IP) and when. Never bodies or personal fields. Rows hold IP addresses,
-- so they are deleted after 90 days.
CREATE TABLE access_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    project  TEXT    NOT NULL,
    key_id   TEXT    NOT NULL,
    method   TEXT    NOT NULL,
    route    TEXT    NOT NULL,
    status   INTEGER NOT NULL,
    ip       TEXT    NOT NULL,
    at       INTEGER NOT NULL,                   -- microseconds since the Unix epoch, UTC
    millis   INTEGER NOT NULL                    -- how long the answer took
);
CREATE INDEX access_log_at ON access_log (at);
CREATE INDEX access_log_project_at ON access_log (project, at);
