"""How many attempts to claim ahead of the free threads, as the Rust SDK decides it (crates/gantry-worker,
`worker/prefetch.rs`).

Enough that the threads never wait for a poll: a thread runs `round trip / run time` attempts while one poll is out,
so `concurrency × round trip / run time` are claimed ahead, between 1 and the configured maximum. Short tasks get a
deep prefetch; long ones a shallow one, so that a worker does not hoard attempts other workers' free threads could
run. Both durations are moving averages (weight 1/8) of what this worker measured; until it has both, it claims
nothing ahead, so that a worker starting on long tasks does not take work from the workers beside it.
"""

from __future__ import annotations

import math
import threading


def ahead(concurrency: int, maximum: int, run: float, round_trip: float) -> int:
    """Attempts to claim ahead: `concurrency × round trip / run time`, between 1 and `maximum` (0 when it is 0, or
    before both durations are measured)."""
    if maximum == 0:
        return 0
    if run <= 0 or round_trip <= 0:
        return 0
    return max(1, min(maximum, math.ceil(concurrency * round_trip / run)))


class Prefetch:
    """The measured durations (seconds) and the bounds; thread-safe."""

    def __init__(self, concurrency: int, maximum: int):
        self.concurrency, self.maximum = concurrency, maximum
        self._run = 0.0
        self._round_trip = 0.0
        self._lock = threading.Lock()

    def observe_run(self, seconds: float) -> None:
        with self._lock:
            self._run = _average(self._run, seconds)

    def observe_round_trip(self, seconds: float) -> None:
        with self._lock:
            self._round_trip = _average(self._round_trip, seconds)

    def target(self) -> int:
        """How many attempts to hold now: the threads' and those claimed ahead."""
        with self._lock:
            return self.concurrency + ahead(self.concurrency, self.maximum, self._run, self._round_trip)


def _average(old: float, sample: float) -> float:
    sample = max(sample, 1e-6)
    return sample if old == 0 else old + (sample - old) / 8
