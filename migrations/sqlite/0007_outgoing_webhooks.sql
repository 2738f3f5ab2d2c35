-- A workspace's own HTTPS endpoints, sent its events signed per the
-- Standard Webhooks specification. The signing secret is sealed like the
-- access tokens; during a rotation the previous one signs too, until it
-- expires.
CREATE TABLE webhook_endpoints (
    id                   TEXT PRIMARY KEY NOT NULL,
    workspace_id         TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    secret_key_id        TEXT NOT NULL,
    secret_nonce         BLOB NOT NULL,
    secret_ciphertext    BLOB NOT NULL,
    previous_key_id      TEXT,
    previous_nonce       BLOB,
    previous_ciphertext  BLOB,
    previous_expires_at  INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_of_workspace ON webhook_endpoints (workspace_id);

-- Each event once per endpoint (the event id is stable, so a duplicate
-- delivery from Meta queues nothing), with its delivery log.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_of_workspace ON webhook_deliveries (workspace_id, id);
