-- Fewer index entries per child of a fan-out (as migrations/postgres/0011_fewer_index_entries.sql, which also gives
-- node ids the bytewise order SQLite already has).
--
-- Children are looked up by their scoped ids (the primary key); nothing reads a parent's children by local id.
DROP INDEX nodes_local;
-- Only attempts with a deadline: the others added an entry when queued and another when claimed for nothing to find.
-- Every statement that reads the index compares `deadline`, which implies it is not null.
DROP INDEX attempts_deadline;
CREATE INDEX attempts_deadline ON attempts (deadline) WHERE phase IN ('queued', 'running') AND deadline IS NOT NULL;
