"""Two builds of fastq._core, kernel against kernel, in one process: e.g. the GCC build of a
checkout against the wheel's (zig's clang), to see what the compiler changes.

    PYTHONPATH=python python bench/compare_builds.py OTHER_CORE.so [--budget 2] [--json FILE]

Both modules run the same kernels of their active ISA on the same arrays, one thread, sampled
interleaved (fastq.tools.timing: rotating order, medians), so load from other processes slows
both alike and the ratio stays meaningful on a busy machine; rows whose spread stays above 10%
are marked unstable all the same. Results are checked to be bit-identical before timing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from functools import partial

import numpy as np

import fastq
from fastq import _core, quantizers
from fastq.tools.env import reexec_without_openblas_vars
from fastq.tools.machine import machine_info
from fastq.tools.tasks import QUANTIZER_CASES
from fastq.tools.timing import measure


def load_other(path: str):
    # The init symbol is PyInit__core, so the module's last name component must stay `_core`.
    spec = importlib.util.spec_from_file_location("fastq_other._core", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("other", help="path of the other build's _core*.so")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of sampling per row")
    ap.add_argument("--size", type=int, default=1 << 20, help="float32 elements per quantizer input")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    reexec_without_openblas_vars("bench/compare_builds.py")
    other = load_other(args.other)
    fastq.set_num_threads(1)
    other.set_num_threads(1)
    mine, theirs = _core.active_kernels(), other.active_kernels()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.size // 1024, 1024), dtype=np.float32)
    dy = rng.standard_normal(x.shape, dtype=np.float32)
    o1, o2 = np.empty_like(x), np.empty_like(x)
    rows = []

    def row(label, fn1, fn2, get1, get2):
        fn1()
        fn2()
        same = np.array_equal(get1().view(np.uint8), get2().view(np.uint8))
        cap = time.perf_counter() + 3 * args.budget  # rounds past the budget while the spread is above 10%
        st = measure({"this": fn1, "other": fn2}, args.budget, max_spread=0.10, deadline=cap)
        spread = max(st["this"].spread, st["other"].spread)
        rows.append(
            {
                "label": label,
                "this_ns": st["this"].median_ns,
                "other_ns": st["other"].median_ns,
                "other_over_this": st["other"].median_ns / st["this"].median_ns,
                "spread": spread,
                "stable": spread <= 0.10,
                "bit_identical": bool(same),
            }
        )
        r = rows[-1]
        ratio = f"{r['other_over_this']:.2f}" if r["stable"] else "unstable"
        print(
            f"{label:<46} {r['this_ns'] / 1e3:>10.1f} {r['other_ns'] / 1e3:>10.1f} {ratio:>9} "
            f"{'identical' if same else 'DIFFERENT'}",
            flush=True,
        )

    print(
        f"this: {_core.compiler} ({mine.isa}); other: {other.compiler} ({theirs.isa}); "
        f"{x.size:,} float32 elements, one thread"
    )
    print(f"{'kernel':<46} {'this µs':>10} {'other µs':>10} {'other/this':>9} result")
    f32 = np.dtype(np.float32)
    for name, config in QUANTIZER_CASES:
        q = quantizers.get({"class_name": name, "config": config})
        label = name + "".join(f" {k}={v}" for k, v in config.items() if k != "precision")
        row(
            f"{label} forward",
            partial(q._forward, mine, x, o1, f32),
            partial(q._forward, theirs, x, o2, f32),
            lambda: o1,
            lambda: o2,
        )
        row(
            f"{label} backward",
            partial(q._backward, mine, x, dy, o1, f32),
            partial(q._backward, theirs, x, dy, o2, f32),
            lambda: o1,
            lambda: o2,
        )
    row("tanh", lambda: mine.tanh(x, o1), lambda: theirs.tanh(x, o2), lambda: o1, lambda: o2)
    for shape, (m, n, k) in {"S2": (64, 4096, 4096), "S4": (1024, 1024, 1024)}.items():
        a = mine.pack_bits(rng.standard_normal((m, k), dtype=np.float32))
        b = mine.pack_bits(rng.standard_normal((n, k), dtype=np.float32))
        c1, c2 = np.empty((m, n), np.int32), np.empty((m, n), np.int32)
        row(
            f"binary_matmul {shape} {m}x{n}x{k}",
            partial(mine.binary_matmul, a, b, k, c1),
            partial(theirs.binary_matmul, a, b, k, c2),
            lambda c1=c1: c1,
            lambda c2=c2: c2,
        )
    row(
        "pack_bits",
        lambda: mine.pack_bits(x),
        lambda: theirs.pack_bits(x),
        lambda: mine.pack_bits(x),
        lambda: theirs.pack_bits(x),
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine_info(), "this": _core.compiler, "other": other.compiler, "rows": rows}, f, indent=1
            )
    bad = [r for r in rows if not r["bit_identical"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
