-- HTTP API keys (ADR 0022, decision 11). A key is shown once; only its SHA-256 is kept, and
-- the hash is also how a request's key is found. Keys are credentials, not history: they live
-- in this table, not in the immutable log (ADR 0023).
CREATE TABLE api_keys (
    key_id     TEXT   PRIMARY KEY,
    project    TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    hash       BYTEA  NOT NULL UNIQUE,
    prefix     TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    allow_ips  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_project_name ON api_keys (project, name) WHERE revoked_at IS NULL;

-- Every authenticated API request (never bodies or personal fields); rows hold IP addresses,
-- so they are deleted after 90 days.
CREATE TABLE access_log (
    id       BIGSERIAL PRIMARY KEY,
    project  TEXT   NOT NULL,
    key_id   TEXT   NOT NULL,
    method   TEXT   NOT NULL,
    route    TEXT   NOT NULL,
    status   INTEGER NOT NULL,
    ip       TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    millis   BIGINT NOT NULL
);
CREATE INDEX access_log_at ON access_log (at);
CREATE INDEX access_log_project_at ON access_log (project, at);
