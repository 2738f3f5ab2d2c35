-- Processed webhooks are pruned oldest first, in batches (see the main
-- database's 0017).
CREATE INDEX webhook_events_done_by_age ON webhook_events (received_at) WHERE state = 'done';
