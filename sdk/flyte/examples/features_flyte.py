"""flytekit features a Gantry bridge must carry, each inside a `@dynamic` (so that its shape arrives at run time in
futures.pb) and all of them in `all_wf`: overrides, a nested dynamic, a sub-workflow and a launch plan; a conditional
on a promise; map_task, also of a functools.partial with overrides; a dataclass read by attribute, an enum, Optional
and Union, FlyteFile, FlyteDirectory and a dict between children; a StructuredDataset between children. Then the
failure shapes: a user error, a recoverable error with retries, a task that outlives its timeout, a child that fails
until a marker file exists (for recovery), and a cached dynamic parent; then caching by a HashMethod's hash and a
node's cache override."""

from __future__ import annotations

import enum
import functools
import os
import subprocess
import tempfile
import time
import typing
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from flytekit import (
    Cache,
    HashMethod,
    LaunchPlan,
    Resources,
    StructuredDataset,
    conditional,
    dynamic,
    map_task,
    task,
    workflow,
)
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile

from seed_flyte import generate_others


@task
def square(x: int) -> int:
    return x * x


@task
def double(x: int) -> int:
    return x * 2


@workflow
def double_square_wf(x: int) -> int:
    return double(x=square(x=x))


double_square_lp = LaunchPlan.get_or_create(double_square_wf, name="double_square_lp")


@dynamic
def dyn_nested(n: int) -> typing.Tuple[int, list[int], int, int]:
    squared = square(x=n).with_overrides(retries=2, timeout=timedelta(minutes=5), name="squared")
    return squared, generate_others(tasks_count=n), double_square_wf(x=n), double_square_lp(x=n)


@dynamic
def dyn_branch(n: int) -> int:
    s = square(x=n)
    return conditional("small").if_(s < 10).then(square(x=s)).else_().then(double(x=s))


@dynamic
def dyn_map(n: int) -> list[int]:
    return map_task(double)(x=list(range(n)))


@task
def affine(x: int, a: float, b: float) -> float:
    return x * a + b


@dynamic
def dyn_map_partial(n: int) -> list[float]:
    scaled = map_task(functools.partial(affine, a=2.0, b=0.5))
    return scaled(x=list(range(n))).with_overrides(retries=1, requests=Resources(cpu="1"))


@dataclass
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@task
def make_point(n: int) -> Point:
    return Point(x=n, y=2 * n)


@task
def identity(x: int) -> int:
    return x


@task
def pick_color(n: int) -> Color:
    return Color.GREEN if n % 2 else Color.RED


@task
def nothing(n: int) -> typing.Optional[int]:
    return None


@task
def text_or_number(n: int) -> typing.Union[int, str]:
    return "u"


@task
def describe(c: Color, maybe: typing.Optional[int], u: typing.Union[int, str]) -> str:
    return f"{c.value}-{maybe}-{u}"


@task
def write_file(n: int) -> FlyteFile:
    path = os.path.join(tempfile.mkdtemp(), "lines.txt")
    with open(path, "w") as f:
        f.write("".join(f"line {i}\n" for i in range(n)))
    return FlyteFile(path)


@task
def count_lines(f: FlyteFile) -> int:
    with open(f) as opened:
        return len(opened.readlines())


@task
def write_dir(n: int) -> FlyteDirectory:
    path = tempfile.mkdtemp()
    for i in range(n):
        with open(os.path.join(path, f"part{i}.txt"), "w") as f:
            f.write(str(i))
    return FlyteDirectory(path)


@task
def count_files(d: FlyteDirectory) -> int:
    return len(os.listdir(d.download()))


@task
def make_dict(n: int) -> dict[str, int]:
    return {f"k{i}": i for i in range(n)}


@task
def pass_dict(d: dict[str, int]) -> dict[str, int]:
    return dict(d)


@dynamic
def dyn_types(n: int) -> typing.Tuple[int, int, str, int, int, dict[str, int]]:
    p = make_point(n=n)
    text = describe(c=pick_color(n=n), maybe=nothing(n=n), u=text_or_number(n=n))
    return (
        identity(x=p.x),
        identity(x=p.y),
        text,
        count_lines(f=write_file(n=n)),
        count_files(d=write_dir(n=n)),
        pass_dict(d=make_dict(n=n)),
    )


@task
def make_frame(n: int) -> StructuredDataset:
    return StructuredDataset(dataframe=pd.DataFrame({"a": list(range(n)), "b": [str(i) for i in range(n)]}))


@task
def running_sum(frame: StructuredDataset) -> list[int]:
    return [int(v) for v in frame.open(pd.DataFrame).all()["a"].cumsum()]


@dynamic
def dyn_frames(n: int) -> list[int]:
    return running_sum(frame=make_frame(n=n))


@workflow
def all_wf(
    n: int = 3,
) -> typing.Tuple[
    int, list[int], int, int, int, list[int], list[float], int, int, str, int, int, dict[str, int], list[int]
]:
    a, b, c, d = dyn_nested(n=n)
    t1, t2, t3, t4, t5, t6 = dyn_types(n=n)
    return a, b, c, d, dyn_branch(n=n), dyn_map(n=n), dyn_map_partial(n=n), t1, t2, t3, t4, t5, t6, dyn_frames(n=n)


@task
def failing_task(x: int) -> int:
    if x > 0:
        raise ValueError(f"failing_task refuses {x}")
    return x


@task(retries=2)
def recoverable_task(x: int) -> int:
    if x > 0:
        raise FlyteRecoverableException(f"recoverable_task could not reach its service for {x}")
    return x


@task
def sleeper(pid_file: str) -> int:
    """Starts a helper process, writes both pids (the test passes a FIFO, so the write waits for the reader) and
    sleeps far past any test: killing the attempt must end the helper too (it is in the task's process group)."""
    helper = subprocess.Popen(["sleep", "600"])
    with open(pid_file, "w") as f:
        f.write(f"{os.getpid()} {helper.pid}")
    time.sleep(600)
    return 0


@task(timeout=timedelta(seconds=3))
def slow_sleeper(pid_file: str) -> int:
    return sleeper.task_function(pid_file=pid_file)


@task
def needs_marker(xs: list[int], marker: str) -> int:
    if not os.path.exists(marker):
        raise ValueError(f"{marker} does not exist yet")
    return sum(xs)


@task
def crash(x: int) -> int:
    """Ends its process at once: flytekit writes neither outputs nor an error."""
    os._exit(3)
    return x


@dynamic
def dyn_recover(n: int, marker: str) -> int:
    return needs_marker(xs=[double(x=i) for i in range(n)], marker=marker)


@dynamic(cache=True, cache_version="1")
def cached_dyn(n: int) -> list[int]:
    return [double(x=i) for i in range(n)]


def hash_frame(frame: pd.DataFrame) -> str:
    return str(pd.util.hash_pandas_object(frame).sum())


@task
def make_frame(n: int) -> typing.Annotated[pd.DataFrame, HashMethod(hash_frame)]:
    return pd.DataFrame({"a": list(range(n))})


@task(cache=True, cache_version="1")
def frame_total(frame: pd.DataFrame) -> int:
    return int(frame["a"].sum())


@dynamic
def dyn_hashed(n: int) -> int:
    """A frame written again under a new URI each run, hashed by its contents: its cached consumer hits."""
    return frame_total(frame=make_frame(n=n))


@dynamic
def dyn_cache_override(n: int) -> int:
    """An uncached task cached for this node only."""
    return double(x=n).with_overrides(cache=Cache(version="1"))


@dynamic
def dyn_map_lp(n: int) -> list[int]:
    """A map over a launch plan inside a dynamic: the bridge fails the attempt, naming it."""
    return map_task(double_square_lp)(x=list(range(n)))


@dataclass
class Report:
    title: str
    lines: int
    data: FlyteFile
    parts: FlyteDirectory
    counts: dict[str, int]


@task
def make_report(n: int) -> Report:
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "report.txt")
    with open(path, "w") as f:
        f.write("".join(f"line {i}\n" for i in range(n)))
    return Report(title="r", lines=n, data=FlyteFile(path), parts=FlyteDirectory(directory), counts={"n": n})


@task
def read_report(report: Report) -> str:
    with open(report.data) as f:
        text = f.read()
    files = sorted(os.listdir(report.parts.download()))
    return f"{report.title}:{report.lines}:{len(text.splitlines())}:{files}:{report.counts['n']}"


@dynamic
def dyn_file_in_dataclass(n: int) -> str:
    """A FlyteFile and a FlyteDirectory inside a dataclass, passed between children."""
    return read_report(report=make_report(n=n))


@task
def half_fails(x: int) -> int:
    if x % 2:
        raise ValueError(f"half_fails refuses odd {x}")
    return x * 10


@dynamic
def dyn_map_ratio(n: int) -> list[typing.Optional[int]]:
    """A map whose elements may half fail: the failed ones are None."""
    return map_task(half_fails, min_success_ratio=0.5)(x=list(range(n)))
