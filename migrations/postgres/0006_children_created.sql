-- Children are created in bounded chunks, interleaved with other clients' work: a composite whose
-- children_created is below children_total still has children to create (a restarted server resumes there).
ALTER TABLE nodes ADD COLUMN children_created BIGINT NOT NULL DEFAULT 0;
UPDATE nodes SET children_created = children_total;
CREATE INDEX nodes_creating ON nodes (execution_id, node_id) WHERE children_created < children_total;
