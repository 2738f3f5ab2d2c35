-- Fenced ownership of a number's sends. Each new holder of a number's
-- sender lease gets the next epoch, and the messages it claims carry it:
-- a holder whose lease lapsed can no longer reschedule or give up on
-- messages another holder now owns. A message left claimed by a lapsed
-- epoch may have reached Meta: it waits for its status before going again.
ALTER TABLE number_senders ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
-- Meta throttled the number: nobody sends for it before this (Unix ms).
-- Kept in the database so that no instance sleeps on claimed messages.
ALTER TABLE number_senders ADD COLUMN paused_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claim_epoch INTEGER;
