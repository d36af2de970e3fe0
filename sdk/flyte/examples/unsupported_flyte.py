"""A construct the Gantry bridge refuses at registration: a gate node (`sleep`) in a workflow."""

from datetime import timedelta

from flytekit import sleep, task, workflow


@task
def after_gate(x: int) -> int:
    return x


@workflow
def gated_wf(x: int) -> int:
    gate = sleep(timedelta(seconds=1))
    result = after_gate(x=x)
    gate >> result
    return result
