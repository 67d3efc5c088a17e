"""Pure-NumPy reference implementation of fastq's quantizers (the test oracle).

This module is written directly from ``docs/semantics.md`` (which follows larq 0.14's formulas) and
shares no code with fastq's native kernels. It is the oracle the C++ scalar kernels are tested
against and the NumPy baseline of the benchmarks, so it is written to be obviously right first
and vectorized second (no Python loops over elements). It depends on NumPy only.

dtype rules (docs/semantics.md, "Deliberate differences from larq")
---------------------------------------------
* The output dtype is :func:`result_dtype` of the input: float16/32/64 are kept, integer and bool
  inputs follow ``np.result_type(x, np.float16)``, complex/object/string/datetime raise TypeError.
* The arithmetic runs in a *working dtype*: the output dtype itself, except that **float16 input
  is computed in float32 and the result rounded to float16 once** (this is what the native side
  does). Every operation is then a single-dtype IEEE operation in the working dtype.
* User parameters (``clip_value``, ``threshold_value``, ``beta``) are converted to the *input's*
  dtype first, as docs/semantics.md says ("Python-float parameters are converted to the input's dtype
  before use"), then widened (exactly) to the working dtype. This only matters for float16:
  float16 ``x == float16(0.05)`` is then exactly ``±threshold_value`` and maps to ±1, and
  ``|x| <= clip`` compares against the float16 clip. Constants inside the formulas (``0.7``,
  ``n = 2**k_bit - 1``, ``0.5``, ``2``, ``1``) are working-dtype values (float16 could not even
  hold ``n`` for k_bit >= 16).
* ``backward`` converts ``dy`` (broadcast to ``x.shape``) to the output dtype first, then to the
  working dtype: the gradient has the dtype of ``x``, as in TensorFlow.
* Reductions (MagnitudeAwareSign's scale, the TWN threshold) accumulate in float64 and are rounded
  to the working dtype once.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASS_NAMES",
    "backward",
    "binary_conv2d",
    "binary_matmul",
    "binary_output",
    "dorefa_weight_divisor",
    "forward",
    "heaviside",
    "magnitude_aware_scale",
    "max_pool2d_signs",
    "pack_bits",
    "result_dtype",
    "sign",
    "ste_grad",
    "twn_threshold",
    "unpack_bits",
]

CLASS_NAMES = (
    "NoOp",
    "SteSign",
    "ApproxSign",
    "SteHeaviside",
    "SwishSign",
    "MagnitudeAwareSign",
    "SteTern",
    "DoReFa",
)

# Each quantizer's own get_config parameters and their defaults (docs/semantics.md).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "NoOp": {"precision": None},
    "SteSign": {"clip_value": 1.0},
    "ApproxSign": {},
    "SteHeaviside": {"clip_value": 1.0},
    "SwishSign": {"beta": 5.0},
    "MagnitudeAwareSign": {"clip_value": 1.0},
    "SteTern": {"threshold_value": 0.05, "ternary_weight_networks": False, "clip_value": 1.0},
    "DoReFa": {"k_bit": 2, "mode": "activations"},
}

# larq's registry aliases and old names, so callers walking the registry can use them too.
_ALIASES: dict[str, str] = {
    "ste_sign": "SteSign",
    "approx_sign": "ApproxSign",
    "ste_heaviside": "SteHeaviside",
    "swish_sign": "SwishSign",
    "magnitude_aware_sign": "MagnitudeAwareSign",
    "ste_tern": "SteTern",
    "dorefa_quantizer": "DoReFa",
    "NoOpQuantizer": "NoOp",
    "Quantizer": "NoOp",  # the base class is the identity too
    "DoReFaQuantizer": "DoReFa",
}

# Keys a larq-written config carries besides the parameters; accepted and ignored.
_IGNORED_KEYS = frozenset({"name", "trainable", "dtype"})


# --------------------------------------------------------------------------------------------
# dtype handling
# --------------------------------------------------------------------------------------------


def result_dtype(x: npt.ArrayLike | np.dtype[Any]) -> np.dtype[Any]:
    """Output dtype for input ``x`` (an array-like or a ``np.dtype``).

    float16/float32/float64 are kept (in native byte order); integers and bool follow
    ``np.result_type(x, np.float16)`` like ``np.sin`` (int8/uint8/bool -> float16,
    int16 -> float32, int32/int64 -> float64). Anything else raises TypeError.
    """
    dt = x if isinstance(x, np.dtype) else np.asarray(x).dtype
    if dt.kind == "f":
        if dt.itemsize not in (2, 4, 8):  # long double has no native kernel
            raise TypeError(f"x: unsupported floating dtype {dt}; expected float16/32/64")
        r: np.dtype[Any] = dt.newbyteorder("=")
        return r
    if dt.kind in "biu":
        return np.result_type(dt, np.float16)
    raise TypeError(f"x: unsupported dtype {dt}; expected a float, integer or bool array")


def _working_dtype(out: np.dtype[Any]) -> np.dtype[Any]:
    # float16 is computed in float32 and rounded once at the end (as the native side does).
    return np.dtype(np.float32) if out == np.float16 else out


def _prepare(x: npt.ArrayLike) -> tuple[np.ndarray, np.dtype[Any], np.dtype[Any]]:
    """-> (x in the working dtype, output dtype, working dtype)."""
    x = np.asarray(x)
    out = result_dtype(x)
    wd = _working_dtype(out)
    # Via the output dtype first, so e.g. int64 rounds like a float64 input would.
    return x.astype(out, copy=False).astype(wd, copy=False), out, wd


def _prepare_dy(dy: npt.ArrayLike, shape: tuple[int, ...], out: np.dtype[Any], wd: np.dtype[Any]) -> np.ndarray:
    dy = np.asarray(dy)
    result_dtype(dy)  # rejects complex/object/str upstream gradients
    dy = np.broadcast_to(dy, shape)  # ValueError when not broadcastable
    with np.errstate(over="ignore"):  # e.g. float32 1e6 -> float16 inf, like any cast
        return dy.astype(out, copy=False).astype(wd, copy=False)


def _param(value: float, out: np.dtype[Any], wd: np.dtype[Any]) -> np.floating[Any]:
    # A user parameter: rounded to the input's (output) dtype, then widened to the working dtype.
    r: np.floating[Any] = wd.type(out.type(value))
    return r


def _finish(y: npt.ArrayLike, out: np.dtype[Any]) -> np.ndarray:
    # The single rounding to the output dtype (a no-op except for float16).
    return np.asarray(y).astype(out, copy=False)


# --------------------------------------------------------------------------------------------
# Primitives, working in the dtype of their (already prepared) argument
# --------------------------------------------------------------------------------------------


def _sign(x: np.ndarray) -> np.ndarray:
    # -1 if x < 0, +1 if x >= 0 (so sign(+-0) = +1); NaN positions return x itself, which keeps
    # the NaN payload.
    one = x.dtype.type(1)
    return np.where(x < 0, -one, np.where(x >= 0, one, x))


def _sign0(x: np.ndarray) -> np.ndarray:
    # tf.sign / np.sign: -1, +0, +1, NaN -> NaN. Written out so sign0(-0.0) is +0.0 regardless
    # of NumPy version.
    t = x.dtype.type
    return np.where(x > 0, t(1), np.where(x < 0, t(-1), np.where(x == 0, t(0), x)))


def _heaviside(x: np.ndarray) -> np.ndarray:
    # 1 if x > 0, 0 if x <= 0 (both zeros give +0), NaN stays NaN.
    t = x.dtype.type
    return np.where(x > 0, t(1), np.where(x <= 0, t(0), x))


def _ste_grad(x: np.ndarray, dy: np.ndarray, clip: np.floating[Any] | None) -> np.ndarray:
    # larq's _clipped_gradient: inclusive mask |x| <= clip; NaN x fails the compare -> +0.
    if clip is None:
        r: np.ndarray = dy.copy()
        return r
    return np.where(np.abs(x) <= clip, dy, dy.dtype.type(0))


def _mas_scale(x: np.ndarray) -> np.ndarray:
    # Mean |x| over every axis but the last, accumulated in float64 and rounded once.
    # For 0-d and 1-D input the axis list is empty (larq), so the "mean" is |x| itself.
    if x.ndim <= 1:
        r: np.ndarray = np.abs(x)
        return r
    axes = tuple(range(x.ndim - 1))
    if x.size == 0:
        # Mean over zero rows: NaN per channel (what np.mean gives) without its warning.
        return np.full(x.shape[-1:], np.nan, dtype=x.dtype)
    return np.mean(np.abs(x), axis=axes, dtype=np.float64).astype(x.dtype)


def _twn_threshold(x: np.ndarray) -> np.floating[Any]:
    # larq: 0.7 * reduce_sum(|x|) / size(x), in that order, over the whole tensor.
    t = x.dtype.type
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        s = np.sum(np.abs(x), dtype=np.float64).astype(x.dtype)  # may overflow to inf
        r: np.floating[Any] = (t(0.7) * s) / t(x.size)  # empty x: 0/0 = NaN, output is empty anyway
        return r


def _dorefa_divisor(t: np.ndarray) -> np.floating[Any]:
    # max|tanh(x)| over the whole tensor; NaN propagates; an empty tensor gives 0.
    r: np.floating[Any] = np.max(np.abs(t), initial=t.dtype.type(0))
    return r


def _dorefa_q(p: np.ndarray, n: np.floating[Any]) -> np.ndarray:
    # k-bit quantization of p in [0, 1]: round half to even (np.rint), never half-away.
    r: np.ndarray = np.rint(p * n) / n
    return r


def sign(x: npt.ArrayLike) -> np.ndarray:
    """sign(x): -1 where x < 0, +1 elsewhere (+-0 -> +1, +-inf -> +-1), NaN stays NaN."""
    xw, out, _ = _prepare(x)
    return _finish(_sign(xw), out)


def heaviside(x: npt.ArrayLike) -> np.ndarray:
    """heaviside(x): 1 where x > 0, 0 where x <= 0 (+-0 -> 0), NaN stays NaN."""
    xw, out, _ = _prepare(x)
    return _finish(_heaviside(xw), out)


def ste_grad(x: npt.ArrayLike, dy: npt.ArrayLike, clip_value: float | None = 1.0) -> np.ndarray:
    """Clipped straight-through gradient: dy where |x| <= clip_value (inclusive), else +0.

    ``clip_value=None`` passes dy everywhere (NaN positions included).
    """
    xw, out, wd = _prepare(x)
    dyw = _prepare_dy(dy, xw.shape, out, wd)
    clip = None if clip_value is None else _param(clip_value, out, wd)
    return _finish(_ste_grad(xw, dyw, clip), out)


def magnitude_aware_scale(x: npt.ArrayLike) -> np.ndarray:
    """MagnitudeAwareSign's scale: mean |x| over all axes but the last (one per channel).

    0-d and 1-D input: |x| element-wise (no reduction). Returned in ``result_dtype(x)``.
    """
    xw, out, _ = _prepare(x)
    return _finish(_mas_scale(xw), out)


def twn_threshold(x: npt.ArrayLike) -> np.floating[Any]:
    """SteTern's ternary-weight-networks threshold Δ = 0.7 * sum|x| / size(x) (a scalar)."""
    xw, out, _ = _prepare(x)
    r: np.floating[Any] = out.type(_twn_threshold(xw))
    return r


def dorefa_weight_divisor(x: npt.ArrayLike) -> np.floating[Any]:
    """DoReFa weights' d = max|tanh(x)| over the whole tensor (a scalar; 0 for empty x)."""
    xw, out, _ = _prepare(x)
    r: np.floating[Any] = out.type(_dorefa_divisor(np.tanh(xw)))
    return r


# --------------------------------------------------------------------------------------------
# Quantizers
# --------------------------------------------------------------------------------------------


def _config(name: object, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Resolve the quantizer name and merge ``config`` over its defaults (validated)."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    cls = _ALIASES.get(name, name)
    if cls not in _DEFAULTS:
        raise ValueError(f"unknown quantizer {name!r}; expected one of {CLASS_NAMES}")
    params = dict(_DEFAULTS[cls])
    for key, value in config.items():
        if key in _IGNORED_KEYS:
            continue
        if key not in params:
            raise TypeError(f"{cls}: unexpected config key {key!r}")
        params[key] = value
    if cls == "DoReFa":
        k = params["k_bit"]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 32:
            raise ValueError(f"DoReFa: k_bit must be an int in 1..32, got {k!r}")
        if params["mode"] not in ("activations", "weights"):
            raise ValueError(f"DoReFa: mode must be 'activations' or 'weights', got {params['mode']!r}")
    return cls, params


def _clip_param(params: dict[str, Any], out: np.dtype[Any], wd: np.dtype[Any]) -> np.floating[Any] | None:
    c = params["clip_value"]
    return None if c is None else _param(c, out, wd)


def _tern_threshold(xw: np.ndarray, params: dict[str, Any], out: np.dtype[Any], wd: np.dtype[Any]) -> np.floating[Any]:
    if params["ternary_weight_networks"]:
        return _twn_threshold(xw)
    return _param(params["threshold_value"], out, wd)


def forward(name: str, x: npt.ArrayLike, /, **config: Any) -> np.ndarray:
    """Forward pass y = q(x) of quantizer ``name`` (a class name) with its config parameters.

    The arguments are positional-only, so a larq config's own "name" key can be passed along.
    """
    cls, p = _config(name, config)
    xw, out, wd = _prepare(x)
    t = wd.type

    if cls == "NoOp":
        return np.array(x, dtype=out, copy=True)
    if cls in ("SteSign", "ApproxSign", "SwishSign"):
        return _finish(_sign(xw), out)
    if cls == "SteHeaviside":
        return _finish(_heaviside(xw), out)
    if cls == "MagnitudeAwareSign":
        # larq: ste_sign(x) * stop_gradient(scale)
        return _finish(_sign(xw) * _mas_scale(xw), out)
    if cls == "SteTern":
        delta = _tern_threshold(xw, p, out, wd)
        # larq's literal formula; inf - inf (TWN with an inf) is NaN, as in TensorFlow.
        with np.errstate(invalid="ignore"):
            y = _sign0(_sign0(xw + delta) + _sign0(xw - delta))
        return _finish(y, out)
    # DoReFa
    n = t(2 ** p["k_bit"] - 1)
    if p["mode"] == "activations":
        # clip(x, 0, 1) written so NaN stays NaN (and -0.0 stays -0.0, like np.clip).
        c = np.where(xw < 0, t(0), np.where(xw > 1, t(1), xw))
        return _finish(_dorefa_q(c, n), out)
    tanh = np.tanh(xw)
    d = _dorefa_divisor(tanh)
    # all-zero (or empty) tensor: larq's divide_no_nan gives p = 0.5
    pq = np.full_like(tanh, t(0.5)) if d == 0 else tanh / (t(2) * d) + t(0.5)
    return _finish(t(2) * _dorefa_q(pq, n) - t(1), out)


def backward(name: str, x: npt.ArrayLike, dy: npt.ArrayLike, /, **config: Any) -> np.ndarray:
    """Input gradient dx of quantizer ``name`` at ``x`` given the upstream gradient ``dy``.

    ``dy`` is broadcast to ``x.shape``; the result has ``result_dtype(x)``.
    """
    cls, p = _config(name, config)
    xw, out, wd = _prepare(x)
    dyw = _prepare_dy(dy, xw.shape, out, wd)
    t = wd.type

    if cls == "NoOp":
        return _finish(dyw.copy(), out)
    if cls in ("SteSign", "SteHeaviside", "SteTern"):
        # SteTern's mask uses clip_value, not the threshold.
        return _finish(_ste_grad(xw, dyw, _clip_param(p, out, wd)), out)
    if cls == "ApproxSign":
        a = np.abs(xw)
        # larq's order: ((1 - |x|) * 2) * dy
        return _finish(np.where(a <= 1, (t(1) - a) * t(2) * dyw, t(0)), out)
    if cls == "SwishSign":
        beta = _param(p["beta"], out, wd)
        # larq's order: b = beta*x; ((dy*beta) * (2 - b*tanh(b*0.5))) / (1 + cosh(b)).
        # cosh overflows to inf for large |b| (dx = -+0) and x = +-inf gives inf/inf = NaN.
        with np.errstate(over="ignore", invalid="ignore"):
            b = beta * xw
            dx = ((dyw * beta) * (t(2) - b * np.tanh(b * t(0.5)))) / (t(1) + np.cosh(b))
        return _finish(dx, out)
    if cls == "MagnitudeAwareSign":
        sdy = dyw * _mas_scale(xw)  # gradient of ste_sign(x) * s w.r.t. ste_sign's output
        return _finish(_ste_grad(xw, sdy, _clip_param(p, out, wd)), out)
    # DoReFa
    if p["mode"] == "activations":
        # tf.clip_by_value's gradient, both ends inclusive (-0.0 inside); NaN -> 0.
        return _finish(np.where((xw >= 0) & (xw <= 1), dyw, t(0)), out)
    tanh = np.tanh(xw)
    d = _dorefa_divisor(tanh)
    if d == 0:  # divide_no_nan: no gradient through an all-zero tensor
        return _finish(np.zeros_like(dyw), out)
    # Q has an identity gradient and d none: dx = dy * tanh'(x) / d.
    return _finish((dyw * (t(1) - tanh * tanh)) / d, out)


# --------------------------------------------------------------------------------------------
# Packed bits and binary matmul (docs/packed-format.md)
# --------------------------------------------------------------------------------------------


def pack_bits(x: npt.ArrayLike) -> tuple[np.ndarray, int]:
    """Sign-binarize the last axis and pack it: -> (uint64 words (..., ceil(K/64)), K).

    Element i of a row is bit ``i % 64`` of word ``i // 64`` (LSB first); the bit is 1 exactly
    when ``x < 0`` (so +0.0, -0.0 and NaN pack as 0 = +1). Rows are zero-padded to whole words.
    """
    x = np.asarray(x)
    result_dtype(x)  # same TypeError rules as the quantizers
    if x.ndim == 0:
        raise ValueError("x: pack_bits needs at least 1 dimension")
    k = x.shape[-1]
    # Compare, never read the IEEE sign bit (that would turn -0.0 into -1).
    packed = np.packbits(x < 0, axis=-1, bitorder="little")  # (..., ceil(K/8)) bytes
    pad = -packed.shape[-1] % 8
    if pad:
        packed = np.pad(packed, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
    words = np.ascontiguousarray(packed).view("<u8")  # little-endian words, any host
    return words.astype(np.uint64, copy=False), k


def unpack_bits(words: npt.ArrayLike, k: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: float32 ±1 array of shape (..., k)."""
    if isinstance(words, np.ndarray):
        if words.dtype.kind != "u" or words.dtype.itemsize != 8:
            raise TypeError(f"words: expected a uint64 array, got {words.dtype}")
    else:
        words = np.asarray(words, dtype=np.uint64)
    if words.ndim == 0:
        raise ValueError("words: expected at least 1 dimension")
    k = operator.index(k)
    if not 0 <= k <= 64 * words.shape[-1]:
        raise ValueError(f"k: must be in 0..{64 * words.shape[-1]} for {words.shape[-1]} words")
    raw = np.ascontiguousarray(words.astype("<u8", copy=False)).view(np.uint8)
    bits = np.unpackbits(raw, axis=-1, count=k, bitorder="little")
    r: np.ndarray = np.where(bits != 0, np.float32(-1), np.float32(1))
    return r


def binary_matmul(a: npt.ArrayLike, b: npt.ArrayLike) -> np.ndarray:
    """Exact int32 C = sign(A) @ sign(B).T for A (M, K) and B (N, K).

    Binarized like :func:`pack_bits` (-1 where x < 0, else +1; NaN counts as +1), so it equals
    ``K - 2*popcount(a_row XOR b_row)`` on packed words.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    result_dtype(a)
    result_dtype(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"a, b: expected 2-D arrays, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a, b: inner dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    # float64 BLAS on ±1 is exact: every partial sum is an integer of magnitude <= K < 2**53.
    sa = np.where(a < 0, -1.0, 1.0)
    sb = np.where(b < 0, -1.0, 1.0)
    r: np.ndarray = (sa @ sb.T).astype(np.int32)
    return r


# --------------------------------------------------------------------------------------------
# Binary layers' output transform, convolution and max pooling (docs/binary.md)
# --------------------------------------------------------------------------------------------


def binary_output(
    dot: npt.ArrayLike, scale: npt.ArrayLike, bias: npt.ArrayLike, activation: str | None = None
) -> np.ndarray:
    """The float32 output of a binary layer from its integer dot products (last axis = channels):
    ``float32(float32(act(dot)) * scale) + bias``, each operation rounded to float32 on its own
    (NumPy's float32 ufuncs never fuse them). ``act``: None or ``"relu"`` (max(dot, 0))."""
    d = np.asarray(dot).astype(np.int64)
    if activation == "relu":
        d = np.maximum(d, 0)
    with np.errstate(invalid="ignore", over="ignore"):
        return d.astype(np.float32) * np.asarray(scale, np.float32) + np.asarray(bias, np.float32)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if np.ndim(v) == 0 else (int(v[0]), int(v[1]))


def _axis(size: int, taps: int, stride: int, dilation: int, padding: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one axis, TensorFlow's rules."""
    extent = (taps - 1) * dilation + 1
    if padding == "valid":
        return max((size - extent) // stride + 1, 0), 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0)
    return out, total // 2, total - total // 2


def binary_conv2d(
    x: npt.ArrayLike,
    kernel: npt.ArrayLike,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
    pad_values: float = 1.0,
    dilation_rate: int | tuple[int, int] = 1,
    groups: int = 1,
) -> np.ndarray:
    """int32 (N, OH, OW, O): the convolution of sign(x) (NHWC) with sign(kernel) (HWIO,
    (KH, KW, C // groups, O)), ``sign(v) = -1 if v < 0 else +1``. Padded positions hold
    ``pad_values`` (1.0: a +1 sign; 0.0: they contribute nothing). Output channel o of group
    g = o // (O // groups) sees input channels g * C // groups .. (g + 1) * C // groups - 1."""
    sx = np.where(np.asarray(x) < 0, -1.0, 1.0)
    sk = np.where(np.asarray(kernel) < 0, -1.0, 1.0)
    n, h, w, c = sx.shape
    kh, kw, cg, o = sk.shape
    if cg * groups != c or o % groups:
        raise ValueError(f"x: C = {c}, kernel {sk.shape}, groups = {groups} do not fit")
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation_rate)
    oh, pt, pb = _axis(h, kh, sh, dh, padding)
    ow, pl, pr = _axis(w, kw, sw, dw, padding)
    xp = np.pad(sx, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=float(pad_values))
    og = o // groups
    out = np.zeros((n, oh, ow, o))
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, ky * dh : ky * dh + (oh - 1) * sh + 1 : sh, kx * dw : kx * dw + (ow - 1) * sw + 1 : sw, :]
            for g in range(groups):
                # float64 products of +-1 and 0 are exact integers
                out[..., g * og : (g + 1) * og] += (
                    patch[..., g * cg : (g + 1) * cg] @ sk[ky, kx, :, g * og : (g + 1) * og]
                )
    return out.astype(np.int32)


def max_pool2d_signs(
    x: npt.ArrayLike,
    pool_size: int | tuple[int, int],
    strides: int | tuple[int, int] | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """float32 +-1 (N, OH, OW, C): max pooling of sign(x) (NHWC); "same" windows only see the
    input (padding is -inf, TensorFlow's max_pool)."""
    sx = np.where(np.asarray(x) < 0, -1.0, 1.0)
    n, h, w, c = sx.shape
    (ph, pw) = _pair(pool_size)
    (sh, sw) = _pair(pool_size if strides is None else strides)
    oh, pt, pb = _axis(h, ph, sh, 1, padding)
    ow, pl, pr = _axis(w, pw, sw, 1, padding)
    xp = np.pad(sx, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    out = np.full((n, oh, ow, c), -np.inf)
    for ky in range(ph):
        for kx in range(pw):
            out = np.maximum(out, xp[:, ky : ky + (oh - 1) * sh + 1 : sh, kx : kx + (ow - 1) * sw + 1 : sw, :])
    return out.astype(np.float32)
