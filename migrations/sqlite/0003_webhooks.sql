-- The webhook journal and what processing it produces. Times are Unix ms.

-- A connected WhatsApp number belongs to one workspace (filled by
-- onboarding); webhooks are routed by its phone_number_id.
CREATE TABLE whatsapp_numbers (
    phone_number_id      TEXT PRIMARY KEY NOT NULL,
    workspace_id         TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    waba_id              TEXT NOT NULL,
    display_phone_number TEXT,
    quality_rating       TEXT,
    created_at           INTEGER NOT NULL
);
CREATE INDEX whatsapp_numbers_by_waba ON whatsapp_numbers (waba_id);

-- Every signed POST, byte for byte, before it is acknowledged. (Unused on
-- SQLite since the journal moved to a file of its own: sqlite-journal/.)
CREATE TABLE webhook_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at     INTEGER NOT NULL,
    signature       TEXT NOT NULL,
    body            BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'rejected', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    processed_at    INTEGER
);
CREATE INDEX webhook_events_due ON webhook_events (state, next_attempt_at);

-- Messages in both directions; one row per (number, wamid) whatever the
-- number of deliveries.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id    TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    wamid           TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    customer_wa_id  TEXT NOT NULL,
    customer_name   TEXT,
    kind            TEXT NOT NULL,
    summary         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    sent_at         INTEGER NOT NULL,
    status          TEXT,
    status_rank     INTEGER NOT NULL DEFAULT 0,
    error_code      INTEGER,
    error_title     TEXT,
    error_details   TEXT,
    UNIQUE (phone_number_id, wamid)
);
CREATE INDEX messages_by_conversation ON messages (workspace_id, phone_number_id, customer_wa_id, sent_at);

-- Every status once, kept even when it arrives before its message.
CREATE TABLE message_statuses (
    wamid           TEXT NOT NULL,
    status          TEXT NOT NULL,
    rank            INTEGER NOT NULL,
    phone_number_id TEXT NOT NULL,
    recipient       TEXT,
    at              INTEGER NOT NULL,
    error_code      INTEGER,
    error_title     TEXT,
    error_details   TEXT,
    PRIMARY KEY (wamid, status)
);

-- Changes for a number nobody has connected yet; processed on connection.
CREATE TABLE unrouted_changes (
    event_id        INTEGER NOT NULL,
    change_index    INTEGER NOT NULL,
    phone_number_id TEXT,
    waba_id         TEXT NOT NULL,
    field           TEXT NOT NULL,
    value           TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (event_id, change_index)
);

-- Fields other than messages (account_update, quality, templates, ...).
CREATE TABLE account_events (
    event_id        INTEGER NOT NULL,
    change_index    INTEGER NOT NULL,
    workspace_id    TEXT,
    waba_id         TEXT NOT NULL,
    field           TEXT NOT NULL,
    value           TEXT NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (event_id, change_index)
);
