"""What `pyflyte run` (flytekit's local execution) prints for the examples, checked by test_expected.py, which runs
it: hard-coded here so that every other test need not start flytekit locally."""

EXPECTED = {
    "seed_5": [0, 2, 4, 6, 8],
    "seed_0": [],
    # all_wf(n=3): dyn_nested (4 outputs), dyn_branch, dyn_map, dyn_map_partial, dyn_types (6), dyn_frames.
    "nested_3": [9, [0, 2, 4], 18, 18],
    "branch_3": 81,
    "branch_4": 32,
    "map_3": [0, 2, 4],
    "map_partial_3": [0.5, 2.5, 4.5],
    "types_3": [3, 6, "green-None-u", 3, 3, {"k0": 0, "k1": 1, "k2": 2}],
    "frames_3": [0, 1, 3],
    "file_in_dataclass_3": "r:3:3:['report.txt']:3",
    "map_ratio_4": [0, None, 20, None],
}
