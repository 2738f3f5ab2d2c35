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
    messages        INTEGER NOT NULL,
    unread          INTEGER NOT NULL DEFAULT 0,
    last_message_id INTEGER NOT NULL,
    last_at         INTEGER NOT NULL,
    last_direction  TEXT NOT NULL,
    last_summary    TEXT NOT NULL,
    window_ends_at  INTEGER,
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
-- triggers below whoever writes the contact. With the phone and id beside
-- it in an index, a search reads that index and never the table.
ALTER TABLE contacts ADD COLUMN search_text TEXT;
UPDATE contacts SET search_text = lower(coalesce(profile_name, '') || char(31) || coalesce(username, '')
    || char(31) || coalesce(bsuid, ''));
CREATE TRIGGER contacts_search_text_on_insert AFTER INSERT ON contacts
BEGIN
    UPDATE contacts SET search_text = lower(coalesce(NEW.profile_name, '') || char(31)
        || coalesce(NEW.username, '') || char(31) || coalesce(NEW.bsuid, ''))
    WHERE id = NEW.id;
END;
CREATE TRIGGER contacts_search_text_on_update AFTER UPDATE OF profile_name, username, bsuid ON contacts
BEGIN
    UPDATE contacts SET search_text = lower(coalesce(NEW.profile_name, '') || char(31)
        || coalesce(NEW.username, '') || char(31) || coalesce(NEW.bsuid, ''))
    WHERE id = NEW.id;
END;
CREATE INDEX contacts_search ON contacts (workspace_id, search_text, phone, id);
