-- max_parallelism: an attempt of an execution with a limit waits "parked" (not_before = i64::MAX, never claimable)
-- until one of the execution's active attempts (queued and claimable, or running) finishes.
CREATE INDEX attempts_parked ON attempts (execution_id, id)
    WHERE phase = 'queued' AND not_before = 9223372036854775807;
CREATE INDEX attempts_active ON attempts (execution_id)
    WHERE phase IN ('queued', 'running') AND not_before < 9223372036854775807;
