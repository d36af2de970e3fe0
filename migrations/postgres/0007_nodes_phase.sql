-- Listing an execution's nodes of some phases at every depth (its failed nodes, say) reads one range of this index
-- per phase, a page at a time, however many nodes the execution has. Node ids are in the "C" collation so that the
-- listing's order is bytewise, as on SQLite, whatever the database's collation.
--
-- The price: with `phase` indexed, an update that changes a node's phase is no longer a HOT update (0001 kept every
-- indexed column constant), so each phase change adds entries to the nodes' indexes; vacuum reclaims them.
CREATE INDEX nodes_phase ON nodes (execution_id, phase, node_id COLLATE "C");
