-- ListExecutions' filters by target, by creation time and by a search of names (ListExecutionsRequest), each a range
-- of an index within a project and domain, so that a listing reads along its matches rather than along every
-- execution of the project.
--
-- Names and targets in the "C" collation, so that a prefix is a bytewise range, as on SQLite (0011 did the same to
-- node ids): the name's unique index then serves a search by name prefix. Elsewhere both are only compared for
-- equality, which no deterministic collation changes.
ALTER TABLE executions ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE executions ALTER COLUMN target TYPE TEXT COLLATE "C";
-- A target's executions newest first; every version of it is a range of `target` (`project/domain/name@...`).
CREATE INDEX executions_target ON executions (project, domain, target_kind, target, id);
CREATE INDEX executions_created ON executions (project, domain, created_at);
