-- Customers as Meta identifies them since 2026 (reference meta-2026 §1):
-- one contact per workspace and identity scope, keyed by the business-scoped
-- user id (BSUID); phone, username, parent BSUID and profile name are
-- attributes that come and go. The scope is the business portfolio when
-- onboarding learnt it, else the WABA: a BSUID is the same from every number
-- of one portfolio and differs between portfolios.
ALTER TABLE whatsapp_numbers ADD COLUMN contact_scope TEXT;
UPDATE whatsapp_numbers SET contact_scope = COALESCE(
    (SELECT 'portfolio:' || o.business_id FROM onboardings o
     WHERE o.phone_number_id = whatsapp_numbers.phone_number_id AND o.business_id IS NOT NULL
     ORDER BY o.updated_at DESC LIMIT 1),
    'waba:' || waba_id);

CREATE TABLE contacts (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    scope        TEXT NOT NULL,
    bsuid        TEXT,
    phone        TEXT,
    username     TEXT,
    parent_bsuid TEXT,
    profile_name TEXT,
    -- Set when this contact proved to be another one: its history moved there.
    merged_into  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX contacts_by_workspace ON contacts (workspace_id, scope);

-- Every id a contact is known by, the superseded ones too (late statuses
-- and duplicates may still carry an old BSUID or phone).
CREATE TABLE contact_aliases (
    workspace_id  TEXT NOT NULL,
    scope         TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('bsuid', 'phone')),
    value         TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    superseded_at INTEGER,
    PRIMARY KEY (workspace_id, scope, kind, value)
);
CREATE INDEX contact_aliases_by_contact ON contact_aliases (contact_id);

ALTER TABLE messages ADD COLUMN contact_id TEXT;
ALTER TABLE outbox ADD COLUMN contact_id TEXT;

-- Every customer the old schema knew by phone (or by BSUID, its fallback
-- when the phone was withheld) becomes a contact, with their messages and
-- queued sends.
CREATE TEMP TABLE known_customers AS
SELECT workspace_id, scope, customer, MAX(name) AS name, MIN(at) AS first_at, MAX(at) AS last_at
FROM (
    SELECT m.workspace_id AS workspace_id,
           COALESCE(n.contact_scope, 'number:' || m.phone_number_id) AS scope,
           m.customer_wa_id AS customer, m.customer_name AS name, m.sent_at AS at
    FROM messages m LEFT JOIN whatsapp_numbers n ON n.phone_number_id = m.phone_number_id
    UNION ALL
    SELECT o.workspace_id, COALESCE(n.contact_scope, 'number:' || o.phone_number_id),
           o.recipient, NULL, o.created_at
    FROM outbox o LEFT JOIN whatsapp_numbers n ON n.phone_number_id = o.phone_number_id
) AS seen
GROUP BY workspace_id, scope, customer;

INSERT INTO contacts (id, workspace_id, scope, bsuid, phone, profile_name, created_at, updated_at)
SELECT 'ct_' || lower(hex(randomblob(16))), workspace_id, scope,
       CASE WHEN customer GLOB '[A-Z][A-Z].*' THEN customer END,
       CASE WHEN customer GLOB '[A-Z][A-Z].*' THEN NULL ELSE customer END,
       name, first_at, last_at
FROM known_customers;

INSERT INTO contact_aliases (workspace_id, scope, kind, value, contact_id)
SELECT workspace_id, scope, CASE WHEN bsuid IS NOT NULL THEN 'bsuid' ELSE 'phone' END,
       COALESCE(bsuid, phone), id
FROM contacts;

UPDATE messages SET contact_id = (
    SELECT a.contact_id FROM contact_aliases a
    WHERE a.workspace_id = messages.workspace_id AND a.value = messages.customer_wa_id
      AND a.kind = CASE WHEN messages.customer_wa_id GLOB '[A-Z][A-Z].*' THEN 'bsuid' ELSE 'phone' END
      AND a.scope = COALESCE((SELECT n.contact_scope FROM whatsapp_numbers n WHERE n.phone_number_id = messages.phone_number_id),
                             'number:' || messages.phone_number_id));
UPDATE outbox SET contact_id = (
    SELECT a.contact_id FROM contact_aliases a
    WHERE a.workspace_id = outbox.workspace_id AND a.value = outbox.recipient
      AND a.kind = CASE WHEN outbox.recipient GLOB '[A-Z][A-Z].*' THEN 'bsuid' ELSE 'phone' END
      AND a.scope = COALESCE((SELECT n.contact_scope FROM whatsapp_numbers n WHERE n.phone_number_id = outbox.phone_number_id),
                             'number:' || outbox.phone_number_id));
DROP TABLE known_customers;

-- A conversation is (number, contact).
DROP INDEX messages_by_conversation;
CREATE INDEX messages_by_conversation ON messages (workspace_id, phone_number_id, contact_id, sent_at);
CREATE INDEX outbox_by_contact ON outbox (contact_id, id);
