"""The binary convolution table of docs/binary.md: QuickNet's binary 3x3 layers at batch 1
(SAME, pad_values=1, C = O) through BinaryConv2D, float32 output with scale and bias, against
fastq's own popcount peak probe in the same run; binary_max_pool2d against a copy.

    python bench/report_conv.py            # one thread, then 2 threads vs 1
    python bench/report_conv.py --quick

Method (for a shared, busy machine): every candidate and the probe run interleaved in rounds;
one-thread times are *thread CPU time* (time.thread_time: time the calling thread actually ran,
so a preempted run does not count the other processes' time) and each figure is the best of a
round's calls, then the median over rounds. The probe (Kernels._popcount_probe, the GEMM's
inner XOR + popcount step on registers) is timed the same way, so "of peak" compares like with
like. Two threads vs one is wall time (CPU time would hide the second thread), interleaved
with the same comparison for the probe run on two Python threads: when the probe itself gains
less than 1.8x, the second core was busy and the conv's ratio says nothing about fastq.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from functools import partial

import numpy as np

import fastq
from fastq import _core

LAYERS = [(56, 64), (28, 128), (14, 256), (7, 512)]


def best(fn, calls, clock):
    t = []
    for _ in range(calls):
        t0 = clock()
        fn()
        t.append(clock() - t0)
    return min(t)


def warm(fn, seconds=0.03):
    """Calls for a while before timing: a worker woken after sleeping through the one-thread
    calls is often placed on the caller's CPU, and the scheduler takes milliseconds to move it
    (measured: 2 threads at 1.0x for a whole round of 15 calls without this, 1.87x with it)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()


def probe_rate(kern, iters, clock):
    t0 = clock()
    kern._popcount_probe(iters, 1)
    return kern._popcount_probe_macs * iters / (clock() - t0)


def probe_two_threads(kern, iters):
    ths = [threading.Thread(target=kern._popcount_probe, args=(iters, 1)) for _ in range(2)]
    t0 = time.perf_counter()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return 2 * kern._popcount_probe_macs * iters / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 9)
    calls = 5 if args.quick else 15
    kern = _core.active
    rng = np.random.default_rng(0)
    print(
        f"machine: {os.uname().machine}, {os.cpu_count()} CPUs, isa {kern.isa}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average before: "
        f"{os.getloadavg()}"
    )
    print("\nOne thread (thread CPU time; best of each round's calls, median over rounds)")
    print(
        f"{'layer':<12}{'packed in':>11}{'Gbit-MAC/s':>12}{'peak':>8}{'of peak':>9}{'packed out':>12}{'float in':>10}"
    )
    fastq.set_num_threads(1)
    clock = time.thread_time
    data = {}
    for hw, c in LAYERS:
        x = rng.standard_normal((1, hw, hw, c), dtype=np.float32)
        kernel = rng.standard_normal((3, 3, c, c), dtype=np.float32)
        scale, bias = rng.standard_normal(c), rng.standard_normal(c)
        f = fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias)
        p = fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias, packed_output=True)
        px, out = fastq.pack_bits(x), np.empty(x.shape, np.float32)
        macs = hw * hw * 9 * c * c
        data[(hw, c)] = (f, px)
        res = {"conv": [], "packed_out": [], "float_in": [], "peak": []}
        for _ in range(rounds):
            res["peak"].append(max(probe_rate(kern, 20000, clock) for _ in range(3)))
            res["conv"].append(best(partial(f, px, out=out), calls, clock))
            res["packed_out"].append(best(partial(p, px), calls, clock))
            res["float_in"].append(best(partial(f, x, out=out), calls, clock))
        med = {k: float(np.median(v)) for k, v in res.items()}
        t = med["conv"]
        print(
            f"{hw}x{hw}x{c:<6}{t * 1e6:>9.1f}us{macs / t / 1e9:>12.0f}{med['peak'] / 1e9:>8.0f}"
            f"{100 * macs / t / med['peak']:>8.0f}%{med['packed_out'] / t:>11.2f}x{med['float_in'] / t:>9.2f}x"
        )

    print("\nTwo threads vs one (wall time; the probe on 2 Python threads vs 1 in the same rounds)")
    print(f"{'layer':<12}{'1 thread':>10}{'2 threads':>11}{'speedup':>9}{'probe 2/1':>11}")
    for hw, c in LAYERS[:2]:
        f, px = data[(hw, c)]
        t1, t2, p1, p2 = [], [], [], []
        for _ in range(rounds):
            fastq.set_num_threads(1)
            t1.append(best(partial(f, px), calls, time.perf_counter))
            fastq.set_num_threads(2)
            warm(partial(f, px))
            t2.append(best(partial(f, px), calls, time.perf_counter))
            # ~0.2 s per probe run: shorter runs measure thread start-up, not the cores
            # (100000 iterations gave 0.83x on a quiet machine where 4M give 1.96x).
            p1.append(probe_rate(kern, 4_000_000, time.perf_counter))
            p2.append(probe_two_threads(kern, 4_000_000))
        a, b = np.median(t1), np.median(t2)
        probe = np.median(p2) / np.median(p1)
        print(f"{hw}x{hw}x{c:<6}{a * 1e6:>8.1f}us{b * 1e6:>9.1f}us{a / b:>8.2f}x{probe:>10.2f}x")

    print("\nbinary_max_pool2d 2x2 on 32x56x56x64 packed vs np.copyto of its input (one thread, thread CPU time)")
    fastq.set_num_threads(1)
    x = fastq.pack_bits(rng.standard_normal((32, 56, 56, 64), dtype=np.float32))
    dst = np.empty_like(x.words)
    tp, tc = [], []
    for _ in range(rounds):
        tp.append(best(lambda: fastq.binary_max_pool2d(x, 2), calls, clock))
        tc.append(best(lambda: np.copyto(dst, x.words), calls, clock))
    a, b = np.median(tp), np.median(tc)
    print(f"pool {a * 1e6:.1f}us, copy {b * 1e6:.1f}us: {100 * b / a:.0f}% of the copy's speed")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
