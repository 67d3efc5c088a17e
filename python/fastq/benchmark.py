"""The measurement engine behind ``python -m fastq bench``.

What is measured, and how
-------------------------
* **Quantizers.** Every quantizer of the registry (``fastq.reference.CLASS_NAMES``), forward and
  backward, float32, against the NumPy reference (``fastq.reference.forward/backward``), plus the
  plain NumPy expression a user writes for SteSign. Before timing, each fastq result is compared
  with its baseline's (``exact``, or the largest difference in ulp).
* **binary_matmul** on pre-packed operands (and with the packing of A included) against NumPy's
  float32 matmul of the same ±1 matrices; both give exact integers, which are compared.
* **Fraction of the popcount peak**: binary_matmul's bit-MACs per second divided by the
  xor + popcount peak of the cores fastq uses, from the native probe of the active ISA
  (``Kernels.popcount_peak``: the GEMM's own XOR + popcount step, one core on registers only,
  times the thread count). Without a probe the fraction is None (shown as n/a), never
  estimated.

Timing: the candidates of one comparison are sampled *interleaved* (rotating order), each sample
runs an inner loop calibrated to take at least ``min_sample_ns`` (1 ms) by ``time.perf_counter_ns``,
the garbage collector is off while sampling, and the reported figure is the **median** per call
(with the interquartile range). The number of repeats adapts to a time budget, so a whole run
stays within ``Plan.time_limit_s``.

The environment: ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` (set on some machines to dodge old
OpenBLAS bugs) are read by OpenBLAS when NumPy is imported and slow a current NumPy down; the CLI
re-executes itself without them (see ``fastq.cli``) and this module records what was done.
"""

from __future__ import annotations

import gc
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

__all__ = [
    "MATMUL_SHAPES",
    "OPENBLAS_VARS",
    "Plan",
    "format_report",
    "machine_info",
    "measure",
    "plan",
    "plot",
    "run",
    "write_json",
]

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Set by the CLI in the re-executed process: "NAME=value" pairs (joined by "\n") it removed.
UNSET_MARKER = "_FASTQ_BENCH_UNSET_OPENBLAS"

# binary_matmul shapes (M, N, K) of issue 3: C (M, N) = sign(A (M, K)) @ sign(B (N, K)).T
MATMUL_SHAPES = {
    "S1": (1, 1000, 1024),  # one sample through a 1000-way classifier
    "S2": (64, 4096, 4096),  # a batch through a wide fully connected layer
    "S3": (3136, 256, 2304),  # a 56x56 3x3x256 convolution as im2col GEMM
    "S4": (1024, 1024, 1024),  # the square reference point
}

# Every quantizer of the registry; variants that take a different kernel path get a row too.
QUANTIZER_CASES = [
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
IDIOMS = {
    "forward": ("np.where(x >= 0, 1, -1).astype(np.float32)",
                lambda x, dy: np.where(x >= 0, 1, -1).astype(np.float32)),
    "backward": ("np.where(np.abs(x) <= 1, dy, 0)",
                 lambda x, dy: np.where(np.abs(x) <= 1, dy, np.float32(0))),
}

# A result beyond this many ulp from its baseline is flagged as a mismatch (SEMANTICS.md allows
# "a few ulp" for the transcendental passes; everything else must be exact).
ULP_LIMIT = 16


@dataclass
class Plan:
    """What one run measures and how long it may take."""

    quick: bool = False
    size: int = 1 << 20  # elements per quantizer input, float32
    shapes: dict[str, tuple] = field(default_factory=lambda: dict(MATMUL_SHAPES))
    time_limit_s: float = 100.0  # the whole run, setup included
    min_sample_ns: int = 1_000_000  # each sample's inner loop runs at least this long
    min_repeats: int = 5
    max_repeats: int = 201
    seed: int = 0


def plan(quick: bool = False, size: int | None = None, shapes: list[str] | None = None,
         time_limit_s: float | None = None, seed: int = 0) -> Plan:
    """The default run (at most ~2 minutes) or the ``--quick`` one (at most ~20 seconds)."""
    if quick:
        p = Plan(quick=True, size=1 << 18, time_limit_s=12.0, min_repeats=5, max_repeats=51, seed=seed,
                 shapes={k: MATMUL_SHAPES[k] for k in ("S1", "S4")})
    else:
        p = Plan(seed=seed)
    if size is not None:
        if size < 1:
            raise ValueError(f"size: expected a positive number of elements, got {size}")
        p.size = int(size)
    if shapes is not None:
        unknown = [s for s in shapes if s not in MATMUL_SHAPES]
        if unknown:
            raise ValueError(f"shapes: unknown {unknown}; expected some of {sorted(MATMUL_SHAPES)}")
        p.shapes = {k: MATMUL_SHAPES[k] for k in shapes}
    if time_limit_s is not None:
        p.time_limit_s = float(time_limit_s)
    return p


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------


def _blas_info() -> list | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: d.get(k) for k in keys} for d in threadpool_info() if d.get("user_api") == "blas"]


def openblas_env() -> dict:
    """What the run did about the OpenBLAS variables: ``unset`` (removed by the CLI before NumPy
    was imported) and ``set`` (still in this process's environment, so NumPy ran with them)."""
    unset = {}
    for line in os.environ.get(UNSET_MARKER, "").splitlines():
        name, _, value = line.partition("=")
        if name:
            unset[name] = value
    present = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    return {"unset": unset, "set": present}


def machine_info() -> dict:
    """CPU, ISAs, threads, versions, BLAS and the OpenBLAS environment, as a dict."""
    from . import _runtime

    info = dict(_runtime.config())
    info["blas"] = _blas_info()
    info["openblas_env"] = openblas_env()
    info["cpu_count"] = os.cpu_count()
    try:
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        info["load_average_1min"] = None
    return info


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def _run_ns(fn: Callable[[], object], inner: int) -> int:
    clock = time.perf_counter_ns
    t0 = clock()
    for _ in range(inner):
        fn()
    return clock() - t0


def _calibrate(fn: Callable[[], object], min_ns: int) -> tuple:
    """(inner loop count so one sample takes >= min_ns, ns per call of the last trial)."""
    fn()  # warm-up: page faults, caches, lazy initialisation
    inner = 1
    while True:
        t = _run_ns(fn, inner)
        if t >= min_ns or inner >= 1 << 24:
            return inner, t / inner
        # Aim 20% past the target, at least doubling.
        inner = max(2 * inner, math.ceil(inner * 1.2 * min_ns / max(t, 1)))


@dataclass
class Stats:
    median_ns: float
    q1_ns: float
    q3_ns: float
    min_ns: float
    repeats: int
    inner: int


def measure(candidates: dict[str, Callable[[], object]], budget_s: float, min_sample_ns: int = 1_000_000,
            min_repeats: int = 5, max_repeats: int = 201, deadline: float | None = None) -> dict[str, Stats]:
    """Time each zero-argument callable; samples of all candidates are interleaved (the order
    rotates every round). Returns per-call statistics of the samples (medians, quartiles).

    ``deadline`` (a ``time.perf_counter()`` value): on a machine slower or busier than the budget
    assumed, stop once it has passed and at least 3 rounds are done."""
    names = list(candidates)
    inner = {}
    round_ns = 0.0
    for name in names:
        inner[name], per_call = _calibrate(candidates[name], min_sample_ns)
        round_ns += inner[name] * per_call
    repeats = int(budget_s * 1e9 / max(round_ns, 1.0))
    repeats = max(min_repeats, min(max_repeats, repeats))
    samples = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                samples[name].append(_run_ns(candidates[name], inner[name]) / inner[name])
            if deadline is not None and r >= 2 and time.perf_counter() > deadline:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    out = {}
    for name in names:
        s = np.asarray(samples[name])
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        out[name] = Stats(float(med), float(q1), float(q3), float(s.min()), len(s), inner[name])
    return out


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def _ordered(a: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys whose differences count ulps (-0.0 and +0.0 coincide)."""
    i = np.ascontiguousarray(a, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(2**31) - i, i)


def compare(result, expected) -> tuple:
    """("exact" | "<= N ulp" | "MISMATCH: ...", max ulp or None)."""
    result = np.asarray(result)
    expected = np.asarray(expected)
    if result.shape != expected.shape:
        return f"MISMATCH: shape {result.shape} vs {expected.shape}", None
    if result.dtype.kind in "iu" or expected.dtype.kind in "iu":
        if np.array_equal(result, expected):
            return "exact", 0
        return f"MISMATCH: {int(np.count_nonzero(result != expected))} elements differ", None
    if np.array_equal(result, expected, equal_nan=True):
        return "exact", 0
    nan_r, nan_e = np.isnan(result), np.isnan(expected)
    if not np.array_equal(nan_r, nan_e):
        return "MISMATCH: NaN positions differ", None
    ok = ~nan_r
    ulp = int(np.max(np.abs(_ordered(result[ok]) - _ordered(expected[ok]))))
    if ulp > ULP_LIMIT:
        return f"MISMATCH: {ulp} ulp", ulp
    return f"<= {ulp} ulp", ulp


# ---------------------------------------------------------------------------------------------
# The tasks
# ---------------------------------------------------------------------------------------------


def _transcendental_check(name: str, config: dict, direction: str, x, dy, got, expected) -> tuple | None:
    """SEMANTICS.md lets SwishSign's backward and DoReFa weights (fastq's own tanh) differ by a
    few ulp *of the size of the terms* (near a cancellation the relative error of the result is
    unbounded), and a DoReFa weight level may flip where it sits within a few ulp of a rounding
    tie. Returns (check, max ulp) for those passes, None for every other (which must be exact)."""
    eps = float(np.finfo(np.float32).eps)
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "SwishSign" and direction == "backward":
            beta = float(config.get("beta", 5.0))
            b = np.abs(beta * x64)
            terms = np.abs(dy.astype(np.float64) * beta) * (2 + b * np.tanh(b / 2)) / (1 + np.cosh(b))
        elif name == "DoReFa" and config.get("mode") == "weights":
            t = np.tanh(x64)
            d = float(np.max(np.abs(t))) if t.size else 0.0
            if direction == "forward":
                n = 2.0 ** int(config.get("k_bit", 2)) - 1
                pn = (t / (2 * d) + 0.5) * n if d else np.full_like(t, 0.5 * n)
                near_tie = np.abs(pn - np.floor(pn) - 0.5) <= 16 * eps * (n + 1)
                differ = got != expected
                if np.any(differ & ~near_tie):
                    return f"MISMATCH: {int(np.count_nonzero(differ & ~near_tie))} levels away from ties", None
                k = int(np.count_nonzero(differ))
                return ("exact", 0) if k == 0 else (f"{k} tie level(s)", None)
            terms = np.abs(dy.astype(np.float64)) * (1 + t * t) / d if d else np.zeros_like(t)
        else:
            return None
        err = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        units = err / (eps * terms + float(np.finfo(np.float32).tiny))
    units = np.where(np.isnan(got) & np.isnan(expected), 0.0, units)
    worst = float(np.max(units)) if units.size else 0.0
    if not worst <= ULP_LIMIT:
        return f"MISMATCH: {worst:.0f} ulp of terms", None
    return f"<= {int(np.ceil(worst))} ulp of terms", int(np.ceil(worst))


def _quantizer_label(name: str, config: dict) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "precision")
    return f"{name}({args})" if args else name


@dataclass
class _Task:
    label: str
    weight: float  # share of the time budget, relative
    run: Callable[[float, float], list[dict]]  # (budget_s, deadline) -> records


def _shape_for(size: int) -> tuple:
    # 2-D, last axis the channel axis (MagnitudeAwareSign has one scale per last-axis channel).
    return (size // 1024, 1024) if size >= 4096 and size % 1024 == 0 else (size,)


def _quantizer_tasks(p: Plan) -> list[_Task]:
    from . import quantizers, reference

    rng = np.random.default_rng(p.seed)
    shape = _shape_for(p.size)
    data = {}

    def arrays():
        if not data:  # created on first use, so their cost is inside the timed budget
            data["x"] = rng.standard_normal(shape, dtype=np.float32)
            data["dy"] = rng.standard_normal(shape, dtype=np.float32)
        return data["x"], data["dy"]

    missing = set(reference.CLASS_NAMES) - {name for name, _ in QUANTIZER_CASES}
    cases = list(QUANTIZER_CASES) + [(name, {}) for name in sorted(missing)]

    def make(name, config, direction):
        def run(budget_s, deadline=None):
            x, dy = arrays()
            q = quantizers.get({"class_name": name, "config": config})
            if direction == "forward":
                fast = lambda: q(x)  # noqa: E731

                def base():
                    with np.errstate(all="ignore"):
                        return reference.forward(name, x, **config)
            else:
                fast = lambda: q.grad(x, dy)  # noqa: E731

                def base():
                    with np.errstate(all="ignore"):
                        return reference.backward(name, x, dy, **config)

            candidates = [("fastq.reference", base)]
            if name == "SteSign" and not config:
                text, idiom = IDIOMS[direction]
                candidates.append((f"numpy idiom: {text}", lambda: idiom(x, dy)))
            fast_out = fast()
            fns = {"fastq": fast}
            checks = {}
            for bname, bfn in candidates:
                base_out = bfn()
                checks[bname] = compare(fast_out, base_out)
                if checks[bname][0] != "exact":
                    special = _transcendental_check(name, config, direction, x, dy, fast_out, base_out)
                    if special is not None:
                        checks[bname] = special
                fns[bname] = bfn
            stats = measure(fns, budget_s, p.min_sample_ns, p.min_repeats, p.max_repeats, deadline)
            records = []
            for bname, _ in candidates:
                fs, bs = stats["fastq"], stats[bname]
                check, ulp = checks[bname]
                records.append({
                    "kind": "quantizer",
                    "name": name,
                    "label": _quantizer_label(name, config),
                    "config": q.get_config(),
                    "pass": direction,
                    "dtype": "float32",
                    "shape": list(shape),
                    "elements": int(x.size),
                    "baseline": bname,
                    "fastq_ns": fs.median_ns,
                    "baseline_ns": bs.median_ns,
                    "fastq_ns_per_element": fs.median_ns / x.size,
                    "baseline_ns_per_element": bs.median_ns / x.size,
                    "speedup": bs.median_ns / fs.median_ns,
                    "fastq_iqr_ns": [fs.q1_ns, fs.q3_ns],
                    "baseline_iqr_ns": [bs.q1_ns, bs.q3_ns],
                    "fastq_min_ns": fs.min_ns,
                    "baseline_min_ns": bs.min_ns,
                    "repeats": fs.repeats,
                    "fastq_inner": fs.inner,
                    "baseline_inner": bs.inner,
                    "check": check,
                    "max_ulp": ulp,
                })
            return records

        weight = 1.5 if name == "SteSign" and not config else 1.0
        return _Task(f"{_quantizer_label(name, config)} {direction}", weight, run)

    return [make(name, cfg, d) for name, cfg in cases for d in ("forward", "backward")]


def binary_api(name: str):
    """``fastq.<name>`` of the binary inference API (pack_bits, binary_matmul, BinaryDense), or
    None when this build has none."""
    import fastq

    obj = getattr(fastq, name, None)
    if obj is None:
        try:
            from . import binary
        except ImportError:
            return None
        obj = getattr(binary, name, None)
    return obj


def _binary_api():
    """(pack_bits, binary_matmul) of this build, or None while it has none."""
    pack, bmm = binary_api("pack_bits"), binary_api("binary_matmul")
    if pack is None or bmm is None:
        return None
    return pack, bmm


def popcount_peak(seconds: float = 0.3, threads: int | None = None) -> tuple:
    """The xor + popcount peak this machine can reach with fastq's active ISA: ``(peak, note)``.

    The probe is native (``Kernels.popcount_peak`` of the active ISA's table): the GEMM's own
    inner step (XOR, that ISA's popcount method, accumulate) on registers only, timed on one
    core for about ``seconds``. Its one-core rate is multiplied by the threads fastq uses (at
    most the core count), so the fraction is of the peak of the cores fastq was given. ``peak``
    is None (with ``note`` saying why) when this build has no probe; never estimated."""
    from . import _core
    from ._runtime import active_isa, get_num_threads

    isa = active_isa()
    threads = threads or get_num_threads()
    used = max(1, min(threads, os.cpu_count() or threads))
    probe = getattr(_core.kernels_for(isa), "popcount_peak", None)
    if probe is None:
        return None, "no popcount probe in this build"
    per_core = float(probe(seconds))
    if not per_core > 0:
        return None, f"the popcount probe gave no rate for the active ISA ({isa})"
    source = "Kernels.popcount_peak"
    return {
        "bit_macs_per_s": per_core * used,
        "per_core_bit_macs_per_s": per_core,
        "threads": used,
        "method": isa,
        "source": source,
    }, f"{source}, {isa}, one core x {used} thread(s)"


def _matmul_tasks(p: Plan, peak_holder: dict) -> list[_Task]:
    api = _binary_api()
    tasks = []

    def make(label, m, n, k):
        def run(budget_s, deadline=None):
            rng = np.random.default_rng([p.seed, m, n, k])
            a = np.where(rng.random((m, k), dtype=np.float32) < 0.5, np.float32(-1), np.float32(1))
            b = np.where(rng.random((n, k), dtype=np.float32) < 0.5, np.float32(-1), np.float32(1))
            record = {
                "kind": "binary_matmul",
                "name": label,
                "shape_mnk": [m, n, k],
                "baseline": "numpy float32 matmul of the same ±1 matrices",
            }
            numpy_fn = lambda: a @ b.T  # noqa: E731
            if api is None:
                stats = measure({"numpy": numpy_fn}, budget_s / 2, p.min_sample_ns, p.min_repeats, p.max_repeats,
                                deadline)
                record.update({
                    "fastq_ns": None, "fastq_with_packing_ns": None,
                    "baseline_ns": stats["numpy"].median_ns, "speedup": None, "speedup_with_packing": None,
                    "bit_macs_per_s": None,
                    "baseline_flops_per_s": 2.0 * m * n * k / (stats["numpy"].median_ns * 1e-9),
                    "peak_fraction": None, "repeats": stats["numpy"].repeats,
                    "check": "n/a: this build has no fastq.binary_matmul",
                })
                return [record]
            pack, bmm = api
            pa, pb = pack(a), pack(b)
            check, _ = compare(np.asarray(bmm(pa, pb)), (a @ b.T).astype(np.int32))
            fns = {
                "fastq": lambda: bmm(pa, pb),
                "fastq_with_packing": lambda: bmm(pack(a), pb),
                "numpy": numpy_fn,
            }
            stats = measure(fns, budget_s, p.min_sample_ns, p.min_repeats, p.max_repeats, deadline)
            f, fp, nb = stats["fastq"], stats["fastq_with_packing"], stats["numpy"]
            bit_macs = m * n * k / (f.median_ns * 1e-9)
            peak = peak_holder.get("peak")
            record.update({
                "fastq_ns": f.median_ns,
                "fastq_with_packing_ns": fp.median_ns,
                "baseline_ns": nb.median_ns,
                "speedup": nb.median_ns / f.median_ns,
                "speedup_with_packing": nb.median_ns / fp.median_ns,
                "fastq_iqr_ns": [f.q1_ns, f.q3_ns],
                "baseline_iqr_ns": [nb.q1_ns, nb.q3_ns],
                "fastq_min_ns": f.min_ns,
                "baseline_min_ns": nb.min_ns,
                "bit_macs_per_s": bit_macs,
                "baseline_flops_per_s": 2.0 * m * n * k / (nb.median_ns * 1e-9),
                "peak_fraction": (bit_macs / peak["bit_macs_per_s"]) if peak else None,
                "repeats": f.repeats,
                "fastq_inner": f.inner,
                "baseline_inner": nb.inner,
                "check": check,
            })
            return [record]

        # Weight by size so large shapes get the repeats they need.
        weight = 1.5 + min(4.0, m * n * k / 2**30)
        return _Task(f"binary_matmul {label} {m}x{n}x{k}", weight, run)

    for label, (m, n, k) in p.shapes.items():
        tasks.append(make(label, m, n, k))
    return tasks


def run(p: Plan | None = None, progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Run the benchmark plan; ``progress(done, total, label)`` is called before each task and
    once at the end. Returns the report (see ``write_json``)."""
    p = p or plan()
    t_start = time.perf_counter()
    machine = machine_info()  # before the run: the load average is then other processes' load
    peak_holder: dict = {}
    tasks = _quantizer_tasks(p) + _matmul_tasks(p, peak_holder)
    if _binary_api():
        from .bench_conv import conv_tasks  # QuickNet's binary convolutions

        tasks += conv_tasks(p, peak_holder, _Task, measure, compare)
        from .models.bench import model_tasks  # whole zoo models, batch 1 (no file needed)

        tasks += model_tasks(p, _Task)
    total_weight = sum(t.weight for t in tasks)
    results: list[dict] = []
    # Keep a reserve for setup that the budget division cannot see (data creation, calibration).
    usable = p.time_limit_s * 0.7
    peak, peak_note = None, "not measured (no binary_matmul in this build)"
    for i, task in enumerate(tasks):
        if progress:
            progress(i, len(tasks), task.label)
        if task.label.startswith("binary_") and "peak" not in peak_holder and _binary_api():
            peak, peak_note = popcount_peak(0.15 if p.quick else 0.4)
            peak_holder["peak"] = peak
        elapsed = time.perf_counter() - t_start
        remaining_weight = sum(t.weight for t in tasks[i:])
        nominal = usable * task.weight / total_weight
        budget = max(0.0, min(nominal, (usable - elapsed) * task.weight / remaining_weight))
        now = time.perf_counter()
        deadline = min(now + 2 * budget + 0.1, t_start + p.time_limit_s)
        results.extend(task.run(budget, deadline))
    if progress:
        progress(len(tasks), len(tasks), "done")
    import fastq

    return {
        "format": "fastq-bench/1",
        "fastq": fastq.__version__,
        "machine": machine,
        "plan": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(p).items()},
        "popcount_peak": peak,
        "popcount_peak_note": peak_note,
        "results": results,
        "wall_time_s": time.perf_counter() - t_start,
    }


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def _fmt_speedup(s) -> str:
    if s is None:
        return "n/a"
    return f"{s:.1f}x" if s >= 10 else f"{s:.2f}x"


def _fmt_ms(ns) -> str:
    return "n/a" if ns is None else f"{ns / 1e6:.3f}"


def machine_lines(m: dict) -> list[str]:
    forced = " (forced by FASTQ_FORCE_ISA)" if m.get("isa_forced") else ""
    lines = [
        f"cpu:      {m['cpu']} ({m['machine']})",
        f"isa:      {m['isa_active']}{forced}; available: {', '.join(m['isa_available'])}",
        f"threads:  {m['num_threads']} (fastq)",
        f"numpy:    {m['numpy']} (python {m['python']})",
    ]
    for b in m.get("blas") or []:
        lines.append(f"blas:     {b['internal_api']} {b['version']}, {b['architecture']} kernels, "
                     f"{b['num_threads']} threads")
    env = m.get("openblas_env") or {}
    if env.get("unset"):
        lines.append("note:     NumPy ran without " + ", ".join(f"{k}={v}" for k, v in env["unset"].items())
                     + " (removed by fastq bench; they slow current OpenBLAS)")
    load, ncpu = m.get("load_average_1min"), m.get("cpu_count") or 1
    if load is not None and load > 0.5 * ncpu:
        lines.append(f"warning:  the machine was busy before the run (load average {load} on {ncpu} cores); "
                     "timings are noisy")
    if env.get("set"):
        lines.append("warning:  NumPy ran with " + ", ".join(f"{k}={v}" for k, v in env["set"].items())
                     + " set; its BLAS may be slower than it can be")
    return lines


def format_report(report: dict) -> str:
    """The human-readable tables."""
    m = report["machine"]
    out = [f"fastq {report['fastq']} bench", *machine_lines(m), ""]
    q = [r for r in report["results"] if r["kind"] == "quantizer"]
    if q:
        r0 = q[0]
        shape = "x".join(map(str, r0["shape"]))
        out.append(f"Quantizers: float32, {r0['elements']:,} elements ({shape}); median ns per element; "
                   f"fastq on {m['num_threads']} thread(s), NumPy on one")
        w = max(len(r["label"]) for r in q) + 2
        hdr = f"{'quantizer':<{w}}{'pass':<10}{'fastq':>9}{'numpy':>9}{'speedup':>10}  {'check':<19} baseline"
        out += [hdr, "-" * len(hdr)]
        for r in q:
            base = "reference.py" if r["baseline"] == "fastq.reference" else r["baseline"]
            out.append(f"{r['label']:<{w}}{r['pass']:<10}{r['fastq_ns_per_element']:>9.3f}"
                       f"{r['baseline_ns_per_element']:>9.3f}{_fmt_speedup(r['speedup']):>10}  "
                       f"{r['check']:<19} {base}")
        out.append("")
    mm = [r for r in report["results"] if r["kind"] == "binary_matmul"]
    if mm:
        peak = report.get("popcount_peak")
        blas_threads = ", ".join(str(b["num_threads"]) for b in m.get("blas") or []) or "its default"
        out.append("binary_matmul: int32 sign(A) @ sign(B).T on packed bits vs NumPy float32 A @ B.T of the "
                   f"same ±1 matrices; median ms per call; fastq on {m['num_threads']} thread(s), "
                   f"BLAS on {blas_threads}")
        hdr = (f"{'shape':<6}{'M x N x K':<18}{'fastq':>10}{'+pack A':>10}{'numpy':>10}{'speedup':>10}"
               f"{'(+pack)':>9}{'Gbit-MAC/s':>12}{'of peak':>9}  check")
        out += [hdr, "-" * len(hdr)]
        for r in mm:
            mnk = "x".join(map(str, r["shape_mnk"]))
            gops = "n/a" if r["bit_macs_per_s"] is None else f"{r['bit_macs_per_s'] / 1e9:.0f}"
            frac = "n/a" if r["peak_fraction"] is None else f"{100 * r['peak_fraction']:.0f}%"
            out.append(f"{r['name']:<6}{mnk:<18}{_fmt_ms(r['fastq_ns']):>10}{_fmt_ms(r['fastq_with_packing_ns']):>10}"
                       f"{_fmt_ms(r['baseline_ns']):>10}{_fmt_speedup(r['speedup']):>10}"
                       f"{_fmt_speedup(r['speedup_with_packing']):>9}{gops:>12}{frac:>9}  {r['check']}")
        note = report.get("popcount_peak_note", "")
        if peak:
            out.append(f"popcount peak: {peak['bit_macs_per_s'] / 1e9:,.0f} Gbit-MAC/s "
                       f"({peak['per_core_bit_macs_per_s'] / 1e9:,.0f} per core x {peak['threads']}; {note})")
        else:
            out.append(f"popcount peak: n/a ({note})")
        out.append("")
    from .bench_conv import format_conv

    out += format_conv(report)
    from .models.bench import format_models

    out += format_models(report)
    bad = [r for r in report["results"] if str(r.get("check", "")).startswith("MISMATCH")]
    if bad:
        out.append(f"WARNING: {len(bad)} result(s) differ from their baseline (see the check column)")
    out.append(f"wall time: {report['wall_time_s']:.1f} s")
    return "\n".join(out)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(report: dict, path) -> None:
    """Write the report as JSON (``path`` "-" is standard output)."""
    import json
    import sys

    text = json.dumps(_jsonable(report), indent=2)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")


def plot(report: dict, path) -> None:
    """Bar charts of the speedups (log scale) to a PNG; needs matplotlib (ImportError without)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q = [r for r in report["results"] if r["kind"] == "quantizer"]
    mm = [r for r in report["results"] if r["kind"] == "binary_matmul" and r["speedup"] is not None]
    m = report["machine"]
    heights = [max(1.0, 0.28 * len(q) + 0.8), max(1.0, 0.45 * len(mm) + 0.8)] if mm else [0.28 * len(q) + 0.8]
    fig, axes = plt.subplots(len(heights), 1, figsize=(9, sum(heights) + 0.8),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    ax = axes[0][0]
    labels = [f"{r['label']} {'fwd' if r['pass'] == 'forward' else 'bwd'}"
              + (" vs np idiom" if r["baseline"] != "fastq.reference" else "") for r in q]
    speed = [r["speedup"] for r in q]
    colors = ["#3b6ea8" if r["pass"] == "forward" else "#d07b2c" for r in q]
    ax.barh(range(len(q)), speed, color=colors)
    ax.set_yticks(range(len(q)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    if speed:
        ax.set_xlim(min(0.5, min(speed) / 1.5), max(speed) * 2.5)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("speedup over NumPy (median; log scale; blue forward, orange backward)")
    ax.set_title(f"fastq {report['fastq']} quantizers, float32, {q[0]['elements']:,} elements" if q else "")
    for i, s in enumerate(speed):
        ax.text(s, i, f" {s:.1f}x", va="center", fontsize=6)
    if mm:
        ax2 = axes[1][0]
        labels2 = [f"{r['name']} {'x'.join(map(str, r['shape_mnk']))}" for r in mm]
        sp = [r["speedup"] for r in mm]
        ax2.barh(range(len(mm)), sp, color="#4c9a5b")
        ax2.set_yticks(range(len(mm)), labels2, fontsize=8)
        ax2.invert_yaxis()
        ax2.set_xscale("log")
        ax2.set_xlim(min(0.5, min(sp) / 1.5), max(sp) * 2.5)
        ax2.axvline(1.0, color="k", lw=0.8)
        ax2.set_xlabel("binary_matmul speedup over NumPy float32 matmul of ±1 matrices (log scale)")
        for i, s in enumerate(sp):
            ax2.text(s, i, f" {s:.1f}x", va="center", fontsize=7)
    fig.suptitle(f"{m['cpu']} — isa {m['isa_active']}, {m['num_threads']} threads, numpy {m['numpy']}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
