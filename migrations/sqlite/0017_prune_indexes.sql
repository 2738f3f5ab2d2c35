-- The pruner deletes each kind oldest first, 500 rows at a time: without
-- an index on the age it reads, every batch would scan its whole table.
CREATE INDEX message_statuses_by_age ON message_statuses (at);
CREATE INDEX audit_log_by_age ON audit_log (at);
CREATE INDEX outbox_sent_by_age ON outbox (updated_at) WHERE state = 'sent';
CREATE INDEX webhook_deliveries_settled_by_age ON webhook_deliveries (created_at) WHERE state IN ('delivered', 'failed');
CREATE INDEX inbound_media_stored_by_age ON inbound_media (stored_at) WHERE state = 'stored';
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sign_in_failures_by_age ON sign_in_failures (at);
CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
