-- Read models clustered by their key (WITHOUT ROWID): one B-tree instead of a table plus its
-- primary-key index, so a rebuild writes each row once instead of twice.
CREATE TABLE read_models_clustered (
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    doc        BLOB NOT NULL,
    PRIMARY KEY (projection, key)
) WITHOUT ROWID;
INSERT INTO read_models_clustered (projection, key, doc)
    SELECT projection, key, doc FROM read_models;
DROP TABLE read_models;
ALTER TABLE read_models_clustered RENAME TO read_models;
