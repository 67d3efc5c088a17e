"""Shared test helpers: the quantizer configurations every test walks, edge-value inputs, and
exact comparisons."""

import numpy as np
import pytest

import fastq

# Every quantizer with the parameter choices that exercise distinct kernel paths.
QUANTIZER_CASES = [
    fastq.Quantizer(),
    fastq.NoOp(precision=1),
    fastq.SteSign(),
    fastq.SteSign(clip_value=None),
    fastq.SteSign(clip_value=0.0),
    fastq.ApproxSign(),
    fastq.SteHeaviside(),
    fastq.SteHeaviside(clip_value=0.5),
    fastq.SwishSign(),
    fastq.SwishSign(beta=10.0),
    fastq.MagnitudeAwareSign(),
    fastq.MagnitudeAwareSign(clip_value=None),
    fastq.SteTern(),
    fastq.SteTern(threshold_value=0.0),
    fastq.SteTern(ternary_weight_networks=True),
    fastq.SteTern(threshold_value=0.3, clip_value=None),
    fastq.DoReFa(k_bit=1),
    fastq.DoReFa(k_bit=2),
    fastq.DoReFa(k_bit=8),
    fastq.DoReFa(k_bit=32),
    fastq.DoReFa(k_bit=1, mode="weights"),
    fastq.DoReFa(k_bit=2, mode="weights"),
    fastq.DoReFa(k_bit=4, mode="weights"),
]
CASE_IDS = [repr(q) for q in QUANTIZER_CASES]


def edge_values(dtype) -> np.ndarray:
    """The values docs/semantics.md names: zeros, NaN, infinities, ±clip and neighbours, thresholds,
    DoReFa ties, subnormals, the SwishSign sign change and overflow region."""
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    one = dt.type(1)
    vals = [
        0.0,
        -0.0,
        np.nan,
        np.inf,
        -np.inf,
        1.0,
        -1.0,
        0.5,
        -0.5,
        0.05,
        -0.05,
        0.3,
        -0.3,
        1.0 / 6,
        0.25,
        0.75,
        5.0 / 6,
        2.0 / 3,
        1.0 / 3,
        2.39936 / 5,
        -2.39936 / 5,
        2.39936 / 10,
        17.0,
        -17.0,
        89.0 / 5,
        95.0 / 5,
        -100.0,
        1e3,
        -1e3,
        1.5,
        -2.0,
        1e-3,
    ]
    out = [dt.type(v) for v in vals]
    out += [
        np.nextafter(one, dt.type(2)),
        -np.nextafter(one, dt.type(2)),
        np.nextafter(one, dt.type(0)),
        fi.smallest_subnormal,
        -fi.smallest_subnormal,
        fi.tiny,
        -fi.tiny,
        fi.max,
        -fi.max,
    ]
    return np.array(out, dtype=dt)


def mixed_input(shape, dtype, seed=0) -> np.ndarray:
    """Normal random values with the edge values sprinkled in."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    x = (rng.standard_normal(n) * 0.8).astype(dtype)
    e = edge_values(dtype)
    if n:
        idx = rng.choice(n, size=min(n, len(e)), replace=False)
        x[idx] = e[: len(idx)]
    return x.reshape(shape)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def assert_bitwise_equal(a, b, msg=""):
    """Identical dtype, shape and bits (NaN payloads and signs of zero included)."""
    assert a.dtype == b.dtype, f"{msg}: dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{msg}: shape {a.shape} != {b.shape}"
    diff = bits(a) != bits(b)
    if diff.any():
        i = np.flatnonzero(diff.ravel())[:5]
        raise AssertionError(f"{msg}: {diff.sum()} of {a.size} differ, e.g. at {i}: {a.ravel()[i]} vs {b.ravel()[i]}")


def assert_same_values(a, b, msg=""):
    """Equal as numbers: identical except NaN == NaN whatever its payload; signs of zero count."""
    assert a.dtype == b.dtype, f"{msg}: dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{msg}: shape {a.shape} != {b.shape}"
    both_nan = np.isnan(a) & np.isnan(b)
    diff = (bits(a) != bits(b)) & ~both_nan
    if diff.any():
        i = np.flatnonzero(diff.ravel())[:5]
        raise AssertionError(f"{msg}: {diff.sum()} of {a.size} differ, e.g. at {i}: {a.ravel()[i]} vs {b.ravel()[i]}")


def swish_grad_bound(x, dy, beta, dtype):
    """docs/semantics.md's documented bound for SwishSign's backward pass (transcendentals): a few
    ulp of the size of the terms, plus the smallest normal number. Where larq's cosh(βx)
    overflows the dtype, larq returns ∓0 and fastq the tiny true value: allow that value."""
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    with np.errstate(over="ignore", invalid="ignore"):
        b = np.abs(np.float64(beta) * x.astype(np.float64))
        b = np.where(np.isfinite(b), b, 0.0)  # ±inf inputs give NaN on both sides
        g = np.abs(dy.astype(np.float64) * beta)
        scale = g * (2 + b * np.tanh(b / 2)) / (1 + np.cosh(b))
        bound = 8 * float(fi.eps) * np.nan_to_num(scale, nan=0.0, posinf=np.inf) + float(fi.tiny)
        cosh_overflows = b > np.log(float(fi.max)) + np.log(2.0) - 1.0
        bound += np.where(cosh_overflows, 8 * g * (2 + b) * np.exp(-b), 0.0)
        # Where dy*β*(2 - βx*tanh(βx/2)) itself overflows (dy near the dtype's max), larq's
        # order gives ±inf or NaN and so may fastq: no bound is promised there.
        bound = np.where(g * (2 + b) > float(fi.max), np.inf, bound)
    return bound


@pytest.fixture
def restore_threads():
    n = fastq.get_num_threads()
    yield
    fastq.set_num_threads(n)
