-- Listing an execution's nodes at every depth, by node id, a page at a time (ListNodeExecutions `all_depths`).
--
-- Node ids in the "C" collation, so that the order is bytewise, as on SQLite, whatever the database's collation.
-- `node_id` never changes, so this index costs an entry per inserted node and nothing on updates.
CREATE INDEX nodes_by_id ON nodes (execution_id, node_id COLLATE "C");

-- The nodes that did not succeed (failed, timed out, aborted), a page at a time however large the execution: what
-- an operator lists to find why a 100,000-child fan-out failed. Indexing `phase` itself would end HOT updates of
-- nodes: every phase change would add an entry to every index of the table (measured: no update of 30,000 stayed
-- HOT, and updating 50,000 nodes took a third longer). This flag changes only when a node stops without success, so
-- every other update stays HOT (29,900 of 30,000 in the same measure) and the partial index holds only those nodes.
ALTER TABLE nodes ADD COLUMN unsuccessful BOOLEAN
    GENERATED ALWAYS AS (phase IN ('failed', 'timed_out', 'aborted')) STORED;
CREATE INDEX nodes_unsuccessful ON nodes (execution_id, node_id COLLATE "C") WHERE unsuccessful;
