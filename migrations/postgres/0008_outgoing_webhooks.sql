-- A workspace's own HTTPS endpoints, sent its events signed per the
-- Standard Webhooks specification. The signing secret is sealed like the
-- access tokens; during a rotation the previous one signs too, until it
-- expires.
CREATE TABLE webhook_endpoints (
    id                   TEXT PRIMARY KEY NOT NULL,
    workspace_id         TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    secret_key_id        TEXT NOT NULL,
    secret_nonce         BYTEA NOT NULL,
    secret_ciphertext    BYTEA NOT NULL,
    previous_key_id      TEXT,
    previous_nonce       BYTEA,
    previous_ciphertext  BYTEA,
    previous_expires_at  BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_of_workspace ON webhook_endpoints (workspace_id);

-- Each event once per endpoint (the event id is stable, so a duplicate
-- delivery from Meta queues nothing), with its delivery log.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_of_workspace ON webhook_deliveries (workspace_id, id);
