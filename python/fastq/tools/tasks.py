"""The rows of ``python -m fastq bench`` and the run that times them.

What is measured
----------------
* **Quantizers.** Every quantizer of the registry (``fastq.reference.CLASS_NAMES``), forward and
  backward, float32, against the NumPy reference (``fastq.reference.forward/backward``), plus the
  plain NumPy expression a user writes for SteSign.
* **binary_matmul** on pre-packed operands (and with the packing of A included) against NumPy's
  float32 matmul of the same ±1 matrices, and its fraction of the popcount peak
  (``machine.popcount_peak``).
* **binary_conv2d**: QuickNet's 3x3 binary layers through ``BinaryConv2D`` (``conv_rows``).

Every result is checked against its baseline before it is timed (``checks``); every row is timed
by ``timing.measure`` until its spread is within ``Plan.max_spread`` or its time cap, and marked
``"stable": false`` otherwise.

Adding a row family (a convolution, a whole model, ...): write a function ``(plan, run) ->
list[Task]`` whose tasks return records with at least the keys of ``timed_record``, and add it
to ``TASK_FAMILIES``. ``report.format_report`` prints kinds it has no table of its own for in a
generic table; ``report.TABLES`` takes a custom one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from .checks import compare, transcendental_check
from .machine import machine_info, popcount_peak
from .plan import Plan, plan
from .timing import Stats, measure

__all__ = ["QUANTIZER_CASES", "TASK_FAMILIES", "Run", "Task", "run", "timed_record"]

Record = dict[str, Any]

# Every quantizer of the registry; variants that take a different kernel path get a row too.
QUANTIZER_CASES: list[tuple[str, dict[str, Any]]] = [
    ("NoOp", {"precision": 1}),
    ("SteSign", {}),
    ("ApproxSign", {}),
    ("SteHeaviside", {}),
    ("SwishSign", {}),
    ("MagnitudeAwareSign", {}),
    ("SteTern", {}),
    ("SteTern", {"ternary_weight_networks": True}),
    ("DoReFa", {"mode": "activations"}),
    ("DoReFa", {"mode": "weights"}),
]

# The plain NumPy a user writes for SteSign (default clip_value=1.0).
IDIOMS: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "forward": ("np.where(x >= 0, 1, -1).astype(np.float32)", lambda x, dy: np.where(x >= 0, 1, -1).astype(np.float32)),
    "backward": ("np.where(np.abs(x) <= 1, dy, 0)", lambda x, dy: np.where(np.abs(x) <= 1, dy, np.float32(0))),
}


@dataclass
class Task:
    label: str  # shown by the progress bar
    weight: float  # share of the time budget, relative
    run: Callable[[float, float], list[Record]]  # (budget_s, deadline) -> records


@dataclass
class Run:
    """State shared by the tasks of one run."""

    plan: Plan
    start: float = field(default_factory=time.perf_counter)
    peak: dict[str, Any] | None = None
    peak_note: str = "not measured"

    def ensure_peak(self) -> None:
        """Measure the popcount peak once, before the first binary row needs it."""
        if self.peak is None and self.peak_note == "not measured":
            self.peak, self.peak_note = popcount_peak(0.15 if self.plan.quick else 0.4)

    def timed(self, candidates: dict[str, Callable[[], object]], budget_s: float, deadline: float) -> dict[str, Stats]:
        p = self.plan
        return measure(candidates, budget_s, p.min_sample_ns, p.min_repeats, p.max_repeats, deadline, p.max_spread)


def timed_record(
    kind: str, name: str, label: str, fastq: Stats, baseline_name: str, baseline: Stats, check: str, max_spread: float
) -> Record:
    """The keys every row has: what was compared, medians, quartiles, the check, and whether
    the timing was stable (both candidates' IQR / median within ``max_spread``)."""
    spread = max(fastq.spread, baseline.spread)
    return {
        "kind": kind,
        "name": name,
        "label": label,
        "baseline": baseline_name,
        "fastq_ns": fastq.median_ns,
        "baseline_ns": baseline.median_ns,
        "speedup": baseline.median_ns / fastq.median_ns,
        "fastq_iqr_ns": [fastq.q1_ns, fastq.q3_ns],
        "baseline_iqr_ns": [baseline.q1_ns, baseline.q3_ns],
        "fastq_min_ns": fastq.min_ns,
        "baseline_min_ns": baseline.min_ns,
        "spread": spread,
        "stable": bool(spread <= max_spread),
        "repeats": fastq.repeats,
        "fastq_inner": fastq.inner,
        "baseline_inner": baseline.inner,
        "check": check,
    }


def _quantizer_label(name: str, config: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "precision")
    return f"{name}({args})" if args else name


def _shape_for(size: int) -> tuple[int, ...]:
    # 2-D, last axis the channel axis (MagnitudeAwareSign has one scale per last-axis channel).
    return (size // 1024, 1024) if size >= 4096 and size % 1024 == 0 else (size,)


def quantizer_tasks(p: Plan, state: Run) -> list[Task]:
    from .. import quantizers, reference

    rng = np.random.default_rng(p.seed)
    shape = _shape_for(p.size)
    data: dict[str, np.ndarray] = {}

    def arrays() -> tuple[np.ndarray, np.ndarray]:
        if not data:  # created on first use, so their cost is inside the timed budget
            data["x"] = rng.standard_normal(shape, dtype=np.float32)
            data["dy"] = rng.standard_normal(shape, dtype=np.float32)
        return data["x"], data["dy"]

    missing = set(reference.CLASS_NAMES) - {name for name, _ in QUANTIZER_CASES}
    cases = list(QUANTIZER_CASES) + [(name, {}) for name in sorted(missing)]

    def make(name: str, config: dict[str, Any], direction: str) -> Task:
        def run_task(budget_s: float, deadline: float) -> list[Record]:
            x, dy = arrays()
            q: quantizers.Quantizer = quantizers.get({"class_name": name, "config": config})
            if direction == "forward":

                def fast() -> np.ndarray:
                    return q(x)

                def base() -> np.ndarray:
                    with np.errstate(all="ignore"):
                        return reference.forward(name, x, **config)
            else:

                def fast() -> np.ndarray:
                    return q.grad(x, dy)

                def base() -> np.ndarray:
                    with np.errstate(all="ignore"):
                        return reference.backward(name, x, dy, **config)

            candidates: list[tuple[str, Callable[[], np.ndarray]]] = [("fastq.reference", base)]
            if name == "SteSign" and not config:
                text, idiom = IDIOMS[direction]
                candidates.append((f"numpy idiom: {text}", lambda: idiom(x, dy)))
            fast_out = fast()
            fns: dict[str, Callable[[], object]] = {"fastq": fast}
            checks = {}
            for bname, bfn in candidates:
                base_out = bfn()
                checks[bname] = compare(fast_out, base_out)
                if checks[bname][0] != "exact":
                    special = transcendental_check(name, config, direction, x, dy, fast_out, base_out)
                    if special is not None:
                        checks[bname] = special
                fns[bname] = bfn
            stats = state.timed(fns, budget_s, deadline)
            records = []
            for bname, _ in candidates:
                check, ulp = checks[bname]
                r = timed_record(
                    "quantizer",
                    name,
                    _quantizer_label(name, config),
                    stats["fastq"],
                    bname,
                    stats[bname],
                    check,
                    p.max_spread,
                )
                r.update(
                    {
                        "config": q.get_config(),
                        "pass": direction,
                        "dtype": "float32",
                        "shape": list(shape),
                        "elements": int(x.size),
                        "fastq_ns_per_element": r["fastq_ns"] / x.size,
                        "baseline_ns_per_element": r["baseline_ns"] / x.size,
                        "max_ulp": ulp,
                    }
                )
                records.append(r)
            return records

        weight = 1.5 if name == "SteSign" and not config else 1.0
        return Task(f"{_quantizer_label(name, config)} {direction}", weight, run_task)

    return [make(name, cfg, d) for name, cfg in cases for d in ("forward", "backward")]


def matmul_tasks(p: Plan, state: Run) -> list[Task]:
    import fastq

    def make(label: str, m: int, n: int, k: int) -> Task:
        def run_task(budget_s: float, deadline: float) -> list[Record]:
            state.ensure_peak()
            rng = np.random.default_rng([p.seed, m, n, k])
            a = np.where(rng.random((m, k), dtype=np.float32) < 0.5, np.float32(-1), np.float32(1))
            b = np.where(rng.random((n, k), dtype=np.float32) < 0.5, np.float32(-1), np.float32(1))
            pa, pb = fastq.pack_bits(a), fastq.pack_bits(b)
            check, _ = compare(np.asarray(fastq.binary_matmul(pa, pb)), (a @ b.T).astype(np.int32))
            stats = state.timed(
                {
                    "fastq": lambda: fastq.binary_matmul(pa, pb),
                    "fastq_with_packing": lambda: fastq.binary_matmul(fastq.pack_bits(a), pb),
                    "numpy": lambda: a @ b.T,
                },
                budget_s,
                deadline,
            )
            f, fp, nb = stats["fastq"], stats["fastq_with_packing"], stats["numpy"]
            r = timed_record(
                "binary_matmul",
                label,
                f"{label} {m}x{n}x{k}",
                f,
                "numpy float32 matmul of the same ±1 matrices",
                nb,
                check,
                p.max_spread,
            )
            bit_macs = m * n * k / (f.median_ns * 1e-9)
            r.update(
                {
                    "shape_mnk": [m, n, k],
                    "fastq_with_packing_ns": fp.median_ns,
                    "speedup_with_packing": nb.median_ns / fp.median_ns,
                    "bit_macs_per_s": bit_macs,
                    "baseline_flops_per_s": 2.0 * m * n * k / (nb.median_ns * 1e-9),
                    "peak_fraction": (bit_macs / state.peak["bit_macs_per_s"]) if state.peak else None,
                }
            )
            return [r]

        # Weight by size so large shapes get the repeats they need.
        weight = 1.5 + min(4.0, m * n * k / 2**30)
        return Task(f"binary_matmul {label} {m}x{n}x{k}", weight, run_task)

    return [make(label, m, n, k) for label, (m, n, k) in p.shapes.items()]


def conv_tasks(p: Plan, state: Run) -> list[Task]:
    from .conv_rows import conv_tasks as tasks  # QuickNet's binary convolutions (imports this module)

    return tasks(p, state)


def model_tasks(p: Plan, state: Run) -> list[Task]:
    from ..models.bench import model_tasks as tasks  # whole zoo models, batch 1 (no file needed)

    return tasks(p, Task)


# The row families of a run, in order. Add yours here (see the module docstring).
TASK_FAMILIES: list[Callable[[Plan, Run], list[Task]]] = [quantizer_tasks, matmul_tasks, conv_tasks, model_tasks]


def run(p: Plan | None = None, progress: Callable[[int, int, str], None] | None = None) -> Record:
    """Run the benchmark plan; ``progress(done, total, label)`` is called before each task and
    once at the end. Returns the report (see ``report.write_json``)."""
    import fastq

    p = p or plan()
    state = Run(p)
    machine = machine_info()  # before the run: the load average is then other processes' load
    tasks = [t for family in TASK_FAMILIES for t in family(p, state)]
    total_weight = sum(t.weight for t in tasks)
    results: list[Record] = []
    # Keep a reserve for setup that the budget division cannot see (data creation, calibration).
    usable = p.time_limit_s * 0.7
    for i, task in enumerate(tasks):
        if progress:
            progress(i, len(tasks), task.label)
        elapsed = time.perf_counter() - state.start
        remaining_weight = sum(t.weight for t in tasks[i:])
        nominal = usable * task.weight / total_weight
        budget = max(0.0, min(nominal, (usable - elapsed) * task.weight / remaining_weight))
        # The row's time cap: rounds beyond its budget (to reach a stable spread) stop here.
        deadline = min(time.perf_counter() + 3 * budget + 0.1, state.start + p.time_limit_s)
        results.extend(task.run(budget, deadline))
    if progress:
        progress(len(tasks), len(tasks), "done")
    return {
        "format": "fastq-bench/2",
        "fastq": fastq.__version__,
        "machine": machine,
        "plan": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(p).items()},
        "popcount_peak": state.peak,
        "popcount_peak_note": state.peak_note,
        "results": results,
        "wall_time_s": time.perf_counter() - state.start,
    }
