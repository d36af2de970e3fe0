"""The console's forms in a real browser: logging in with an API key on a server with `--auth keys` (refused
without one, and with a wrong one), and a run form generated from a task's interface, refusing a value that does not
fit its type beside the field, then starting the execution."""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import Page, expect

import console_tasks
import gantry
from conftest import binary, start_server, stop
from gantry.task import identifier
from gantry.types import literal_type
from gantry.v1 import interface_pb2, workflow_pb2


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, logs_dir):
    """A server with `--auth keys`, and an admin key made straight on its store before it starts."""
    directory = tmp_path_factory.mktemp("keyed")
    created = subprocess.run(
        [binary("gantry"), "auth", "keys", "create", "--role", "admin", "--description", "console test",
         "--data-path", str(directory / "gantry.db")],
        check=True, capture_output=True, text=True,
    )
    token = re.search(r"gantry_\S+", created.stdout).group()
    running = start_server(directory, logs_dir, "keyed-server", ["--auth", "keys"])
    yield running, token
    stop(running.process)


def test_login_with_an_api_key(browser, keyed_server, shots_dir):
    running, token = keyed_server
    context = browser.new_context(base_url=running.http)
    page = context.new_page()

    response = page.goto("/executions")
    assert response.status == 401
    expect(page.locator(".error")).to_contain_text("UNAUTHENTICATED")
    page.get_by_role("link", name="Log in").first.click()
    expect(page.locator("h1")).to_have_text("Log in")

    page.get_by_label("API key or OIDC token").fill("gantry_not.a_key")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_contain_text("UNAUTHENTICATED")
    page.screenshot(path=str(shots_dir / "login-refused.png"), full_page=True)

    page.get_by_label("API key or OIDC token").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/executions$"))
    expect(page.locator("h1")).to_have_text("Executions")
    cookie = next(c for c in context.cookies() if c["name"] == "gantry_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""

    # The pages' calls went through the server's own layers: its per-RPC metrics counted the refusals and the
    # accepted calls alike.
    metrics = page.request.get(f"{running.http}/metrics").text()
    assert rpc_count(metrics, "ListExecutions", "UNAUTHENTICATED") >= 2
    assert rpc_count(metrics, "ListExecutions", "OK") >= 2

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("h1")).to_have_text("Log in")
    assert page.goto("/executions").status == 401
    context.close()


def rpc_count(metrics: str, method: str, code: str) -> float:
    """`gantry_rpc_requests_total` for one method and code, from Prometheus' text format."""
    pattern = re.compile(r'^gantry_rpc_requests_total\{([^}]*)\} (\S+)$', re.MULTILINE)
    total = 0.0
    for labels, value in pattern.findall(metrics):
        if f'method="{method}"' in labels and f'code="{code}"' in labels:
            total += float(value)
    return total


def test_a_post_from_another_origin_is_refused(page: Page, server):
    response = page.request.post(
        f"{server.http}/executions/{server.seed_execution}/actions/relaunch",
        headers={"Origin": "http://elsewhere.example"},
        form={"name": ""},
    )
    assert response.status == 403
    assert "Origin" in response.text()


def test_run_form_checks_inputs_then_starts_the_execution(page: Page, server, shots_dir):
    page.goto("/tasks")
    page.get_by_role("link", name="generate_others").click()
    expect(page.locator("h1")).to_have_text("Task generate_others")
    field = page.get_by_label(re.compile("^tasks_count"))
    expect(field).to_have_attribute("type", "number")
    expect(field).to_have_attribute("required", "")

    # The browser refuses an empty required field before anything is sent.
    assert page.evaluate("document.querySelector('form.run').checkValidity()") is False

    # A number the browser accepts but the interface does not (beyond a 64-bit integer): the console says so.
    field.fill("99999999999999999999")
    page.get_by_role("button", name="Run").click()
    error = page.locator("#error-tasks_count")
    expect(error).to_contain_text("expected integer")
    expect(field).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(shots_dir / "run-form.png"), full_page=True)

    page.get_by_label(re.compile("^tasks_count")).fill("3")
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-f-]{36}\?notice=created$"))
    expect(page.locator("#exec-phase")).to_have_text("succeeded")
    if page.locator("#finished").count() == 1:  # rendered while it ran: its outputs come with a reload
        page.locator("#finished").get_by_role("link", name="Reload").click()
    expect(page.locator("dl.values[aria-label=Outputs] pre")).to_have_text(re.compile(r"\[\s*0,\s*2,\s*4\s*\]"))


def test_a_refused_action_shows_the_servers_message(page: Page, server):
    # The page offers no "Terminate" for a finished execution; asked anyway, the server's refusal is shown as it said it.
    page.goto(f"/executions/{server.seed_execution}/actions/terminate")
    page.get_by_role("button", name="Terminate execution").click()
    expect(page.locator(".error")).to_contain_text("FAILED_PRECONDITION")
    expect(page.locator("h1")).to_have_text("Terminate execution")


def test_relaunch_from_the_page_leads_to_the_new_execution(page: Page, server):
    page.goto(f"/executions/{server.seed_execution}")
    page.get_by_role("link", name="Relaunch…").click()
    page.get_by_label("Name of the new execution (optional)").fill("console-relaunch")
    page.get_by_role("button", name="Relaunch execution").click()
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-f-]{36}\?notice=relaunched$"))
    assert server.seed_execution not in page.url
    expect(page.locator("h1")).to_have_text("Execution console-relaunch")
    expect(page.locator("#notice")).to_contain_text("Relaunched")


def test_keyboard_shortcuts_open_the_main_pages(page: Page, server):
    page.goto("/executions")
    page.keyboard.press("t")
    expect(page.locator("h1")).to_have_text("Tasks")
    page.keyboard.press("l")
    expect(page.locator("h1")).to_have_text("Launch plans")
    expect(page.get_by_role("link", name="double_hundred")).to_be_visible()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "project"


def test_a_launch_plans_form_leaves_out_its_fixed_inputs(page: Page, server):
    page.goto("/launch-plans")
    page.get_by_role("link", name="double_hundred").click()
    expect(page.locator("h1")).to_have_text("Launch plan double_hundred")
    expect(page.locator("table.interface")).to_contain_text("fixed: 100")
    expect(page.locator("form.run input")).to_have_count(0)
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"\?notice=created$"))
    expect(page.locator("#exec-phase")).to_have_text("succeeded")
    if page.locator("#finished").count() == 1:
        page.locator("#finished").get_by_role("link", name="Reload").click()
    expect(page.locator("dl.values[aria-label=Outputs] pre")).to_have_text("200")


def test_the_executions_list_filters_by_id_target_and_time(page: Page, server):
    page.goto("/executions")
    page.get_by_label("Name or id").fill(server.seed_execution)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.executions tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-execution", server.seed_execution)

    page.goto("/executions?target_type=task&target=generate_others")
    expect(page.get_by_label("Target name")).to_have_value("generate_others")
    targets = page.locator("table.executions tbody tr td:nth-child(2)")
    expect(targets.first).to_have_text("generate_others@1")
    assert set(targets.all_inner_texts()) == {"generate_others@1"}

    page.goto("/executions?created_after=2999-01-01T00:00")
    expect(page.locator("table.executions tbody tr")).to_have_count(0)
    response = page.goto("/executions?created_after=yesterday")
    assert response.status == 400
    expect(page.locator(".error")).to_contain_text("not a time")


def promise(node_id: str, output: str) -> workflow_pb2.BindingData:
    return workflow_pb2.BindingData(promise=workflow_pb2.Promise(node_id=node_id, output=output))


def test_a_registered_workflows_page_draws_its_graph(page: Page, client, shots_dir):
    """`quadruple(x)`: other_task twice in a row, and the launch plan `double` beside the second; a launch plan of it
    draws it too."""
    integer = literal_type(int)
    other_task = identifier("demo", "dev", "other_task", "1")
    first = workflow_pb2.Node(id="first", task=other_task,
                              inputs=[workflow_pb2.Binding(var="index", binding=promise("", "x"))])
    second = workflow_pb2.Node(id="second", task=other_task,
                               inputs=[workflow_pb2.Binding(var="index", binding=promise("first", "other_task_out"))])
    beside = workflow_pb2.Node(id="beside", launch_plan=identifier("demo", "dev", "double", "1"),
                               inputs=[workflow_pb2.Binding(var="index", binding=promise("first", "other_task_out"))])
    workflow = client.register_workflow(workflow_pb2.WorkflowTemplate(
        id=identifier("demo", "dev", "quadruple", "1"),
        interface=interface_pb2.TypedInterface(
            inputs=[interface_pb2.Variable(name="x", type=integer)],
            outputs=[interface_pb2.Variable(name="out", type=integer)],
        ),
        nodes=[first, second, beside],
        outputs=[workflow_pb2.Binding(var="out", binding=promise("second", "other_task_out"))],
        failure_policy=workflow_pb2.FAILURE_POLICY_FAIL_IMMEDIATELY,
    ))
    page.goto("/workflows/demo/dev/quadruple/1")
    graph = page.locator("section#workflow-graph:not([aria-busy]) svg.gantry-dag")
    expect(graph).to_be_visible()
    expect(graph.locator("a.node")).to_have_count(3)
    expect(graph.locator("path.edge")).to_have_count(2)
    expect(graph.locator("a.node.phase-launchplan")).to_have_attribute("href", "/launch-plans/demo/dev/double/1")
    page.screenshot(path=str(shots_dir / "workflow-graph.png"), full_page=True)
    graph.locator("a.node.phase-task").first.click()
    expect(page.locator("h1")).to_have_text("Task other_task")

    # A launch plan of the workflow draws it too.
    client.register_launch_plan(workflow, "quadruple_plan", default_inputs={"x": 1})
    page.goto("/launch-plans/demo/dev/quadruple_plan/1")
    graph = page.locator("section#workflow-graph:not([aria-busy]) svg.gantry-dag")
    expect(graph.locator("a.node")).to_have_count(3)


def test_a_schedule_is_activated_and_deactivated_from_the_launch_plans_page(page: Page, client, py_worker):
    # New Year's midnight in Paris: it never ticks during the test.
    schedule = gantry.CronSchedule("0 0 1 1 *", time_zone="Europe/Paris")
    client.register_launch_plan(console_tasks.nap, "new_year_nap", default_inputs={"index": 1, "seconds": 0.0},
                                schedule=schedule)
    page.goto("/launch-plans")
    row = page.locator('table.schedules tr[data-plan="new_year_nap@1"]')
    expect(row.locator("td.active")).to_have_text("no")
    expect(row).to_contain_text('cron "0 0 1 1 *" Europe/Paris')
    row.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/launch-plans\?project="))
    row = page.locator('table.schedules tr[data-plan="new_year_nap@1"]')
    expect(row.locator("td.active")).to_have_text("yes")
    expect(row).to_contain_text("-12-31T23:00:00Z")  # midnight in Paris, in UTC
    state = next(s for s in client.list_schedules("demo", "dev") if s.launch_plan.endswith("/new_year_nap@1"))
    assert state.active and len(state.next_ticks) == 5
    row.locator("button[type=submit]").click()
    expect(page.locator('table.schedules tr[data-plan="new_year_nap@1"] td.active')).to_have_text("no")
    assert not next(s for s in client.list_schedules("demo", "dev") if s.launch_plan.endswith("/new_year_nap@1")).active
