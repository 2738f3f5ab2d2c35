-- The conversation list without a scan of the messages: one row per
-- conversation (a number and a contact), kept in the transaction that
-- stores each of its messages. The last message is the newest by
-- (sent_at, id), so an older message imported later never replaces it.
-- `unread`: the customer's messages since someone in the workspace last
-- opened the thread (history imports never count). `window_ends_at`: the
-- customer's last message + 24 hours (NULL: they never wrote).
CREATE TABLE conversation_summaries (
    workspace_id    TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    contact_id      TEXT NOT NULL,
    messages        BIGINT NOT NULL,
    unread          BIGINT NOT NULL DEFAULT 0,
    last_message_id BIGINT NOT NULL,
    last_at         BIGINT NOT NULL,
    last_direction  TEXT NOT NULL,
    last_summary    TEXT NOT NULL,
    window_ends_at  BIGINT,
    PRIMARY KEY (workspace_id, phone_number_id, contact_id)
);
-- The list's order and its keyset pagination.
CREATE INDEX conversation_summaries_by_activity
    ON conversation_summaries (workspace_id, last_at DESC, phone_number_id, contact_id);
-- Merges and erasures find a contact's rows.
CREATE INDEX conversation_summaries_by_contact ON conversation_summaries (contact_id);

-- Every conversation already stored, as read (nobody can say what was
-- read before this version, and a badge on every old thread says nothing).
INSERT INTO conversation_summaries (workspace_id, phone_number_id, contact_id, messages, unread,
    last_message_id, last_at, last_direction, last_summary, window_ends_at)
SELECT workspace_id, phone_number_id, contact_id, messages, 0, id, sent_at, direction, summary, window_ends_at
FROM (
    SELECT workspace_id, phone_number_id, contact_id, id, sent_at, direction, summary,
           COUNT(*) OVER conversation AS messages,
           MAX(CASE WHEN direction = 'inbound' THEN sent_at END) OVER conversation + 86400000 AS window_ends_at,
           ROW_NUMBER() OVER (conversation ORDER BY sent_at DESC, id DESC) AS newest
    FROM messages
    WHERE contact_id IS NOT NULL
    WINDOW conversation AS (PARTITION BY workspace_id, phone_number_id, contact_id)
) AS latest
WHERE newest = 1;

-- The search box looks through a workspace's contacts: their profile name,
-- username and BSUID in lower case, in one column (joined by a character
-- nobody types) so that a search is one LIKE per contact, kept by the
-- database whoever writes the contact. (A scan of the contacts reads it;
-- pg_trgm would index it, but is left out so that a Postgres without the
-- contrib extensions still runs Switchboard.)
ALTER TABLE contacts ADD COLUMN search_text TEXT GENERATED ALWAYS AS (
    lower(coalesce(profile_name, '') || chr(31) || coalesce(username, '') || chr(31) || coalesce(bsuid, ''))
) STORED;
