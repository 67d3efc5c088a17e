"""The quantizer table of docs/performance.md: every float32 pass at n = 1e3, 1e5, 1e6 and 1.6e7 against
a plain copy of the same bytes through the same binding and against reference.py, one thread;
and 2 threads against 1 at n = 1e6 (and for binary_matmul on S2, S3, S4, fastq alone: in a
round-robin with NumPy, OpenBLAS's idle threads keep spinning on the second core). All candidates of one size
are timed in one run, interleaved (fastq.tools.timing.measure: rotating order, medians of many repeats).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/report_quantizers.py [--json FILE]

The copy is NoOp's forward kernel called on the binding directly (``_core.active.forward``):
at n = 1e3 with a new output array per call, like ``q(x)``; from 1e5 on into a preallocated
``out`` for both, like ``q(x, out=out)``, so page faults of fresh 4-64 MB arrays do not blur the
kernel times. fastq's passes go through the public Python API.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import fastq
from fastq import _core, reference
from fastq.tools.env import reexec_without_openblas_vars
from fastq.tools.machine import machine_info
from fastq.tools.timing import measure

SIZES = [1_000, 100_000, 1_000_000, 16_000_000]
CASES = [
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
NOOP = _core.quantizer_ids["NoOp"]
ADD = "np.add(x, dy, out=out) [numpy]"


def label(name, cfg):
    extra = ", ".join(f"{k}={v}" for k, v in cfg.items())
    return f"{name}({extra})" if extra else name


def candidates(n, x, dy, out, with_reference):
    k = _core.active
    c = {}
    if n <= 1_000:
        c["copy"] = lambda: k.forward(NOOP, x, np.empty_like(x))
    else:
        c["copy"] = lambda: k.forward(NOOP, x, out)
    for name, cfg in CASES:
        q = fastq.quantizers.get({"class_name": name, "config": cfg})
        lab = label(name, cfg)
        if n <= 1_000:
            c[f"{lab} forward"] = lambda q=q: q(x)
            c[f"{lab} backward"] = lambda q=q: q.grad(x, dy)
        else:
            c[f"{lab} forward"] = lambda q=q: q(x, out=out)
            c[f"{lab} backward"] = lambda q=q: q.grad(x, dy, out=out)
        if with_reference:

            def fwd(name=name, cfg=cfg):
                with np.errstate(all="ignore"):
                    return reference.forward(name, x, **cfg)

            def bwd(name=name, cfg=cfg):
                with np.errstate(all="ignore"):
                    return reference.backward(name, x, dy, **cfg)

            c[f"{lab} forward [numpy]"] = fwd
            c[f"{lab} backward [numpy]"] = bwd
    if with_reference:
        c["np.where(x >= 0, 1, -1).astype(float32) [numpy]"] = lambda: np.where(x >= 0, 1, -1).astype(np.float32)
        if n > 1_000:  # a backward pass's traffic (read x and dy, write out), the simplest way
            c[ADD] = lambda: np.add(x, dy, out=out)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write every median here")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of sampling per size")
    ap.add_argument("--threads-only", action="store_true", help="only the 2-threads-vs-1 part")
    args = ap.parse_args()
    reexec_without_openblas_vars("bench/report_quantizers.py")  # the one OpenBLAS-environment policy
    rng = np.random.default_rng(0)
    results = {"machine": machine_info(), "single_thread": {}, "threads": {}}
    fastq.set_num_threads(1)
    for n in [] if args.threads_only else SIZES:
        x = rng.standard_normal(n, dtype=np.float32)
        dy = rng.standard_normal(n, dtype=np.float32)
        out = np.empty_like(x)
        stats = measure(
            candidates(n, x, dy, out, with_reference=True), budget_s=args.budget, min_repeats=7 if n < 16_000_000 else 5
        )
        results["single_thread"][n] = {k: v.median_ns for k, v in stats.items()}
        print(f"n={n}: done", file=sys.stderr)
    # 2 threads against 1 at n = 1e6: each pass timed with both settings, interleaved.
    n = 1_000_000
    x = rng.standard_normal(n, dtype=np.float32)
    dy = rng.standard_normal(n, dtype=np.float32)
    out = np.empty_like(x)
    base = candidates(n, x, dy, out, with_reference=False)
    for name, (m, nn, k) in {"S2": (64, 4096, 4096), "S3": (3136, 256, 2304), "S4": (1024, 1024, 1024)}.items():
        pa = fastq.pack_bits(rng.standard_normal((m, k), dtype=np.float32))
        pb = fastq.pack_bits(rng.standard_normal((nn, k), dtype=np.float32))
        o = np.empty((m, nn), np.int32)
        base[f"binary_matmul {name}"] = lambda pa=pa, pb=pb, o=o: fastq.binary_matmul(pa, pb, out=o)
    with_threads = {}
    for key, fn in base.items():
        for t in (1, 2):

            def run(fn=fn, t=t):
                fastq.set_num_threads(t)
                return fn()

            with_threads[f"{key} @{t}"] = run
    stats = measure(with_threads, budget_s=args.budget, min_repeats=7)
    results["threads"] = {k: v.median_ns for k, v in stats.items()}
    fastq.set_num_threads(1)

    print(threads_table(results) if args.threads_only else table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)


def table(r):
    st = r["single_thread"]
    m = r["machine"]
    lines = [
        f"Machine: {m.get('cpu')}, ISA {m.get('isa_active')}, numpy {m.get('numpy')}; one thread unless noted.",
        "",
    ]
    lines.append(
        "| pass | 1e3: µs above copy | 1e5: × copy | 1e6: × copy | 1.6e7: × copy | 1e5: × faster than NumPy "
        "| 1e6: 2 threads vs 1 |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for name, cfg in CASES:
        for d in ("forward", "backward"):
            key = f"{label(name, cfg)} {d}"
            above = (st[1_000][key] - st[1_000]["copy"]) / 1e3
            ratios = [st[n][key] / st[n]["copy"] for n in SIZES[1:]]
            vs_np = st[100_000][f"{key} [numpy]"] / st[100_000][key]
            thr = r["threads"][f"{key} @1"] / r["threads"][f"{key} @2"]
            lines.append(
                f"| {key} | {above:+.2f} | " + " | ".join(f"{x:.2f}" for x in ratios) + f" | {vs_np:.0f} | {thr:.2f}× |"
            )
    copy = [st[n]["copy"] for n in SIZES]
    lines.append("")
    lines.append("Copy through the binding: " + ", ".join(f"n={n:g}: {c / 1e3:.2f} µs" for n, c in zip(SIZES, copy)))
    idiom = "np.where(x >= 0, 1, -1).astype(float32) [numpy]"
    for n in SIZES:
        ns = st[n][idiom] / n
        lines.append(
            f"- n={n:g}: NumPy idiom {ns:.3f} ns/element; fastq SteSign forward "
            f"{st[n][idiom] / st[n]['SteSign forward']:.0f}x faster"
        )
    lines.append(
        "- np.add(x, dy, out=out), a backward pass's traffic, in units of the copy: "
        + ", ".join(f"n={n:g}: {st[n][ADD] / st[n]['copy']:.2f}x" for n in SIZES[1:])
    )
    t = r["threads"]
    lines.append(f"- copy, n=1e6: 2 threads vs 1: {t['copy @1'] / t['copy @2']:.2f}x")
    return "\n".join(lines)


def threads_table(r):
    t = r["threads"]
    keys = sorted({k.rsplit(" @", 1)[0] for k in t})
    lines = ["| case (n = 1e6 for quantizers) | 1 thread | 2 threads | speedup |", "|---|---:|---:|---:|"]
    for k in keys:
        lines.append(
            f"| {k} | {t[k + ' @1'] / 1e3:.1f} µs | {t[k + ' @2'] / 1e3:.1f} µs | {t[k + ' @1'] / t[k + ' @2']:.2f}× |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
