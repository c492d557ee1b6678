"""Timing that stays right on a busy machine: interleaved rounds within a time budget, the spread of
every ratio, a sanity floor, and a word on the machine's load.

Every configuration runs once per round, and each round starts one configuration later than the last
(round-robin), so a load that drifts during the run slows every configuration alike. Rounds are added
up to a maximum while the budget lasts (at least MIN_ROUNDS). A ratio is taken per round (both sides
timed in the same round) and reported as the median with its interquartile range; one whose range is
wider than MAX_SPREAD of its median, or that falls below its physical floor (a layer cannot be faster
than its own projections alone), is marked instead of reported as a result.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_ROUNDS = 2  # the fewest timed rounds of a length that is measured at all: a spread needs two
MAX_SPREAD = 0.25  # a ratio whose interquartile range is wider than this fraction of its median: unreliable
LOADED_AT = 0.5  # the machine counts as loaded when other work keeps this fraction of its cores busy


def say(line: str) -> None:
    """A progress line, shown at once (make buffers nothing, pipes would)."""
    print(line, flush=True)


class Budget:
    """Seconds left of ``seconds`` (None: no limit), read on ``clock`` (perf_counter; a fake in tests)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.perf_counter):
        self.seconds, self.clock = seconds, clock
        self.started = clock()

    def left(self) -> float:
        return math.inf if self.seconds is None else self.seconds - (self.clock() - self.started)


def rotation(names: list[str], round_: int) -> list[str]:
    """The order of one round: every name once, starting ``round_`` places further on than round 0."""
    k = round_ % len(names) if names else 0
    return names[k:] + names[:k]


def interleaved(runs: dict[str, Callable[[], float]], max_rounds: int, share: float, clock, log=say) -> dict:
    """{name: [seconds per round]}: one warm-up run of each (not kept), then rounds in rotation. A round
    is added while fewer than ``max_rounds`` ran and, after MIN_ROUNDS, while one more round (as long as
    the last) fits in ``share`` seconds from the start. Each run returns its own seconds."""
    start = clock()
    for run in runs.values():
        run()
    last = clock() - start
    times = {name: [] for name in runs}
    done = 0
    while done < max_rounds and (done < MIN_ROUNDS or clock() - start + last <= share):
        t0 = clock()
        for name in rotation(list(runs), done):
            times[name].append(runs[name]())
        last, done = clock() - t0, done + 1
        log(f"  round {done}/{max_rounds}: {last:.1f} s ({max(share - (clock() - start), 0):.0f} s of its share left)")
    return times


def expected_cost(prev_T: int, prev_round: float, T: int) -> float:
    """Seconds a length T needs at the least (a warm-up and MIN_ROUNDS rounds), from the round time of
    a shorter length prev_T, growing linearly with T (every layer's cost is linear in the length)."""
    return (1 + MIN_ROUNDS) * prev_round * T / prev_T


@dataclass(frozen=True)
class Spread:
    """Median and interquartile range of some values (n of them)."""

    median: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if len(values) < 2:
            return cls(values[0], values[0], values[0], len(values))
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(statistics.median(values), q1, q3, len(values))

    @property
    def relative(self) -> float:
        return (self.q3 - self.q1) / self.median if self.median else math.inf


def ratio(num: list[float], den: list[float], floor: float | None = None) -> tuple[Spread, str | None]:
    """The per-round ratios num/den as a Spread, and why they are no result (None: they are one):
    fewer than MIN_ROUNDS rounds or a range wider than MAX_SPREAD is unreliable; a median below the
    physical ``floor`` is impossible, whatever its spread."""
    s = Spread.of([a / b for a, b in zip(num, den, strict=True)])
    if floor is not None and s.median < floor:
        return s, f"impossible ({s.median:.2f}x < {floor:g}x: the machine was too busy)"
    if s.n < MIN_ROUNDS:
        return s, f"unreliable ({s.median:.2f}x, {s.n} round)"
    if s.relative > MAX_SPREAD:
        return s, f"unreliable ({s.q1:.2f}-{s.q3:.2f}x)"
    return s, None


def ratio_cell(s: Spread, why: str | None) -> str:
    """A ratio as a table cell: the median with its interquartile range, or why it is no result."""
    return why or f"{s.median:.2f}x ({s.q1:.2f}-{s.q3:.2f})"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_average() -> float:
    """The 1-minute load average (0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def threads_for(load: float, n_cores: int, default: int) -> int:
    """Torch threads to time with: one on a loaded machine, where the threads of one operator wait on
    each other at every barrier while other work holds the cores (measured at load 12 on 2 cores:
    torch.nn.GRU's step 40 s with 2 threads, 3.3 s with 1, 0.3 s quiet), else ``default``."""
    return 1 if load > LOADED_AT * n_cores else default


def load_line(before: float, after: float, n_cores: int, threads: int) -> str:
    """What the load averages around a benchmark say: loaded when other work (the load after, less this
    benchmark's own threads) kept more than LOADED_AT of the cores busy."""
    other = max(before, after - threads)
    said = f"load average {before:.1f} before, {after:.1f} after, on {n_cores} cores"
    if other > LOADED_AT * n_cores:
        return (
            f"Machine LOADED ({said}): the times are slower and noisier than on a quiet machine; "
            "a ratio whose spread is wide is marked unreliable."
        )
    return f"Machine quiet ({said})."
