-- The claim, as a function that plans its scans with bitmap scans off.
--
-- The attempts table's statistics lag behind a fan-out (its inserts do not refresh them: see `refresh_statistics`),
-- so the planner believes a queue holds a couple of queued attempts and reads all of them through a bitmap scan,
-- then sorts them for the oldest: 61-97 ms per claim with 70,000 queued, so that a 100,000-child fan-out on 8 worker
-- slots took 148 s. Walking the queue's partial index in id order and stopping at the limit took 2.6-4.7 ms on the
-- same table. A function's SET clause holds for the statements it runs and nothing else; plpgsql keeps their plans
-- for the session.
CREATE FUNCTION gantry_claim(queues TEXT[], max_count BIGINT, now_ms BIGINT, worker TEXT, lease_until BIGINT)
RETURNS SETOF attempts
LANGUAGE plpgsql
SET enable_bitmapscan = off
AS $$
BEGIN
    RETURN QUERY
    WITH candidates AS (
        SELECT c.queue, c.id FROM unnest(queues) AS q(queue) CROSS JOIN LATERAL
            (SELECT t.queue, t.id FROM attempts AS t WHERE t.phase = 'queued' AND t.queue = q.queue
             AND t.not_before <= now_ms AND (t.deadline IS NULL OR t.deadline > now_ms)
             ORDER BY t.id LIMIT max_count) AS c
        ORDER BY c.id LIMIT max_count),
    shares AS (SELECT candidates.queue, count(*) AS share FROM candidates GROUP BY candidates.queue),
    picked AS MATERIALIZED (
        SELECT p.id FROM shares CROSS JOIN LATERAL
            (SELECT t.id FROM attempts AS t WHERE t.phase = 'queued' AND t.queue = shares.queue
             AND t.not_before <= now_ms AND (t.deadline IS NULL OR t.deadline > now_ms)
             ORDER BY t.id LIMIT shares.share FOR UPDATE SKIP LOCKED) AS p)
    UPDATE attempts AS a SET phase = 'running', worker_id = worker, started_at = now_ms,
        lease_expires_at = lease_until, deadline = now_ms + a.timeout_ms
    WHERE a.id = ANY(ARRAY(SELECT picked.id FROM picked))
    RETURNING a.*;
END
$$;
