-- Capacity sources' health (ADR 0032): one row per configured source of a project, upserted
-- by the leading daemon after every poll. Mutable status, like api_keys: the log holds only
-- the transitions. Error texts never hold a credential or a person.
CREATE TABLE capacity_sources (
    project              TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    state                TEXT    NOT NULL,
    teams                BIGINT  NOT NULL,
    last_poll_at         BIGINT,
    last_success_at      BIGINT,
    last_error_at        BIGINT,
    last_error           TEXT,
    error_kind           TEXT,
    consecutive_failures BIGINT  NOT NULL,
    limit_info           TEXT,
    next_poll_at         BIGINT,
    updated_at           BIGINT  NOT NULL,
    PRIMARY KEY (project, name)
);
