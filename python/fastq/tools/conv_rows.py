"""The convolution rows of ``python -m fastq bench`` (``conv_tasks`` in tasks.TASK_FAMILIES, the
table ``format_conv`` in report.TABLES): QuickNet's binary 3x3 layers at batch 1 (SAME,
pad_values=1, C = O, 115.6 M binary MACs each), ``BinaryConv2D`` with float32 output, scale and
bias, on packed input, and the same layer on float input and with packed output (interleaved),
against the NumPy reference (``fastq.reference.binary_conv2d``, tap by tap float64 matmuls,
timed after them) and as a fraction of the popcount peak. Results are checked against the
reference before timing."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .checks import compare
from .plan import Plan
from .tasks import Record, Run, Task, timed_record

# name -> (H = W, C = O) of QuickNet's 3x3 binary layers
CONV_LAYERS = {"Q1": (56, 64), "Q2": (28, 128), "Q3": (14, 256), "Q4": (7, 512)}
QUICK_LAYERS = ("Q2",)


def conv_tasks(p: Plan, state: Run) -> list[Task]:
    """One task per layer (registered in tasks.TASK_FAMILIES)."""
    import fastq
    from fastq import reference

    def make(label: str, hw: int, c: int) -> Task:
        def run(budget_s: float, deadline: float) -> list[Record]:
            state.ensure_peak()
            rng = np.random.default_rng([p.seed, hw, c])
            x = rng.standard_normal((1, hw, hw, c), dtype=np.float32)
            kernel = rng.standard_normal((3, 3, c, c), dtype=np.float32)
            scale, bias = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
            layer = fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias)
            packed_layer = fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias, packed_output=True)
            px = fastq.pack_bits(x)
            out = np.empty((1, hw, hw, c), np.float32)
            want = reference.binary_output(reference.binary_conv2d(x, kernel, 1, "same", 1.0), scale, bias)
            got = layer(px)
            assert isinstance(got, np.ndarray)  # float output (packed_output=False)
            check, _ = compare(got, want)
            # The fastq candidates interleaved; the NumPy reference apart, after them: its BLAS
            # threads keep spinning after each call and would slow whatever runs next.
            t0 = time.perf_counter()
            stats = state.timed(
                {
                    "fastq": lambda: layer(px, out=out),
                    "fastq_float_input": lambda: layer(x, out=out),
                    "fastq_packed_output": lambda: packed_layer(px),
                },
                0.8 * budget_s,
                t0 + 0.8 * (deadline - t0),
            )
            stats.update(
                state.timed(
                    {"numpy": lambda: reference.binary_conv2d(x, kernel, 1, "same", 1.0)}, 0.2 * budget_s, deadline
                )
            )
            f = stats["fastq"]
            macs = hw * hw * 9 * c * c
            r = timed_record(
                "binary_conv2d",
                label,
                f"{label} {hw}x{hw}x{c}",
                f,
                "fastq.reference.binary_conv2d (NumPy float64, tap by tap)",
                stats["numpy"],
                check,
                p.max_spread,
            )
            r.update(
                {
                    "layer": f"{hw}x{hw}x{c} 3x3 SAME -> {c}",
                    "bit_macs": macs,
                    "fastq_float_input_ns": stats["fastq_float_input"].median_ns,
                    "fastq_packed_output_ns": stats["fastq_packed_output"].median_ns,
                    "bit_macs_per_s": macs / (f.median_ns * 1e-9),
                    "peak_fraction": macs / (f.median_ns * 1e-9) / state.peak["bit_macs_per_s"] if state.peak else None,
                }
            )
            return [r]

        return Task(f"binary_conv2d {label} {hw}x{hw}x{c}", 2.0, run)

    names = QUICK_LAYERS if p.quick else tuple(CONV_LAYERS)
    return [make(name, *CONV_LAYERS[name]) for name in names]


def format_conv(rows: list[Record], report: dict[str, Any]) -> list[str]:
    """The table of the binary_conv2d rows (report.TABLES)."""
    from .report import _check as check
    from .report import _fmt_speedup as speedup

    m = report["machine"]
    out = [
        f"binary_conv2d: QuickNet 3x3 binary layers, batch 1, BinaryConv2D float32 output with scale and bias; "
        f"median ms per call; fastq on {m['num_threads']} thread(s)",
        f"{'layer':<6}{'H x W x C -> O':<26}{'packed in':>10}{'float in':>10}{'packed out':>11}{'numpy':>10}"
        f"{'speedup':>9}{'Gbit-MAC/s':>12}{'of peak':>9}  check",
    ]
    out.append("-" * len(out[-1]))
    for r in rows:
        frac = "n/a" if r["peak_fraction"] is None else f"{100 * r['peak_fraction']:.0f}%"
        out.append(
            f"{r['name']:<6}{r['layer']:<26}{r['fastq_ns'] / 1e6:>10.3f}{r['fastq_float_input_ns'] / 1e6:>10.3f}"
            f"{r['fastq_packed_output_ns'] / 1e6:>11.3f}{r['baseline_ns'] / 1e6:>10.3f}"
            f"{speedup(r):>9}{r['bit_macs_per_s'] / 1e9:>12.0f}{frac:>9}  {check(r)}"
        )
    return out
