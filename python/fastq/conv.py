"""Binary convolution and packed max pooling on NHWC bits (the contract: docs/binary.md).

``binary_conv2d`` is larq's ``QuantConv2D`` on ±1 inputs and kernels, computed exactly with
XNOR-popcount on packed channels; ``BinaryConv2D`` is the inference layer (kernel packed once,
folded batch norm as ``scale``/``bias``, optional ReLU, float32 or packed output);
``binary_max_pool2d`` max-pools packed signs (an AND of words).

    >>> import numpy as np, fastq
    >>> x = np.random.default_rng(0).standard_normal((1, 8, 8, 64), dtype=np.float32)
    >>> k = np.random.default_rng(1).standard_normal((3, 3, 64, 32), dtype=np.float32)
    >>> fastq.binary_conv2d(x, k, padding="same").shape
    (1, 8, 8, 32)
    >>> layer = fastq.BinaryConv2D(k, padding="same", activation="relu", packed_output=True)
    >>> fastq.binary_max_pool2d(layer(x), 2)
    PackedBits(shape=(1, 4, 4, 32), k=32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._arrays import as_input, reject_subclass
from .binary import PackedBits, _is_work, _values, _wrap, pack_bits

__all__ = ["BinaryConv2D", "binary_conv2d", "binary_max_pool2d"]

_F32 = np.dtype(np.float32)


def _pair(value: Any, name: str) -> tuple[int, int]:
    """An int or a pair of ints, each >= 1 -> (h, w)."""
    items = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {type(value).__name__}") from None
    if len(items) != 2 or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in items):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if any(v < 1 for v in items):
        raise ValueError(f"{name}: expected integers >= 1, got {value!r}")
    if any(v >= 2**63 for v in items):  # the native geometry is 64-bit
        raise ValueError(f"{name}: expected integers below 2**63, got {value!r}")
    return int(items[0]), int(items[1])


def _padding(value: object) -> str:
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"padding: expected 'valid' or 'same', got {value!r}")
    return value.lower()


def _pad_values(value: object) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"pad_values: expected 0.0 or 1.0, got {type(value).__name__}")
    if value not in (0.0, 1.0):
        raise ValueError(f"pad_values: expected 0.0 or 1.0 (padded taps count as 0 or as +1), got {value!r}")
    return float(value)


def _groups(value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"groups: expected an int >= 1, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"groups: expected an int >= 1, got {value}")
    return int(value)


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def _activation(value: object) -> str | None:
    if value is None or value == "linear":
        return None
    if value == "relu":
        return "relu"
    raise ValueError(f"activation: expected None, 'linear' or 'relu', got {value!r}")


def _kernel(kernel: object, groups: int, keep: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(kernel as a read-only array (keep=False: the converted kernel, maybe the caller's own
    array, not to be stored), its packed words (O, KH, KW, ceil(Cg / 64)))."""
    if isinstance(kernel, PackedBits):
        raise TypeError("kernel: expected a float (KH, KW, C // groups, O) array; pass the unpacked kernel")
    if not isinstance(kernel, np.ndarray):
        if isinstance(kernel, (str, bytes, dict, set)) or kernel is None:
            raise TypeError(f"kernel: expected a float (KH, KW, C // groups, O) array, got {type(kernel).__name__}")
        kernel = np.asarray(kernel)
    if kernel.dtype.kind not in "fiu":
        raise TypeError(f"kernel: expected a float (KH, KW, C // groups, O) array, got dtype {kernel.dtype}")
    if kernel.ndim != 4:
        raise ValueError(f"kernel: expected a 4-D HWIO array (KH, KW, C // groups, O), got shape {kernel.shape}")
    kh, kw, cg, o = kernel.shape
    if kh == 0 or kw == 0 or cg == 0:
        raise ValueError(f"kernel: expected at least 1 x 1 taps and 1 input channel, got shape {kernel.shape}")
    if o % groups:
        raise ValueError(f"groups: the kernel's O = {o} output channels do not split into {groups} groups")
    if kh * kw * cg >= 2**31:  # the kernels' limit on K, checked before the kernel is copied
        raise ValueError(f"kernel: KH * KW * C // groups must be < 2**31, got shape {kernel.shape}")
    work, _ = as_input(kernel, "kernel")
    words = pack_bits(work.transpose(3, 0, 1, 2)).words  # (O, KH, KW, words): one row per output channel
    if not keep:
        return work, words
    stored = np.array(work, copy=True)
    stored.flags.writeable = False
    return stored, words


def _conv_input(
    x: object, channels: int, plan: Any, out: np.ndarray | None, residual: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, out) -> what the plan takes: x's packed words (PackedBits) or a float32/float64
    C-contiguous array; out as given, or when x has to be converted (copied), checked with
    residual against the plan (or allocated) first: validation from shapes before any copy."""
    if type(x) is PackedBits:
        if x.ndim != 4:
            raise ValueError(f"x: expected a 4-D NHWC operand (N, H, W, C), got PackedBits shape {x.shape}")
        if x.k != channels:
            raise ValueError(f"x: expected C = {channels} channels, got a PackedBits of shape {x.shape} (k = {x.k})")
        return x._words, out
    x = _values(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x: expected a 4-D NHWC array (N, H, W, C), got shape {x.shape}")
    if x.shape[3] != channels:
        raise ValueError(f"x: expected C = {channels} channels (NHWC, channels last), got shape {x.shape}")
    if not _is_work(x):
        out = plan.output(x.shape, out, residual)
    return as_input(x, "x")[0], out


def _in_channels(x: object) -> int:
    if isinstance(x, PackedBits):
        return x.k if x.ndim == 4 else -1
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fi":
        return -1  # _conv_input names what is wrong with it
    return x.shape[3] if x.ndim == 4 else -1


def binary_conv2d(
    x: PackedBits | npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    strides: int | Sequence[int] = 1,
    padding: str = "valid",
    pad_values: float = 1.0,
    dilation_rate: int | Sequence[int] = 1,
    groups: int = 1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """int32 ``(N, OH, OW, O)``: the convolution of ``sign(x)`` with ``sign(kernel)``, exactly.

    ``x``: float ``(N, H, W, C)`` (NHWC) or its :class:`PackedBits` (``pack_bits(x)``).
    ``kernel``: float ``(KH, KW, C // groups, O)`` (HWIO, as Keras/larq store it), packed on
    every call (build a :class:`BinaryConv2D` to pack it once). ``sign(0) = +1``.
    ``strides``, ``dilation_rate``: an int or a pair. ``padding``: ``"valid"`` or ``"same"``
    (TensorFlow's split: top/left gets ``floor(total / 2)``). ``pad_values``: 1.0, padded taps
    are +1 (larq's default); 0.0, they contribute 0 (Keras convolving ``sign(x)`` zero-padded).
    ``groups``: grouped convolution (C and O divisible by it). ``out``: an optional C-contiguous
    int32 array of the result's shape to write into.
    """
    groups = _groups(groups)
    reject_subclass(out, "out")
    strides, dilation = _pair(strides, "strides"), _pair(dilation_rate, "dilation_rate")
    padding, pad_values = _padding(padding), _pad_values(pad_values)
    c = _in_channels(x)
    if c >= 0 and c % groups:
        raise ValueError(f"groups: x's C = {c} channels do not split into {groups} groups")
    kshape = np.shape(kernel) if isinstance(kernel, np.ndarray) else None
    if c >= 0 and kshape is not None and len(kshape) == 4 and c != kshape[2] * groups:  # before packing it
        raise ValueError(
            f"kernel: expected C // groups = {c // groups} input channels (x has C = {c}, "
            f"groups = {groups}), got kernel shape {kshape}"
        )
    _, words = _kernel(kernel, groups, keep=False)
    cg = np.shape(kernel)[2]
    if c >= 0 and c != cg * groups:
        raise ValueError(
            f"kernel: expected C // groups = {c // groups} input channels (x has C = {c}, "
            f"groups = {groups}), got kernel shape {np.shape(kernel)}"
        )
    plan = _core.active.conv_plan(words, cg, groups, strides, dilation, padding, pad_values == 0.0, "dots")
    return plan(*_conv_input(x, cg * groups, plan, out))


_READ_ONLY = (
    "kernel",
    "strides",
    "padding",
    "pad_values",
    "dilation_rate",
    "groups",
    "scale",
    "bias",
    "activation",
    "packed_output",
    "filters",
    "kernel_size",
    "in_channels",
)


class BinaryConv2D:
    """Inference layer: ``y = activation(conv(sign(x), sign(kernel))) * scale + bias`` per output channel.

    Args:
        kernel: float ``(KH, KW, C // groups, O)`` (HWIO); packed once, into the kernels' layout.
        strides, padding, pad_values, dilation_rate, groups: as :func:`binary_conv2d`.
        scale, bias: None, a scalar or one value per output channel (shape ``(O,)``), stored as
            float32: the folded batch norm (and larq's magnitude-aware kernel scale). Defaults 1, 0.
        activation: None or ``"relu"``, applied to the integer dot product (larq's
            ``QuantConv2D(activation="relu")`` followed by a folded BatchNormalization).
        packed_output: return the packed signs of ``y`` (a :class:`PackedBits`, bit = ``y < 0``)
            for the next binary layer instead of float32 ``y``.

    ``layer(x)``: ``x`` float NHWC ``(N, H, W, C)`` (sign + pack fused into the input pass) or a
    :class:`PackedBits` of one. Float output is ``float32(float32(act(dot)) * scale) + bias``,
    two float32 roundings and no fused multiply-add; packed output is bit for bit the signs of
    that float (by integer thresholds per channel). ``layer(x, out=...)``: a C-contiguous float32
    ``(N, OH, OW, O)`` array, or with ``packed_output`` a uint64 ``(N, OH, OW, ceil(O / 64))`` array
    of words. Parameters are read-only: build a new layer to change one. Pickles.
    """

    __slots__ = (
        "_activation",
        "_bias",
        "_dilation_rate",
        "_groups",
        "_kernel",
        "_packed_output",
        "_pad_values",
        "_padding",
        "_plan",
        "_scale",
        "_strides",
    )

    _activation: str | None
    _bias: np.ndarray
    _dilation_rate: tuple[int, int]
    _groups: int
    _kernel: np.ndarray
    _packed_output: bool
    _pad_values: float
    _padding: str
    _plan: _core.ConvPlan
    _scale: np.ndarray
    _strides: tuple[int, int]

    def __init__(
        self,
        kernel: npt.ArrayLike,
        *,
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        pad_values: float = 1.0,
        dilation_rate: int | Sequence[int] = 1,
        groups: int = 1,
        scale: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        activation: str | None = None,
        packed_output: bool = False,
    ) -> None:
        from .binary import _per_unit

        groups = _groups(groups)
        # Every parameter is checked before the kernel is copied and packed (it may be a huge view).
        init = {
            "_strides": _pair(strides, "strides"),
            "_padding": _padding(padding),
            "_pad_values": _pad_values(pad_values),
            "_dilation_rate": _pair(dilation_rate, "dilation_rate"),
            "_groups": groups,
            "_activation": _activation(activation),
            "_packed_output": _bool(packed_output, "packed_output"),
        }
        if isinstance(kernel, np.ndarray) and kernel.ndim == 4:
            _per_unit(scale, kernel.shape[3], 1.0, "scale")
            _per_unit(bias, kernel.shape[3], 0.0, "bias")
        kernel, words = _kernel(kernel, groups)
        o = kernel.shape[3]
        init.update(_kernel=kernel, _scale=_per_unit(scale, o, 1.0, "scale"), _bias=_per_unit(bias, o, 0.0, "bias"))
        for name, value in init.items():
            object.__setattr__(self, name, value)
        plan = _core.active.conv_plan(
            words,
            kernel.shape[2],
            groups,
            self._strides,
            self._dilation_rate,
            self._padding,
            self._pad_values == 0.0,
            "signs" if self._packed_output else "affine",
            self._scale,
            self._bias,
            self._activation == "relu",
        )
        object.__setattr__(self, "_plan", plan)

    kernel = property(lambda self: self._kernel, doc="The kernel (KH, KW, C // groups, O), read-only.")
    strides = property(lambda self: self._strides)
    padding = property(lambda self: self._padding)
    pad_values = property(lambda self: self._pad_values)
    dilation_rate = property(lambda self: self._dilation_rate)
    groups = property(lambda self: self._groups)
    scale = property(lambda self: self._scale, doc="float32 (O,), read-only.")
    bias = property(lambda self: self._bias, doc="float32 (O,), read-only.")
    activation = property(lambda self: self._activation)
    packed_output = property(lambda self: self._packed_output)
    filters = property(lambda self: self._kernel.shape[3], doc="O, the number of output channels.")
    kernel_size = property(lambda self: self._kernel.shape[:2])
    in_channels = property(lambda self: self._kernel.shape[2] * self._groups, doc="C.")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{name} is read-only: build a new BinaryConv2D")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{name} is read-only: build a new BinaryConv2D")

    def __call__(
        self, x: PackedBits | npt.ArrayLike, out: np.ndarray | None = None, residual: np.ndarray | None = None
    ) -> np.ndarray | PackedBits:
        """``residual`` (float output only): a float32 ``(N, OH, OW, O)`` array added after the
        bias, ``y = (float32(act(dot)) * scale + bias) + residual``, each step rounded (a fused
        residual Add; it may be ``x`` or ``out`` itself, and must not overlap ``out`` otherwise)."""
        reject_subclass(out, "out")
        reject_subclass(residual, "residual")
        if residual is not None and self._packed_output:
            raise ValueError("residual: only for float32 output (this layer has packed_output=True)")
        given = out
        xin, out = _conv_input(x, self.in_channels, self._plan, out, residual)
        if not self._packed_output:
            return self._plan(xin, out, residual)
        words = self._plan(xin, out)
        if given is None:
            return _wrap(words, self.filters)
        view = words.view()
        view.flags.writeable = False
        p = object.__new__(PackedBits)
        p._words, p._k = view, self.filters
        return p

    def get_config(self) -> dict[str, Any]:
        """The layer's hyperparameters (JSON-serialisable; the arrays are ``kernel``, ``scale``, ``bias``)."""
        return {
            "filters": int(self.filters),
            "kernel_size": list(self.kernel_size),
            "strides": list(self._strides),
            "padding": self._padding,
            "pad_values": self._pad_values,
            "dilation_rate": list(self._dilation_rate),
            "groups": self._groups,
            "activation": self._activation,
            "packed_output": self._packed_output,
        }

    def __repr__(self) -> str:
        kh, kw = self.kernel_size
        return (
            f"BinaryConv2D(filters={self.filters}, kernel_size=({kh}, {kw}), in_channels={self.in_channels}, "
            f"strides={self._strides}, padding={self._padding!r}, pad_values={self._pad_values}, "
            f"dilation_rate={self._dilation_rate}, groups={self._groups}, activation={self._activation!r}, "
            f"packed_output={self._packed_output})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        cfg = {
            k: self.get_config()[k]
            for k in ("strides", "padding", "pad_values", "dilation_rate", "groups", "activation", "packed_output")
        }
        return (_binary_conv2d_layer, (self._kernel, self._scale, self._bias, cfg))


def _binary_conv2d_layer(kernel: np.ndarray, scale: np.ndarray, bias: np.ndarray, cfg: dict[str, Any]) -> BinaryConv2D:
    return BinaryConv2D(kernel, scale=scale, bias=bias, **cfg)


def binary_max_pool2d(
    x: PackedBits,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "valid",
) -> PackedBits:
    """Max pooling of packed NHWC signs: ``pack_bits(max_pool2d(unpack(x)))``, bit for bit.

    ``x``: a :class:`PackedBits` of shape ``(N, H, W, C)``. The max of ±1 values is -1 only where
    every tap is -1, so each output word is the AND of its window's words. ``pool_size``,
    ``strides`` (default: ``pool_size``): an int or a pair. ``padding``: ``"valid"`` or
    ``"same"`` (TensorFlow's split; windows are clipped at the border, padding never wins).
    """
    if not isinstance(x, PackedBits):
        raise TypeError(
            f"x: expected a PackedBits of NHWC signs (pack_bits of an (N, H, W, C) array), got {type(x).__name__}"
        )
    if x.ndim != 4:
        raise ValueError(f"x: expected a 4-D NHWC operand (N, H, W, C), got PackedBits shape {x.shape}")
    pool = _pair(pool_size, "pool_size")
    strides = pool if strides is None else _pair(strides, "strides")
    words = _core.active.max_pool2d(x._words, pool, strides, _padding(padding))
    return _wrap(words, x.k)
