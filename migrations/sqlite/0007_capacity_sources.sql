-- Capacity sources' health (ADR 0032): one row per configured source of a project, upserted
-- by the leading daemon after every poll. Mutable status, like api_keys: the log holds only
-- the transitions (capacity_source:<project>/<name>: SourceFailing, SourceRecovered). Error
-- texts are the connector's words about the failure: never a credential, never a person.
CREATE TABLE capacity_sources (
    project              TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,   -- http_poll, hubspot, salesforce
    state                TEXT    NOT NULL,   -- starting, ok, failing, idle
    teams                INTEGER NOT NULL,   -- teams polled by the last poll
    last_poll_at         INTEGER,            -- microseconds since the Unix epoch, UTC
    last_success_at      INTEGER,
    last_error_at        INTEGER,
    last_error           TEXT,
    error_kind           TEXT,               -- auth, rate_limited, unavailable, response, config
    consecutive_failures INTEGER NOT NULL,
    limit_info           TEXT,               -- the source's own rate-limit report, if any
    next_poll_at         INTEGER,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (project, name)
);
