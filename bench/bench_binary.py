"""Binary inference benchmarks (issue #3): the packed +-1 matrix product, BinaryDense,
bit-packing, against NumPy float32 matmul of the same +-1 matrices and NumKong's
``hammings_packed`` (a row that is skipped when numkong is not installed). Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest bench/bench_binary.py \
        --benchmark-group-by=group

Shapes: S1 (M=1, N=1000, K=1024), S2 (64, 4096, 4096), S3 (3136, 256, 2304: a 3x3 conv over
56x56x256 after im2col), S4 (1024, 1024, 1024). ``extra_info`` holds GMAC/s and the fraction of
the core's xor+popcount peak of the table that ran, measured in the same session by fastq's
native probe (``_core.popcount_peak``: the table's own GEMM inner step on registers only; on
AVX2 that is the nibble-lookup popcount the AVX2 GEMM uses). docs/performance.md's table comes from
bench/report_binary.py (interleaved medians of many repeats).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastq
from fastq import _core
from fastq.binary import BinaryDense, binary_matmul, pack_bits

SHAPES = {"S1": (1, 1000, 1024), "S2": (64, 4096, 4096), "S3": (3136, 256, 2304), "S4": (1024, 1024, 1024)}

try:
    import numkong
except ImportError:
    numkong = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


@pytest.fixture(scope="session")
def peak():
    return _core.popcount_peak(0.5)  # {isa: one core's binary MACs/s}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    out = {}
    for name, (m, n, k) in SHAPES.items():
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((n, k), dtype=np.float32)
        out[name] = {
            "a": a,
            "pa": pack_bits(a),
            "pb": pack_bits(b),
            "layer": BinaryDense(b, rng.standard_normal(n), rng.standard_normal(n)),
            "sa": np.where(a < 0, -1, 1).astype(np.float32),
            "sb": np.where(b < 0, -1, 1).astype(np.float32),
        }
    return out


def record(benchmark, shape, peak_rate):
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing timed
        return
    m, n, k = SHAPES[shape]
    rate = m * n * k / benchmark.stats.stats.median
    benchmark.extra_info["gmacs_per_s"] = round(rate / 1e9, 1)
    if peak_rate:
        benchmark.extra_info["fraction_of_peak"] = round(rate / peak_rate, 3)


@pytest.mark.parametrize("shape", SHAPES)
def test_binary_matmul(benchmark, data, shape, threads, peak):
    d = data[shape]
    benchmark.group = f"{shape} threads={threads}"
    benchmark(binary_matmul, d["pa"], d["pb"])
    record(benchmark, shape, peak.get(_core.active.isa))


@pytest.mark.parametrize("shape", SHAPES)
def test_binary_dense_prepacked(benchmark, data, shape, threads, peak):
    d = data[shape]
    benchmark.group = f"{shape} threads={threads}"
    benchmark(d["layer"], d["pa"])
    record(benchmark, shape, peak.get(_core.active.isa))


@pytest.mark.parametrize("shape", ["S1", "S2"])
def test_binary_dense_float_input(benchmark, data, shape, threads, peak):
    d = data[shape]
    benchmark.group = f"{shape} threads={threads}"
    benchmark(d["layer"], d["a"])
    record(benchmark, shape, None)


@pytest.mark.parametrize("shape", ["S2", "S3", "S4"])
def test_forced_avx2(benchmark, data, shape, peak):
    if "avx2" not in _core.available_isas():
        pytest.skip("this CPU has no AVX2")
    d = data[shape]
    kern = _core.kernels_for("avx2")
    before = fastq.get_num_threads()
    fastq.set_num_threads(1)
    try:
        benchmark.group = f"{shape} forced avx2"
        benchmark(kern.binary_matmul, d["pa"].words, d["pb"].words, d["pa"].k)
    finally:
        fastq.set_num_threads(before)
    record(benchmark, shape, peak.get("avx2"))


@pytest.mark.parametrize("shape", SHAPES)
def test_numpy_float32_matmul(benchmark, data, shape, threads):
    if threadpool_limits is None:
        pytest.skip("threadpoolctl is not installed: cannot pin NumPy's BLAS thread count")
    d = data[shape]
    benchmark.group = f"{shape} threads={threads}"
    with threadpool_limits(limits=threads, user_api="blas"):
        benchmark(np.matmul, d["sa"], d["sb"].T)
    record(benchmark, shape, None)


@pytest.mark.parametrize("shape", SHAPES)
def test_numkong_hammings_packed(benchmark, data, shape):
    if numkong is None:
        pytest.skip("numkong is not installed (pip install numkong)")
    d = data[shape]
    a = np.ascontiguousarray(d["pa"].words).view(np.uint8)[:, : (d["pa"].k + 7) // 8]
    b = numkong.hammings_pack(np.ascontiguousarray(d["pb"].words.view(np.uint8)[:, : (d["pb"].k + 7) // 8]))
    benchmark.group = f"{shape} threads=1"
    benchmark(numkong.hammings_packed, np.ascontiguousarray(a), b)
    record(benchmark, shape, None)


PACK_SHAPES = {"S3 activations (3136, 2304)": (3136, 2304), "16M values (4096, 4096)": (4096, 4096)}


@pytest.mark.parametrize("what", ["pack_bits", "copy"])
@pytest.mark.parametrize("shape", PACK_SHAPES)
def test_pack_bits_vs_copy(benchmark, shape, what, threads):
    x = np.random.default_rng(1).standard_normal(PACK_SHAPES[shape], dtype=np.float32)
    benchmark.group = f"pack {shape} threads={threads}"
    if what == "copy":
        y = np.empty_like(x)
        benchmark(np.copyto, y, x)
    else:
        benchmark(pack_bits, x)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gb_per_s_read"] = round(x.nbytes / benchmark.stats.stats.median / 1e9, 2)
