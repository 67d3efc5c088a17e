"""Print docs/performance.md's binary-inference table (issue #3) as markdown.

    python bench/report_binary.py [--rounds 25] [--threads 1 2]

Every case (fastq, NumPy float32 matmul of the same +-1 matrices, NumKong ``hammings_packed``
when installed, the forced AVX2 table, bit-packing against a copy of the same bytes) is timed
round-robin: each round runs every case once (a case too short to time alone runs a batch of
calls), and the table reports each case's median over the rounds, so a noisy neighbour slows
all cases alike. Rates are binary MACs (one bit of one XOR) per second; "of peak" divides by
the one-core xor+popcount peak of the table that ran, measured in the same run by fastq's native
probe (``_core.popcount_peak``: each table's own GEMM inner step on registers only - VPOPCNTQ
on AVX-512, the nibble lookup the AVX2 GEMM uses on AVX2).

NumPy reads OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when it is imported, and this environment
sets both for old OpenBLAS bugs (they slow current NumPy), so the script re-executes itself
without them (``fastq.tools.env``); the table footer records the BLAS that ran (threadpoolctl).
NumPy's BLAS runs with the same thread count as fastq.

fastq's binary_matmul and NumPy's matmul write into preallocated outputs (``out=``): a fresh
1-50 MB result costs page faults that can be as long as the product itself on this VM, and that
is the allocator's cost, not the kernel's. BinaryDense and NumKong allocate their results, as
their APIs do.
"""

from __future__ import annotations

import os

from fastq.tools.env import reexec_without_openblas_vars

reexec_without_openblas_vars("bench/report_binary.py")  # the one OpenBLAS-environment policy

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import fastq  # noqa: E402
from fastq import _core  # noqa: E402
from fastq.binary import BinaryDense, binary_matmul, pack_bits  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # NumPy rows then run with whatever thread count OpenBLAS picked
    threadpool_info = threadpool_limits = None
try:
    import numkong
except ImportError:
    numkong = None

SHAPES = {"S1": (1, 1000, 1024), "S2": (64, 4096, 4096), "S3": (3136, 256, 2304), "S4": (1024, 1024, 1024)}
MIN_SAMPLE = 2e-3  # seconds: shorter calls are timed in batches


class Case:
    def __init__(self, label, shape, threads, fn, macs=None, peak=None, numpy_of=None, numkong_of=None, nbytes=None):
        self.label, self.shape, self.threads, self.fn = label, shape, threads, fn
        self.macs, self.peak, self.numpy_of, self.numkong_of, self.nbytes = macs, peak, numpy_of, numkong_of, nbytes
        self.samples = []
        self.batch = 1

    def calibrate(self):
        self.run_once()
        t = self.time_batch(1)
        self.batch = max(1, int(MIN_SAMPLE / max(t, 1e-9)))

    def run_once(self):
        with self.context():
            self.fn()

    def context(self):
        fastq.set_num_threads(self.threads)
        if threadpool_limits is not None:
            return threadpool_limits(limits=self.threads, user_api="blas")
        return _Null()

    def time_batch(self, n):
        with self.context():
            t0 = time.perf_counter()
            for _ in range(n):
                self.fn()
            return (time.perf_counter() - t0) / n

    def sample(self):
        self.samples.append(self.time_batch(self.batch))

    @property
    def median(self):
        return float(np.median(self.samples))


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def build_cases(threads_list, peak):
    rng = np.random.default_rng(0)
    isa = _core.active.isa
    active_peak = peak.get(isa)
    cases = []
    for name, (m, n, k) in SHAPES.items():
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((n, k), dtype=np.float32)
        pa, pb = pack_bits(a), pack_bits(b)
        layer = BinaryDense(b, rng.standard_normal(n), rng.standard_normal(n))
        sa, sb = np.where(a < 0, -1, 1).astype(np.float32), np.where(b < 0, -1, 1).astype(np.float32)
        macs = m * n * k
        for t in threads_list:
            ref_out = np.empty((m, n), np.float32)
            ref = Case(
                "NumPy float32 matmul (+-1)", name, t, lambda sa=sa, sb=sb, o=ref_out: np.matmul(sa, sb.T, out=o), macs
            )
            nk = None
            if numkong is not None and t == 1:
                abytes = np.ascontiguousarray(pa.words.view(np.uint8)[:, : (k + 7) // 8])
                bpk = numkong.hammings_pack(np.ascontiguousarray(pb.words.view(np.uint8)[:, : (k + 7) // 8]))
                nk = Case(
                    "NumKong hammings_packed", name, 1, lambda x=abytes, y=bpk: numkong.hammings_packed(x, y), macs
                )
            out = np.empty((m, n), np.int32)
            cases.append(
                Case(
                    "fastq binary_matmul",
                    name,
                    t,
                    lambda x=pa, y=pb, o=out: binary_matmul(x, y, out=o),
                    macs,
                    active_peak,
                    ref,
                    nk,
                )
            )
            cases.append(
                Case("fastq BinaryDense, packed x", name, t, lambda x=pa, f=layer: f(x), macs, active_peak, ref, nk)
            )
            if name in ("S1", "S2"):
                cases.append(
                    Case("fastq BinaryDense, float32 x", name, t, lambda x=a, f=layer: f(x), macs, None, ref, nk)
                )
            cases.append(ref)
            if nk is not None:
                cases.append(nk)
        if name != "S1" and "avx2" in _core.available_isas():
            kern, o = _core.kernels_for("avx2"), np.empty((m, n), np.int32)
            cases.append(
                Case(
                    "fastq forced AVX2 table",
                    name,
                    1,
                    lambda x=pa.words, y=pb.words, k=k, f=kern, o=o: f.binary_matmul(x, y, k, o),
                    macs,
                    peak.get("avx2"),
                )
            )
    for rows, cols in [(3136, 2304), (4096, 4096)]:
        x = rng.standard_normal((rows, cols), dtype=np.float32)
        y = np.empty_like(x)
        for t in threads_list:
            cases.append(Case("pack_bits float32", f"{rows}x{cols}", t, lambda x=x: pack_bits(x), nbytes=x.nbytes))
            cases.append(
                Case(
                    "copy of the same bytes (np.copyto)",
                    f"{rows}x{cols}",
                    t,
                    lambda x=x, y=y: np.copyto(y, x),
                    nbytes=x.nbytes,
                )
            )
    return cases


def fmt_time(s):
    return f"{s * 1e6:.2f} µs" if s < 1e-3 else f"{s * 1e3:.3f} ms"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--peak-seconds", type=float, default=1.0)
    args = ap.parse_args(argv)

    peak = _core.popcount_peak(args.peak_seconds)  # {isa: one core's binary MACs/s}
    cases = build_cases(args.threads, peak)
    for c in cases:
        c.calibrate()
    for _ in range(args.rounds):
        for c in cases:
            c.sample()
    after = _core.popcount_peak(args.peak_seconds)  # the peak again: did the machine change?

    print("| shape | case | threads | time (median) | G binary MAC/s | of peak | vs NumPy | vs NumKong |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for c in cases:
        if c.macs is None:
            continue
        rate = c.macs / c.median
        of_peak = f"{rate / c.peak:.0%}" if c.peak else ""
        vs_np = f"{c.numpy_of.median / c.median:.1f}x" if c.numpy_of else ""
        vs_nk = f"{c.numkong_of.median / c.median:.2f}x" if c.numkong_of else ""
        print(
            f"| {c.shape} {SHAPES[c.shape]} | {c.label} | {c.threads} | {fmt_time(c.median)} | {rate / 1e9:,.0f} | "
            f"{of_peak} | {vs_np} | {vs_nk} |"
        )
    print()
    print("| input (float32) | case | threads | time (median) | GB/s read | pack / copy speed |")
    print("|---|---|---:|---:|---:|---:|")
    copies = {(c.shape, c.threads): c for c in cases if c.label.startswith("copy")}
    for c in cases:
        if c.nbytes is None:
            continue
        ratio = copies[(c.shape, c.threads)].median / c.median if not c.label.startswith("copy") else None
        print(
            f"| {c.shape} | {c.label} | {c.threads} | {fmt_time(c.median)} | {c.nbytes / c.median / 1e9:.1f} | "
            f"{f'{ratio:.2f}' if ratio else ''} |"
        )
    print()
    print(
        "Thread scaling (1 -> 2 threads, same case): "
        + ", ".join(
            f"{c1.shape} {c1.label.replace('fastq ', '')}: {c1.median / c2.median:.2f}x"
            for c1 in cases
            for c2 in cases
            if c1.macs
            and c1.label.startswith("fastq")
            and c2.label == c1.label
            and c2.shape == c1.shape
            and c1.threads == 1
            and c2.threads == 2
        )
    )
    print()
    isa = _core.active.isa
    print(
        "Peak (fastq's native probe, one core, each table's own GEMM popcount method): "
        + ", ".join(f"{k} {v / 1e12:.3f} T/s" for k, v in peak.items() if k != "scalar")
        + f"; after the run: {isa} {after.get(isa, 0) / 1e12:.3f} T/s."
    )
    blas = ""
    if threadpool_info is not None:
        blas = "; ".join(
            f"{i['internal_api']} {i['version']} ({i.get('architecture')} kernels)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        )
    print(
        f"Machine: {fastq._runtime.config()['cpu']}, {os.cpu_count()} cores; fastq table {_core.active.isa}; "
        f"numpy {np.__version__} with {blas or 'unknown BLAS'} (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset); "
        f"numkong {getattr(numkong, '__version__', 'not installed')}; python {platform.python_version()}; "
        f"{args.rounds} interleaved rounds, medians."
    )


if __name__ == "__main__":
    main()
