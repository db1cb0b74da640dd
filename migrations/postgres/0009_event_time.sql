-- An event's own time (its payload's `at`, ADR 0019) in µs since the epoch, for the audit
-- log's event-time filter (ADR 0040, amendment). NULL when the payload is not UTF-8 JSON,
-- holds no `at` under its event type, or the `at` is not an RFC 3339 time with an offset:
-- never an error, so a tampered row does not fail a whole statement (the exception handler;
-- PostgreSQL 15 has no error-free JSON test for a plain expression). Fractions finer than µs
-- are cut, not rounded, as on SQLite. No index uses it and nothing calls it on writes: it is
-- computed for each row an event-time filter walks. IMMUTABLE holds because the time must
-- carry its offset, so the session's TimeZone never enters.
CREATE FUNCTION leadorch_event_at(payload BYTEA, event_type TEXT) RETURNS BIGINT
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    at TEXT;
BEGIN
    at := convert_from(payload, 'UTF8')::json -> event_type ->> 'at';
    IF at IS NULL
       OR at !~ '^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$' THEN
        RETURN NULL;
    END IF;
    at := regexp_replace(at, '^(.{19}\.\d{1,6})\d*', '\1');
    RETURN (extract(epoch FROM at::timestamptz) * 1000000)::bigint;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
