-- 0007: the dispatcher's lease finds an endpoint's due deliveries by time (docs/BENCHMARKS.md,
-- "Webhooks out: a backlog of dead endpoints"). Through webhook_deliveries_pending_idx alone, a
-- failing endpoint's whole backlog (every delivery waiting for its next retry) was read and
-- filtered on every pass, every 200 ms: 21 ms a pass at 50,000 pending, 300 ms at 500,000.
CREATE INDEX webhook_deliveries_due_idx
    ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
