"""Launch-plan schedules (launch_plan.proto's `Schedule`): a plan registered with one runs by itself once activated.

```python
plan = client.register_launch_plan(
    report, "nightly", schedule=gantry.CronSchedule("0 2 * * *", time_zone="Europe/Paris", kickoff_input="at")
)
client.activate_schedule(plan)      # registered inactive; ticks from now on
client.list_schedules("demo", "dev")
client.deactivate_schedule(plan)
```

Each tick starts one execution of the plan with its default inputs, and the tick's time in `kickoff_input` (a
datetime input of the target that the plan does not fix), named `s-<16 hex>-<tick seconds>`, origin SCHEDULED.
`catch_up` says what becomes of ticks missed while no server ran: "skip" (the default) runs only the latest,
"run_missed" the latest `catch_up_limit` (1 to 1,000). The server checks the rest (the expression, the zone, a rate
of at least a second, the kickoff input) and refuses a malformed schedule with INVALID_ARGUMENT.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Union

from gantry.task import format_identifier
from gantry.types import datetime_of, duration_of, timedelta_of
from gantry.v1 import admin_pb2, launch_plan_pb2

_CATCH_UP = {
    "skip": launch_plan_pb2.CATCH_UP_POLICY_SKIP,
    "run_missed": launch_plan_pb2.CATCH_UP_POLICY_RUN_MISSED,
}


def _catch_up_policy(catch_up: str) -> int:
    try:
        return _CATCH_UP[catch_up]
    except KeyError:
        raise ValueError(f"catch_up must be 'skip' or 'run_missed', got {catch_up!r}") from None


def _catch_up_name(policy: int) -> str:
    return "run_missed" if policy == launch_plan_pb2.CATCH_UP_POLICY_RUN_MISSED else "skip"


def _common(schedule: launch_plan_pb2.Schedule, kickoff_input: str | None, catch_up: str, limit: int) -> None:
    schedule.kickoff_time_input = kickoff_input or ""
    schedule.catch_up = _catch_up_policy(catch_up)
    schedule.catch_up_limit = limit


@dataclasses.dataclass(frozen=True)
class CronSchedule:
    """Ticks at a cron expression's times in an IANA time zone (empty: UTC). The expression has five fields (minute
    hour day-of-month month day-of-week) or six (seconds first)."""

    expression: str
    time_zone: str = ""
    # A datetime input of the target that receives the tick's time; None for none.
    kickoff_input: str | None = None
    # "skip" or "run_missed" (then `catch_up_limit` of the latest missed ticks run).
    catch_up: str = "skip"
    catch_up_limit: int = 0

    def __post_init__(self) -> None:
        _catch_up_policy(self.catch_up)

    def to_proto(self) -> launch_plan_pb2.Schedule:
        schedule = launch_plan_pb2.Schedule(
            cron=launch_plan_pb2.CronSchedule(expression=self.expression, time_zone=self.time_zone)
        )
        _common(schedule, self.kickoff_input, self.catch_up, self.catch_up_limit)
        return schedule


@dataclasses.dataclass(frozen=True)
class FixedRate:
    """Ticks every `every` (a timedelta, or seconds; at least one second) from the moment it is activated."""

    every: dt.timedelta
    kickoff_input: str | None = None
    catch_up: str = "skip"
    catch_up_limit: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.every, dt.timedelta):
            object.__setattr__(self, "every", dt.timedelta(seconds=self.every))
        _catch_up_policy(self.catch_up)

    def to_proto(self) -> launch_plan_pb2.Schedule:
        schedule = launch_plan_pb2.Schedule(fixed_rate=duration_of(self.every))
        _common(schedule, self.kickoff_input, self.catch_up, self.catch_up_limit)
        return schedule


Schedule = Union[CronSchedule, FixedRate]


def schedule_of(schedule: launch_plan_pb2.Schedule) -> Schedule | None:
    """The Python form of a Schedule message; None when it has neither a cron nor a fixed rate."""
    common = {
        "kickoff_input": schedule.kickoff_time_input or None,
        "catch_up": _catch_up_name(schedule.catch_up),
        "catch_up_limit": schedule.catch_up_limit,
    }
    kind = schedule.WhichOneof("kind")
    if kind == "cron":
        return CronSchedule(schedule.cron.expression, schedule.cron.time_zone, **common)
    if kind == "fixed_rate":
        return FixedRate(timedelta_of(schedule.fixed_rate), **common)
    return None


@dataclasses.dataclass
class ScheduleState:
    """A launch plan's schedule and where it stands (`Client.list_schedules`, `activate_schedule`,
    `deactivate_schedule`)."""

    # `project/domain/name@version`: what `activate_schedule` and `deactivate_schedule` take.
    launch_plan: str
    schedule: Schedule | None
    active: bool
    # While active, the next ticks (at most five; aware UTC datetimes), the first of which runs next.
    next_ticks: list[dt.datetime]
    # The last tick that started an execution; None before the first.
    last_tick: dt.datetime | None
    # When it was last activated or deactivated (None if the server says nothing).
    changed_at: dt.datetime | None

    @classmethod
    def from_proto(cls, state: admin_pb2.ScheduleState) -> ScheduleState:
        return cls(
            launch_plan=format_identifier(state.launch_plan),
            schedule=schedule_of(state.schedule) if state.HasField("schedule") else None,
            active=state.active,
            next_ticks=[datetime_of(tick) for tick in state.next_ticks],
            last_tick=datetime_of(state.last_tick) if state.HasField("last_tick") else None,
            changed_at=datetime_of(state.changed_at) if state.HasField("changed_at") else None,
        )
