-- Rebuilt read models are stored in compressed parts of many rows, in key order (docs/adr/0014):
-- a rebuild writes a few hundred large rows instead of hundreds of thousands of small ones.
-- Rows saved since (incremental saves) stay per key in read_models and override the parts;
-- a NULL doc there marks a key deleted since its part was written.
CREATE TABLE read_model_parts (
    projection TEXT    NOT NULL,
    first_key  TEXT    NOT NULL,
    last_key   TEXT    NOT NULL,
    rows       INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    PRIMARY KEY (projection, first_key)
) WITHOUT ROWID;
CREATE TABLE read_models_nullable (
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    doc        BLOB,
    PRIMARY KEY (projection, key)
) WITHOUT ROWID;
INSERT INTO read_models_nullable (projection, key, doc)
    SELECT projection, key, doc FROM read_models;
DROP TABLE read_models;
ALTER TABLE read_models_nullable RENAME TO read_models;
