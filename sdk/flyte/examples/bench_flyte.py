"""The benchmark's workload: one `@dynamic` fanning out to `n` trivial flytekit children."""

from flytekit import dynamic, task


@task
def child(i: int) -> int:
    return i + 1


@dynamic
def fan_out(n: int) -> list[int]:
    return [child(i=i) for i in range(n)]
