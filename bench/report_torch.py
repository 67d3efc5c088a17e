"""fastq.torch against PyTorch, one thread (torch.set_num_threads(1), fastq.set_num_threads(1)).

    python bench/report_torch.py [--budget SECONDS] [--json FILE] [--no-compile | --compile-only] [--quick]

Every comparison is timed in one run, interleaved (fastq.tools.timing.measure: rotating order,
medians of many repeats); every candidate's values are checked against fastq's NumPy result
before timing. What it measures (issue 11's goals, docs/torch.md):

1. A training step's quantizer work on 1e6 float32: forward + ``backward(dy)`` through
   fastq.torch's operator, against the idiomatic PyTorch ``autograd.Function`` written the same
   way (SteSign: ``torch.where(x >= 0, 1.0, -1.0)``, backward ``g * (x.abs() <= 1.0)``; SwishSign
   and DoReFa: their formulas), and against fastq's own NumPy calls ``q(x)`` + ``q.grad(x, dy)``.
2. Call overhead at 1e3: SteSign forward (+ backward) against an empty custom_op with autograd
   (forward and backward ops that only allocate their output), and PyTorch's own dispatch cost.
3. torch.compile (inductor) of the same step against eager, next to the same comparison for
   PyTorch's empty custom_op and for an empty operator with fastq.torch's registration (the floor:
   what compiling adds around any operator registered this way); the ATen operators each step
   runs (torch.profiler: whether compiled code adds a copy or an allocation); and fastq's kernels'
   own time inside the eager and the compiled step.

Page faults: with glibc's default malloc, a loop that frees and allocates 4 MB tensors in
autograd's order can shrink the heap on every step (its trim threshold adapts to twice the
largest freed block), so every step page-faults its outputs in again (~2000 faults at 1e6,
which on a busy VM costs more than the kernels). The report prints the faults per call; run it
also with the heap kept, to see the kernels' own cost:

    GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=67108864 \
        python bench/report_torch.py
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import sys
import time

import numpy as np
import torch

import fastq
import fastq.torch as ft
from fastq.tools.machine import machine_info
from fastq.tools.timing import measure

N = 1_000_000
SMALL = 1_000


# -- the PyTorch formulas, written the idiomatic way ---------------------------------------------
class TorchSteSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1.0)


class TorchSwishSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, beta=5.0):
        ctx.save_for_backward(x)
        ctx.beta = beta
        return torch.where(x >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        b = ctx.beta * x
        return g * ctx.beta * (2 - b * torch.tanh(b / 2)) / (1 + torch.cosh(b)), None


class TorchDoReFaActivations(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k_bit=2):
        ctx.save_for_backward(x)
        n = 2**k_bit - 1
        return torch.round(torch.clamp(x, 0.0, 1.0) * n) / n  # torch.round: half to even

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x >= 0) & (x <= 1)), None


class TorchDoReFaWeights(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k_bit=2):
        n = 2**k_bit - 1
        t = torch.tanh(x)
        d = t.abs().max()
        ctx.save_for_backward(t, d)
        return 2 * (torch.round((t / (2 * d) + 0.5) * n) / n) - 1

    @staticmethod
    def backward(ctx, g):
        t, d = ctx.saved_tensors
        return g * (1 - t * t) / d, None


# -- the empty custom op: what any Python custom op with autograd costs -------------------------
@torch.library.custom_op("fastq_bench::empty", mutates_args=())
def empty(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


@torch.library.custom_op("fastq_bench::empty_backward", mutates_args=())
def empty_backward(x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


empty.register_fake(lambda x: torch.empty_like(x))
empty_backward.register_fake(lambda x, dy: torch.empty_like(x))


def _setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


empty.register_autograd(lambda ctx, g: empty_backward(ctx.saved_tensors[0], g), setup_context=_setup)


# The same with ste_sign's signature: what PyTorch charges for one float argument.
@torch.library.custom_op("fastq_bench::empty_clip", mutates_args=())
def empty_clip(x: torch.Tensor, clip_value: float | None = 1.0) -> torch.Tensor:
    return torch.empty_like(x)


@torch.library.custom_op("fastq_bench::empty_clip_backward", mutates_args=())
def empty_clip_backward(x: torch.Tensor, dy: torch.Tensor, clip_value: float | None = 1.0) -> torch.Tensor:
    return torch.empty_like(x)


empty_clip.register_fake(lambda x, clip_value=1.0: torch.empty_like(x))
empty_clip_backward.register_fake(lambda x, dy, clip_value=1.0: torch.empty_like(x))


def _setup_clip(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.clip_value = inputs[1]


empty_clip.register_autograd(
    lambda ctx, g: (empty_clip_backward(ctx.saved_tensors[0], g, ctx.clip_value), None), setup_context=_setup_clip
)


# The same signature defined the way fastq.torch defines its operators (fastq.torch.ops._define:
# torch.library.Library, fastq's own autograd kernel), with a body that only allocates: the floor
# of fastq.torch's own registration, so "fastq.torch - this" is what fastq's work adds (views,
# the kernel, the result tensor).
_BENCH_LIB = torch.library.Library("fastq_bench", "FRAGMENT")
empty_fq, empty_fq_backward = ft.ops._define(
    ft.ops._Spec("empty_fq", "SteSign", ", float? clip_value=1.0", ("clip_value",), (1.0,)),
    _BENCH_LIB,
    lambda spec, x, dy, params: torch.empty_like(x),
)


# The same registration with a body that moves SteSign's bytes with PyTorch's kernels (forward:
# read x, write a result; backward: read x and dy, write a result): the compile floor at 1e6,
# where a step's memory traffic leaves the caches cold for the Python around it.
_BODY_HOOK = [None]  # breakdown() times the body through this


def _copy_body(spec, x, dy, params):
    t = time.thread_time_ns()
    out = x.clone() if dy is None else torch.mul(x, dy)
    if _BODY_HOOK[0] is not None:
        _BODY_HOOK[0]("forward body" if dy is None else "backward body", t)
    return out


copy_fq, copy_fq_backward = ft.ops._define(
    ft.ops._Spec("copy_fq", "SteSign", ", float? clip_value=1.0", ("clip_value",), (1.0,)), _BENCH_LIB, _copy_body
)


def step(fn, x, dy):
    """One training step's quantizer work: forward, then backward with a given gradient."""

    def run():
        x.grad = None
        fn(x).backward(dy)
        return x.grad

    return run


def forward_only(fn, x):
    def run():
        with torch.no_grad():
            return fn(x)

    return run


def check(name, got, want):
    """fastq.torch must give fastq's NumPy values exactly; PyTorch's formulas (its own tanh and
    cosh) within a float32 tolerance."""
    got = got.detach().numpy() if isinstance(got, torch.Tensor) else got
    if np.array_equal(got, want, equal_nan=True):
        return
    if name.startswith("torch") and np.allclose(got, want, rtol=1e-4, atol=1e-5, equal_nan=True):
        n = np.count_nonzero(got != want)
        print(f"  note: {name}: {n} values differ from fastq's by float32 rounding (PyTorch's tanh/cosh)")
        return
    raise SystemExit(f"{name}: {np.count_nonzero(got != want)} values differ from fastq's NumPy result")


MINS = {}


def group(title, cands, budget, checks=None):
    for name, (fn, want) in (checks or {}).items():
        check(name, fn(), want)
    # Warm up (allocator and caches settle: the first few hundred 4 MB steps page-fault).
    for fn in cands.values():
        t = time.perf_counter()
        while time.perf_counter() - t < min(0.3, budget / 10):
            fn()
    stats = measure(cands, budget)
    faults = {}
    for name, fn in cands.items():  # minor page faults per call, after the timing (steady state)
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            fn()
        faults[name] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10
    print(f"\n{title}")
    for name, s in stats.items():
        print(
            f"  {name:<58} {s.median_ns / 1e3:10.2f} us  (min {s.min_ns / 1e3:.2f}, q1 {s.q1_ns / 1e3:.2f}, "
            f"q3 {s.q3_ns / 1e3:.2f}, n={s.repeats}; {faults[name]:.0f} page faults/call)"
        )
    MINS.update({k: s.min_ns for k, s in stats.items()})
    return {k: s.median_ns for k, s in stats.items()}


def aten_ops(run):
    """The ATen operators one call of ``run`` dispatches (torch.profiler), name -> count."""
    from torch.profiler import ProfilerActivity, profile

    run()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    counts = {}
    for e in prof.events():
        if e.name.startswith("aten::"):
            counts[e.name] = counts.get(e.name, 0) + 1
    return dict(sorted(counts.items()))


def python_calls(run, n=100):
    """Python-level calls (functions and builtins, cProfile) per call of ``run``."""
    run()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        run()
    prof.disable()
    return pstats.Stats(prof).total_calls / n


def breakdown(blocks, x, dy, rounds=300):
    """Thread CPU time of each step's forward call and backward call, and of the operator bodies
    inside them (fastq's kernels; the copying op's clone and mul), the steps interleaved: "rest"
    is everything around the bodies (dispatch, autograd, torch.compile's wrappers)."""
    from fastq.torch import _adapter

    clock = time.thread_time_ns
    forward, backward = _adapter._forward, _adapter._backward
    times = {}
    current = [None]

    def note(key, t0):
        times.setdefault((current[0], key), []).append(clock() - t0)

    def timed_f(q, xv):
        t = clock()
        out = forward(q, xv)
        note("forward body", t)
        return out

    def timed_b(q, xv, dyv):
        t = clock()
        out = backward(q, xv, dyv)
        note("backward body", t)
        return out

    def run(name, fn):
        current[0] = name
        t = clock()
        x.grad = None
        y = fn(x)
        note("forward call", t)
        t = clock()
        y.backward(dy)
        note("backward call", t)

    _adapter._forward, _adapter._backward = timed_f, timed_b
    _BODY_HOOK[0] = note
    try:
        names = list(blocks)
        for name in names:  # warm up
            for _ in range(10):
                run(name, blocks[name])
        times.clear()
        for r in range(rounds):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                run(name, blocks[name])
    finally:
        _adapter._forward, _adapter._backward = forward, backward
        _BODY_HOOK[0] = None
    return {f"{n} {k}": float(np.median(v)) for (n, k), v in times.items()}


def compile_groups(budget, x, dy, xs, dys, xn, dyn, ratios):
    """torch.compile(fullgraph=True) of SteSign forward + backward against eager, at 1e6 and 1e3,
    next to floors compiled the same way: PyTorch's empty custom_op; the empty operator with
    fastq.torch's registration (the same Autograd kernel as fastq.torch's operators, so its
    compiled - eager is what torch.compile adds to *this* registration whatever the body does;
    custom_op's eager path is slower, which makes its compiled - eager smaller); and, at 1e6, that
    registration with a body that moves SteSign's memory with PyTorch's kernels (forward
    ``x.clone()``, backward ``x * dy``: the same bytes read and written as fastq's kernels)."""

    def block(t):
        return ft.ops.ste_sign(t, 1.0)

    blocks = {
        "ops.ste_sign": block,
        "empty custom_op": lambda t: empty_clip(t, 1.0),
        "empty op, fastq.torch's registration": lambda t: empty_fq(t, 1.0),
        "copying op, fastq.torch's registration": lambda t: copy_fq(t, 1.0),
    }
    compiled = {k: torch.compile(f, fullgraph=True) for k, f in blocks.items()}
    for _ in range(3):  # compile (and recompile for the grad mode) outside the timing
        for f in compiled.values():
            step(f, x, dy)()
            step(f, xs, dys)()
    want = fastq.SteSign().grad(xn, dyn)
    out = {}
    # At 1e6 fastq.torch's pair is timed with the copying op (the same memory traffic), apart from
    # the empty operators: interleaved with operators that allocate 4 MB without touching it,
    # glibc's heap trims and fastq's steps page-fault (tens to thousands of faults per step,
    # which the faults column, counted outside the interleaving, does not see). At 1e3 nothing
    # is trimmed: one group.
    copying = "copying op, fastq.torch's registration"
    plan = [
        ("1e6", x, dy, [["ops.ste_sign", copying], [k for k in blocks if k not in ("ops.ste_sign", copying)]]),
        ("1e3", xs, dys, [[k for k in blocks if not k.startswith("copying")]]),
    ]
    for n, xt, dyt, groups in plan:
        gap = {}
        for keys in groups:
            c = {}
            for k in keys:
                c[f"eager {k} fwd+bwd {n}"] = step(blocks[k], xt, dyt)
                c[f"torch.compile(fullgraph=True) {k} fwd+bwd {n}"] = step(compiled[k], xt, dyt)
            cc = f"torch.compile(fullgraph=True) ops.ste_sign fwd+bwd {n}"
            checks = {"compiled": (c[cc], want)} if n == "1e6" and cc in c else None
            m = group(f"torch.compile vs eager, {n}: {', '.join(keys)}", c, budget, checks)
            out.update(m)
            for k in keys:
                e, cc = f"eager {k} fwd+bwd {n}", f"torch.compile(fullgraph=True) {k} fwd+bwd {n}"
                gap[k] = (m[cc] - m[e]) / 1e3
                ratios[f"compiled - eager at {n}, {k}, us"] = gap[k]
                ratios[f"compiled - eager at {n}, {k}, us, minimums"] = (MINS[cc] - MINS[e]) / 1e3
                if k == "ops.ste_sign":
                    ratios[f"compiled / eager at {n}" + (" (goal <= 1)" if n == "1e6" else "")] = m[cc] / m[e]
                    ratios[f"compiled / eager at {n}, minimums"] = MINS[cc] / MINS[e]
        out[f"floor_gap_{n}_us"] = gap["empty op, fastq.torch's registration"]

    # What each compiled call runs, counted (no timing): the ATen operators of one step.
    print("\nATen operators per forward + backward at 1e3 (torch.profiler; deterministic)")
    ops_seen = {}
    for k in blocks:
        for mode, f in (("eager", blocks[k]), ("compiled", compiled[k])):
            ops_seen[f"{mode} {k}"] = aten_ops(step(f, xs, dys))
            listed = ", ".join(f"{o[6:]} {c}" for o, c in ops_seen[f"{mode} {k}"].items())
            print(f"  {mode + ' ' + k:<46} {listed}")
    out["aten_ops"] = ops_seen
    print("\nPython-level calls per forward + backward at 1e3, eager and compiled (cProfile; deterministic)")
    calls = {}
    for k in blocks:
        for mode, f in (("eager", blocks[k]), ("compiled", compiled[k])):
            calls[f"{mode} {k}"] = python_calls(step(f, xs, dys))
        print(f"  {k:<46} eager {calls['eager ' + k]:5.0f}, compiled {calls['compiled ' + k]:5.0f}")
    out["python_calls"] = calls

    # Where the time goes inside each step at 1e6 (thread CPU time, medians): the operator bodies
    # and the rest, for fastq.torch and for the copying op (PyTorch's kernels, the same traffic).
    bd = breakdown(
        {
            "eager ops.ste_sign": block,
            "compiled ops.ste_sign": compiled["ops.ste_sign"],
            f"eager {copying}": blocks[copying],
            f"compiled {copying}": compiled[copying],
        },
        x,
        dy,
    )
    print("\nInside one step at 1e6 (thread CPU time, medians, us): forward call (body + rest), backward call")
    for n in ("eager ops.ste_sign", "compiled ops.ste_sign", f"eager {copying}", f"compiled {copying}"):
        fc, bc, fb, bb = (
            bd[f"{n} {k}"] / 1e3 for k in ("forward call", "backward call", "forward body", "backward body")
        )
        print(
            f"  {n:<46} forward {fc:6.1f} ({fb:6.1f} + {fc - fb:6.1f}), "
            f"backward {bc:6.1f} ({bb:6.1f} + {bc - bb:6.1f}), rest {fc - fb + bc - bb:6.1f}"
        )
    out["breakdown_ns"] = bd
    return out


def eager_groups(args, x, dy, xs, dys, xn, dyn, ratios, res):
    """Groups 1 and 2: the 1e6 quantizers against PyTorch's formulas and fastq's NumPy calls,
    and the call overhead at 1e3 (medians into ``res``, ratios into ``ratios``)."""
    # 1. SteSign forward + backward at 1e6.
    q = fastq.SteSign()
    want = q.grad(xn, dyn)
    xd = x.detach()
    c = {
        "fastq.torch ops.ste_sign fwd+bwd": step(ft.ops.ste_sign, x, dy),
        "torch autograd.Function (where / abs<=1) fwd+bwd": step(TorchSteSign.apply, x, dy),
        "fastq NumPy q(x) + q.grad(x, dy)": lambda: (q(xn), q.grad(xn, dyn)),
        "fastq.torch both operators, no autograd (the adapter alone)": lambda: (
            ft.ops.ste_sign(xd),
            ft.ops.ste_sign_backward(xd, dy),
        ),
    }
    k = list(c)
    m = group(
        f"SteSign forward + backward, {N:.0e} float32",
        c,
        args.budget,
        {
            "fastq.torch": (c["fastq.torch ops.ste_sign fwd+bwd"], want),
            "torch SteSign": (c["torch autograd.Function (where / abs<=1) fwd+bwd"], want),
        },
    )
    ratios["SteSign: torch formula / fastq.torch (goal >= 5)"] = m[k[1]] / m[k[0]]
    ratios["SteSign: fastq.torch / fastq NumPy (goal <= 1.5)"] = m[k[0]] / m[k[2]]
    ratios["SteSign: fastq.torch / fastq NumPy, minimums"] = MINS[k[0]] / MINS[k[2]]
    ratios["SteSign: the operators without autograd / fastq NumPy"] = m[k[3]] / m[k[2]]
    res["stesign"] = m

    # SwishSign and DoReFa, the same way.
    for label, fop, tfn, npq in [
        ("SwishSign(beta=5)", lambda t: ft.ops.swish_sign(t, 5.0), TorchSwishSign.apply, fastq.SwishSign()),
        (
            "DoReFa(k_bit=2, activations)",
            lambda t: ft.ops.dorefa(t, 2, "activations"),
            TorchDoReFaActivations.apply,
            fastq.DoReFa(),
        ),
        (
            "DoReFa(k_bit=2, weights)",
            lambda t: ft.ops.dorefa(t, 2, "weights"),
            TorchDoReFaWeights.apply,
            fastq.DoReFa(mode="weights"),
        ),
    ]:
        want = npq.grad(xn, dyn)
        c = {
            f"fastq.torch {label} fwd+bwd": step(fop, x, dy),
            f"torch autograd.Function {label} fwd+bwd": step(tfn, x, dy),
            f"fastq NumPy {label} q(x) + q.grad": lambda npq=npq: (npq(xn), npq.grad(xn, dyn)),
        }
        with torch.no_grad():
            check(f"torch {label} forward", tfn(x), npq(xn))
        k = list(c)
        m = group(
            f"{label} forward + backward, {N:.0e} float32",
            c,
            args.budget,
            {"fastq.torch": (c[k[0]], want), f"torch {label}": (c[k[1]], want)},
        )
        ratios[f"{label}: torch formula / fastq.torch (goal >= 3)"] = m[k[1]] / m[k[0]]
        ratios[f"{label}: fastq.torch / fastq NumPy"] = m[k[0]] / m[k[2]]
        res[label] = m

    # 2. Call overhead at 1e3.
    qs = fastq.SteSign()
    c = {
        "fastq.torch ops.ste_sign fwd+bwd": step(ft.ops.ste_sign, xs, dys),
        "empty custom_op (+ empty backward op) fwd+bwd": step(empty, xs, dys),
        "empty custom_op with a float? argument fwd+bwd": step(empty_clip, xs, dys),
        "empty op, fastq.torch's registration, fwd+bwd": step(empty_fq, xs, dys),
        "fastq.torch ops.ste_sign forward, no_grad": forward_only(ft.ops.ste_sign, xs),
        "empty custom_op forward, no_grad": forward_only(empty, xs),
        "empty op, fastq.torch's registration, forward, no_grad": forward_only(empty_fq, xs),
        "torch.empty_like(x) (no dispatch through a custom op)": lambda: torch.empty_like(xs),
        "fastq NumPy q(x) + q.grad(x, dy)": lambda: (qs(xn[:SMALL]), qs.grad(xn[:SMALL], dyn[:SMALL])),
        "fastq NumPy q(x)": lambda: qs(xn[:SMALL]),
        "torch autograd.Function SteSign fwd+bwd": step(TorchSteSign.apply, xs, dys),
    }
    m = group(f"call overhead, {SMALL:.0e} float32", c, args.budget)
    names = list(c)
    ratios["1e3 fwd+bwd: fastq.torch - empty custom_op, us (goal <= 10)"] = (m[names[0]] - m[names[1]]) / 1e3
    ratios["1e3 fwd+bwd: fastq.torch - empty custom_op, us, minimums"] = (MINS[names[0]] - MINS[names[1]]) / 1e3
    ratios["1e3 fwd+bwd: fastq.torch - empty custom_op with a float? argument, us"] = (m[names[0]] - m[names[2]]) / 1e3
    ratios["1e3 fwd+bwd: fastq.torch - empty op with fastq.torch's registration, us"] = (
        m[names[0]] - m[names[3]]
    ) / 1e3
    ratios["1e3 forward: fastq.torch - empty custom_op, us"] = (m[names[4]] - m[names[5]]) / 1e3
    ratios["1e3 forward: fastq.torch - empty op with fastq.torch's registration, us"] = (
        m[names[4]] - m[names[6]]
    ) / 1e3
    ratios["1e3: PyTorch's own cost of an empty custom_op with autograd fwd+bwd, us"] = m[names[1]] / 1e3
    res["overhead"] = m
    # The same steps counted instead of timed: Python-level calls per forward + backward (cProfile
    # counts every Python function and builtin called), which no machine load changes.
    print("\nPython-level calls per forward + backward at 1e3 (cProfile; deterministic)")
    calls = {}
    for name, fn in [
        ("fastq.torch ops.ste_sign", ft.ops.ste_sign),
        ("empty custom_op with a float? argument", empty_clip),
        ("empty op, fastq.torch's registration", empty_fq),
        ("torch autograd.Function SteSign", TorchSteSign.apply),
    ]:
        run = step(fn, xs, dys)
        run()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(100):
            run()
        prof.disable()
        calls[name] = pstats.Stats(prof).total_calls / 100
        print(f"  {name:<58} {calls[name]:6.0f}")
    res["python_calls_per_step"] = calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=6.0, help="seconds of sampling per group")
    ap.add_argument("--json", help="write the medians (ns) and ratios here")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile group")
    ap.add_argument("--compile-only", action="store_true", help="only the torch.compile groups (and their floors)")
    ap.add_argument("--quick", action="store_true", help="a smoke run (CI): 0.2 s per group, no torch.compile")
    args = ap.parse_args()
    if args.quick:
        args.budget, args.no_compile = 0.2, True

    torch.set_num_threads(1)
    fastq.set_num_threads(1)
    info = machine_info()
    load0 = os.getloadavg()
    print(
        f"fastq {fastq.__version__} ({info.get('active_isa', fastq.active_isa())}), torch {torch.__version__}, "
        f"Python {sys.version.split()[0]}, threads: torch {torch.get_num_threads()}, fastq {fastq.get_num_threads()}"
    )
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} ({os.cpu_count()} CPUs)")
    print(f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}")

    rng = np.random.default_rng(0)
    xn = (rng.standard_normal(N) * 1.5).astype(np.float32)
    dyn = rng.standard_normal(N).astype(np.float32)
    x = torch.from_numpy(xn.copy()).requires_grad_()
    dy = torch.from_numpy(dyn.copy())
    res = {"load_average_start": load0, "glibc_tunables": os.environ.get("GLIBC_TUNABLES", "")}
    ratios = {}

    xs = torch.from_numpy(xn[:SMALL].copy()).requires_grad_()
    dys = torch.from_numpy(dyn[:SMALL].copy())
    if not args.compile_only:
        eager_groups(args, x, dy, xs, dys, xn, dyn, ratios, res)

    # 3. torch.compile against eager, the same step.
    if not args.no_compile:
        res["compile"] = compile_groups(args.budget, x, dy, xs, dys, xn, dyn, ratios)

    load1 = os.getloadavg()
    res["load_average_end"] = load1
    res["ratios"] = ratios
    res["minimums_ns"] = MINS
    print("\nsummary")
    for k, v in ratios.items():
        print(f"  {k:<70} {v:8.2f}")
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
