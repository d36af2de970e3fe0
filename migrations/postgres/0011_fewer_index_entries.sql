-- Fewer index entries per child of a fan-out: each node and attempt a fan-out creates, claims and finishes wrote 17
-- index entries, and the writer's time per child went mostly into inserting rows and their entries.
--
-- Node ids in the "C" collation, so that the primary key orders them bytewise, as SQLite does: it serves the listings
-- at every depth that `nodes_by_id` served (0007), which goes, and its comparisons are `memcmp` rather than the
-- database's collation. `node_id` is only ever compared with parameters and with itself, so no statement mixes
-- collations.
DROP INDEX nodes_by_id;
ALTER TABLE nodes ALTER COLUMN node_id TYPE TEXT COLLATE "C";
-- Children are looked up by their scoped ids (the primary key); nothing reads a parent's children by local id.
DROP INDEX nodes_local;
-- Only attempts with a deadline: the others (no queue or attempt timeout, a fan-out's children by default) added an
-- entry when queued and another when claimed for nothing to find. Every statement that reads the index compares
-- `deadline`, which implies it is not null.
DROP INDEX attempts_deadline;
CREATE INDEX attempts_deadline ON attempts (deadline) WHERE phase IN ('queued', 'running') AND deadline IS NOT NULL;
