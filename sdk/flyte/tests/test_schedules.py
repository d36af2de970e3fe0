"""flytekit launch plans with schedules (examples/schedules_flyte.py), registered with `gantry-flyte register`: Gantry
schedules, registered inactive (a FixedRate as a fixed rate, a CronSchedule and flytekit's `@daily` as five-field
crons in UTC, the kickoff input carried); the FixedRate one activated through the Gantry client starts a scheduled
execution that runs the flytekit workflow with the tick's time. And, without a server, the schedules the bridge
refuses (a cron offset, an expression of other than five fields, AWS-style `cron_expression`), naming them.

flytekit's shortest rate is a minute, so the end-to-end test waits a minute for the first tick: it lists the plan's
executions (with a deadline) until the tick's execution appears, then watches it to its end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest
from flyteidl.admin import schedule_pb2 as fs
from flytekit import CronSchedule, FixedRate

import gantry
from gantry.v1 import admin_pb2, execution_pb2, identifier_pb2

from conftest import DOMAIN, PROJECT, VERSION, register
from gantry_flyte import translate
from gantry_flyte.types import Unsupported
from helpers import TIMEOUT, ref

MINUTE = dt.timedelta(minutes=1)
KICKOFF = "kickoff_time"


@pytest.fixture(scope="module")
def schedules(server, client):
    """schedules_flyte registered (on queue `flyte`, which the session's bridge worker serves)."""
    register(server, VERSION, "flyte", ("schedules_flyte",))
    return client


def flyte_schedule(schedule) -> fs.Schedule:
    return schedule.to_flyte_idl()


def test_flytekit_schedules_are_registered_inactive(schedules):
    client = schedules
    states = {state.launch_plan: state for state in client.list_schedules(PROJECT, DOMAIN)}
    run_missed = {"catch_up": "run_missed", "catch_up_limit": translate.CATCH_UP_LIMIT}
    assert states[ref("every_minute")].schedule == gantry.FixedRate(MINUTE, kickoff_input=KICKOFF, **run_missed)
    assert states[ref("weekday_mornings")].schedule == gantry.CronSchedule(
        "30 6 * * 1-5", kickoff_input=KICKOFF, **run_missed
    )
    assert states[ref("nightly")].schedule == gantry.CronSchedule("0 0 * * *", kickoff_input=KICKOFF, **run_missed)
    assert not any(state.active for state in states.values())
    assert all(state.next_ticks == [] and state.last_tick is None for state in states.values())
    # The workflow's own default launch plan has no schedule, so it is not listed.
    assert ref("schedules_flyte.stamp_wf") not in states


def scheduled_execution(client: gantry.Client, name: str, deadline: float) -> execution_pb2.Execution:
    """The execution named `name` in the project, once the scheduler has started it: listed until `deadline`
    (`time.monotonic()`), every half second."""
    request = admin_pb2.ListExecutionsRequest(project=PROJECT, domain=DOMAIN, search=name, page_size=10)
    while True:
        listed = client.admin.ListExecutions(request, timeout=30).executions
        found = [execution for execution in listed if execution.name == name]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no execution {name} by the deadline")
        time.sleep(0.5)


def test_a_fixed_rate_plan_activated_through_the_gantry_client_runs_the_flytekit_workflow(schedules):
    client = schedules
    plan = ref("every_minute")
    activated = client.activate_schedule(plan)
    try:
        assert activated.active
        tick = activated.next_ticks[0]
        assert [later - earlier for earlier, later in zip(activated.next_ticks, activated.next_ticks[1:])] == [
            MINUTE
        ] * 4
        # The first tick is a minute after the activation: wait for it, and a little more.
        deadline = time.monotonic() + (tick - dt.datetime.now(dt.timezone.utc)).total_seconds() + TIMEOUT
        name = scheduled_name(plan, tick)
        execution = scheduled_execution(client, name, deadline)
    finally:
        deactivated = client.deactivate_schedule(plan)
    assert not deactivated.active
    assert execution.origin == execution_pb2.EXECUTION_ORIGIN_SCHEDULED
    assert execution.target_type == identifier_pb2.RESOURCE_TYPE_LAUNCH_PLAN
    assert gantry.client.format_identifier(execution.target) == plan
    handle = client.execution(execution.id)
    assert handle.outputs(timeout=TIMEOUT) == {"o0": tick}
    assert client.inputs_of(handle) == {KICKOFF: tick, "label": "minutely"}


def scheduled_name(plan: str, tick: dt.datetime) -> str:
    """The name the server gives the execution of `plan`'s tick (gantry-core's schedule.rs)."""
    digest = hashlib.sha256(plan.encode()).hexdigest()[:16]
    millis = (tick - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(milliseconds=1)
    return f"s-{digest}-{millis // 1000}" if millis % 1000 == 0 else f"s-{digest}-{millis}ms"


@pytest.mark.parametrize(
    "schedule, expression",
    [
        (CronSchedule(schedule="*/5 * * * *"), "*/5 * * * *"),
        (CronSchedule(schedule="@hourly"), "0 * * * *"),
        (CronSchedule(schedule="daily"), "0 0 * * *"),
        (CronSchedule(schedule="@weekly"), "0 0 * * 0"),
        (CronSchedule(schedule="months"), "0 0 1 * *"),
        (CronSchedule(schedule="@annually"), "0 0 1 1 *"),
    ],
)
def test_crons_and_aliases_become_five_field_crons_in_utc(schedule, expression):
    translated = translate.schedule(flyte_schedule(schedule), "launch plan lp")
    assert translated.WhichOneof("kind") == "cron"
    assert (translated.cron.expression, translated.cron.time_zone) == (expression, "")
    assert translated.kickoff_time_input == ""


def test_fixed_rates_keep_their_duration_and_kickoff_input():
    translated = translate.schedule(
        flyte_schedule(FixedRate(duration=dt.timedelta(hours=3), kickoff_time_input_arg="at")), "launch plan lp"
    )
    assert translated.fixed_rate.seconds == 3 * 3600 and translated.kickoff_time_input == "at"
    assert gantry.schedules.schedule_of(translated) == gantry.FixedRate(
        dt.timedelta(hours=3), kickoff_input="at", catch_up="run_missed", catch_up_limit=1000
    )
    days = translate.schedule(flyte_schedule(FixedRate(duration=dt.timedelta(days=2))), "launch plan lp")
    assert days.fixed_rate.seconds == 2 * 86_400


@pytest.mark.parametrize(
    "schedule, message",
    [
        (
            CronSchedule(schedule="@daily", offset="PT2H"),
            "launch plan lp: schedule '@daily' has the offset 'PT2H': Gantry schedules have no offset",
        ),
        (
            CronSchedule(schedule="*/5 * * * * 30"),
            "launch plan lp: cron schedule '*/5 * * * * 30' has 6 fields: the Gantry bridge takes five",
        ),
        (
            fs.Schedule(cron_expression="0 10 * * ? *"),
            "launch plan lp: the AWS-style cron_expression '0 10 * * ? *' is not supported",
        ),
    ],
    ids=["offset", "six-fields", "aws"],
)
def test_what_has_no_gantry_equivalent_is_refused_naming_it(schedule, message):
    proto = schedule if isinstance(schedule, fs.Schedule) else flyte_schedule(schedule)
    with pytest.raises(Unsupported) as refused:
        translate.schedule(proto, "launch plan lp")
    assert message in str(refused.value)
