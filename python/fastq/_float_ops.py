"""Float (fp32) layer operations on fastq's own native kernels (internal; used by ``fastq.models``).

Everything here is float32, NHWC for images, and runs on fastq's kernel tables and thread pool
(never NumPy's BLAS), with a contract that makes every result independent of the ISA, the thread
count and the batch an image is in (docs/float-ops.md):

- **Convolutions** (:class:`Conv2D`, :class:`DepthwiseConv2D`, :class:`Dense`): each output is
  ``acc = +0``, then ``acc = fma(x, w, acc)`` over its valid taps in the order (kh, kw, c) (one
  rounding per tap, as ``std::fma``); padding taps are skipped. Then the epilogue, each step
  rounded on its own (no FMA): ``y = acc * scale`` (if ``scale``), ``y = y + bias`` (if
  ``bias``), ``y = y < 0 ? 0 : y`` (if ``relu``). Batch norm can be folded into ``scale`` /
  ``bias`` or into the weights (the caller's choice; both are exact contracts).
- **Padding** ``"valid"`` or ``"same"`` (TensorFlow's: output ``ceil(in / stride)``, the smaller
  half of the padding at the top / left).
- **Pooling**: max over the valid taps (``m = x`` where ``x > m``: NaN taps
  are ignored, as in TensorFlow's CPU kernel); average = sum of the valid taps in
  (kh, kw) order from +0, divided by their count (Keras's ``"same"`` rule); global average = the
  sum over pixels in row-major order from +0, divided by h * w.
- **Pointwise**: ``add`` (a + b, optional relu), ``affine`` (x * scale + bias per last-axis
  channel, two roundings, optionally + a residual, optional relu), ``relu``; ``softmax`` over the last axis: m = max,
  e = exp(x - m) with fastq's own exp (identical on every ISA), s = float64 sum of e in a fixed
  order rounded to float32, y = e / s.

Arguments are validated (TypeError for a wrong dtype, ValueError for a wrong shape or parameter).
Activations must already be float32 and C-contiguous (no silent copies on the hot path); weights
are copied (converted to float32 once) when a layer object is built. ``out=`` takes a
preallocated float32 array of the result's shape; it must not share memory with the input,
except that the pointwise ops (``add``, ``affine``, ``relu``, ``softmax``) may write in place.

Every function and layer takes ``kernels=`` (a ``_core.Kernels``, e.g.
``_core.kernels_for("scalar")``) to pick an ISA table; the default is the active table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from . import _core

__all__ = [
    "Conv2D",
    "Dense",
    "DepthwiseConv2D",
    "add",
    "affine",
    "avg_pool2d",
    "fma_peak",
    "global_avg_pool2d",
    "max_pool2d",
    "relu",
    "same_padding",
    "softmax",
]

_F32 = np.dtype(np.float32)


def _kern(kernels: _core.Kernels | None) -> _core.Kernels:
    if kernels is None:
        return _core.active
    if not isinstance(kernels, _core.Kernels):
        raise TypeError(f"kernels: expected None or a fastq._core.Kernels, got {type(kernels).__name__}")
    return kernels


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        t = tuple(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {type(value).__name__}") from None
    if len(t) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in t):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if min(t) < 1:
        raise ValueError(f"{name}: expected values >= 1, got {value!r}")
    if max(t) >= 2**63:  # the native geometry is 64-bit
        raise ValueError(f"{name}: expected values below 2**63, got {value!r}")
    return (int(t[0]), int(t[1]))


def _padding(padding: object) -> str:
    if not isinstance(padding, str):
        raise TypeError(f"padding: expected 'valid' or 'same', got {type(padding).__name__}")
    p = padding.lower()
    if p not in ("valid", "same"):
        raise ValueError(f"padding: expected 'valid' or 'same', got {padding!r}")
    return p


@overload
def _weights(w: None, name: str, ndim: int) -> None: ...
@overload
def _weights(w: npt.ArrayLike, name: str, ndim: int) -> np.ndarray: ...
def _weights(w: npt.ArrayLike | None, name: str, ndim: int) -> np.ndarray | None:
    """Weights as a float32 C-contiguous array (copied once, at construction)."""
    if w is None:
        return None
    a = np.asarray(w)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a real array, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {a.shape}")
    return a


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int, int]:
    """TensorFlow's SAME rule for one dimension: (output size, padding before, padding after)."""
    out = -(-size // stride)
    span = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + span - size, 0) if out else 0
    return out, total // 2, total - total // 2


class _ConvBase:
    __slots__ = ("_plan", "dilation", "kernel_size", "padding", "strides")
    _plan_method: str  # the Kernels method that packs this kind's weights
    _plan: _core.FloatConvPlan
    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    dilation: tuple[int, int]
    padding: str

    def __init__(
        self,
        kernel: npt.ArrayLike,
        *,
        strides: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        padding: str = "valid",
        scale: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        relu: bool = False,
        kernels: _core.Kernels | None = None,
    ) -> None:
        k = _kern(kernels)
        w = _weights(kernel, "kernel", 4)
        self.kernel_size = (int(w.shape[0]), int(w.shape[1]))
        self.strides = _pair(strides, "strides")
        self.dilation = _pair(dilation, "dilation")
        self.padding = _padding(padding)
        self._plan = getattr(k, self._plan_method)(
            w,
            self.strides,
            self.dilation,
            self.padding,
            _weights(scale, "scale", 1),
            _weights(bias, "bias", 1),
            bool(relu),
        )

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """y = epilogue(conv(x)): x float32 (batch, h, w, in) C-contiguous -> float32 NHWC."""
        return self._plan(x, out)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of ``self(x)`` for an ``x`` of ``input_shape`` (NHWC)."""
        return tuple(self._plan.output_shape(tuple(int(s) for s in input_shape)))

    @property
    def isa(self) -> str:
        return self._plan.isa

    @property
    def in_channels(self) -> int:
        return self._plan.in_channels

    @property
    def out_channels(self) -> int:
        return self._plan.out_channels


class Conv2D(_ConvBase):
    """A float32 NHWC convolution with fixed weights, packed once for the kernels.

    kernel: (kh, kw, in, out) (Keras/TensorFlow's HWIO). strides, dilation: int or pair.
    padding: "valid" or "same". scale, bias: None or (out,) per output channel. relu: clamp
    below at 0 after the epilogue. See the module docstring for the exact arithmetic.
    """

    __slots__ = ()

    _plan_method = "conv2d_plan"


class DepthwiseConv2D(_ConvBase):
    """A float32 NHWC depthwise convolution: kernel (kh, kw, channels, multiplier), output
    channel ``c * multiplier + j`` from input channel ``c`` (Keras's layout). Other arguments as
    :class:`Conv2D`."""

    __slots__ = ()

    _plan_method = "depthwise_plan"


class Dense:
    """y = relu?((x @ W) * scale + bias) in float32 with W given as (in, out) (Keras's layout):
    the same arithmetic as a 1x1 convolution (one fma chain per output over ``in`` in order).
    x: float32 (..., in), C-contiguous."""

    __slots__ = ("_plan", "units")
    _plan: _core.FloatConvPlan
    units: int

    def __init__(
        self,
        kernel: npt.ArrayLike,
        *,
        bias: npt.ArrayLike | None = None,
        scale: npt.ArrayLike | None = None,
        relu: bool = False,
        kernels: _core.Kernels | None = None,
    ) -> None:
        k = _kern(kernels)
        w = _weights(kernel, "kernel", 2)
        self.units = int(w.shape[1])
        self._plan = k.conv2d_plan(
            w.reshape(1, 1, *w.shape),
            (1, 1),
            (1, 1),
            "valid",
            _weights(scale, "scale", 1),
            _weights(bias, "bias", 1),
            bool(relu),
        )

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x: expected a float32 NumPy array, got {type(x).__name__}")
        if x.ndim < 1:
            raise ValueError("x: expected at least 1 dimension, got a 0-d array")
        lead = x.shape[:-1]
        m = int(np.prod(lead, dtype=np.int64))
        if not x.flags.c_contiguous:
            raise ValueError("x: expected a C-contiguous array")
        x4 = x.reshape(m, 1, 1, x.shape[-1])  # a view
        o4 = None
        if out is not None:
            if not isinstance(out, np.ndarray):
                raise TypeError(f"out: expected a float32 NumPy array, got {type(out).__name__}")
            if out.shape != lead + (self.units,):
                raise ValueError(f"out: expected shape {lead + (self.units,)}, got {out.shape}")
            if not out.flags.c_contiguous:
                raise ValueError("out: expected a C-contiguous array")
            o4 = out.reshape(m, 1, 1, self.units)
        y = self._plan(x4, o4)
        return out if out is not None else y.reshape(lead + (self.units,))

    @property
    def isa(self) -> str:
        return self._plan.isa


def max_pool2d(
    x: np.ndarray,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "valid",
    *,
    relu: bool = False,
    out: np.ndarray | None = None,
    kernels: _core.Kernels | None = None,
) -> np.ndarray:
    """NHWC max pool (strides default to pool_size, as in Keras). relu=True computes
    relu(max(x)): the fused relu -> max-pool of QuickNet's transitions, equal to max(relu(x))
    except possibly the sign of a zero (and 0 instead of -inf for a window of NaN)."""
    ps = _pair(pool_size, "pool_size")
    st = ps if strides is None else _pair(strides, "strides")
    return _kern(kernels).max_pool2d(x, ps, st, _padding(padding), out, bool(relu))


def avg_pool2d(
    x: np.ndarray,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "valid",
    *,
    out: np.ndarray | None = None,
    kernels: _core.Kernels | None = None,
) -> np.ndarray:
    """NHWC average pool over the valid taps (strides default to pool_size)."""
    ps = _pair(pool_size, "pool_size")
    st = ps if strides is None else _pair(strides, "strides")
    return _kern(kernels).avg_pool2d(x, ps, st, _padding(padding), out)


def global_avg_pool2d(
    x: np.ndarray, *, out: np.ndarray | None = None, kernels: _core.Kernels | None = None
) -> np.ndarray:
    """(n, h, w, c) -> (n, c)."""
    return _kern(kernels).global_avg_pool2d(x, out)


def add(
    a: np.ndarray,
    b: np.ndarray,
    *,
    relu: bool = False,
    out: np.ndarray | None = None,
    kernels: _core.Kernels | None = None,
) -> np.ndarray:
    """a + b (same shape, no broadcasting), then relu if asked. out may be a or b."""
    return _kern(kernels).add(a, b, bool(relu), out)


def affine(
    x: np.ndarray,
    scale: npt.ArrayLike | None = None,
    bias: npt.ArrayLike | None = None,
    *,
    residual: np.ndarray | None = None,
    relu: bool = False,
    out: np.ndarray | None = None,
    kernels: _core.Kernels | None = None,
) -> np.ndarray:
    """((x * scale) + bias) + residual per last-axis channel, each step rounded on its own, then
    relu if asked: batch norm (folded to scale / bias), optionally fused with the residual add
    that follows it (Keras's ``BN(x) + r`` in one pass). scale, bias: None or float32
    (channels,), read in place when float32 and contiguous. residual: None or float32 of x's
    shape. out may be x or residual."""
    return _kern(kernels).affine(x, _weights(scale, "scale", 1), _weights(bias, "bias", 1), bool(relu), out, residual)


def relu(x: np.ndarray, *, out: np.ndarray | None = None, kernels: _core.Kernels | None = None) -> np.ndarray:
    """x < 0 ? 0 : x (-0.0 and NaN pass through). out may be x."""
    return _kern(kernels).affine(x, None, None, True, out, None)


def softmax(x: np.ndarray, *, out: np.ndarray | None = None, kernels: _core.Kernels | None = None) -> np.ndarray:
    """Softmax over the last axis (see the module docstring). out may be x."""
    return _kern(kernels).softmax(x, out)


def fma_peak(seconds: float = 0.2, *, kernels: _core.Kernels | None = None) -> float:
    """The one-core fp32 FMA peak of a table's conv inner step, FLOP/s (2 per FMA lane)."""
    return _kern(kernels).fma_peak(seconds)
