"""Launch-plan schedules from the Python client, against the real server: a plan registered with a one-second fixed
rate and a kickoff input is listed inactive, activated (five next ticks a second apart), ticks by itself (each tick an
execution of origin SCHEDULED, named after the plan and the tick, whose kickoff input is the tick's time; two of them
a second apart), and is deactivated. A cron schedule in a time zone comes back as it was registered; activating by
name needs a single version, and activating one version deactivates the others. And the refusals: malformed
schedules are INVALID_ARGUMENT naming the problem, activating a plan without a schedule FAILED_PRECONDITION, an
unregistered plan NOT_FOUND.

The ticks are waited for on a queue the task fills as it runs (with a deadline), never with sleeps. These tasks use a
queue of their own, served by this module's worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import queue

import pytest

import gantry
from conftest import running
from gantry import task
from gantry.v1 import admin_pb2, execution_pb2, identifier_pb2

QUEUE = "pytest-schedules"
PROJECT = {"project": "pytest", "domain": "dev", "queue": QUEUE}
TIMEOUT = 60
SECOND = dt.timedelta(seconds=1)

# Each run of `stamp` puts its kickoff time here.
TICKS: queue.Queue[dt.datetime] = queue.Queue()


@task(**PROJECT)
def stamp(at: dt.datetime, note: str = "") -> dt.datetime:
    TICKS.put(at)
    return at


@task(**PROJECT)
def count(n: int) -> int:
    return n


@pytest.fixture(scope="module")
def schedules_worker(server, client):
    client.register(stamp, count)
    worker = gantry.Worker(server, tasks=[stamp, count], queues=[QUEUE], concurrency=4)
    with running(worker):
        yield worker


def execution_name(plan: str, tick: dt.datetime) -> str:
    """The name the server gives the execution of `plan`'s tick (schedule.rs): the tick in Unix seconds, or in
    milliseconds when not whole (a fixed rate's ticks count from the activation, to the millisecond)."""
    digest = hashlib.sha256(plan.encode()).hexdigest()[:16]
    millis = (tick - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(milliseconds=1)
    return f"s-{digest}-{millis // 1000}" if millis % 1000 == 0 else f"s-{digest}-{millis}ms"


def scheduled_executions(client: gantry.Client, plan_name: str) -> list[execution_pb2.Execution]:
    """Every execution of the launch plan `plan_name` in pytest/dev."""
    executions, token = [], ""
    while True:
        request = admin_pb2.ListExecutionsRequest(
            project="pytest",
            domain="dev",
            target=admin_pb2.ExecutionTargetFilter(type=identifier_pb2.RESOURCE_TYPE_LAUNCH_PLAN, name=plan_name),
            page_size=1000,
            page_token=token,
        )
        response = client.admin.ListExecutions(request, timeout=30)
        executions.extend(response.executions)
        token = response.next_page_token
        if not token:
            return executions


def state_of(client: gantry.Client, plan: str) -> gantry.ScheduleState:
    (state,) = [state for state in client.list_schedules("pytest", "dev") if state.launch_plan == plan]
    return state


def test_a_fixed_rate_schedule_ticks_once_activated(client, schedules_worker):
    schedule = gantry.FixedRate(SECOND, kickoff_input="at")
    plan = client.register_launch_plan(stamp, "every_second", schedule=schedule, default_inputs={"note": "tick"})
    plan_id = "pytest/dev/every_second@1"

    listed = state_of(client, plan_id)
    assert not listed.active
    assert listed.schedule == gantry.FixedRate(dt.timedelta(seconds=1), kickoff_input="at")
    assert listed.next_ticks == [] and listed.last_tick is None

    activated = client.activate_schedule(plan)
    try:
        assert activated.active and activated.launch_plan == plan_id
        assert len(activated.next_ticks) == 5
        gaps = {later - earlier for earlier, later in zip(activated.next_ticks, activated.next_ticks[1:])}
        assert gaps == {SECOND}
        assert all(tick.tzinfo is not None for tick in activated.next_ticks)
        assert activated.changed_at is not None and activated.next_ticks[0] > activated.changed_at

        # The task reports each run's kickoff time: wait (with a deadline) for two a second apart. A tick skipped
        # because the server was late would leave a gap of whole seconds, so keep every tick seen.
        seen: list[dt.datetime] = []
        deadline = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=TIMEOUT)
        while not any(later - earlier == SECOND for earlier, later in zip(sorted(seen), sorted(seen)[1:])):
            left = (deadline - dt.datetime.now(dt.timezone.utc)).total_seconds()
            assert left > 0, f"no two ticks a second apart within {TIMEOUT}s: {seen}"
            try:
                seen.append(TICKS.get(timeout=left))
            except queue.Empty:
                pytest.fail(f"no two ticks a second apart within {TIMEOUT}s: {seen}")
        seen.sort()
        first = next(earlier for earlier, later in zip(seen, seen[1:]) if later - earlier == SECOND)
        second = first + SECOND
        for tick in seen:
            # Ticks fall on the activation's grid: whole seconds after the first listed next tick's second.
            assert (tick - activated.next_ticks[0]) % SECOND == dt.timedelta(0), seen
    finally:
        deactivated = client.deactivate_schedule(plan_id)
    assert not deactivated.active and deactivated.next_ticks == []
    assert deactivated.last_tick is not None and deactivated.last_tick >= second
    assert not state_of(client, plan_id).active

    executions = {execution.name: execution for execution in scheduled_executions(client, "every_second")}
    for tick in (first, second):
        name = execution_name(plan_id, tick)
        assert name in executions, f"{sorted(executions)} lacks {name}"
        execution = executions[name]
        assert execution.origin == execution_pb2.EXECUTION_ORIGIN_SCHEDULED
        handle = client.execution(execution.id)
        assert handle.wait(timeout=TIMEOUT).phase == execution_pb2.EXECUTION_PHASE_SUCCEEDED
        assert client.inputs_of(handle) == {"at": tick, "note": "tick"}
        assert handle.outputs() == {"out": tick}


def test_a_cron_schedule_comes_back_as_registered_and_one_version_runs(client, schedules_worker):
    # New Year's midnight in Paris: it never ticks during the test.
    schedule = gantry.CronSchedule(
        "0 0 1 1 *", time_zone="Europe/Paris", kickoff_input="at", catch_up="run_missed", catch_up_limit=3
    )
    for version in ("1", "2"):
        client.register_launch_plan(stamp, "new_year", version=version, schedule=schedule)
    states = {state.launch_plan: state for state in client.list_schedules("pytest", "dev")}
    assert states["pytest/dev/new_year@1"].schedule == schedule
    assert not states["pytest/dev/new_year@2"].active

    try:
        # A name alone is the version registered last.
        by_name = client.activate_schedule("new_year", project="pytest", domain="dev")
        assert by_name.launch_plan == "pytest/dev/new_year@2" and by_name.active
        newest = client.activate_schedule("new_year@2", project="pytest", domain="dev")
        assert newest.launch_plan == "pytest/dev/new_year@2" and newest.active
        paris = [tick.astimezone(dt.timezone(dt.timedelta(hours=1))) for tick in newest.next_ticks]
        assert len(paris) == 5
        assert all((tick.month, tick.day, tick.hour, tick.minute) == (1, 1, 0, 0) for tick in paris), paris
        # Idempotent.
        assert client.activate_schedule("new_year@2", project="pytest", domain="dev").next_ticks == newest.next_ticks

        # One version of a name runs on schedule: activating v1 deactivates v2.
        older = client.activate_schedule("pytest/dev/new_year@1")
        assert older.active
        assert not state_of(client, "pytest/dev/new_year@2").active
    finally:
        for version in ("1", "2"):
            assert not client.deactivate_schedule(f"pytest/dev/new_year@{version}").active


@pytest.mark.parametrize(
    "schedule, problem",
    [
        (gantry.CronSchedule("61 * * * *"), "cron expression"),
        (gantry.CronSchedule("0 2 * * *", time_zone="Mars/Olympus_Mons"), 'time zone "Mars/Olympus_Mons"'),
        (gantry.FixedRate(dt.timedelta(milliseconds=500)), "fixed rate 500 ms: at least 1000 ms"),
        (gantry.FixedRate(SECOND, catch_up="run_missed", catch_up_limit=0), "catch-up limit 0"),
        (gantry.FixedRate(SECOND, catch_up="run_missed", catch_up_limit=1001), "catch-up limit 1001"),
        (gantry.FixedRate(SECOND, kickoff_input="n"), '"n": the input is not a datetime'),
        (gantry.FixedRate(SECOND, kickoff_input="when"), '"when": the target has no such input'),
    ],
    ids=["cron", "zone", "rate", "limit-0", "limit-1001", "kickoff-type", "kickoff-missing"],
)
def test_a_malformed_schedule_is_refused(client, schedules_worker, schedule, problem):
    with pytest.raises(gantry.GantryError, match="INVALID_ARGUMENT") as refused:
        client.register_launch_plan(count, "malformed", schedule=schedule)
    assert problem in str(refused.value)


def test_a_fixed_kickoff_input_is_refused(client, schedules_worker):
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(gantry.GantryError, match="INVALID_ARGUMENT") as refused:
        client.register_launch_plan(
            stamp, "fixed_kickoff", fixed_inputs={"at": when}, schedule=gantry.FixedRate(SECOND, kickoff_input="at")
        )
    assert '"at": the launch plan fixes it' in str(refused.value)


def test_a_plan_without_a_schedule_cannot_be_activated(client, schedules_worker):
    plan = client.register_launch_plan(count, "unscheduled", default_inputs={"n": 1})
    with pytest.raises(gantry.GantryError, match="FAILED_PRECONDITION"):
        client.activate_schedule(plan)
    with pytest.raises(gantry.GantryError, match="FAILED_PRECONDITION"):
        client.deactivate_schedule(plan)
    # By name: its only version.
    with pytest.raises(gantry.GantryError, match="FAILED_PRECONDITION"):
        client.activate_schedule("unscheduled", project="pytest", domain="dev")
    assert "pytest/dev/unscheduled@1" not in {state.launch_plan for state in client.list_schedules("pytest", "dev")}


def test_an_unregistered_plan_is_not_found(client, schedules_worker):
    with pytest.raises(gantry.GantryError, match="NOT_FOUND"):
        client.activate_schedule("pytest/dev/nowhere@1")
    with pytest.raises(gantry.GantryError, match="NOT_FOUND"):
        client.activate_schedule("nowhere@1", project="pytest", domain="dev")
    missing = "NOT_FOUND: no version of launch plan pytest/dev/nowhere is registered"
    with pytest.raises(gantry.GantryError, match=missing):
        client.activate_schedule("nowhere", project="pytest", domain="dev")


def test_the_catch_up_policy_is_checked_before_it_is_sent():
    with pytest.raises(ValueError, match="catch_up must be 'skip' or 'run_missed'"):
        gantry.CronSchedule("* * * * *", catch_up="all")
    assert gantry.FixedRate(90).every == dt.timedelta(minutes=1, seconds=30)
