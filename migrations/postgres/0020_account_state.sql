-- What Meta says about a WhatsApp Business Account as a whole
-- (account_update, business_capability_update) and about each number
-- (name review, the health probe), kept so sends can be gated and the
-- Health page can explain it.

-- Restrictions Meta placed on a WABA, each until its expiration (Unix ms;
-- NULL: until Meta's health status says it is lifted). `source`: `webhook`
-- (ACCOUNT_RESTRICTION) or `send_error` (a send Meta refused for a kind).
-- `event_at`: when Meta made the webhook (a late copy of an older one
-- changes nothing); `lifted_at`: Meta's health status showed it over.
CREATE TABLE waba_restrictions (
    waba_id          TEXT NOT NULL,
    restriction_type TEXT NOT NULL,
    expires_at       BIGINT,
    remediation      TEXT,
    source           TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    event_at         BIGINT NOT NULL DEFAULT 0,
    lifted_at        BIGINT,
    PRIMARY KEY (waba_id, restriction_type)
);

-- One row per WABA: the latest of each kind of notice.
CREATE TABLE waba_notices (
    waba_id               TEXT NOT NULL PRIMARY KEY,
    ban_state             TEXT,
    ban_date              TEXT,
    ban_at                BIGINT,
    violation_type        TEXT,
    violation_remediation TEXT,
    violation_at          BIGINT,
    granted_event         TEXT,
    granted_at            BIGINT,
    messaging_limit       TEXT,
    max_phone_numbers     BIGINT,
    updated_at            BIGINT NOT NULL
);

-- VOLUME_BASED_PRICING_TIER_UPDATE, per category, month and region.
CREATE TABLE waba_pricing_tiers (
    waba_id          TEXT NOT NULL,
    pricing_category TEXT NOT NULL,
    effective_month  TEXT NOT NULL,
    region           TEXT NOT NULL DEFAULT '',
    tier             TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    PRIMARY KEY (waba_id, pricing_category, effective_month, region)
);

-- Per number: the last display-name decision, what the last health probe
-- read from Meta (`GET /{number}?fields=health_status,...`), and when a
-- webhook for it last arrived (written once per pipeline batch).
CREATE TABLE number_health (
    phone_number_id  TEXT NOT NULL PRIMARY KEY,
    name_decision    TEXT,
    requested_name   TEXT,
    name_rejection   TEXT,
    can_send         TEXT,
    findings         TEXT,
    probe_error      TEXT,
    checked_at       BIGINT,
    due_at           BIGINT,
    last_event_at    BIGINT
);
CREATE INDEX number_health_due ON number_health (due_at);
