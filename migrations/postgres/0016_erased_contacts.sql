-- Contacts erased on request (data rights). What is left of one is a
-- hash of each id it was known by (phone, BSUID), salted with its
-- workspace and scope, and when: a webhook sent before the erasure (Meta's
-- retry, a replayed dead letter) that names one of them is dropped, so the
-- contact does not come back; a message sent after it starts afresh.
CREATE TABLE erased_identities (
    workspace_id TEXT NOT NULL,
    scope        TEXT NOT NULL,
    id_hash      TEXT NOT NULL,
    erased_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, scope, id_hash)
);
