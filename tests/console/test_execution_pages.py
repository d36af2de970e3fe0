"""The execution pages in a real browser: the seed's dynamic node expanded to its ten children and their outputs, a
1,000-child execution watched live, a three-level nested dynamic opened at every level, a failed execution's link
to its failing leaf, termination from the page, and a signal and an approval given from it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

import console_tasks
import gantry
from gantry_processes import wait_until_running

DOUBLED = [2 * i for i in range(10)]
NODE_CHILDREN_RUNNING = 6


def children_of(page: Page, node_id: str):
    """The list items of a node's children once expanded."""
    return page.locator(f'[id="children-{node_id.replace("/", ".")}"] > li.node')


def expand(page: Page, node_id: str) -> None:
    page.locator(f'li.node[data-node="{node_id}"] > .row > button.toggle').click()
    expect(children_of(page, node_id).first).to_be_visible()


def test_seed_execution_expands_to_its_ten_children_and_their_outputs(page: Page, server, shots_dir):
    page.goto("/executions")
    expect(page.locator(f'tr[data-execution="{server.seed_execution}"] .phase')).to_have_text("succeeded")
    page.screenshot(path=str(shots_dir / "executions.png"), full_page=True)

    page.locator(f'tr[data-execution="{server.seed_execution}"] a').click()
    expect(page).to_have_url(re.compile(f"/executions/{server.seed_execution}$"))
    expect(page.locator("#exec-phase")).to_have_text("succeeded")
    page.get_by_role("button", name="Count the nodes").click()
    expect(page.locator('[data-counter="total"]')).to_have_text("11")
    expect(page.locator('li.node[data-node="n0"] .kind')).to_have_text("dynamic")

    expand(page, "n0")
    children = children_of(page, "n0")
    expect(children).to_have_count(10)
    # Outputs are fetched as their rows come on screen.
    for index in range(10):
        children.nth(index).scroll_into_view_if_needed()
    outputs = children.locator(".outputs code")
    expect(outputs).to_have_count(10)
    values = [int(re.search(r"-?\d+", text).group()) for text in outputs.all_inner_texts()]
    assert values == DOUBLED
    expect(children.locator(".phase")).to_have_text(["succeeded"] * 10)
    page.screenshot(path=str(shots_dir / "execution.png"), full_page=True)
    # A 400 px wide window: nothing wider than the window, the tree still there.
    page.set_viewport_size({"width": 400, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    expect(children.nth(9).locator("a.name")).to_be_visible()
    page.screenshot(path=str(shots_dir / "execution-narrow.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    children.nth(3).locator("a.name").click()
    expect(page.locator("h1")).to_have_text("Node dn3")
    expect(page.locator("dl.values[aria-label=Outputs] pre")).to_have_text("6")
    # A leaf has no spec and no children to draw.
    expect(page.locator("#spec-graph")).to_have_count(0)
    expect(page.locator("#timeline")).to_have_count(0)
    expect(page.locator("table.attempts tbody tr")).to_have_count(1)
    expect(page.locator("table.attempts tbody tr .phase")).to_have_text("succeeded")
    page.screenshot(path=str(shots_dir / "node.png"), full_page=True)


def wait_for_children(execution: gantry.Execution, node_id: str) -> None:
    """Follows the execution's changes until `node_id`'s spec was accepted and its children run."""
    for change in execution.watch(include_snapshot=True):
        node = change.node if change.HasField("node") else None
        if node is not None and node.node_id == node_id and node.phase == NODE_CHILDREN_RUNNING:
            return
    raise AssertionError(f"{node_id} never ran children")


def record_counter(page: Page, key: str) -> None:
    """Records in `window.__seen` every value the counter `key` shows, as the live updates change it."""
    page.evaluate(
        """key => {
            window.__seen = [];
            const element = document.querySelector(`[data-counter="${key}"]`);
            new MutationObserver(() => window.__seen.push(element.textContent))
                .observe(element, {childList: true, characterData: true, subtree: true});
        }""",
        key,
    )


def test_a_running_fan_out_updates_without_reload(page: Page, client: gantry.Client, py_worker):
    execution = client.run(console_tasks.naps, count=1000, seconds=0.2)
    # Opened at once: if the generator has not run yet, n0 gets its expand button live when its spec is accepted.
    page.goto(f"/executions/{execution.id}")
    page.evaluate("window.__notReloaded = true")
    record_counter(page, "done")
    expand(page, "n0")
    expect(page.locator('[data-counter="done"]')).to_have_text("1001", timeout=120_000)
    expect(page.locator("#exec-phase")).to_have_text("succeeded")
    # The first page of children, on screen since before they ran, turned succeeded in place.
    expect(children_of(page, "n0").locator(".phase")).to_have_text(["succeeded"] * 100)
    seen = {int(value) for value in page.evaluate("window.__seen") if value.isdigit()}
    assert len([value for value in seen if 0 < value < 1001]) >= 2, seen
    assert page.evaluate("window.__notReloaded") is True


def test_terminate_from_the_page_aborts_every_node(page: Page, client: gantry.Client, py_worker, shots_dir):
    execution = client.run(console_tasks.naps, count=20, seconds=60)
    wait_for_children(execution, "n0")
    page.goto(f"/executions/{execution.id}")
    page.get_by_role("link", name="Terminate…").click()
    expect(page.locator("h1")).to_have_text("Terminate execution")
    page.get_by_label("Reason").fill("stopped from the console test")
    page.screenshot(path=str(shots_dir / "terminate.png"), full_page=True)
    page.get_by_role("button", name="Terminate execution").click()
    expect(page).to_have_url(re.compile(f"/executions/{execution.id}\\?notice=terminated$"))
    expect(page.locator("#notice")).to_contain_text("Termination requested")
    expect(page.locator("#exec-phase")).to_have_text("aborted")
    if page.locator("#count-nodes").count() == 1:  # rendered once aborted: counted when asked
        page.locator("#count-nodes").click()
    expect(page.locator('[data-counter="aborted"]')).to_have_text("21")
    expect(page.locator('[data-counter="total"]')).to_have_text("21")
    page.reload()
    expand(page, "n0")
    expect(page.locator('li.node[data-node="n0"] > .row .phase')).to_have_text("aborted")
    expect(children_of(page, "n0").locator(".phase")).to_have_text(["aborted"] * 20)
    # Terminating again is refused with the server's own words once it has finished otherwise: here it is idempotent.
    assert "Terminate…" not in page.locator("p.actions").inner_text()


def test_a_three_level_nested_dynamic_opens_at_every_level(page: Page, client: gantry.Client):
    execution = client.run("demo/dev/nested_dynamic@1", {"depth": 3, "width": 2})
    execution.wait(timeout=120)
    page.goto(f"/executions/{execution.id}")
    expect(page.locator("#exec-phase")).to_have_text("succeeded")
    node_id = "n0"
    levels = 0
    while True:
        expand(page, node_id)
        levels += 1
        dynamic = children_of(page, node_id).filter(has=page.locator(".kind", has_text="dynamic"))
        if dynamic.count() == 0:
            break
        node_id = dynamic.first.get_attribute("data-node")
    assert levels >= 3, levels
    leaves = children_of(page, node_id)
    expect(leaves.first.locator(".kind")).to_have_text("task")
    assert node_id.count("/") >= 4, node_id


def test_a_failed_execution_links_to_its_failing_leaf(page: Page, client: gantry.Client, py_worker, shots_dir):
    execution = client.run(console_tasks.booms, count=5, fail_at=3)
    execution.wait(timeout=120)
    failed = [node for node in execution.nodes(parent="", phases=()) if node.node_id == "n0"]
    assert failed and failed[0].phase == 10  # NODE_PHASE_FAILED
    page.goto(f"/executions/{execution.id}")
    expect(page.locator("#exec-phase")).to_have_text("failed")
    leaf = page.locator("#failing-leaf")
    expect(leaf).to_have_text(re.compile(r"^n0/0/.+"))
    leaf_id = leaf.inner_text()
    page.screenshot(path=str(shots_dir / "failed.png"), full_page=True)
    leaf.click()
    expect(page.locator("h1")).to_have_text(f"Node {leaf_id.rsplit('/', 1)[-1]}")
    expect(page.locator(".error")).to_contain_text("boom at index 3")
    expect(page.locator("dl.values[aria-label=Inputs]")).to_contain_text("3")


def test_an_offloaded_value_is_fetched_when_asked(page: Page, client: gantry.Client):
    lists = [list(range(start, start + 100)) for start in range(0, 1000, 100)]
    execution = client.run("demo/dev/flatten_lists@1", {"lists": lists})
    execution.wait(timeout=120)
    page.goto(f"/executions/{execution.id}")
    fetch = page.locator("dl.values[aria-label=Inputs]").get_by_role("button", name=re.compile(r"^Fetch value \(\d+ bytes\)$"))
    expect(fetch).to_be_visible()
    fetch.click()
    value = page.locator("dl.values[aria-label=Inputs] pre.json")
    expect(value).to_contain_text("[\n    0,")
    assert '"uri"' not in value.inner_text()


def test_a_dynamic_nodes_page_lists_its_spec_and_its_children(page: Page, server):
    page.goto(f"/executions/{server.seed_execution}/node?id=n0")
    expect(page.locator("h1")).to_have_text("Node n0")
    expect(page.locator("ul.spec-nodes li")).to_have_count(10)
    expect(page.locator("ul.spec-nodes li a").first).to_have_attribute("href", re.compile(r"node\?id=n0%2F0%2Fdn0$"))
    expect(page.locator("ul.tree > li.node")).to_have_count(10)
    expect(page.locator("dl.values[aria-label=Outputs] pre")).to_have_text("[0,2,4,6,8,10,12,14,16,18]")


def test_a_dynamic_nodes_page_draws_its_spec_and_its_childrens_timeline(page: Page, server, shots_dir):
    page.goto(f"/executions/{server.seed_execution}/node?id=n0")
    # Drawn after the page: each section is busy until its drawing replaces it.
    graph = page.locator("section#spec-graph:not([aria-busy]) svg.gantry-dag")
    expect(graph).to_be_visible()
    nodes = graph.locator("a.node")
    expect(nodes).to_have_count(10)
    expect(nodes.first).to_have_attribute("href", re.compile(r"node\?id=n0%2F0%2Fdn0$"))
    expect(graph.locator("a.node.phase-succeeded")).to_have_count(10)
    expect(graph.locator("a.node title").first).to_have_text(re.compile(r"^dn0: succeeded"))
    timeline = page.locator("section#timeline:not([aria-busy]) svg.gantry-gantt")
    expect(timeline).to_be_visible()
    bars = timeline.locator("a.run.phase-succeeded rect")
    expect(bars).to_have_count(10)
    assert all(float(bars.nth(i).get_attribute("width")) > 0 for i in range(10))
    page.locator("#spec-graph").scroll_into_view_if_needed()
    page.screenshot(path=str(shots_dir / "node-graph.png"), full_page=True)

    # A 400 px wide window: the drawings scroll sideways inside their sections, the page does not.
    page.set_viewport_size({"width": 400, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    widths = page.evaluate(
        "[...document.querySelectorAll('#spec-graph .drawing, #timeline .drawing')]"
        ".map(box => [box.scrollWidth, box.clientWidth])"
    )
    assert len(widths) == 2 and all(scroll > client for scroll, client in widths), widths

    # A node of the drawing leads to that child's page.
    page.set_viewport_size({"width": 1280, "height": 900})
    nodes.nth(4).click()
    expect(page.locator("h1")).to_have_text("Node dn4")


def test_a_running_dynamic_nodes_drawings_follow_its_children_live(page: Page, client: gantry.Client, py_worker):
    execution = client.run(console_tasks.naps, count=5, seconds=5)
    wait_for_children(execution, "n0")
    page.goto(f"/executions/{execution.id}/node?id=n0")
    page.evaluate("window.__notReloaded = true")
    graph = page.locator("section#spec-graph [data-live-phases] svg.gantry-dag")
    expect(graph.locator("a.node")).to_have_count(5)
    # Drawn while the children nap, then recoloured from the live view as each succeeds.
    assert graph.locator("a.node.phase-succeeded").count() < 5
    expect(graph.locator("a.node.phase-succeeded")).to_have_count(5, timeout=60_000)
    expect(graph.locator("a.node title")).to_have_text([re.compile(r"^\w+: succeeded")] * 5)
    timeline = page.locator("section#timeline [data-live-phases] svg.gantry-gantt")
    expect(timeline).to_be_visible()
    expect(timeline.locator("a.run:not(.phase-succeeded)")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True


def test_a_signal_and_an_approval_are_given_from_the_page(page: Page, client: gantry.Client, shots_dir):
    # The example `gated_double` waits for the integer signal `factor`, doubles it, then waits for the approval
    # `publish` of the doubled value.
    execution = client.run("demo/dev/gated_double@1", {})
    wait_until_running(client, execution.id, "/dn0", 120)
    page.goto(f"/executions/{execution.id}")
    row = page.locator('table.signals tr[data-signal="factor"]')
    expect(row).to_contain_text("integer")
    # A string for an integer: refused on a page of its own that names why; nothing is set.
    row.locator("input[name=value]").fill('"twenty-one"')
    row.locator("button[type=submit]").click()
    expect(page.locator(".error[role=alert]")).to_contain_text("expected integer")
    assert not [s for s in client.list_signals(execution.id) if s.is_set]
    # The refusal page keeps the form: the right value goes through from there.
    page.locator("input[name=value]").fill("21")
    page.locator("form.signal button[type=submit]").click()
    expect(page.locator(".notice[role=status]:not(#finished)")).to_contain_text("Signal set")

    wait_until_running(client, execution.id, "/dn2", 120)
    page.goto(f"/executions/{execution.id}")
    approval = page.locator('table.signals tr[data-signal="publish"]')
    expect(approval).to_contain_text("approval")
    expect(page.locator('table.signals tr[data-signal="factor"]')).to_contain_text("21")
    page.screenshot(path=str(shots_dir / "signals.png"), full_page=True)
    approval.locator("button[value=approve]").click()
    expect(page.locator(".notice[role=status]:not(#finished)")).to_contain_text("Signal set")
    assert execution.wait(timeout=120).phase == 4  # EXECUTION_PHASE_SUCCEEDED
    assert execution.outputs() == {"out": 42}
