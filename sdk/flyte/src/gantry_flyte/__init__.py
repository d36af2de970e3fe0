"""Run unmodified flytekit code (`@task`, `@dynamic`, `@workflow`, `map_task`, `conditional`) on Gantry.

- `translate` and `types`: flyteidl <-> gantry.v1 (pure functions);
- `registrar`: a flytekit module's tasks, workflows and launch plans registered in Gantry;
- `worker`: a `gantry.Worker` whose handler runs each attempt with flytekit's entrypoint, in a forked child of a
  pre-imported interpreter (`forkserver`) or a subprocess (`runner`);
- `cli`: `gantry-flyte register` and `gantry-flyte worker`.
"""
