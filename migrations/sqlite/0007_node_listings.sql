-- The nodes that did not succeed (failed, timed out, aborted), a page at a time however large the execution: what
-- an operator lists to find why a 100,000-child fan-out failed (ListNodeExecutions `all_depths` with `phases`).
-- Listings of every node by id use the primary key, whose order is already bytewise here.
CREATE INDEX nodes_unsuccessful ON nodes (execution_id, node_id) WHERE phase IN ('failed', 'timed_out', 'aborted');
