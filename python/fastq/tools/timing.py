"""The timer: interleaved samples, medians, and repeats until the spread is small.

Each candidate's sample runs an inner loop calibrated to take at least ``min_sample_ns`` (1 ms)
by ``time.perf_counter_ns``; the candidates of one comparison are sampled *interleaved*
(rotating order) with the garbage collector off; the figure is the **median** per call. A
comparison is **stable** when every candidate's interquartile range over its median is at most
``max_spread`` (10%); on a busy machine the rounds go on until it is, or until ``deadline``, and
an unstable result says so instead of passing noise off as a figure.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["MAX_SPREAD", "Stats", "measure"]

MAX_SPREAD = 0.10  # interquartile range over median


@dataclass
class Stats:
    median_ns: float
    q1_ns: float
    q3_ns: float
    min_ns: float
    repeats: int
    inner: int

    @property
    def spread(self) -> float:
        """Interquartile range over median."""
        return (self.q3_ns - self.q1_ns) / self.median_ns if self.median_ns > 0 else math.inf


def _run_ns(fn: Callable[[], object], inner: int) -> int:
    clock = time.perf_counter_ns
    t0 = clock()
    for _ in range(inner):
        fn()
    return clock() - t0


def _calibrate(fn: Callable[[], object], min_ns: int) -> tuple[int, float]:
    """(inner loop count so one sample takes >= min_ns, ns per call of the last trial)."""
    fn()  # warm-up: page faults, caches, lazy initialisation
    inner = 1
    while True:
        t = _run_ns(fn, inner)
        if t >= min_ns or inner >= 1 << 24:
            return inner, t / inner
        # Aim 20% past the target, at least doubling.
        inner = max(2 * inner, math.ceil(inner * 1.2 * min_ns / max(t, 1)))


def _stats(samples: list[float], inner: int) -> Stats:
    s = np.asarray(samples)
    q1, med, q3 = np.percentile(s, [25, 50, 75])
    return Stats(float(med), float(q1), float(q3), float(s.min()), len(s), inner)


def measure(
    candidates: dict[str, Callable[[], object]],
    budget_s: float,
    min_sample_ns: int = 1_000_000,
    min_repeats: int = 5,
    max_repeats: int = 201,
    deadline: float | None = None,
    max_spread: float | None = None,
) -> dict[str, Stats]:
    """Time each zero-argument callable; samples of all candidates are interleaved (the order
    rotates every round). Returns per-call statistics of the samples (medians, quartiles).

    The number of rounds fits ``budget_s`` (within ``min_repeats``..``max_repeats``). With
    ``max_spread``, rounds continue past that while any candidate's spread is above it and
    ``deadline`` (a ``time.perf_counter()`` value) has not passed; without it, ``deadline`` only
    cuts the rounds short (after at least 3) on a machine slower than the budget assumed."""
    names = list(candidates)
    inner = {}
    round_ns = 0.0
    for name in names:
        inner[name], per_call = _calibrate(candidates[name], min_sample_ns)
        round_ns += inner[name] * per_call
    repeats = int(budget_s * 1e9 / max(round_ns, 1.0))
    repeats = max(min_repeats, min(max_repeats, repeats))
    samples: dict[str, list[float]] = {name: [] for name in names}

    def unstable() -> bool:
        return any(_stats(samples[n], inner[n]).spread > max_spread for n in names)  # type: ignore[operator]

    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        r = 0
        while True:
            k = r % len(names)
            for name in names[k:] + names[:k]:
                samples[name].append(_run_ns(candidates[name], inner[name]) / inner[name])
            r += 1
            late = deadline is not None and time.perf_counter() > deadline
            if r < repeats:
                if late and r >= 3:
                    break
                continue
            # The planned rounds are done: go on only while the spread is too large and time is left.
            if max_spread is None or deadline is None or late or r >= 20 * max_repeats or not unstable():
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: _stats(samples[name], inner[name]) for name in names}
