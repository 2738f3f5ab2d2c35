-- Onboarding through Embedded Signup, the token vault, and number health.
-- Times are Unix ms.

-- What a number is doing: 'onboarding' (steps still running), 'live',
-- 'reconnect_needed' (its token is expiring, invalid or revoked: sending
-- pauses) or 'disconnected' (history kept, nothing sent).
ALTER TABLE whatsapp_numbers ADD COLUMN status TEXT NOT NULL DEFAULT 'live';
ALTER TABLE whatsapp_numbers ADD COLUMN status_reason TEXT;
ALTER TABLE whatsapp_numbers ADD COLUMN verified_name TEXT;
ALTER TABLE whatsapp_numbers ADD COLUMN meta_status TEXT;
ALTER TABLE whatsapp_numbers ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;

-- A number's access token, sealed by the vault (AES-256-GCM; the
-- associated data binds workspace and number), with what debug_token said.
CREATE TABLE number_tokens (
    phone_number_id TEXT PRIMARY KEY NOT NULL
                    REFERENCES whatsapp_numbers(phone_number_id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    nonce           BLOB NOT NULL,
    ciphertext      BLOB NOT NULL,
    token_type      TEXT,
    scopes          TEXT NOT NULL,
    expires_at      INTEGER,
    issued_at       INTEGER,
    stored_at       INTEGER NOT NULL,
    checked_at      INTEGER,
    problem         TEXT
);

-- One run of Embedded Signup, step by step. `attempt` is the browser's id
-- for the run, so the code and the signup data may arrive in either order.
CREATE TABLE onboardings (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    attempt         TEXT NOT NULL,
    started_by      TEXT,
    step            TEXT NOT NULL,
    state           TEXT NOT NULL,
    problem         TEXT,
    finish_event    TEXT,
    waba_id         TEXT,
    phone_number_id TEXT,
    business_id     TEXT,
    -- The exchanged token until the number is known (then it moves to
    -- number_tokens, sealed again for the number).
    key_id          TEXT,
    nonce           BLOB,
    ciphertext      BLOB,
    token_type      TEXT,
    expires_at      INTEGER,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (workspace_id, attempt)
);
CREATE INDEX onboardings_ready ON onboardings (state, lease_until);

-- Registration requests per number, for Meta's 10 per 72 hours.
CREATE TABLE register_attempts (
    phone_number_id TEXT NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX register_attempts_by_number ON register_attempts (phone_number_id, at);
