-- Installation-wide key/value settings (installation id, and later issues'
-- small pieces of state). Times are Unix milliseconds on both backends.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
