-- Signed webhooks (issue 15, ADR 0033). Endpoints are configuration with a secret, deliveries
-- and attempts are what was sent: side tables, not history, so they are not in the log.
-- Secrets are sealed with the endpoint's own data key (subject 'webhook:<id>', purpose
-- account); removing an endpoint destroys that key. A delivery keeps only the event's
-- position, id and type: its body is rebuilt from the log at each attempt, so Google data
-- sealed in the log (ADR 0012) is never copied here in the clear.
CREATE TABLE webhook_endpoints (
    endpoint_id     TEXT    PRIMARY KEY,         -- we_<32 hex>
    project         TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL,            -- comma-separated event types
    secrets         BLOB    NOT NULL,            -- sealed; the live secrets, newest first
    created_at      INTEGER NOT NULL,            -- microseconds since the Unix epoch, UTC
    created_by      TEXT    NOT NULL,
    disabled_at     INTEGER,                     -- NULL while deliveries are made
    disabled_reason TEXT
);
CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project);

-- One event for one endpoint. delivery_id is the webhook-id every attempt carries.
CREATE TABLE webhook_deliveries (
    delivery_id TEXT    PRIMARY KEY,             -- msg_<32 hex>
    endpoint_id TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,                -- e.g. change.applied
    position    INTEGER NOT NULL,                -- the event's position in the log
    event_id    TEXT    NOT NULL,
    part        INTEGER NOT NULL,                -- which of the event's webhooks of this type
    state       TEXT    NOT NULL,                -- pending, delivered, given_up, disabled
    attempts    INTEGER NOT NULL,
    next_at     INTEGER,                         -- when pending: the next attempt's time (µs)
    created_at  INTEGER NOT NULL,
    finished_at INTEGER,
    UNIQUE (endpoint_id, event_id, event_type, part)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- Every attempt: when, the answer's status or why there was none, how long it took.
CREATE TABLE webhook_attempts (
    delivery_id TEXT    NOT NULL,
    n           INTEGER NOT NULL,                -- 1 for the first attempt
    at          INTEGER NOT NULL,
    status      INTEGER,                         -- NULL: no answer (timeout, refused, …)
    error       TEXT,
    millis      INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
