"""Whole zoo models on fastq against the machine's floor, LCE and TensorFlow (issue 10's table).

    PYTHONPATH=python python bench/report_models.py [--repeats 7] [--peers-json FILE | --larq-python PY]
                                                    [--threads] [--memory] [--load-h5 FILE]

For each of QuickNetSmall, QuickNet, QuickNetLarge, BiRealNet (fastq.models.zoo: larq_zoo's
architectures with seeded random weights, built without a file), batch 1, 224x224x3, one thread:

- fastq's time (thread CPU time: meaningful on a shared machine) and its floor = binary MACs /
  popcount peak + float FLOPs / FMA peak (fastq's probes, timed by the same clock, this run);
- the time per op class: binary (binary convolutions), float (float convolutions, depthwise,
  dense), memory-bound (pooling, add, relu, softmax, reshape) and the executor's own Python;
- LCE (interpreter, use_xnnpack=True, use_indirect_bgemm=True, one thread) and TensorFlow (the
  Keras model, one thread) from bench/peers_zoo.py, run in the side venv (scripts/larq-env.sh)
  with ``--larq-python``, or read from ``--peers-json``; their process CPU time.

``--threads``: 2 threads vs 1 at batch 1 and 8 (wall time: only meaningful on a quiet machine).
``--memory``: the peak resident memory predict adds (a fresh process per model) against
2 x the two largest activations + the packed binary weights. ``--load-h5 FILE``: time
fastq.models.load on a saved model (peers_zoo.py writes them with SAVE_DIR).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial

import numpy as np

import fastq
from fastq.models import bench, zoo
from report_conv import probe_rate, probe_two_threads

MODELS = ("QuickNetSmall", "QuickNet", "QuickNetLarge", "BiRealNet")
GOAL_LCE = {"QuickNetSmall": 6.0, "QuickNet": 6.0, "QuickNetLarge": 6.0, "BiRealNet": 3.5}


def wall_median(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def threads_rows(models, repeats):
    """(name, batch, 1-thread s, 2-thread s, speedup, probe's speedup): the popcount probe on two
    Python threads against one, interleaved with the model's rounds, says whether the machine
    gave this process two cores in those seconds."""
    kern = fastq._core.active
    rows = []
    before = fastq.get_num_threads()
    try:
        for name in models:
            model = zoo.build(name, seed=0)
            for batch in (1, 8):
                x = np.random.default_rng(0).standard_normal((batch, 224, 224, 3)).astype(np.float32)
                t = {}
                probe = []
                for _ in range(2):  # interleaved rounds, best of the medians
                    for n in (1, 2):
                        fastq.set_num_threads(n)
                        t[n] = min(t.get(n, 1e9), wall_median(partial(model.predict, x), repeats))
                    # ~0.2 s per probe run: shorter runs measure thread start-up, not the cores
                    one = probe_rate(kern, 4_000_000, time.perf_counter)
                    probe.append(probe_two_threads(kern, 4_000_000) / one)
                rows.append((name, batch, t[1], t[2], t[1] / t[2], float(np.median(probe))))
    finally:
        fastq.set_num_threads(before)
    return rows


MEMORY_CHILD = r"""
import json, sys, numpy as np, fastq
from fastq.models import zoo
fastq.set_num_threads(1)
model = zoo.build(sys.argv[1], seed=0)
x = np.random.default_rng(0).standard_normal((1, 224, 224, 3)).astype(np.float32)
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))
with open("/proc/self/clear_refs", "w") as f:   # reset the peak (VmHWM) to the current RSS
    f.write("5")
rss = status("VmRSS")
import tracemalloc
tracemalloc.start()
model.predict(x)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
peak = status("VmHWM")
shapes = model._shapes(model._plans[()], {"input_1": (224, 224, 3)})
acts = sorted((int(np.prod(s)) * 4 for k, s in shapes.items() if k != "input_1"), reverse=True)
packed = sum(op.cout * op.ksize[0] * op.ksize[1] * (-(-op.cin // op._layer.groups // 64)) * 8
             for op in model.ops if type(op).__name__ == "BinaryConv2D")
print(json.dumps({"added": peak - rss, "traced": traced, "two_largest": acts[0] + acts[1], "packed_weights": packed}))
"""


def memory_row(name):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            filter(None, [os.path.dirname(os.path.dirname(fastq.__file__)), os.environ.get("PYTHONPATH")])
        ),
    )
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, name], capture_output=True, text=True, env=env, check=True
    ).stdout
    return json.loads(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--peers-json", help="LCE / TensorFlow times written by bench/peers_zoo.py")
    ap.add_argument("--larq-python", help="the side venv's python: run bench/peers_zoo.py with it now")
    ap.add_argument("--threads", action="store_true", help="2 threads vs 1 (wall time; needs a quiet machine)")
    ap.add_argument("--memory", action="store_true", help="peak resident memory predict adds")
    ap.add_argument("--load-h5", help="time fastq.models.load on this .h5 file")
    args = ap.parse_args(argv)

    print(
        f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
        f"{os.getloadavg()}; isa {fastq._core.active.isa}; "
        f"{os.cpu_count()} cpus",
        flush=True,
    )
    peers = {}
    if args.peers_json:
        with open(args.peers_json) as f:
            peers = json.load(f)
    elif args.larq_python:
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", REPEATS=str(args.repeats))
        out = subprocess.run(
            [args.larq_python, os.path.join(os.path.dirname(__file__), "peers_zoo.py"), *args.models],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        peers = json.loads(out)

    peak = bench.peaks(time.thread_time)
    print(
        f"peaks (one core, thread CPU time): popcount {peak[0] / 1e12:.2f} T binary MAC/s, "
        f"FMA {peak[1] / 1e9:.0f} GFLOP/s"
    )
    hdr = (
        f"{'model':<14}{'floor ms':>9}{'fastq ms':>9}{'x floor':>8}{'LCE ms':>8}{'vs LCE':>8}{'TF ms':>8}"
        f"{'vs TF':>7}  {'binary':>7}{'float':>7}{'memory':>7}{'python':>7}"
    )
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for name in args.models:
        r = bench.zoo_row(name, repeats=args.repeats, clock=time.thread_time, threads=1, peak=peak)
        p = peers.get(name, {})
        lce, tf = p.get("lce_cpu_s"), p.get("tf_cpu_s")
        r.update(lce_s=lce, tf_s=tf)
        rows.append(r)
        b = r["breakdown"]
        fmt = lambda v: "n/a" if v is None else f"{v * 1e3:.2f}"
        ratio = lambda v, s=r["seconds"]: "n/a" if v is None else f"{v / s:.1f}x"
        print(
            f"{name:<14}{r['floor_s'] * 1e3:>9.2f}{r['seconds'] * 1e3:>9.2f}{r['ratio']:>8.2f}{fmt(lce):>8}"
            f"{ratio(lce):>8}{fmt(tf):>8}{ratio(tf):>7}  "
            + "".join(f"{b[k] * 1e3:>7.2f}" for k in ("binary", "float", "memory", "python")),
            flush=True,
        )
    print("goals: <= 1.6x floor; vs LCE >= 6x (QuickNet family), 3.5x (BiRealNet); vs TF >= 15x")
    if args.threads:
        print("\n2 threads vs 1 (wall time, best of 2 interleaved medians)")
        for name, batch, t1, t2, s, probe in threads_rows(args.models, args.repeats):
            print(
                f"{name:<14} batch {batch}: 1 thread {t1 * 1e3:.2f} ms, 2 threads {t2 * 1e3:.2f} ms: {s:.2f}x"
                f" (probe on 2 threads: {probe:.2f}x)",
                flush=True,
            )
        print("goals: >= 1.6x at batch 1, >= 1.85x at batch 8")
    if args.memory:
        print("\npeak resident memory predict adds (batch 1)")
        for name in args.models:
            m = memory_row(name)
            bound = 2 * m["two_largest"] + m["packed_weights"]
            print(
                f"{name:<14} RSS +{m['added'] / 2**20:.1f} MiB, NumPy allocations (tracemalloc peak) "
                f"{m['traced'] / 2**20:.1f} MiB; 2 x two largest activations + packed weights = "
                f"{bound / 2**20:.1f} MiB ({max(m['added'], m['traced']) / bound:.2f} of it)"
            )
    if args.load_h5:
        from fastq.models import load

        load(args.load_h5)
        t = time.perf_counter()
        load(args.load_h5)
        took = time.perf_counter() - t
        print(f"\nfastq.models.load({os.path.basename(args.load_h5)}): {took:.3f} s wall (goal < 1 s)")
    print(f"load average after: {os.getloadavg()}")
    return rows


if __name__ == "__main__":
    main()
