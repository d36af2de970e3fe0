"""The expected values (expected.py) are what `pyflyte run` prints for the same code: run it here, once per shape,
so that a hard-coded value that drifted from flytekit's local execution fails."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import EXAMPLES
from expected import EXPECTED

PYFLYTE = str(Path(sys.executable).parent / "pyflyte")


def pyflyte_run(*args: str) -> str:
    result = subprocess.run([PYFLYTE, "run", *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout.strip().splitlines()[-1]


def test_pyflyte_run_prints_the_expected_values():
    all_values = [
        *EXPECTED["nested_3"],
        EXPECTED["branch_3"],
        EXPECTED["map_3"],
        EXPECTED["map_partial_3"],
        *EXPECTED["types_3"],
        EXPECTED["frames_3"],
    ]
    cases = {
        ("seed_flyte.py", "wf", "--tasks_count", "5"): repr(EXPECTED["seed_5"]),
        ("seed_flyte.py", "wf", "--tasks_count", "0"): repr(EXPECTED["seed_0"]),
        ("features_flyte.py", "dyn_branch", "--n", "4"): repr(EXPECTED["branch_4"]),
        ("features_flyte.py", "dyn_file_in_dataclass", "--n", "3"): EXPECTED["file_in_dataclass_3"],
        ("features_flyte.py", "dyn_map_ratio", "--n", "4"): repr(EXPECTED["map_ratio_4"]),
        ("features_flyte.py", "all_wf", "--n", "3"): "DefaultNamedTupleOutput("
        + ", ".join(f"o{i}={v!r}" for i, v in enumerate(all_values))
        + ")",
    }
    with ThreadPoolExecutor(len(cases)) as pool:
        printed = dict(zip(cases, pool.map(lambda args: pyflyte_run(*args), cases)))
    assert printed == cases
