-- A fan-out's node and attempt rows are checked against `executions` once per inserting statement instead of once per
-- row.
--
-- The foreign keys checked each inserted row with a query of their own (`SELECT 1 FROM executions WHERE id = $1 FOR
-- KEY SHARE`), and since the pool plans every statement for its parameters (`plan_cache_mode = force_custom_plan`,
-- `pg/mod.rs`), Postgres planned that query again for every row: during a 100,000-child fan-out the checks took 22% of
-- Postgres's time, 16% of it planning. A statement-level trigger checks all the rows a statement inserted in one query
-- over its transition table, and fails the statement as the foreign key did (SQLSTATE 23503, foreign_key_violation).
--
-- What the foreign keys also did is not needed here: no statement deletes an execution or changes its id, nor a row's
-- `execution_id` once inserted (the batch updates of nodes and attempts do not set it), so there is nothing to lock
-- an execution against between the check and the commit, and no later change to check. SQLite keeps its foreign keys,
-- whose checks cost it nothing comparable. `specs` keeps its own: one row per accepted spec.
ALTER TABLE nodes DROP CONSTRAINT nodes_execution_id_fkey;
ALTER TABLE attempts DROP CONSTRAINT attempts_execution_id_fkey;

CREATE FUNCTION gantry_check_executions() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- One lookup in the executions' primary key per distinct execution of the statement (one, for a fan-out's
    -- chunk): `OFFSET 0` keeps the subquery from becoming an anti-join, which Postgres would run as a hash join over
    -- a sequential scan of every execution.
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT execution_id FROM inserted) AS r
               WHERE NOT EXISTS (SELECT 1 FROM executions AS e WHERE e.id = r.execution_id OFFSET 0))
    THEN
        RAISE EXCEPTION 'insert into % names an execution that does not exist', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER nodes_execution_exists AFTER INSERT ON nodes REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION gantry_check_executions();
CREATE TRIGGER attempts_execution_exists AFTER INSERT ON attempts REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION gantry_check_executions();
