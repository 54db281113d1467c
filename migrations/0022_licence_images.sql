-- 0022: licence images in the database, for installations of several nodes (SPEC section 14):
-- an image uploaded through one node is shown by every other. Each row is one image sealed
-- whole under the PII key `driver_uploads.key_id` names; `name` is the upload's name in
-- `driver_uploads.path`. On SQLite (one node) images stay files in the data dir's uploads/,
-- and this table stays empty.
CREATE TABLE licence_images (
    name TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
) STRICT;
