-- The nodes assembling their outputs, found without reading the others: what an engine assembles again at start, and
-- what its sweeper takes over when no one finished assembling them for a while (assembly runs outside the writer's
-- transaction, after the batch that made the node `assembling` committed, so a crash may leave one there).
-- (Numbered as on Postgres; 0008 is Postgres's claim function.)
CREATE INDEX nodes_assembling ON nodes (execution_id, node_id) WHERE phase = 'assembling';
