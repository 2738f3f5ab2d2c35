-- Accounts, workspaces and the audit log. Ids are UUID text; times are
-- Unix milliseconds.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'agent', 'viewer')),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

-- Only a hash of the session token is stored: a leaked table opens nothing.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE invites (
    token_hash   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'agent', 'viewer')),
    created_by   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    used_by      TEXT REFERENCES users(id) ON DELETE SET NULL
);

-- Failed sign-ins, per account and per address, for rate limiting.
CREATE TABLE sign_in_failures (
    key TEXT NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_key ON sign_in_failures (key, at);

CREATE TABLE audit_log (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  TEXT,
    actor_user_id TEXT,
    actor_email   TEXT,
    action        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, id);
