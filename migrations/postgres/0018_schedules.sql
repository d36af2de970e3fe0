-- Launch plans' schedules: one row per launch plan version that has a schedule (inactive when registered), whether
-- it is active and since when (its anchor: a fixed rate ticks from it), the next tick to run and the last one that
-- started an execution. The ticker locks due rows (skipping rows another replica holds) and moves `next_tick` in the
-- transaction that starts the tick's executions, so a tick runs once however many replicas tick.
CREATE TABLE schedules (
    project         TEXT NOT NULL,
    domain          TEXT NOT NULL,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT FALSE,
    anchor          BIGINT NOT NULL,
    next_tick       BIGINT,
    last_tick       BIGINT,
    changed_at      BIGINT NOT NULL,
    PRIMARY KEY (project, domain, name, version)
);
CREATE INDEX schedules_due ON schedules (next_tick) WHERE active;
