-- Installation-wide key/value settings (installation id, and later issues'
-- small pieces of state). Times are Unix milliseconds on both backends.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
