-- Rebuilt read models are stored in compressed parts of many rows, in key order (docs/adr/0014):
-- a rebuild writes a few hundred large rows instead of hundreds of thousands of small ones.
-- Rows saved since (incremental saves) stay per key in read_models and override the parts;
-- a NULL doc there marks a key deleted since its part was written.
CREATE TABLE read_model_parts (
    projection TEXT   COLLATE "C" NOT NULL,
    first_key  TEXT   COLLATE "C" NOT NULL,
    last_key   TEXT   COLLATE "C" NOT NULL,
    rows       BIGINT NOT NULL,
    data       BYTEA  NOT NULL,
    PRIMARY KEY (projection, first_key)
);
ALTER TABLE read_models ALTER COLUMN doc DROP NOT NULL;
-- Keys compare by bytes on both backends (as in Rust), whatever the database's collation:
-- parts and per-key rows are merged in that order.
ALTER TABLE read_models ALTER COLUMN key TYPE TEXT COLLATE "C";
