"""The gRPC modules are generated from proto/ at install time: never committed, and checked against the protos."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from gantry import _codegen

REPO = Path(__file__).resolve().parents[3]


def test_installed_modules_match_what_the_protos_produce():
    check = subprocess.run(
        [sys.executable, "-m", "gantry._codegen", "--check", "--proto-dir", str(REPO / "proto")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert "matches" in check.stdout


def test_the_check_notices_a_stale_changed_or_missing_module(tmp_path):
    installed = _codegen.installed_package_dir()
    copy = tmp_path / "v1"
    shutil.copytree(installed, copy, ignore=shutil.ignore_patterns("__pycache__"))
    fresh = tmp_path / "fresh"
    _codegen.generate(REPO / "proto", fresh)
    assert _codegen.differences(fresh / "gantry" / "v1", copy) == []

    stale = copy / "worker_pb2.py"
    stale.write_text(stale.read_text().replace("PollTasks", "PollTask"))
    (copy / "admin_pb2_grpc.py").unlink()
    (copy / "old_pb2.py").write_text("")
    assert _codegen.differences(fresh / "gantry" / "v1", copy) == [
        "missing: admin_pb2_grpc.py",
        "unexpected: old_pb2.py",
        "differs: worker_pb2.py",
    ]


def test_a_changed_proto_makes_the_installed_modules_stale(tmp_path):
    protos = tmp_path / "proto"
    shutil.copytree(REPO / "proto", protos)
    types = protos / "gantry" / "v1" / "types.proto"
    types.write_text(
        types.read_text().replace("SIMPLE_TYPE_BINARY = 8;", "SIMPLE_TYPE_BINARY = 8;\n  SIMPLE_TYPE_X = 99;")
    )
    problems = _codegen.check(protos, _codegen.installed_package_dir())
    assert "differs: types_pb2.py" in problems


def test_no_generated_module_is_committed():
    tracked = subprocess.run(
        ["git", "ls-files", "sdk/python"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [path for path in tracked if "_pb2" in path]
