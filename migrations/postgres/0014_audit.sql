-- The audit log: one row per mutating call (registrations, executions created, terminated, relaunched, recovered,
-- and whatever else the server's audit table names), written before the call is answered. `principal` is the
-- caller's stable, non-secret name; `rpc` the method's name (`CreateExecution`); `project`, `domain` and `target`
-- what the call acted on (`name@version` of a registration, an execution's id), empty where the request did not say
-- or did not decode; `summary` a short description of the request that never holds input values or secrets;
-- `outcome` 'OK' or the gRPC code's name, with the status message in `message`. Ids are UUIDv7: listings go newest
-- first by id. Rows are never updated.
CREATE TABLE audit_entries (
    id          UUID PRIMARY KEY,
    principal   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    rpc         TEXT NOT NULL,
    project     TEXT NOT NULL,
    domain      TEXT NOT NULL,
    target      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX audit_entries_by_principal ON audit_entries (principal, id);
CREATE INDEX audit_entries_by_project ON audit_entries (project, id);
