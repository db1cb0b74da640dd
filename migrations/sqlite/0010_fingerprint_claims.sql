-- Dedup fingerprints become append-only on SQLite (ADR 0047). A table keyed by the
-- fingerprint puts every new row on a random page of its B-tree, and every durable commit
-- writes each page it dirtied to the WAL whole: about 6.8 KB of WAL per fingerprint, half of
-- what a lead cost to store. Rows now go to the end of the table in the order they were
-- claimed (an id that is never reused), and each process finds them through an index it keeps
-- in memory, caught up by id (engine/store/src/fingerprint_index.rs). The rows, their meaning
-- and their lifetime are those of 0006: a row counts while now < expires_at; retention deletes
-- it after; erasure deletes a subject's rows.
DROP INDEX fingerprints_by_subject;
DROP INDEX fingerprints_by_expiry;
ALTER TABLE fingerprints RENAME TO fingerprints_keyed;

CREATE TABLE fingerprints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- claim order; never reused
    project     TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('email', 'phone')),
    fingerprint BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    lead_id     TEXT    NOT NULL,
    subject_id  TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL                   -- µs; the row counts while now < expires_at
);
INSERT INTO fingerprints (project, kind, fingerprint, lead_id, subject_id, expires_at)
    SELECT project, kind, fingerprint, lead_id, subject_id, expires_at
    FROM fingerprints_keyed ORDER BY expires_at;
DROP TABLE fingerprints_keyed;
CREATE INDEX fingerprints_by_subject ON fingerprints (subject_id);
CREATE INDEX fingerprints_by_expiry ON fingerprints (expires_at);
