-- Errors Meta reports for a number as a whole (`value.errors[]` with no
-- message or status attached), kept and shown on the number. Such a change
-- has no id to dedupe by: one row per distinct error of a number (its
-- fingerprint), first and last seen, so Meta's retries add nothing.
CREATE TABLE number_errors (
    id              BIGSERIAL PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    code            BIGINT,
    title           TEXT,
    details         TEXT,
    first_seen_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, phone_number_id, fingerprint)
);
CREATE INDEX number_errors_by_number ON number_errors (workspace_id, phone_number_id, last_seen_at);
