-- The OAuth redirect path of Embedded Signup (Meta's dialog opened as a
-- page, without the JS SDK). Each start leaves one row: the `state` it
-- sent Meta (as a SHA-256 hash, never the value), good once and for 10
-- minutes, for the person and the workspace that started it; and the PKCE
-- `code_verifier`, sealed by the token vault (bound to the state's hash),
-- which the callback needs for the code exchange and then forgets.
-- `redirect_uri` is the exact string the dialog was given: the exchange
-- must send the same. `used_at`: the callback took it (a second use is a
-- replay). Pruned a day after it was made.
CREATE TABLE oauth_states (
    state_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    business_app BOOLEAN NOT NULL,
    redirect_uri TEXT NOT NULL,
    key_id       TEXT,
    nonce        BYTEA,
    ciphertext   BYTEA,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX oauth_states_by_age ON oauth_states (created_at);
