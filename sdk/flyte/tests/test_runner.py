"""The runners without a server: the fork server runs flytekit's commands in forked children and reports their exit
status (killing one is covered end to end in test_failures.py); a fork server that cannot start leaves the
subprocess runner."""

from __future__ import annotations

import sys

import pytest

from gantry_flyte import runner


@pytest.fixture(scope="module")
def fork_runner():
    started = runner.ForkRunner()
    yield started
    started.close()


def test_a_forked_child_runs_flytekit_and_reports_its_status(fork_runner, tmp_path):
    log = tmp_path / "help.log"
    process = fork_runner.start(["pyflyte-execute", "--help"], {"PATH": "/usr/bin:/bin"}, str(tmp_path), str(log))
    assert process.wait(60) == 0
    assert "--inputs" in log.read_text()
    failing = fork_runner.start(["pyflyte-execute", "--no-such-option"], {}, str(tmp_path), str(log))
    assert failing.wait(60) not in (0, None)


def test_a_fork_server_that_cannot_start_leaves_the_subprocess_runner(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    assert isinstance(runner.make_runner("fork"), runner.SubprocessRunner)


def test_an_unknown_runner_is_refused():
    with pytest.raises(ValueError, match="unknown runner 'docker'"):
        runner.make_runner("docker")
