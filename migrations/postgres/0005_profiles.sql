-- The business profile as Switchboard last saved it, per number, to tell
-- when someone changed it elsewhere (Meta's tools). Times are Unix ms.
CREATE TABLE business_profiles (
    phone_number_id TEXT PRIMARY KEY
                    REFERENCES whatsapp_numbers(phone_number_id) ON DELETE CASCADE,
    workspace_id    TEXT NOT NULL,
    saved           TEXT NOT NULL,
    saved_at        BIGINT NOT NULL,
    saved_by        TEXT
);
