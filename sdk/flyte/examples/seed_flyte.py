"""The seed (`generate_others`, from the Dynamic Tasks page) written with flytekit: a `@dynamic` that yields
`tasks_count` children of `other_task` and returns their outputs; a workflow around it and a launch plan of that
workflow whose default is 5."""

from flytekit import LaunchPlan, dynamic, task, workflow


@task
def other_task(index: int) -> int:
    return index * 2


@dynamic
def generate_others(tasks_count: int) -> list[int]:
    res = []
    for i in range(tasks_count):
        res.append(other_task(index=i))
    return res


@workflow
def wf(tasks_count: int = 5) -> list[int]:
    return generate_others(tasks_count=tasks_count)


seed_lp = LaunchPlan.get_or_create(wf, name="seed_lp", default_inputs={"tasks_count": 5})
