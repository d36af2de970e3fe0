"""A construct the Gantry bridge refuses at registration: a map over a launch plan, in a workflow."""

from flytekit import LaunchPlan, map_task, task, workflow


@task
def increment(x: int) -> int:
    return x + 1


@workflow
def increment_wf(x: int) -> int:
    return increment(x=x)


increment_lp = LaunchPlan.get_or_create(increment_wf, name="increment_lp")


@workflow
def mapped_wf(xs: list[int]) -> list[int]:
    return map_task(increment_lp)(x=xs)
