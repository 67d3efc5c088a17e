"""Accuracy check of fastq's own tanh (DoReFa weights), longer than the test suite's.

float32: EXHAUSTIVE over all finite float32 (about 50 s), against np.tanh in float64.
float64: 1e7 random and edge inputs against np.tanh in long double.
Run from the repository root: PYTHONPATH=python python3 scripts/check_tanh.py
(FASTQ_FORCE_ISA=scalar|avx2|avx512 to pick a table; all give identical results.)
"""

import time

import numpy as np

from fastq import _core

k = _core.active


def ulp_error(t, exact, dtype):
    ulp = np.spacing(np.abs(exact.astype(dtype))).astype(exact.dtype)
    return np.abs(t.astype(exact.dtype) - exact) / ulp


def float32_exhaustive():
    worst, wx, hist, t0 = 0.0, None, np.zeros(5, np.int64), time.time()
    chunk = 1 << 24
    for start in range(0, 1 << 32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        x = x[np.isfinite(x)]
        t = np.empty_like(x)
        k.tanh(x, t)
        err = ulp_error(t, np.tanh(x.astype(np.float64)), np.float32)
        z = x == 0
        assert np.array_equal(np.signbit(t[z]), np.signbit(x[z])), "signed zero"
        j = int(np.argmax(err))
        if err[j] > worst:
            worst, wx = float(err[j]), float(x[j])
        hist += np.histogram(err, bins=[0, 0.5, 1, 1.5, 2, np.inf])[0]
    print(f"float32 exhaustive ({k.isa}, {time.time() - t0:.0f} s): max {worst:.4f} ulp at x={wx!r}")
    print("  count per error [0,.5) [.5,1) [1,1.5) [1.5,2) [2,inf) ulp:", hist.tolist())
    return worst


def float64_sample():
    rng = np.random.default_rng(1)
    sign = rng.choice([-1.0, 1.0], 2_000_000)
    x = np.concatenate(
        [
            rng.uniform(-25, 25, 4_000_000),
            rng.standard_normal(2_000_000),
            np.exp(rng.uniform(np.log(1e-320), np.log(30), 2_000_000)) * sign,  # subnormals .. large
            np.linspace(0.6, 0.65, 1_000_001),
            -np.linspace(0.6, 0.65, 1_000_001),  # branch point 0.625
            np.array([0.0, 5e-324, 2.2250738585072014e-308, 19.06, 19.1, 20, 700, 710, 1e300]),
        ]
    )
    t = np.empty_like(x)
    k.tanh(x, t)
    err = ulp_error(t, np.tanh(x.astype(np.longdouble)), np.float64)
    j = int(np.argmax(err))
    print(f"float64 sample of {x.size}: max {float(err[j]):.4f} ulp at x={x[j]!r}")
    return float(err[j])


if __name__ == "__main__":
    e32, e64 = float32_exhaustive(), float64_sample()
    for dtype in (np.float32, np.float64):
        x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype)
        t = np.empty_like(x)
        k.tanh(x, t)
        assert np.array_equal(np.signbit(t[:2]), [False, True]) and np.array_equal(t[2:4], [1, -1])
        assert np.isnan(t[4])
    assert e32 <= 2.0 and e64 <= 2.0
    print("OK: within 2 ulp")
