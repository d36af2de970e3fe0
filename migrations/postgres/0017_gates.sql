-- Gate nodes that wait (a sleep, a signal, an approval): one row per running gate, with the signal it waits for and
-- its deadline (the end of a sleep, or of a signal's timeout), which the sweeper looks at like an attempt's. The batch
-- in which the gate stops waiting deletes it (a bulk abort, the rows of every gate of the execution that no longer
-- runs); reads pass over a row whose node does not run, and the sweeper deletes one it finds.
CREATE TABLE gates (
    execution_id    UUID NOT NULL REFERENCES executions (id),
    node_id         TEXT NOT NULL,
    signal_id       TEXT,
    deadline        BIGINT,
    PRIMARY KEY (execution_id, node_id)
);
CREATE INDEX gates_deadline ON gates (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX gates_signal ON gates (execution_id, signal_id) WHERE signal_id IS NOT NULL;

-- Signals set on an execution (SetSignal): the value (protobuf Literal), when and by whom. Set once; setting the same
-- value again changes nothing. A recovered execution starts with its original's.
CREATE TABLE signals (
    execution_id    UUID NOT NULL REFERENCES executions (id),
    signal_id       TEXT NOT NULL,
    value           BYTEA NOT NULL,
    set_at          BIGINT NOT NULL,
    set_by          TEXT NOT NULL,
    PRIMARY KEY (execution_id, signal_id)
);
