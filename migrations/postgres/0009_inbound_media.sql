-- Customers' photos, voice notes, videos, documents and stickers, fetched
-- while Meta's short-lived URL works and kept here (within a size limit),
-- so a thread shows them whatever Meta has deleted since.
CREATE TABLE inbound_media (
    phone_number_id TEXT NOT NULL,
    media_id        TEXT NOT NULL,
    workspace_id    TEXT NOT NULL,
    wamid           TEXT NOT NULL,
    mime_type       TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    size            BIGINT,
    bytes           BYTEA,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    stored_at       BIGINT,
    PRIMARY KEY (phone_number_id, media_id)
);
CREATE INDEX inbound_media_pending ON inbound_media (next_attempt_at) WHERE state = 'pending';
CREATE INDEX inbound_media_by_message ON inbound_media (workspace_id, wamid);
