-- Version 7: retention. Request rows, OCR jobs, alerts and model skips older than the retention
-- setting are pruned at start (ledger/retention.rs); per-day totals stay in usage_daily.

-- Range reads by time across keys (usage views, pruning) use this instead of scanning by day.
-- Rows are appended in time order, so keeping it up to date costs an append at the B-tree's edge.
CREATE INDEX requests_started ON requests (started_ms);

-- Request rows of UTC days before this one were pruned: usage_daily alone holds those days, and
-- the consistency check (usage_daily.requests = request rows) starts from here.
ALTER TABLE pool_state ADD COLUMN pruned_before_day TEXT;
-- When a process last pruned (ms): at most once an hour.
ALTER TABLE pool_state ADD COLUMN pruned_ms INTEGER;
