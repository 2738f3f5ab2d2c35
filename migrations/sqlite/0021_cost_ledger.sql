-- Per-message pricing (reference meta-2026 §4). Runs after 0020 (another
-- change): it only adds tables.
--
-- `message_pricing`: the `pricing` object of a business message's statuses,
-- verbatim, once per message (Meta repeats it on sent, delivered and read).
-- Keyed by number and wamid, not by the stored message, so a status that
-- arrives before its message still counts, and redeliveries and several
-- instances never count one twice.
CREATE TABLE message_pricing (
    phone_number_id TEXT NOT NULL,
    wamid           TEXT NOT NULL,
    workspace_id    TEXT NOT NULL,
    month           TEXT NOT NULL,
    pricing_model   TEXT,
    billable        INTEGER,
    pricing_type    TEXT,
    category        TEXT NOT NULL,
    market          TEXT,
    pricing         TEXT NOT NULL,
    priced_at       INTEGER NOT NULL,
    PRIMARY KEY (phone_number_id, wamid)
);
-- Pruned by age with the receipts (RETAIN_STATUSES_DAYS); the ledger keeps
-- the counts.
CREATE INDEX message_pricing_by_age ON message_pricing (priced_at);

-- The ledger: counts per workspace, number, month (UTC, of the status's
-- timestamp), category, pricing type and market, moved in the transaction
-- that first keeps a message's pricing. The page and the API read these
-- few rows through the primary key, never the messages. An absent pricing
-- type and an unknown market are '' (so they take part in the key).
CREATE TABLE cost_ledger (
    workspace_id    TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    month           TEXT NOT NULL,
    category        TEXT NOT NULL,
    pricing_type    TEXT NOT NULL,
    market          TEXT NOT NULL,
    billable        INTEGER NOT NULL DEFAULT 0,
    free            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, month, phone_number_id, category, pricing_type, market)
);

-- A workspace's rate card, as parsed from the CSV an admin uploaded: one
-- row, replaced whole, so a bad file never leaves half a card.
CREATE TABLE rate_cards (
    workspace_id TEXT NOT NULL PRIMARY KEY,
    rates        TEXT NOT NULL,
    file_name    TEXT,
    uploaded_by  TEXT,
    uploaded_at  INTEGER NOT NULL
);
