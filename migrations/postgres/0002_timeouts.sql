-- Timeouts. An attempt's `deadline` is, while queued, when a worker must have claimed it by (claimable since
-- `not_before`, + `queue_timeout_ms`; none while parked under max_parallelism, set when released) and, once claimed,
-- when it must have finished by (claim time + `timeout_ms`, the attempt timeout). An
-- execution's `deadline` is its creation time + `timeout_ms`. The sweeper wakes at the earliest deadline; no timer
-- is held per attempt or execution.
ALTER TABLE attempts ADD COLUMN timeout_ms BIGINT;
ALTER TABLE attempts ADD COLUMN queue_timeout_ms BIGINT;
ALTER TABLE attempts ADD COLUMN deadline BIGINT;
CREATE INDEX attempts_deadline ON attempts (deadline) WHERE phase IN ('queued', 'running');

ALTER TABLE executions ADD COLUMN timeout_ms BIGINT;
ALTER TABLE executions ADD COLUMN deadline BIGINT;
CREATE INDEX executions_deadline ON executions (deadline)
    WHERE phase NOT IN ('succeeded', 'failed', 'aborted', 'timed_out');
