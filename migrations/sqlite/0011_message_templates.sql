-- Each WABA's message templates as Meta last reported them, synced on
-- connect, on a schedule and after every status webhook.
CREATE TABLE message_templates (
    waba_id          TEXT NOT NULL,
    name             TEXT NOT NULL,
    language         TEXT NOT NULL,
    -- Meta's id of this (name, language).
    template_id      TEXT NOT NULL,
    category         TEXT NOT NULL,
    -- APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...
    status           TEXT NOT NULL,
    rejected_reason  TEXT,
    parameter_format TEXT NOT NULL,
    -- Meta's components, as JSON.
    components       TEXT NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (waba_id, name, language)
);

-- When each WABA's templates are next read from Meta. A webhook or a new
-- connection makes it due at once; instances claim a due WABA by moving
-- its time forward (compare-and-set), so one of them syncs it.
CREATE TABLE template_syncs (
    waba_id    TEXT PRIMARY KEY NOT NULL,
    due_at     INTEGER NOT NULL,
    synced_at  INTEGER,
    last_error TEXT
);
