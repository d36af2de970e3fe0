-- Authentication and authorization (as migrations/postgres/0013_auth.sql): projects as resources, API keys, and the
-- project of each attempt.
CREATE TABLE projects (
    id              TEXT PRIMARY KEY,
    description     TEXT NOT NULL,
    domains         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    archived_at     BIGINT
);
INSERT OR IGNORE INTO projects (id, description, domains, created_at)
SELECT project, '', group_concat(domain), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM (SELECT project, domain FROM executions UNION SELECT project, domain FROM tasks
      UNION SELECT project, domain FROM workflows UNION SELECT project, domain FROM launch_plans)
GROUP BY project;

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    secret_hash     BLOB NOT NULL,
    project         TEXT,
    role            TEXT NOT NULL,
    description     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    revoked_at      BIGINT
);

ALTER TABLE attempts ADD COLUMN project TEXT;
UPDATE attempts SET project = (SELECT executions.project FROM executions WHERE executions.id = attempts.execution_id)
WHERE phase IN ('queued', 'running');
CREATE INDEX attempts_queued_project ON attempts (queue, project, id) WHERE phase = 'queued';
