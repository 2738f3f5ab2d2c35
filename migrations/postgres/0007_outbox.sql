-- The bot each workspace runs on new inbound messages.
CREATE TABLE bot_settings (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('off', 'echo', 'rules')),
    -- The rules bot's configuration (JSON), kept when another kind is chosen.
    rules        TEXT NOT NULL DEFAULT '{}',
    updated_at   BIGINT NOT NULL
);

-- Messages waiting to go out, and what became of them. A bot reply's
-- dedupe key names the inbound message it answers, so a message processed
-- twice queues its reply once.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    content         TEXT NOT NULL,
    origin          TEXT NOT NULL,
    dedupe_key      TEXT,
    context_wamid   TEXT,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sent', 'needs_template', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    wamid           TEXT,
    error_code      BIGINT,
    error_title     TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (workspace_id, dedupe_key)
);
CREATE INDEX outbox_queued ON outbox (phone_number_id, id) WHERE state = 'queued';

-- Which instance paces a number's sends (one at a time, by lease).
CREATE TABLE number_senders (
    phone_number_id TEXT PRIMARY KEY NOT NULL,
    owner           TEXT NOT NULL,
    lease_until     BIGINT NOT NULL
);

-- Messages per second Meta allows the number (80 unless upgraded).
ALTER TABLE whatsapp_numbers ADD COLUMN send_rate BIGINT NOT NULL DEFAULT 80;
