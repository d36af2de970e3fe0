-- Nodes waiting, not started, for offloaded values their start needs (a branch's condition inputs, an attribute path
-- into a value): the engine fetches them from the blob store outside the writer's transaction (hydration) and starts
-- the node when they come back. A row is what a starting engine, or its sweeper after `since` is long past, fetches
-- again for; the batch that starts the node deletes it. A row whose node stopped waiting (aborted, skipped) is stale
-- and deleted when found. Only nodes that need offloaded values ever have one.
CREATE TABLE hydrations (
    execution_id    BLOB NOT NULL REFERENCES executions (id),
    node_id         TEXT NOT NULL,
    since           BIGINT NOT NULL,
    PRIMARY KEY (execution_id, node_id)
);
