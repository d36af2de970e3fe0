-- Authentication and authorization: projects as resources, API keys, and the project of each attempt.
--
-- Projects. `domains` is the project's domains joined by commas (domain names never hold one). An archived project
-- keeps its executions readable but takes no new registrations or executions.
CREATE TABLE projects (
    id              TEXT PRIMARY KEY,
    description     TEXT NOT NULL,
    domains         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    archived_at     BIGINT
);
-- Every project some execution or registration already names, with the domains they name, so that turning
-- authentication on finds them.
INSERT INTO projects (id, description, domains, created_at)
SELECT project, '', string_agg(domain, ',' ORDER BY domain), (extract(epoch from now()) * 1000)::bigint
FROM (SELECT project, domain FROM executions UNION SELECT project, domain FROM tasks
      UNION SELECT project, domain FROM workflows UNION SELECT project, domain FROM launch_plans) AS named
GROUP BY project
ON CONFLICT DO NOTHING;

-- API keys. The secret is never stored: `secret_hash` is its SHA-256. `project` NULL: every project (admin keys).
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    secret_hash     BYTEA NOT NULL,
    project         TEXT,
    role            TEXT NOT NULL,
    description     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    revoked_at      BIGINT
);

-- The project of an attempt's execution, so that a worker of one project claims along an index of its own
-- (`queue, project, id`) instead of walking past other projects' queued attempts; claims for every project keep
-- walking `attempts_queued`. Attempts still queued or running get theirs; finished ones need none.
ALTER TABLE attempts ADD COLUMN project TEXT;
UPDATE attempts SET project = executions.project FROM executions
WHERE attempts.execution_id = executions.id AND attempts.phase IN ('queued', 'running');
CREATE INDEX attempts_queued_project ON attempts (queue, project, id) WHERE phase = 'queued';

-- The claim of one project's worker: `gantry_claim` (0008) restricted to the project, along the index above.
CREATE FUNCTION gantry_claim_project(queues TEXT[], in_project TEXT, max_count BIGINT, now_ms BIGINT, worker TEXT,
                                     lease_until BIGINT)
RETURNS SETOF attempts
LANGUAGE plpgsql
SET enable_bitmapscan = off
AS $$
BEGIN
    RETURN QUERY
    WITH candidates AS (
        SELECT c.queue, c.id FROM unnest(queues) AS q(queue) CROSS JOIN LATERAL
            (SELECT t.queue, t.id FROM attempts AS t WHERE t.phase = 'queued' AND t.queue = q.queue
             AND t.project = in_project
             AND t.not_before <= now_ms AND (t.deadline IS NULL OR t.deadline > now_ms)
             ORDER BY t.id LIMIT max_count) AS c
        ORDER BY c.id LIMIT max_count),
    shares AS (SELECT candidates.queue, count(*) AS share FROM candidates GROUP BY candidates.queue),
    picked AS MATERIALIZED (
        SELECT p.id FROM shares CROSS JOIN LATERAL
            (SELECT t.id FROM attempts AS t WHERE t.phase = 'queued' AND t.queue = shares.queue
             AND t.project = in_project
             AND t.not_before <= now_ms AND (t.deadline IS NULL OR t.deadline > now_ms)
             ORDER BY t.id LIMIT shares.share FOR UPDATE SKIP LOCKED) AS p)
    UPDATE attempts AS a SET phase = 'running', worker_id = worker, started_at = now_ms,
        lease_expires_at = lease_until, deadline = now_ms + a.timeout_ms
    WHERE a.id = ANY(ARRAY(SELECT picked.id FROM picked))
    RETURNING a.*;
END
$$;
