-- Numbers that stay on the WhatsApp Business app (Meta's coexistence),
-- numbers still to verify, and the picker for a signup that named none.

-- When the number was onboarded from the WhatsApp Business app (NULL: a
-- Cloud API number). Such a number keeps the app's registration, sends
-- at most 20 messages a second and is never deregistered by Switchboard.
ALTER TABLE whatsapp_numbers ADD COLUMN business_app_since BIGINT;

-- Where a message came from besides the Cloud API: `history` (imported
-- from the app's chat history, never answered nor announced) or
-- `business_app` (typed by the business in the app: an echo). NULL:
-- through the Cloud API.
ALTER TABLE messages ADD COLUMN origin TEXT;

-- The one request of each kind Meta allows within 24 hours of onboarding
-- (`smb_app_data`): claimed before it is made, so a restart never asks
-- twice. `problem`: why it was not made or Meta refused it; `declined_at`:
-- the business turned history sharing off (2593109), shown once.
CREATE TABLE business_app_syncs (
    phone_number_id TEXT NOT NULL,
    sync_type       TEXT NOT NULL,
    requested_at    BIGINT NOT NULL,
    request_id      TEXT,
    problem         TEXT,
    declined_at     BIGINT,
    PRIMARY KEY (phone_number_id, sync_type)
);

-- Each history chunk received, once (they come out of order).
CREATE TABLE history_chunks (
    phone_number_id TEXT NOT NULL,
    phase           BIGINT NOT NULL,
    chunk_order     BIGINT NOT NULL,
    progress        BIGINT,
    messages        BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (phone_number_id, phase, chunk_order)
);

-- A person answered a customer from the app: the bot stays quiet for that
-- customer until `quiet_until` (Unix ms).
CREATE TABLE bot_quiet (
    phone_number_id TEXT NOT NULL,
    contact_id      TEXT NOT NULL,
    quiet_until     BIGINT NOT NULL,
    PRIMARY KEY (phone_number_id, contact_id)
);
ALTER TABLE bot_settings ADD COLUMN quiet_after_app_minutes BIGINT NOT NULL DEFAULT 30;

-- Meta counts register and deregister requests alike toward its limit.
ALTER TABLE register_attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'register';

-- Verification codes asked for a number (SMS or voice), for Meta's limits.
CREATE TABLE code_requests (
    phone_number_id TEXT NOT NULL,
    method          TEXT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX code_requests_by_number ON code_requests (phone_number_id, at);

-- The numbers a signup could mean when it named none (JSON), for the
-- person to pick one.
ALTER TABLE onboardings ADD COLUMN choices TEXT;

-- The name the business saved for the customer in the app (state sync).
ALTER TABLE contacts ADD COLUMN saved_name TEXT;
