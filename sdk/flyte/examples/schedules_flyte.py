"""flytekit launch plans with schedules, on Gantry: registered inactive, like Flyte's; activate one with the Gantry
client (`gantry.Client(url).activate_schedule("flytesnacks/development/every_minute@v1")`) or `gantry schedule
activate`. Each tick runs `stamp_wf` with the tick's time as `kickoff_time`."""

from __future__ import annotations

from datetime import datetime, timedelta

from flytekit import CronSchedule, FixedRate, LaunchPlan, task, workflow


@task
def stamp(kickoff_time: datetime, label: str) -> datetime:
    print(f"{label}: kicked off for {kickoff_time.isoformat()}")
    return kickoff_time


@workflow
def stamp_wf(kickoff_time: datetime, label: str = "tick") -> datetime:
    return stamp(kickoff_time=kickoff_time, label=label)


# Every minute from its activation (flytekit's shortest rate).
every_minute = LaunchPlan.get_or_create(
    stamp_wf,
    name="every_minute",
    default_inputs={"label": "minutely"},
    schedule=FixedRate(duration=timedelta(minutes=1), kickoff_time_input_arg="kickoff_time"),
)

# At 06:30 UTC on weekdays.
weekday_mornings = LaunchPlan.get_or_create(
    stamp_wf,
    name="weekday_mornings",
    schedule=CronSchedule(schedule="30 6 * * 1-5", kickoff_time_input_arg="kickoff_time"),
)

# flytekit's alias: midnight UTC.
nightly = LaunchPlan.get_or_create(
    stamp_wf, name="nightly", schedule=CronSchedule(schedule="@daily", kickoff_time_input_arg="kickoff_time")
)
