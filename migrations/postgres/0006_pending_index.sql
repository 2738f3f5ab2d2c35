-- Claims take the oldest pending events: walk them in id order among the
-- pending ones only, instead of sorting every due event on each claim.
CREATE INDEX webhook_events_pending ON webhook_events (id) WHERE state = 'pending';
