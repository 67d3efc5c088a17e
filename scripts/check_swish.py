"""Dense accuracy check of SwishSign's backward pass against the documented bound
(tests/conftest.py::swish_grad_bound), longer than the test suite's.

float32 x: every STEP-th float32 in [-30, 30] (both signs, all binades down to 1e-45), for
several betas; dy = 1, and dy random log-uniformly up to |dy*β| = max/4 (swish_sign.hpp). The reference is larq's
formula in float64, evaluated without overflow as
    dy*β * 2e * (2(1 + e) - |b|(1 - e)) / (1 + e)³,  e = exp(-|b|), b = βx
with b = βx rounded to float32 as larq computes it (the same function; float64 error ~1e-15 is
far below the bound). Reports max |err| / bound (inf: an overflow where the bound applies).
Run from the repository root: PYTHONPATH=python python3 scripts/check_swish.py [STEP]
"""

import sys

import numpy as np

import fastq

sys.path.insert(0, "tests")
from conftest import swish_grad_bound

STEP = int(sys.argv[1]) if len(sys.argv) > 1 else 97


def reference(x, dy, beta):
    # b = βx rounded to float32 first, as larq (and fastq) compute it in the working dtype:
    # that rounding alone moves dx by up to |b|·2^-24 relatively, more than the bound at large |b|.
    a = np.abs((np.float32(beta) * x).astype(np.float64))
    e = np.exp(-a)
    return dy.astype(np.float64) * beta * 2 * e * (2 * (1 + e) - a * (1 - e)) / (1 + e) ** 3


def worst_ratio(x, dy, beta):
    g = fastq.SwishSign(beta=beta).grad(x, dy)
    ref = reference(x, dy, beta)
    bound = swish_grad_bound(x, dy, beta, np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.abs(g.astype(np.float64) - ref) / bound
    r = np.where(np.isfinite(bound), r, 0.0)
    assert not np.isnan(g[np.isfinite(bound)]).any(), "NaN where the bound applies"
    j = int(np.nanargmax(r))
    return float(r[j]), float(x[j]), float(dy[j])


def main():
    hi = np.array([30.0], np.float32).view(np.uint32)[0]
    pos = np.arange(0, hi + 1, STEP, dtype=np.uint32).view(np.float32)
    x = np.concatenate([pos, -pos])
    rng = np.random.default_rng(7)
    worst = 0.0
    for beta in (5.0, 1.0, 0.5, 10.0, 50.0, 2.4):
        r1 = worst_ratio(x, np.ones_like(x), beta)
        # |dy*β| up to a quarter of float32's max: above that fastq's intermediate can overflow
        # near x = 0 where larq's does not (swish_sign.hpp).
        top = 0.25 * 3.4e38 / beta
        dy = (np.exp(rng.uniform(np.log(1e-30), np.log(top), x.size)) * rng.choice([-1, 1], x.size)).astype(np.float32)
        r2 = worst_ratio(x, dy, beta)
        print(
            f"beta={beta:5}: dy=1 max err/bound {r1[0]:.4f} at x={r1[1]!r}; "
            f"random dy {r2[0]:.4f} at x={r2[1]!r}, dy={r2[2]:.3g}"
        )
        worst = max(worst, r1[0], r2[0])
    # Edge values: ±0, ±inf, NaN, huge |x|.
    q = fastq.SwishSign()
    xe = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30], np.float32)
    e = q.grad(xe, np.ones_like(xe))
    assert e[0] == e[1] == 5 and np.isnan(e[2:5]).all() and (e[5:] == 0).all(), e
    print(f"{x.size} x values per beta; worst err/bound {worst:.4f}")
    assert worst <= 1.0


if __name__ == "__main__":
    main()
