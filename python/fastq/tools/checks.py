"""Result checks of the benchmark: every timed result is compared with its baseline first."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ULP_LIMIT", "compare", "transcendental_check"]

# A result beyond this many ulp from its baseline is a mismatch (docs/semantics.md bounds the
# transcendental passes by a few ulp; everything else must be exact).
ULP_LIMIT = 16


def _ordered(a: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys whose differences count ulps (-0.0 and +0.0 coincide)."""
    i = np.ascontiguousarray(a, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(2**31) - i, i)


def compare(result: np.ndarray, expected: np.ndarray) -> tuple[str, int | None]:
    """("exact" | "<= N ulp" | "MISMATCH: ...", max ulp or None)."""
    result = np.asarray(result)
    expected = np.asarray(expected)
    if result.shape != expected.shape:
        return f"MISMATCH: shape {result.shape} vs {expected.shape}", None
    if result.dtype.kind in "iu" or expected.dtype.kind in "iu":
        if np.array_equal(result, expected):
            return "exact", 0
        return f"MISMATCH: {int(np.count_nonzero(result != expected))} elements differ", None
    if np.array_equal(result, expected, equal_nan=True):
        return "exact", 0
    nan_r, nan_e = np.isnan(result), np.isnan(expected)
    if not np.array_equal(nan_r, nan_e):
        return "MISMATCH: NaN positions differ", None
    ok = ~nan_r
    ulp = int(np.max(np.abs(_ordered(result[ok]) - _ordered(expected[ok]))))
    if ulp > ULP_LIMIT:
        return f"MISMATCH: {ulp} ulp", ulp
    return f"<= {ulp} ulp", ulp


def transcendental_check(
    name: str,
    config: dict[str, Any],
    direction: str,
    x: np.ndarray,
    dy: np.ndarray,
    got: np.ndarray,
    expected: np.ndarray,
) -> tuple[str, int | None] | None:
    """docs/semantics.md lets SwishSign's backward and DoReFa weights (fastq's own tanh) differ by
    a few ulp *of the size of the terms* (near a cancellation the relative error of the result is
    unbounded), and a DoReFa weight level may flip where it sits within a few ulp of a rounding
    tie. Returns (check, max ulp) for those passes, None for every other (which must be exact)."""
    eps = float(np.finfo(np.float32).eps)
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "SwishSign" and direction == "backward":
            beta = float(config.get("beta", 5.0))
            b = np.abs(beta * x64)
            terms = np.abs(dy.astype(np.float64) * beta) * (2 + b * np.tanh(b / 2)) / (1 + np.cosh(b))
        elif name == "DoReFa" and config.get("mode") == "weights":
            t = np.tanh(x64)
            d = float(np.max(np.abs(t))) if t.size else 0.0
            if direction == "forward":
                n = 2.0 ** int(config.get("k_bit", 2)) - 1
                pn = (t / (2 * d) + 0.5) * n if d else np.full_like(t, 0.5 * n)
                near_tie = np.abs(pn - np.floor(pn) - 0.5) <= 16 * eps * (n + 1)
                differ = got != expected
                if np.any(differ & ~near_tie):
                    return f"MISMATCH: {int(np.count_nonzero(differ & ~near_tie))} levels away from ties", None
                k = int(np.count_nonzero(differ))
                return ("exact", 0) if k == 0 else (f"{k} tie level(s)", None)
            terms = np.abs(dy.astype(np.float64)) * (1 + t * t) / d if d else np.zeros_like(t)
        else:
            return None
        err = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        units = err / (eps * terms + float(np.finfo(np.float32).tiny))
    units = np.where(np.isnan(got) & np.isnan(expected), 0.0, units)
    worst = float(np.max(units)) if units.size else 0.0
    if not worst <= ULP_LIMIT:
        return f"MISMATCH: {worst:.0f} ulp of terms", None
    return f"<= {int(np.ceil(worst))} ulp of terms", int(np.ceil(worst))
