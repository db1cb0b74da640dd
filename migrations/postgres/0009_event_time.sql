-- An event's own time (its payload's `at`, ADR 0019) in µs since the epoch, for the audit
-- log's event-time filter (ADR 0040, amendment). NULL when the payload is not UTF-8 JSON,
-- holds no `at` under its event type, or the `at` is not an RFC 3339 time with an offset:
-- never an error, so a tampered row does not fail a whole statement (the exception handler;
-- PostgreSQL 15 has no error-free JSON test for a plain expression). Fractions finer than µs
-- are cut, not rounded, as on SQLite. No index uses it and nothing calls it on writes: it is
-- computed for each row an event-time filter walks. IMMUTABLE holds because the time must
-- carry its offset, so the session's TimeZone never enters; not PARALLEL SAFE, because the
-- exception block starts a subtransaction, which parallel workers cannot.
CREATE FUNCTION leadorch_event_at(payload BYTEA, event_type TEXT) RETURNS BIGINT
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    at TEXT;
    zone INT;
BEGIN
    at := convert_from(payload, 'UTF8')::json -> event_type ->> 'at';
    -- A plain match (no capture groups: PostgreSQL's regex engine is several times slower
    -- when it has to report them), then the parts by their places.
    IF at IS NULL
       OR at !~ '^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$' THEN
        RETURN NULL;
    END IF;
    zone := CASE WHEN right(at, 1) IN ('Z', 'z') THEN 1 ELSE 6 END;
    RETURN extract(epoch FROM (left(at, 19) || right(at, zone))::timestamptz)::bigint * 1000000
        + CASE WHEN length(at) > 19 + zone
               -- The fraction's first six digits (rpad cuts a longer one).
               THEN rpad(substr(at, 21, length(at) - 20 - zone), 6, '0')::bigint
               ELSE 0 END;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
