-- Claims walk the pending events in id order (webhook_events_pending). With
-- this index beside it, SQLite chose (state, next_attempt_at) for the claim
-- instead, read every pending row to check its lease and sorted them all by
-- id: about 30 ms a claim with 100,000 events behind, on the connection the
-- acknowledgements also wait for. Nothing else needs it.
DROP INDEX IF EXISTS webhook_events_due;
