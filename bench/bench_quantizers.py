"""Quantizer passes (float32) against the NumPy reference and against a plain copy of the same
bytes through the same binding (NoOp's forward kernel). Run:

    python -m pytest bench/bench_quantizers.py --benchmark-group-by=param:n,param:threads

Performance targets (issue #2) are read off these groups; see docs/performance.md for the measured table.
"""

import numpy as np
import pytest

import fastq
from fastq import _core, reference

SIZES = [1_000, 100_000, 1_000_000, 16_000_000]
CASES = [
    fastq.SteSign(),
    fastq.ApproxSign(),
    fastq.SteHeaviside(),
    fastq.SwishSign(),
    fastq.MagnitudeAwareSign(),
    fastq.SteTern(),
    fastq.SteTern(ternary_weight_networks=True),
    fastq.DoReFa(k_bit=2),
    fastq.DoReFa(k_bit=2, mode="weights"),
]
IDS = [repr(q).replace(" ", "") for q in CASES]
NOOP = _core.quantizer_ids["NoOp"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {n: (rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)) for n in SIZES}


def copy_through_binding(x):
    y = np.empty_like(x)
    _core.active.forward(NOOP, x, y)
    return y


@pytest.mark.parametrize("n", SIZES)
def test_copy(benchmark, data, n, threads):
    x, _ = data[n]
    benchmark.group = f"n={n} threads={threads}"
    y = benchmark(copy_through_binding, x)
    assert np.array_equal(y, x)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("q", CASES, ids=IDS)
def test_fastq(benchmark, data, n, direction, q, threads):
    x, dy = data[n]
    benchmark.group = f"n={n} threads={threads}"
    benchmark.name = f"fastq {q!r} {direction}"
    fn = (lambda: q(x)) if direction == "forward" else (lambda: q.grad(x, dy))
    out = benchmark(fn)
    assert out.shape == x.shape and out.dtype == np.float32


@pytest.mark.parametrize("n", SIZES[:3])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("q", CASES, ids=IDS)
def test_numpy_reference(benchmark, data, n, direction, q):
    x, dy = data[n]
    benchmark.group = f"n={n} threads=1"
    name, cfg = type(q).__name__, q.get_config()
    with np.errstate(all="ignore"):
        if direction == "forward":
            benchmark(reference.forward, name, x, **cfg)
        else:
            benchmark(reference.backward, name, x, dy, **cfg)


@pytest.mark.parametrize("n", SIZES[:3])
def test_numpy_user_expression(benchmark, data, n):
    """What a user writes for SteSign's forward pass in NumPy."""
    x, _ = data[n]
    benchmark.group = f"n={n} threads=1"
    benchmark(lambda: np.where(x >= 0, 1, -1).astype(np.float32))
