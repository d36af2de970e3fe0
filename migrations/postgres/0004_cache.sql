-- Task output memoisation. `key` is the core's cache key (SHA-256 hex of project, domain, task name,
-- cache_version, interface and inputs).
CREATE TABLE cache_entries (
    key             TEXT PRIMARY KEY,
    -- protobuf LiteralMap.
    outputs         BYTEA NOT NULL,
    -- `project/domain/name@version` of the task that wrote it, and the node execution it came from.
    task            TEXT NOT NULL,
    execution_id    UUID NOT NULL,
    node_id         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- cache_serializable: one holder of a key runs at a time. The holder's worker heartbeats extend `expires_at`; an
-- expired reservation may be taken over.
CREATE TABLE cache_reservations (
    key             TEXT PRIMARY KEY,
    execution_id    UUID NOT NULL,
    node_id         TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX cache_reservations_holder ON cache_reservations (execution_id, node_id);

-- Nodes waiting for a reservation's holder: started again (and so read the cache) when it is released.
CREATE TABLE cache_waiters (
    key             TEXT NOT NULL,
    execution_id    UUID NOT NULL,
    node_id         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (key, execution_id, node_id)
);
