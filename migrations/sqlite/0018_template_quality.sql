-- Meta's quality score of each template (GREEN, YELLOW, RED, UNKNOWN),
-- from the listing and from message_template_quality_update webhooks.
ALTER TABLE message_templates ADD COLUMN quality TEXT;
