"""Property tests (hypothesis): every public quantizer entry point against fastq.reference.

Every quantizer class (the reference's CLASS_NAMES plus the base ``Quantizer``), forward and
``grad``, and larq's function forms, on random shapes (0-d and empty included), layouts
(C/F order, strided, negative strides, transposed, ``basic_indices`` views, misaligned,
byte-swapped, read-only, Python lists and scalars), dtypes (float16/32/64, integers, bool),
parameters and ``out=`` (fresh, strided, in place, shifted overlap), with docs/semantics.md's edge
values mixed in.

Exactness: bit-exact (signs of zero count; NaN == NaN whatever its payload), except where
docs/semantics.md documents an error:
* SwishSign's backward (its transcendentals): |fastq - ref| <= 8·eps·|dy·β|·(2 + |βx|·tanh(|βx|/2))
  / (1 + cosh(βx)) + tiny, in float64 with the result dtype's eps and tiny; plus, where the
  reference's working-dtype cosh(βx) overflows (docs/semantics.md: "dx is ∓0"), fastq's tiny true value.
* DoReFa weights (fastq's own tanh, within 2 ulp, then divisions by 2d and d): fastq's tanh is
  within 2 ulp of the correctly rounded tanh; a level may differ only where p·n is within tol = 4·eps·(n+1)
  of a rounding tie (and then by at most ceil(tol) + 1 levels); the gradient is within
  16·eps·|dy|·(1 + t²)/d + tiny, and may be NaN where dy is ±inf (check_dorefa_weights).
* float64 MagnitudeAwareSign (rank >= 2) and SteTern TWN: NumPy's pairwise float64 sums vs
  fastq's fixed-order sums may differ by a few ulp: <= 4 ulp on scale-dependent outputs; for
  TWN only elements within 4 ulp of Δ may differ.

Profiles: "ci" (default; 200 new random examples per test and run, plus the pinned edge cases), "dev" (fewer),
"nightly" (5000), chosen with the environment variable HYPOTHESIS_PROFILE. They are applied per test (not
loaded globally), so other test files keep their own settings.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastq
from fastq import _core
from fastq import reference as ref

# When a hypothesis test fails, its pytest plugin imports hypothesis.extra._patching (libcst),
# which emits a DeprecationWarning from mypy_extensions; with filterwarnings=error that turns a
# plain failure into a pytest INTERNALERROR that hides the falsifying example. Import it once
# here, warnings silenced, so the failure report is readable.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    with contextlib.suppress(Exception):  # optional (libcst missing)
        import hypothesis.extra._patching  # noqa: F401

# Health checks stay on except too_slow (a shared 2-core machine makes timing meaningless).
_SUPPRESS = [HealthCheck.too_slow]
if os.environ.get("FASTQ_TEST_UNDER_QEMU"):
    # Debian 12's hypothesis (6.36, the aarch64 run's) overruns its smaller example buffer on the
    # large-array strategies now and then (3 tests in one of three runs): a generation check,
    # not a result check; the native run keeps it.
    _SUPPRESS.append(HealthCheck.data_too_large)
# "ci": 200 new random examples per test on every run (not a replay of the same derandomized
# ones), on top of the @example cases and the edge values the strategies always mix in; a
# failure prints its seed (print_blob) so it can be replayed with @reproduce_failure.
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=False,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_SUPPRESS,
)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile("nightly", max_examples=5000, deadline=None, suppress_health_check=_SUPPRESS)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
FLOAT_DTYPES = [F16, F32, F64]
INT_DTYPES = [np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64, np.uint64)]
CLASSES = [*ref.CLASS_NAMES, "Quantizer"]
FUNCTION_FORMS = {
    "ste_sign": "SteSign",
    "approx_sign": "ApproxSign",
    "swish_sign": "SwishSign",
    "ste_heaviside": "SteHeaviside",
    "ste_tern": "SteTern",
}
# larq's registry aliases (docs/semantics.md); get(alias) gives a default instance.
ALIASES = {
    "SteSign": "ste_sign",
    "ApproxSign": "approx_sign",
    "SteHeaviside": "ste_heaviside",
    "SwishSign": "swish_sign",
    "MagnitudeAwareSign": "magnitude_aware_sign",
    "SteTern": "ste_tern",
    "DoReFa": "dorefa_quantizer",
    "Quantizer": "Quantizer",
}


# ---------------------------------------------------------------------------- parameters

CLIPS = st.one_of(
    st.sampled_from([None, None, 0, 0.0, 1.0, 1, 0.5, 2.0, 0.05, math.inf, 1e-40, np.float32(0.3)]),
    st.floats(0.0, 4.0),
)


def configs(name):
    """A strategy for the get_config parameters of quantizer ``name``."""
    if name == "NoOp":
        return st.fixed_dictionaries({"precision": st.integers(1, 32)})
    if name in ("SteSign", "SteHeaviside", "MagnitudeAwareSign"):
        return st.fixed_dictionaries({}, optional={"clip_value": CLIPS})
    if name == "SwishSign":
        beta = st.one_of(st.sampled_from([5.0, 10.0, 1, 0.5, 2]), st.floats(0.05, 50.0))
        return st.fixed_dictionaries({}, optional={"beta": beta})
    if name == "SteTern":
        threshold = st.one_of(st.sampled_from([0.05, 0, 0.0, 0.5, 1.0, 0.3]), st.floats(0.0, 3.0))
        return st.fixed_dictionaries(
            {}, optional={"threshold_value": threshold, "ternary_weight_networks": st.booleans(), "clip_value": CLIPS}
        )
    if name == "DoReFa":
        k = st.one_of(st.integers(1, 32), st.sampled_from([1, 2, 3, 4, 8]))
        return st.fixed_dictionaries({}, optional={"k_bit": k, "mode": st.sampled_from(["activations", "weights"])})
    return st.just({})  # ApproxSign, Quantizer


def full_config(name, cfg):
    """cfg merged over the defaults (docs/semantics.md)."""
    defaults = {
        "SteSign": {"clip_value": 1.0},
        "SteHeaviside": {"clip_value": 1.0},
        "MagnitudeAwareSign": {"clip_value": 1.0},
        "SwishSign": {"beta": 5.0},
        "SteTern": {"threshold_value": 0.05, "ternary_weight_networks": False, "clip_value": 1.0},
        "DoReFa": {"k_bit": 2, "mode": "activations"},
    }.get(name, {})
    return {**defaults, **cfg}


def build(data, name, cfg):
    """The quantizer, built by one of the public routes (all must be equivalent)."""
    cls = getattr(fastq.quantizers, name)
    route = data.draw(st.sampled_from(["class", "get_dict", "from_config", "pickle", "alias"]), label="route")
    if route == "get_dict":
        q = fastq.quantizers.get({"class_name": name, "config": dict(cfg)})
    elif route == "from_config":
        q = cls.from_config(cls(**cfg).get_config())
    elif route == "pickle":
        q = pickle.loads(pickle.dumps(cls(**cfg)))
    elif route == "alias" and not cfg and name in ALIASES:
        q = fastq.quantizers.get(ALIASES[name])
    else:
        q = cls(**cfg)
    assert type(q) is cls
    return q


# ---------------------------------------------------------------------------- inputs


def working(rd):
    return F32 if rd == F16 else rd


def specials(dt, name, cfg):
    """docs/semantics.md's edge values for float dtype ``dt`` and quantizer config ``cfg``."""
    t = dt.type
    fi = np.finfo(dt)
    v = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, math.nan, math.inf, -math.inf, 2.0, -3.0, 0.05, -0.05]
    v += [fi.smallest_subnormal, -fi.smallest_subnormal, fi.tiny, -fi.tiny, fi.max, -fi.max]
    one = t(1)
    v += [np.nextafter(one, t(2)), np.nextafter(one, t(0)), -np.nextafter(one, t(2)), -np.nextafter(one, t(0))]
    for key in ("clip_value", "threshold_value"):
        c = cfg.get(key)
        if c is not None:
            with np.errstate(over="ignore"):
                c = t(c)
            v += [c, -c, np.nextafter(c, t(math.inf)), np.nextafter(c, t(0)), -np.nextafter(c, t(math.inf))]
    if name == "DoReFa" and cfg.get("mode") == "activations":
        wt = working(dt).type
        n = wt(2 ** cfg["k_bit"] - 1)
        for i in {0, 1, int(n) // 2, int(n) - 1, int(n)}:
            v += [(wt(2 * i + 1) / (wt(2) * n)), wt(i) / n]
    if name == "SwishSign":
        b = float(cfg["beta"]) or 1.0
        v += [2.39936 / b, -2.39936 / b, 89.0 / b, -89.5 / b, 100.0 / b, 710.0 / b, 20.0 / b]
    with np.errstate(over="ignore"):
        return [t(x) for x in v]


@st.composite
def values(draw, shape, dt, name, cfg, finite_moderate=False):
    """A C-contiguous array of ``shape``/``dt``: random bulk (from a drawn seed, fast) with
    hypothesis-chosen edge values written at hypothesis-chosen positions."""
    n = math.prod(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    if dt.kind == "f":
        kind = draw(
            st.sampled_from(["normal", "normal", "unit", "levels", "wide", "tiny", "edges"]), label="distribution"
        )
        if finite_moderate and kind == "wide":
            kind = "normal"
        with np.errstate(over="ignore"):
            if kind == "normal":
                scale = draw(st.sampled_from([1e-3, 0.3, 1.0, 3.0, 100.0]), label="scale")
                a = rng.standard_normal(n) * scale
            elif kind == "unit":
                a = rng.uniform(-0.25, 1.25, n)
            elif kind == "levels":
                a = rng.integers(-8, 9, n) / 8.0
            elif kind == "wide":  # from subnormal to overflow
                a = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-330, 310, n)
            elif kind == "tiny":  # everything near the subnormal range of the dtype
                a = (
                    rng.standard_normal(n)
                    * float(np.finfo(dt).tiny)
                    * 2.0 ** rng.integers(-(np.finfo(dt).nmant + 2), 3)
                )
            else:
                a = np.zeros(n)
            a = a.astype(dt)
        pool = specials(dt, name, cfg)
        if finite_moderate:
            pool = [p for p in pool if np.isfinite(p) and abs(p) <= 1e4]
        if kind == "edges":  # nothing but edge values
            a = np.array(pool, dt)[rng.integers(0, len(pool), n)]
    else:
        info = np.iinfo(dt) if dt.kind in "iu" else None
        if info is None:
            a = rng.integers(0, 2, n).astype(dt)
            pool = [dt.type(0), dt.type(1)]
        else:
            lo, hi = max(info.min, -300), min(info.max, 300)
            a = rng.integers(lo, hi + 1, n).astype(dt)
            pool = [dt.type(p) for p in (info.min, info.max, 0, 1, 2) if info.min <= p <= info.max]
            if info.min < 0:
                pool.append(dt.type(-1))
    if n:
        for i, p in draw(
            st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(pool)), max_size=min(n, 12)), label="edges"
        ):
            a[i] = p
    return a.reshape(shape)


SIDE_CAPS = {0: 1, 1: 260, 2: 17, 3: 7, 4: 4}


@st.composite
def shapes(draw):
    ndim = draw(st.integers(0, 4), label="ndim")
    cap = SIDE_CAPS[ndim]
    # A zero-size axis in about 1 of 12 draws per axis (the rest would be mostly empty arrays).
    return tuple(draw(st.sampled_from([0, *[1] * 11])) * draw(st.integers(1, cap)) for _ in range(ndim))


LAYOUTS = ["c", "c", "f", "strided", "transposed", "basic", "misaligned", "byteswap", "readonly", "list"]


def relayout(draw, a, layout):
    """The values of C-contiguous ``a`` in another memory layout (same logical array)."""
    if layout == "f" and a.ndim:
        return np.asfortranarray(a)
    if layout == "strided" and a.ndim:
        steps = [draw(st.sampled_from([1, 2, 3, -1, -2])) for _ in range(a.ndim)]
        base = np.full(tuple(abs(s) * n + 1 for s, n in zip(steps, a.shape)), 7, a.dtype)
        v = base[tuple(slice(1, 1 + abs(s) * n, abs(s)) for s, n in zip(steps, a.shape))]
        v = v[tuple(slice(None, None, -1 if s < 0 else 1) for s in steps)]
        v[...] = a
        return v
    if layout == "transposed" and a.ndim >= 2:
        perm = draw(st.permutations(range(a.ndim)))
        return np.ascontiguousarray(a.transpose(perm)).transpose(np.argsort(perm))
    if layout == "misaligned" and a.dtype.itemsize > 1:
        buf = np.zeros(a.nbytes + a.dtype.itemsize, np.uint8)
        off = draw(st.integers(1, a.dtype.itemsize - 1))
        v = buf[off : off + a.nbytes].view(a.dtype).reshape(a.shape)
        v[...] = a
        return v
    if layout == "byteswap":
        return a.astype(a.dtype.newbyteorder())
    if layout == "readonly":
        v = a.copy()
        v.flags.writeable = False
        return v
    if layout == "list":
        return a.tolist()  # nested lists, or a Python scalar for 0-d
    return a.copy()


@st.composite
def inputs(draw, name, cfg, dtypes=None):
    """(x, description): x an array-like with docs/semantics.md's edge values in some layout."""
    dt = draw(st.sampled_from(dtypes or FLOAT_DTYPES * 3 + INT_DTYPES), label="dtype")
    layout = draw(st.sampled_from(LAYOUTS), label="layout")
    if layout == "basic":
        base_shape = draw(
            hnp.array_shapes(min_dims=0, max_dims=3, min_side=draw(st.sampled_from([1, 1, 1, 0])), max_side=6),
            label="base_shape",
        )
        base = draw(values(base_shape, dt, name, cfg))
        index = draw(hnp.basic_indices(base_shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True), label="index")
        x = base[index]  # a view (or a NumPy scalar when every axis is indexed)
    else:
        x = relayout(draw, draw(values(draw(shapes()), dt, name, cfg)), layout)
    return x


def dys(draw, shape, x_rd, name, cfg):
    """An upstream gradient of ``shape``: mostly x's result dtype, sometimes another one."""
    dt = draw(st.sampled_from([x_rd, x_rd, x_rd, F32, F64, F16, np.dtype(np.int16)]), label="dy dtype")
    moderate = name == "SwishSign"  # the bound is only promised where dy·β·(...) is finite
    a = draw(values(shape, dt, name, cfg, finite_moderate=moderate))
    if moderate and a.dtype.kind == "f":
        a = np.where(np.isfinite(a) & (np.abs(a) <= 1e4), a, a.dtype.type(0.25))
    layout = draw(st.sampled_from(["c", "c", "f", "strided", "transposed", "misaligned", "readonly", "byteswap"]))
    return relayout(draw, np.array(a, order="C"), layout)


# ---------------------------------------------------------------------------- comparisons


def keys(a):
    """Monotone integer keys of float array ``a``: ulp distance = |key difference|."""
    a = np.array(a, order="C")
    bits = a.dtype.itemsize * 8
    i = a.view(f"i{a.dtype.itemsize}").astype(np.int64)
    return np.where(i < 0, -(i & ((1 << (bits - 1)) - 1)), i)


def ulp_distance(a, b):
    return np.abs(keys(a) - keys(b))


def describe(x):
    return f"{type(x).__name__} dtype={getattr(x, 'dtype', None)} shape={np.shape(x)}"


def mismatch_report(got, exp, bad, x=None, extra=""):
    idx = np.argwhere(bad)[:6]
    lines = [f"{int(bad.sum())} of {bad.size} elements differ {extra}"]
    xa = None if x is None else np.asarray(x)
    for i in idx:
        i = tuple(i)
        xv = "" if xa is None or xa.shape != got.shape else f" x={xa[i]!r}"
        lines.append(
            f"  at {i}:{xv} fastq={got[i]!r} ({got[i].tobytes().hex()}) ref={exp[i]!r} ({exp[i].tobytes().hex()})"
        )
    return "\n".join(lines)


def assert_exact(got, exp, x=None, allow=None):
    """Same dtype, shape and bits; NaN == NaN (any payload). ``allow``: a boolean mask of
    elements that may differ."""
    got = np.asarray(got)
    exp = np.asarray(exp)
    assert got.dtype == exp.dtype, f"dtype: fastq {got.dtype}, reference {exp.dtype}"
    assert got.shape == exp.shape, f"shape: fastq {got.shape}, reference {exp.shape}"
    gn, en = np.isnan(got), np.isnan(exp)
    u = f"u{got.dtype.itemsize}"
    bad = (gn != en) | (~gn & ~en & (np.array(got, order="C").view(u) != np.array(exp, order="C").view(u)))
    if allow is not None:
        bad &= ~allow
    assert not bad.any(), mismatch_report(got, exp, bad, x)


def assert_ulps(got, exp, max_ulps, x=None):
    got = np.asarray(got)
    exp = np.asarray(exp)
    assert got.dtype == exp.dtype and got.shape == exp.shape
    gn, en = np.isnan(got), np.isnan(exp)
    bad = (gn != en) | (~gn & ~en & (ulp_distance(got, exp) > max_ulps))
    assert not bad.any(), mismatch_report(got, exp, bad, x, f"by more than {max_ulps} ulp")


def swish_bound(xw, dyw, beta, rd):
    """The documented SwishSign backward bound (float64), see the module docstring."""
    fi = np.finfo(rd)
    wfi = np.finfo(working(rd))
    with np.errstate(over="ignore", invalid="ignore"):
        x = xw.astype(np.float64)
        g = np.abs(dyw.astype(np.float64) * beta)
        b = np.abs(beta * x)
        bound = 8 * float(fi.eps) * g * (2 + b * np.tanh(b / 2)) / (1 + np.cosh(b)) + float(fi.tiny)
        # docs/semantics.md: where cosh(βx) overflows the working dtype the reference gives ∓0;
        # fastq (swish_sign.hpp) returns the tiny true value there instead.
        overflow = b > math.log(float(wfi.max))
        true_value = g * (2 + b) * 2 * np.exp(-b)
        bound = np.where(overflow, np.maximum(bound, 2 * true_value + float(fi.tiny)), bound)
    return bound


def assert_swish_within_bound(got, exp, xw, dyw, beta, rd, x=None):
    got = np.asarray(got)
    exp = np.asarray(exp)
    assert got.dtype == exp.dtype and got.shape == exp.shape
    gn, en = np.isnan(got), np.isnan(exp)
    bound = swish_bound(xw, dyw, beta, rd)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got.astype(np.float64) - exp.astype(np.float64))
        ok = (got == exp) | (diff <= bound)
    bad = (gn != en) | (~gn & ~en & ~ok)
    assert not bad.any(), mismatch_report(got, exp, bad, x, "beyond the SwishSign bound")


# ---------------------------------------------------------------------------- expectations


def fastq_tanh(w):
    w = np.array(w, order="C")  # (np.ascontiguousarray would make 0-d arrays 1-d)
    out = np.empty_like(w)
    _core.active.tanh(w, out)
    return out


def prepared(x):
    """(x in the working dtype, result dtype, working dtype) as docs/semantics.md converts."""
    a = np.asarray(x)
    rd = ref.result_dtype(a)
    wd = working(rd)
    return a.astype(rd).astype(wd), rd, wd


def prepared_dy(dy, shape, rd, wd):
    with np.errstate(over="ignore"):
        return np.broadcast_to(np.asarray(dy), shape).astype(rd).astype(wd)


def check_dorefa_weights(x, dy, got, k_bit):
    """DoReFa weights use fastq's own tanh ("within a few ulp", docs/semantics.md), then divide by 2d
    (forward) or d (backward) exactly as the reference does, so: fastq's tanh is within 4 ulp of np.tanh; a level may
    differ from the reference only where p·n lies within tol = 16·eps·(n+1) of a rounding tie, and then by at
    most ceil(tol) + 1 levels (one level unless k_bit is close to the dtype's precision); the
    gradient is within 16·eps·|dy|·(1 + t²)/d (eps of the result dtype) + tiny, or NaN where
    dy = ±inf (fastq's tanh may round to ±1 where np.tanh does not: inf·0). Elsewhere, and for
    NaN and d == 0, the result is exact."""
    xw, rd, wd = prepared(x)
    with np.errstate(all="ignore"):
        # The documented 2 ulp, against the correctly rounded tanh (float32 from float64,
        # float64 from long double).
        exact = np.tanh(xw.astype(np.longdouble if wd == F64 else np.float64)).astype(wd)
        assert_ulps(fastq_tanh(xw), exact, 2, x=xw)
        exp = (
            ref.forward("DoReFa", x, k_bit=k_bit, mode="weights")
            if dy is None
            else (ref.backward("DoReFa", x, dy, k_bit=k_bit, mode="weights"))
        )
        got = np.asarray(got)
        assert got.dtype == exp.dtype and got.shape == exp.shape
        t = np.tanh(xw.astype(np.float64))
        d = np.max(np.abs(t), initial=0.0)
        if dy is None:
            n = 2.0**k_bit - 1
            pn = (t / (2 * d) + 0.5) * n if d else np.full_like(t, 0.5 * n)
            # p is off by a few ulp (tanh): p·n by up to `tol` level steps.
            # t and d within 2 ulp each, t/(2d) and + 0.5 rounded once each: p within
            # 2.75 eps, p·n within 3.25·eps·n of the exact value; 4·eps·(n + 1) bounds it.
            tol = 4 * float(np.finfo(wd).eps) * (n + 1)
            near_tie = np.abs(pn - np.floor(pn) - 0.5) <= tol
            steps = np.abs(got.astype(np.float64) - exp.astype(np.float64)) * n / 2
            allow = near_tie & (steps <= math.ceil(tol) + 1 + 4 * float(np.finfo(rd).eps) * n)
        else:
            dyw = prepared_dy(dy, xw.shape, rd, wd).astype(np.float64)
            bound = 16 * float(np.finfo(rd).eps) * np.abs(dyw) * (1 + t * t) / d if d else np.zeros_like(t)
            bound = np.nan_to_num(bound, nan=0.0) + float(np.finfo(rd).tiny)
            diff = np.abs(got.astype(np.float64) - exp.astype(np.float64))
            allow = np.isfinite(got) & np.isfinite(exp) & (diff <= bound)
            # dy = ±inf: where fastq's tanh rounds to ±1 (1 - t² = 0) it gives inf·0 = NaN
            # and the reference ±inf; no bound applies to an infinite dy.
            allow |= ~np.isfinite(dyw) & np.isnan(got)
    assert_exact(got, exp, x, allow)


def ref_name_config(name, cfg):
    if name == "Quantizer":
        return "NoOp", {}
    return name, cfg


def check(name, cfg, x, got, dy=None):
    """Compare fastq's result ``got`` for input ``x`` (and ``dy``) with the reference, using the
    documented bounds where docs/semantics.md allows an error."""
    cfg = full_config(name, cfg)
    rname, rcfg = ref_name_config(name, cfg)
    if name == "DoReFa" and cfg["mode"] == "weights":
        check_dorefa_weights(x, dy, got, cfg["k_bit"])
        return
    with np.errstate(all="ignore"):
        exp = ref.forward(rname, x, **rcfg) if dy is None else ref.backward(rname, x, dy, **rcfg)
    xw, rd, wd = prepared(x)
    if name == "SwishSign" and dy is not None:
        dyw = prepared_dy(dy, xw.shape, rd, wd)
        beta = float(wd.type(rd.type(cfg["beta"])))
        assert_swish_within_bound(got, exp, xw, dyw, beta, rd, x)
        return
    if rd == F64 and name == "MagnitudeAwareSign" and xw.ndim >= 2:
        assert_ulps(got, exp, 4, x)  # float64 sums: NumPy pairwise vs fastq fixed order
        return
    allow = None
    if rd == F64 and name == "SteTern" and cfg["ternary_weight_networks"] and dy is None and xw.size:
        delta = np.asarray(ref.twn_threshold(x))
        if np.isfinite(delta):
            allow = ulp_distance(np.abs(xw), np.broadcast_to(delta, xw.shape)) <= 4
    assert_exact(got, exp, x, allow)


def snapshot(x):
    return copy.deepcopy(x) if not isinstance(x, np.ndarray) else x.copy()


def assert_unchanged(before, after):
    if isinstance(after, np.ndarray):
        assert_exact(after, before)  # inputs are never written
    else:
        assert type(before) is type(after)
        np.testing.assert_array_equal(np.asarray(after), np.asarray(before))


# ---------------------------------------------------------------------------- out= handling

OUT_MODES = ["none", "none", "none", "fresh", "strided", "inplace", "overlap"]


def make_out(draw, mode, x, rd, dy=None):
    """(out, call_x, call_dy) for an out= mode; call_x/call_dy are what the call receives."""
    shape = np.shape(x)
    if mode == "inplace":
        targets = [a for a in (x, dy) if isinstance(a, np.ndarray) and a.dtype == rd and a.flags.writeable]
        if targets:
            return draw(st.sampled_from(targets)), x, dy
        mode = "fresh"
    if mode == "overlap":
        # x and out share one buffer, shifted by one element: the result must be as if x had
        # been copied first.
        if dy is None and isinstance(x, np.ndarray) and x.ndim == 1 and x.size and x.dtype == rd:
            buf = np.empty(x.size + 1, rd)
            if draw(st.booleans()):
                buf[:-1] = x
                return buf[1:], buf[:-1], dy
            buf[1:] = x
            return buf[:-1], buf[1:], dy
        mode = "fresh"
    if mode == "strided" and len(shape):
        big = np.full(tuple(2 * s for s in shape), 9, rd)
        return big[tuple(slice(None, None, -2) for _ in shape)], x, dy
    if mode in ("fresh", "strided", "overlap"):
        return np.full(shape, 9, rd), x, dy
    return None, x, dy


# ---------------------------------------------------------------------------- the tests


def forward_case(data, name):
    cfg = data.draw(configs(name), label="config")
    q = build(data, name, cfg)
    x = data.draw(inputs(name, full_config(name, cfg)), label="x")
    note(f"x: {describe(x)}")
    return cfg, q, x


@pytest.mark.parametrize("name", CLASSES)
@settings(PROFILE)
@given(data=st.data())
def test_forward_matches_reference(name, data):
    cfg, q, x = forward_case(data, name)
    before = snapshot(x)
    rd = ref.result_dtype(np.asarray(x))
    mode = data.draw(st.sampled_from(OUT_MODES), label="out mode")
    out, call_x, _ = make_out(data.draw, mode, x, rd)
    note(f"out mode: {mode}; out: {None if out is None else describe(out)}")
    y = q(call_x) if out is None else q(call_x, out=out)
    if out is not None:
        assert y is out
    else:
        assert isinstance(y, np.ndarray)
    check(name, cfg, before, y)
    if out is not x:
        assert_unchanged(before, x)


@pytest.mark.parametrize("name", CLASSES)
@settings(PROFILE)
@given(data=st.data())
def test_grad_matches_reference(name, data):
    cfg, q, x = forward_case(data, name)
    rd = ref.result_dtype(np.asarray(x))
    dy = dys(data.draw, np.shape(x), rd, name, full_config(name, cfg))
    note(f"dy: {describe(dy)}")
    x_before, dy_before = snapshot(x), snapshot(dy)
    mode = data.draw(st.sampled_from(OUT_MODES), label="out mode")
    out, call_x, call_dy = make_out(data.draw, mode, x, rd, dy)
    note(f"out mode: {mode}; out is x: {out is x}; out is dy: {out is dy}")
    dx = q.grad(call_x, call_dy) if out is None else q.grad(call_x, call_dy, out=out)
    if out is not None:
        assert dx is out
    check(name, cfg, x_before, dx, dy=dy_before)
    if out is not x:
        assert_unchanged(x_before, x)
    if out is not dy:
        assert_unchanged(dy_before, dy)


@pytest.mark.parametrize("fname", sorted(FUNCTION_FORMS))
@settings(PROFILE)
@given(data=st.data())
def test_function_form_matches_reference(fname, data):
    name = FUNCTION_FORMS[fname]
    cfg = data.draw(configs(name), label="config")
    x = data.draw(inputs(name, full_config(name, cfg)), label="x")
    before = snapshot(x)
    y = getattr(fastq.quantizers, fname)(x, **cfg)
    assert getattr(fastq, fname).precision == getattr(fastq, name).precision
    check(name, cfg, before, y)
    assert_unchanged(before, x)


@settings(PROFILE)
@given(data=st.data())
def test_out_equals_fresh_and_in_place(data):
    """q(x, out=buf) and in-place q(x, out=x) equal q(x), for every class (the aliasing rule)."""
    name = data.draw(st.sampled_from(CLASSES), label="name")
    cfg = data.draw(configs(name), label="config")
    q = build(data, name, cfg)
    dt = data.draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    x = data.draw(values(data.draw(shapes()), dt, name, full_config(name, cfg)), label="x")
    fresh = q(x)
    fresh_grad = q.grad(x, x)
    buf = np.empty_like(fresh)
    assert q(x, out=buf) is buf
    assert_exact(buf, fresh)
    inplace = x.copy()
    assert q(inplace, out=inplace) is inplace
    assert_exact(inplace, fresh)
    g = x.copy()
    assert q.grad(g, g, out=g) is g
    assert_exact(g, fresh_grad)


# ---------------------------------------------------------------------------- pinned examples
# Deterministic cases hypothesis found (kept so they run whatever the profile draws).


@pytest.mark.parametrize("name", ["ApproxSign", "SwishSign", "MagnitudeAwareSign", "SteSign", "NoOp"])
def test_grad_of_float16_x_rounds_a_wider_dy_to_float16_first(name):
    # docs/semantics.md and the reference: dy is converted to x's result dtype (float16) before the float32
    # computation, so a float32/float64 dy gives the same dx as the same dy rounded to float16.
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(64) * 0.5).astype(np.float16)
    dy64 = rng.standard_normal(64)
    dy64[0] = 1 + 2.0**-11 + 2.0**-40  # float64 -> float32 -> float16 would round to 1.0
    q = fastq.NoOp(precision=1) if name == "NoOp" else fastq.quantizers.get(name)
    cfg = {"precision": 1} if name == "NoOp" else {}
    for dy in (dy64, dy64.astype(np.float32)):
        check(name, cfg, x, q.grad(x, dy), dy=dy)
        assert_exact(q.grad(x, dy), q.grad(x, dy.astype(np.float16)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dorefa_weights_on_a_tensor_of_subnormals(dtype):
    # d = max|tanh(x)| is subnormal: 1/d overflows, t/(2d) does not (t/(2d) = 1/2 at the max).
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([tiny, -tiny, 0.0, 3 * tiny], dtype)
    dy = np.full_like(x, 1e-30)
    for k in (1, 2, 4):
        q = fastq.DoReFa(k_bit=k, mode="weights")
        check("DoReFa", {"k_bit": k, "mode": "weights"}, x, q(x))
        check("DoReFa", {"k_bit": k, "mode": "weights"}, x, q.grad(x, dy), dy=dy)


def test_grad_with_a_dy_that_overflows_x_dtype_does_not_warn():
    # Casting dy to x's dtype overflows to ±inf silently, as the reference (and any cast in
    # fastq's forward path) does; with filterwarnings=error a RuntimeWarning fails here.
    x = np.array([0.5, 2.0], np.float32)
    dy = np.array([1e300, -1e300])
    check("SteSign", {}, x, fastq.SteSign().grad(x, dy), dy=dy)
