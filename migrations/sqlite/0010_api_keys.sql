-- Keys a workspace's own code uses to call /api/v1. Only a hash is kept;
-- the key is shown once. Revoked keys stay listed, for the audit trail.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- Comma-separated: send, read.
    scopes       TEXT NOT NULL,
    -- The key's first characters, so people can tell keys apart.
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_of_workspace ON api_keys (workspace_id, created_at);
