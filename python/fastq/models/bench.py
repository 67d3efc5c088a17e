"""Whole-model benchmark: fastq.models.zoo architectures (seeded random weights, no file) at batch
1, 224x224x3, against the machine's floor.

floor = binary MACs / popcount peak + float FLOPs (2 per MAC) / FMA peak, both peaks measured by
fastq's own one-core probes (``Kernels._popcount_probe`` / ``Kernels._fma_probe``: each table's
inner step on registers only) with the same clock as the model, so that on a shared machine the
thread's CPU time (``time.thread_time``) can stand in for wall time.

Used by ``bench/report_models.py`` (the full table) and, through :func:`model_tasks` /
:func:`format_models`, by ``python -m fastq bench`` (one end-to-end row).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .. import _core

#: op classes counted as float compute; every other float op is memory-bound (pooling, add, ...)
FLOAT_COMPUTE = ("Conv2D", "DepthwiseConv2D", "Dense")


def _probe_rate(
    probe: Callable[[int, int], Any], per_iter: float, clock: Callable[[], float], min_s: float = 0.05, rounds: int = 5
) -> float:
    n = 64
    while True:
        t = clock()
        probe(n, 1)
        d = clock() - t
        if d >= min_s or n > 1 << 40:
            break
        n *= 4
    best = 0.0
    for _ in range(rounds):
        t = clock()
        probe(n, 1)
        d = clock() - t
        best = max(best, n * per_iter / max(d, 1e-9))
    return best


def peaks(clock: Callable[[], float] = time.thread_time, kernels: _core.Kernels | None = None) -> tuple[float, float]:
    """(binary MACs / s, float FLOP / s) of one core, the active table's probes timed by ``clock``."""
    from .. import _core

    k = kernels or _core.active
    return (
        _probe_rate(k._popcount_probe, k._popcount_probe_macs, clock),
        _probe_rate(k._fma_probe, k._fma_probe_flops, clock),
    )


def op_class(op: Any) -> str:
    if op.kind == "binary":
        return "binary"
    return "float" if type(op).__name__ in FLOAT_COMPUTE else "memory"


def zoo_row(
    name: str = "QuickNet",
    seed: int = 0,
    repeats: int = 7,
    clock: Callable[[], float] = time.thread_time,
    threads: int = 1,
    batch: int = 1,
    peak: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """One model's row: time per batch (median of ``repeats`` by ``clock``), floor, breakdown.

    ``peak``: (popcount MAC/s, FMA FLOP/s) from :func:`peaks` (measured here if None).
    Returns a dict: name, batch, threads, seconds, floor_s, ratio, binary_macs, float_macs,
    breakdown {binary, float, memory, python} in seconds (from model.profile's runs; python = the
    executor's own time).
    """
    import fastq

    from . import zoo

    model = zoo.build(name, seed=seed)
    stats = model.summary(print_fn=lambda s: None)
    x = np.random.default_rng(seed).standard_normal((batch, 224, 224, 3)).astype(np.float32)
    before = fastq.get_num_threads()
    fastq.set_num_threads(threads)
    try:
        pc, fma = peak or peaks(clock)
        total, per_op = model.profile(x, repeats=repeats, clock=clock)
        model.predict(x)
        times = []
        for _ in range(repeats):
            t = clock()
            model.predict(x)
            times.append(clock() - t)
    finally:
        fastq.set_num_threads(before)
    seconds = float(np.median(times))
    q1, q3 = np.percentile(times, [25, 75])
    spread = float((q3 - q1) / seconds) if seconds > 0 else 0.0
    breakdown = {"binary": 0.0, "float": 0.0, "memory": 0.0}
    for op, t in per_op:
        breakdown[op_class(op)] += t
    # the executor's own time: the profiled runs' total minus their ops (same runs: less noise
    # than against predict's separate timing)
    breakdown["python"] = max(total - sum(breakdown.values()), 0.0)
    floor = batch * (stats["binary_macs"] / pc + 2 * stats["float_macs"] / fma)
    return {
        "name": name,
        "batch": batch,
        "threads": threads,
        "seconds": seconds,
        "floor_s": floor,
        "ratio": seconds / floor,
        "binary_macs": stats["binary_macs"],
        "float_macs": stats["float_macs"],
        "popcount_peak": pc,
        "fma_peak": fma,
        "breakdown": breakdown,
        "repeats": repeats,
        "spread": spread,
        "clock": getattr(clock, "__name__", str(clock)),
    }


def check_model(name: str, seed: int = 0) -> str:
    """ "deterministic" when two images give the same bits alone and together (1 and 2 threads)
    and each prediction is a probability vector, else "MISMATCH: ..."."""
    import fastq

    from . import zoo

    model = zoo.build(name, seed=seed)
    x = np.random.default_rng(seed + 1).standard_normal((2, 224, 224, 3)).astype(np.float32)
    before = fastq.get_num_threads()
    try:
        fastq.set_num_threads(1)
        alone = np.concatenate([model.predict(x[:1]), model.predict(x[1:])])
        fastq.set_num_threads(2)
        both = model.predict(x)
    finally:
        fastq.set_num_threads(before)
    if not np.array_equal(alone, both):
        return "MISMATCH: batch / thread count changed the bits"
    if not (np.isfinite(both).all() and np.allclose(both.sum(axis=1), 1, atol=1e-5)):
        return "MISMATCH: not probabilities"
    return "deterministic"


def model_tasks(p: Any, task_cls: Any, models: Sequence[str] | None = None) -> list[Any]:
    """``python -m fastq bench``'s end-to-end rows (fastq.tools' Plan and Task passed in)."""
    names = models or (("QuickNet",) if p.quick else ("QuickNet", "BiRealNet"))

    def make(name: str) -> Any:
        def run(budget_s: float, deadline: float | None = None) -> list[dict[str, Any]]:
            r = zoo_row(name, seed=p.seed, repeats=3 if p.quick else 7, threads=1)
            r["kind"] = "model"
            r["stable"] = r["spread"] <= p.max_spread  # IQR / median, the rule of every bench row
            r["check"] = check_model(name, p.seed)
            return [r]

        return task_cls(f"model {name} (batch 1, one thread)", 3.0, run)

    return [make(n) for n in names]


def format_models(report: dict[str, Any]) -> list[str]:
    rows = [r for r in report["results"] if r.get("kind") == "model"]
    if not rows:
        return []
    out = [
        "Whole models: fastq.models.zoo (random weights), batch 1, 224x224x3, one thread; thread CPU time; "
        "floor = binary MACs / popcount peak + float FLOPs / FMA peak",
        f"{'model':<14}{'ms':>8}{'floor ms':>10}{'x floor':>9}{'binary':>8}{'float':>8}{'memory':>8}"
        f"{'python':>8}  check",
    ]
    out.append("-" * len(out[-1]))
    for r in rows:
        b = r["breakdown"]
        out.append(
            f"{r['name']:<14}{r['seconds'] * 1e3:>8.2f}{r['floor_s'] * 1e3:>10.2f}{r['ratio']:>9.2f}"
            + "".join(f"{b[k] * 1e3:>8.2f}" for k in ("binary", "float", "memory", "python"))
            + f"  {r.get('check', '')}"
            + ("" if r.get("stable", True) else "  (unstable: spread > 10%)")
        )
    out.append("")
    return out
