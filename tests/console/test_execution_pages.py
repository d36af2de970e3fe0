"""The execution pages in a real browser: the seed's dynamic node expanded to its ten children and their outputs, a
1,000-child execution watched live, a three-level nested dynamic opened at every level, a failed execution's link
to its failing leaf, and termination from the page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

import console_tasks
import gantry

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

    children.nth(3).locator("a.name").click()
    expect(page.locator("h1")).to_have_text("Node dn3")
    expect(page.locator("dl.values[aria-label=Outputs] pre")).to_have_text("6")
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
    wait_for_children(execution, "n0")
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
