"""A benchmark, not a test: how long the console takes to open a 100,000-child execution and its dynamic node.

    .venv/bin/python tests/console/bench_open.py [--children 100000] [--runs 3]
    .venv/bin/python tests/console/bench_open.py --console http://127.0.0.1:8080 --execution ID

Starts `gantry server --examples` (binaries from target/debug, or GANTRY_BIN_DIR) on a temporary SQLite store, runs
the seed's `generate_others` with that many children, waits for it to finish, then in Debian's headless Chromium
times, per run: the execution page until its node tree shows, the dynamic node's expansion until its first page of
children shows, and the next page (scrolled to) until it shows; then the dynamic node's own page until its summary
shows, and until its spec graph and children's timeline, loaded after the page, have arrived. Prints the figures;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import CHROMIUM, start_server, stop  # noqa: E402

import gantry  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--console", help="measure this running console (its URL) instead of starting a server")
    parser.add_argument("--execution", help="with --console: the execution to open (its dynamic node is n0)")
    args = parser.parse_args()
    if args.console:
        measure(args.console, args.execution, args.runs)
        return
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        server = start_server(directory, directory, "bench-server", ["--examples", "--example-concurrency", "16"])
        try:
            with gantry.Client(server.grpc) as client:
                started = time.monotonic()
                execution = client.run("demo/dev/generate_others@1", {"tasks_count": args.children})
                execution.wait(timeout=3600)
                print(f"generate_others({args.children}) ran in {time.monotonic() - started:.1f} s "
                      f"(execution {execution.id})")
            measure(server.http, execution.id, args.runs)
        finally:
            stop(server.process)


def measure(http: str, execution_id: str, runs: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        for run in range(1, runs + 1):
            page = browser.new_page(base_url=http)
            began = time.monotonic()
            page.goto(f"/executions/{execution_id}")
            expect(page.locator('li.node[data-node="n0"]')).to_be_visible(timeout=60_000)
            opened = time.monotonic()
            page.locator('li.node[data-node="n0"] button.toggle').click()
            children = page.locator('[id="children-n0"] > li.node')
            expect(children).to_have_count(100, timeout=60_000)
            expanded = time.monotonic()
            page.locator('[id="children-n0"] > li.more').scroll_into_view_if_needed()
            expect(children).to_have_count(200, timeout=60_000)
            paged = time.monotonic()
            print(f"run {run}: execution page {1000 * (opened - began):.0f} ms, dynamic node's first 100 children "
                  f"{1000 * (expanded - opened):.0f} ms (open + expand {1000 * (expanded - began):.0f} ms), "
                  f"next 100 on scrolling {1000 * (paged - expanded):.0f} ms")
            page.close()
            page = browser.new_page(base_url=http)
            began = time.monotonic()
            page.goto(f"/executions/{execution_id}/node?id=n0")
            expect(page.locator("#summary-title")).to_be_visible(timeout=60_000)
            opened = time.monotonic()
            # The drawings are loaded after the page: their sections are busy until they arrive.
            expect(page.locator("#spec-graph[aria-busy], #timeline[aria-busy]")).to_have_count(0, timeout=60_000)
            drawn = time.monotonic()
            print(f"run {run}: dynamic node's page {1000 * (opened - began):.0f} ms, with its spec graph and "
                  f"timeline {1000 * (drawn - began):.0f} ms")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
