-- Listing an execution's nodes of some phases at every depth (its failed nodes, say) reads one range of this index
-- per phase, a page at a time, however many nodes the execution has.
CREATE INDEX nodes_phase ON nodes (execution_id, phase, node_id);
