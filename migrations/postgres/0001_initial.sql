-- Gantry's schema. Times are milliseconds since the Unix epoch (BIGINT); protobuf-encoded values are BYTEA.
-- Registered resources keep the template as the protobuf message they were registered with.

CREATE TABLE tasks (
    project     TEXT NOT NULL,
    domain      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    template    BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, domain, name, version)
);

CREATE TABLE workflows (
    project     TEXT NOT NULL,
    domain      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    template    BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, domain, name, version)
);

CREATE TABLE launch_plans (
    project     TEXT NOT NULL,
    domain      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    template    BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, domain, name, version)
);

CREATE TABLE executions (
    id                  UUID PRIMARY KEY,
    project             TEXT NOT NULL,
    domain              TEXT NOT NULL,
    name                TEXT NOT NULL,
    -- 'task', 'workflow' or 'launch_plan', and the identifier the client asked for.
    target_kind         TEXT NOT NULL,
    target              TEXT NOT NULL,
    -- The workflow the execution runs (a task execution runs a one-node workflow), protobuf WorkflowTemplate.
    workflow            BYTEA NOT NULL,
    phase               TEXT NOT NULL,
    inputs              BYTEA NOT NULL,
    outputs             BYTEA,
    error               BYTEA,
    max_parallelism     INTEGER,
    overwrite_cache     BOOLEAN NOT NULL DEFAULT FALSE,
    parent_execution_id UUID,
    parent_node_id      TEXT,
    nodes_total         BIGINT NOT NULL DEFAULT 0,
    nodes_succeeded     BIGINT NOT NULL DEFAULT 0,
    nodes_failed        BIGINT NOT NULL DEFAULT 0,
    nodes_skipped       BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    UNIQUE (project, domain, name)
);
CREATE INDEX executions_phase ON executions (phase, created_at);
-- Listings filter by project and domain, newest (highest UUIDv7) first.
CREATE INDEX executions_project ON executions (project, domain, id);

CREATE TABLE nodes (
    execution_id        UUID NOT NULL REFERENCES executions (id),
    -- Exact scoped id: `local` at the top, `parent/attempt/local` below.
    node_id             TEXT NOT NULL,
    parent_id           TEXT NOT NULL,
    local_id            TEXT NOT NULL,
    -- 'task', 'composite' or 'launch_plan'.
    kind                TEXT NOT NULL,
    -- The node as written in its workflow or spec, protobuf Node.
    definition          BYTEA NOT NULL,
    -- For task nodes, `project/domain/name@version` of the task.
    task                TEXT,
    phase               TEXT NOT NULL,
    is_dynamic          BOOLEAN NOT NULL DEFAULT FALSE,
    attempts            INTEGER NOT NULL DEFAULT 0,
    user_failures       INTEGER NOT NULL DEFAULT 0,
    system_failures     INTEGER NOT NULL DEFAULT 0,
    cache_status        TEXT NOT NULL DEFAULT 'disabled',
    upstream_pending    INTEGER NOT NULL DEFAULT 0,
    -- Local ids of the sibling nodes that wait on this one, comma-separated.
    downstream          TEXT NOT NULL DEFAULT '',
    -- Index among its siblings in declaration order; listings follow it.
    position            BIGINT NOT NULL,
    children_total      BIGINT NOT NULL DEFAULT 0,
    children_succeeded  BIGINT NOT NULL DEFAULT 0,
    children_failed     BIGINT NOT NULL DEFAULT 0,
    children_skipped    BIGINT NOT NULL DEFAULT 0,
    inputs              BYTEA,
    outputs             BYTEA,
    error               BYTEA,
    child_execution_id  UUID,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    PRIMARY KEY (execution_id, node_id)
) WITH (fillfactor = 50);
-- Half-full pages leave room for HOT updates: a node is updated several times (queued, running, succeeded) and no
-- update touches an indexed column, so with room on the page its indexes never grow.
CREATE INDEX nodes_parent ON nodes (execution_id, parent_id, position);
CREATE INDEX nodes_local ON nodes (execution_id, parent_id, local_id);

-- The dynamic job spec a generator returned, stored once accepted so the generator never runs again for it.
CREATE TABLE specs (
    execution_id    UUID NOT NULL REFERENCES executions (id),
    node_id         TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    spec            BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (execution_id, node_id, attempt)
);

CREATE TABLE attempts (
    id                  UUID PRIMARY KEY,
    execution_id        UUID NOT NULL REFERENCES executions (id),
    node_id             TEXT NOT NULL,
    attempt             INTEGER NOT NULL,
    queue               TEXT NOT NULL,
    task                TEXT NOT NULL,
    phase               TEXT NOT NULL,
    worker_id           TEXT,
    not_before          BIGINT NOT NULL,
    lease_expires_at    BIGINT,
    error               BYTEA,
    created_at          BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    UNIQUE (execution_id, node_id, attempt)
);
-- Claims read queued attempts of a queue in id (creation) order; leases are swept by expiry.
CREATE INDEX attempts_queued ON attempts (queue, id) WHERE phase = 'queued';
CREATE INDEX attempts_leased ON attempts (lease_expires_at) WHERE phase = 'running';
-- The next backoff to end (when to wake waiting workers) and the queues with claimable work.
CREATE INDEX attempts_waiting ON attempts (not_before) WHERE phase = 'queued';
