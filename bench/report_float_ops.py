"""Time the zoo models' float layers on fastq's native float kernels (issue #10) and print a table.

    python bench/report_float_ops.py [--rounds 15] [--models quicknet_small quicknet birealnet]

Batch 1, 224x224x3 input, random weights, every layer with the shapes it has in the model
(larq_zoo's QuickNet family and Bi-Real Net; docs/float-ops.md). Each layer is timed on one and
on two threads; rounds interleave all layers (a round runs each case once, short ones in
batches), and the table gives each case's best and median over the rounds. Outputs are
preallocated (``out=``).

"of peak" divides a layer's FLOPs (2 per multiply-add) by the one-core fp32 FMA peak of the
active table, measured by fastq's own probe (``Kernels.fma_peak``: the conv kernel's inner step
on registers). The one-thread column also reports the layer's *CPU time* on the calling thread
(``time.thread_time``; one-thread calls never leave it): on a machine shared with other jobs it
excludes the time the thread was not scheduled, so it is the kernel's own speed. Memory-bound
layers (depthwise, pooling, add, batch norm) report GB/s of their input + output bytes instead,
with a plain NumPy copy of the same bytes for scale.

The machine this was written on is a 2-vCPU VM shared by several jobs: the script prints the
load average before and after; wall-clock numbers taken under load are noisy.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import fastq
from fastq import _core
from fastq import _float_ops as F

MIN_SAMPLE = 2e-3  # seconds: shorter calls are timed in batches


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


class Layer:
    def __init__(self, model, name, fn, flops=0, nbytes=0):
        self.model, self.name, self.fn, self.flops, self.nbytes = model, name, fn, flops, nbytes
        self.wall = {1: [], 2: []}
        self.cpu = []
        self.batch = 1


def conv_layer(model, name, r, h, k, s, c, o, padding="same", depthwise=False, relu=False):
    x = r.standard_normal((1, h, h, c)).astype(np.float32)
    scale = r.uniform(0.5, 2, o).astype(np.float32)
    bias = r.standard_normal(o).astype(np.float32)
    if depthwise:
        layer = F.DepthwiseConv2D(
            r.standard_normal((k, k, c, 1)).astype(np.float32),
            strides=s,
            padding=padding,
            scale=scale,
            bias=bias,
            relu=relu,
        )
    else:
        layer = F.Conv2D(
            r.standard_normal((k, k, c, o)).astype(np.float32),
            strides=s,
            padding=padding,
            scale=scale,
            bias=bias,
            relu=relu,
        )
    out = np.empty(layer.output_shape(x.shape), np.float32)
    macs = out.size * k * k * (1 if depthwise else c)
    kind = "dw" if depthwise else "conv"
    label = f"{kind} {k}x{k}/{s} {h}x{h}x{c}->{o} +BN{'+relu' if relu else ''}"
    return Layer(model, label, lambda: layer(x, out=out), flops=2 * macs, nbytes=(x.size + out.size) * 4)


def pool_layer(model, name, r, h, k, s, c, kind, padding, relu=False):
    x = r.standard_normal((1, h, h, c)).astype(np.float32)
    if kind == "max":
        out = F.max_pool2d(x, k, s, padding, relu=relu)
        fn = lambda: F.max_pool2d(x, k, s, padding, relu=relu, out=out)
    else:
        out = F.avg_pool2d(x, k, s, padding)
        fn = lambda: F.avg_pool2d(x, k, s, padding, out=out)
    label = f"{'relu+' if relu else ''}{kind}pool {k}x{k}/{s} {padding} {h}x{h}x{c}"
    return Layer(model, label, fn, nbytes=(x.size + out.size) * 4)


def pointwise_layers(model, r, h, c):
    a = r.standard_normal((1, h, h, c)).astype(np.float32)
    b = r.standard_normal((1, h, h, c)).astype(np.float32)
    s = r.standard_normal(c).astype(np.float32)
    out = np.empty_like(a)
    # A residual block's float work after its binary conv: batch norm + the residual add, fused.
    return [Layer(model, f"BN+add {h}x{h}x{c}", lambda: F.affine(a, s, s, residual=b, out=out), nbytes=3 * a.nbytes)]


def head_layers(model, r):
    x = r.standard_normal((1, 7, 7, 512)).astype(np.float32)
    g = np.empty((1, 512), np.float32)
    dense = F.Dense(r.standard_normal((512, 1000)).astype(np.float32), bias=r.standard_normal(1000).astype(np.float32))
    logits = np.empty((1, 1000), np.float32)
    probs = np.empty((1, 1000), np.float32)
    return [
        Layer(model, "global avgpool 7x7x512", lambda: F.global_avg_pool2d(x, out=g), nbytes=x.nbytes),
        Layer(
            model, "dense 512->1000 +bias", lambda: dense(g, out=logits), flops=2 * 512 * 1000, nbytes=512 * 1000 * 4
        ),
        Layer(model, "softmax 1000", lambda: F.softmax(logits, out=probs), nbytes=8000),
    ]


def quicknet(model, r, filters, blocks):
    f0 = filters[0]
    L = [
        conv_layer(model, "stem", r, 224, 3, 2, 3, f0 // 4, relu=True),
        conv_layer(model, "stem dw", r, 112, 3, 2, f0 // 4, f0 // 4, depthwise=True),
        conv_layer(model, "stem 1x1", r, 56, 1, 1, f0 // 4, f0),
    ]
    h, c = 56, f0
    for f in filters[1:]:
        L.append(pool_layer(model, "transition max", r, h, 2, 1, c, "max", "valid", relu=True))
        L.append(conv_layer(model, "blur", r, h - 1, 3, 2, c, c, depthwise=True))
        h = (h - 1 + 1) // 2
        L.append(conv_layer(model, "transition 1x1", r, h, 1, 1, c, f))
        c = f
    sizes = {64: 56, 128: 28, 256: 14, 512: 7} if filters[0] == 64 else {32: 56, 64: 28, 256: 14, 512: 7}
    for f, n in zip(filters, blocks):
        for layer in pointwise_layers(model, r, sizes[f], f):
            layer.count = n  # once per residual block
            L.append(layer)
    return L + head_layers(model, r)


def birealnet(r):
    m = "birealnet"
    L = [conv_layer(m, "stem", r, 224, 7, 2, 3, 64), pool_layer(m, "stem max", r, 112, 3, 2, 64, "max", "same")]
    h, c = 56, 64
    for _ in range(3):
        L.append(pool_layer(m, "shortcut avg", r, h, 2, 2, c, "avg", "valid"))
        h //= 2
        L.append(conv_layer(m, "shortcut 1x1", r, h, 1, 1, c, 2 * c))
        c *= 2
    for h, c in [(56, 64), (28, 128), (14, 256), (7, 512)]:
        for layer in pointwise_layers(m, r, h, c):
            layer.count = 4
            L.append(layer)
    return L + head_layers(m, r)


def cpu_peak(k, seconds=0.1):
    """The FMA peak from the probe's CPU time on this thread (like Kernels.fma_peak, which
    uses wall time: on a shared machine CPU time does not count the time the thread waited)."""
    iters = 1024
    while True:
        t = time.thread_time()
        k._fma_probe(iters, 1)
        dt = time.thread_time() - t
        if dt >= seconds / 4:
            break
        iters *= 2
    best = min(dt, *(_timed(k, iters) for _ in range(2)))
    return k._fma_probe_flops * iters / best


def _timed(k, iters):
    t = time.thread_time()
    k._fma_probe(iters, 1)
    return time.thread_time() - t


def time_round(layers, threads):
    for layer in layers:
        fastq.set_num_threads(threads)
        n = layer.batch
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(n):
            layer.fn()
        c1, t1 = time.thread_time(), time.perf_counter()
        layer.wall[threads].append((t1 - t0) / n)
        if threads == 1:
            layer.cpu.append((c1 - c0) / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--models", nargs="+", default=["quicknet_small", "quicknet", "birealnet"])
    args = ap.parse_args()
    r = np.random.default_rng(0)
    before = fastq.get_num_threads()
    load0 = loadavg()
    k = _core.active
    peaks = [cpu_peak(k) for _ in range(3)]
    peak = max(peaks)
    layers = []
    for m in args.models:
        if m == "quicknet_small":
            layers += quicknet(m, r, (32, 64, 256, 512), (4, 4, 4, 4))
        elif m == "quicknet":
            layers += quicknet(m, r, (64, 128, 256, 512), (4, 4, 4, 4))
        elif m == "quicknet_large":
            layers += quicknet(m, r, (64, 128, 256, 512), (6, 8, 12, 6))
        elif m == "birealnet":
            layers += birealnet(r)
        else:
            raise SystemExit(f"unknown model {m!r}")
    for layer in layers:  # warm up; batch short calls so one sample lasts >= MIN_SAMPLE
        fastq.set_num_threads(1)
        layer.fn()
        t = time.perf_counter()
        layer.fn()
        dt = time.perf_counter() - t
        layer.batch = max(1, int(MIN_SAMPLE / max(dt, 1e-7)))
    for _ in range(args.rounds):
        time_round(layers, 1)
        time_round(layers, 2)
    peaks.append(cpu_peak(k))
    fastq.set_num_threads(before)

    copy_src = np.ones(1 << 20, np.float32)
    copy_dst = np.empty_like(copy_src)
    ct = []
    for _ in range(50):
        t = time.perf_counter()
        np.copyto(copy_dst, copy_src)
        ct.append(time.perf_counter() - t)
    copy_gbs = 2 * copy_src.nbytes / min(ct) / 1e9

    print(f"fastq {fastq.__version__}, table {k.isa}, {platform.processor() or platform.machine()}")
    print(
        f"fp32 FMA peak (one core, {k.isa} probe, CPU time): {peak / 1e9:.1f} GFLOP/s "
        f"(probes: {', '.join(f'{p / 1e9:.0f}' for p in peaks)}; wall-time Kernels.fma_peak: "
        f"{k.fma_peak(0.3) / 1e9:.1f})"
    )
    print(f"NumPy copy of 4 MiB (in + out bytes): {copy_gbs:.1f} GB/s")
    print(f"load average before: {load0}; after: {loadavg()} (2 vCPUs shared with other jobs: wall times are noisy)")
    print(f"{args.rounds} rounds; best / median wall time; 1-thread CPU time (best); per call, batch 1.\n")
    print("| model | layer | x | 1 thread best | median | CPU | of peak (CPU) | GB/s (CPU) | 2 threads best | 2 vs 1 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    totals = {}
    for layer in layers:
        b1, m1, c1 = min(layer.wall[1]), float(np.median(layer.wall[1])), min(layer.cpu)
        b2 = min(layer.wall[2])
        count = getattr(layer, "count", 1)
        frac = f"{layer.flops / c1 / peak * 100:.0f}%" if layer.flops else ""
        gbs = f"{layer.nbytes / c1 / 1e9:.1f}" if layer.nbytes else ""
        print(
            f"| {layer.model} | {layer.name} | {count} | {b1 * 1e6:.1f} µs | {m1 * 1e6:.1f} µs "
            f"| {c1 * 1e6:.1f} µs "
            f"| {frac} | {gbs} | {b2 * 1e6:.1f} µs | {b1 / b2:.2f}× |"
        )
        t = totals.setdefault(layer.model, [0.0, 0.0, 0.0])
        t[0] += count * c1
        t[1] += count * b2
        t[2] += count * layer.flops
    print(
        "\n| model | float layers, 1 thread (CPU) | 2 threads (wall) | float FLOPs | floor at the FMA peak "
        "| CPU / floor |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for m, (c1, w2, fl) in totals.items():
        floor = fl / peak
        print(
            f"| {m} | {c1 * 1e3:.3f} ms | {w2 * 1e3:.3f} ms | {fl / 1e6:.0f} M | {floor * 1e3:.3f} ms | "
            f"{c1 / floor:.2f}× |"
        )


if __name__ == "__main__":
    main()
