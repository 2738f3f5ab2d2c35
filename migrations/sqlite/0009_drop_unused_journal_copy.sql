-- The webhook journal lives in a file of its own (migrations/sqlite-journal);
-- the copy 0003 made in the main database was never written to.
DROP INDEX IF EXISTS webhook_events_due;
DROP TABLE IF EXISTS webhook_events;
