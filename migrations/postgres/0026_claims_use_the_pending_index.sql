-- As in the SQLite journal (its 0004): claims and counts walk the pending
-- events by id (webhook_events_pending). With (state, next_attempt_at)
-- beside it, SQLite chose that index for the claim, read every pending
-- row to check its lease and sorted them all by id: tens of milliseconds
-- a claim with 100,000 events behind. Postgres plans better, but nothing
-- needs the index, and both backends keep one schema.
DROP INDEX IF EXISTS webhook_events_due;
