-- The nodes assembling their outputs, found without reading the others: what an engine assembles again at start, and
-- what its sweeper takes over when no one finished assembling them for a while (assembly runs outside the writer's
-- transaction, after the batch that made the node `assembling` committed, so a crash may leave one there).
--
-- As for `unsuccessful` (0007): a partial index on `phase` itself would end HOT updates of nodes, since every phase
-- change would touch an indexed column; this flag changes only when a composite starts or stops assembling.
ALTER TABLE nodes ADD COLUMN assembling BOOLEAN GENERATED ALWAYS AS (phase = 'assembling') STORED;
CREATE INDEX nodes_assembling ON nodes (execution_id, node_id) WHERE assembling;
