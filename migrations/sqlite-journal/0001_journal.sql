-- The webhook journal, in a SQLite file of its own (next to the main one),
-- so that acknowledging a webhook never waits behind the pipeline's writes
-- to the main database. Effects are idempotent, so an event applied to the
-- main database but not yet marked done here is simply applied again.
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
