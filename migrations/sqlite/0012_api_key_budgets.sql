-- Each key's request budget, shared by every instance: a token bucket in
-- thousandths of a request, as of budget_at (Unix ms).
ALTER TABLE api_keys ADD COLUMN budget_milli INTEGER NOT NULL DEFAULT 20000;
ALTER TABLE api_keys ADD COLUMN budget_at INTEGER NOT NULL DEFAULT 0;
