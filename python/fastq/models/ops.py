"""The ops a compiled model runs, on fastq's native kernels (the Model's default).

Same interface as :mod:`fastq.models.reference_ops` (the NumPy reference, kept for the tests'
cross-checks and for the few layers without a native kernel), same constructor arguments::

    op.output_shape(in_shapes) -> shape of one image's result (in_shapes: one image's shapes)
    op.storage(shape)          -> (array shape, dtype) of the buffer holding a batch of results
    op.macs(in_shapes)         -> multiply-accumulates per image (for summary())
    op.run(inputs, out)        -> None: writes into ``out``, a buffer of the executor's pool

Bits between binary layers are **packed words**: a uint64 array ``(batch, h, w, ceil(c / 64))``
(``fastq.PackedBits``'s layout, bit = value < 0), written by a binary op with packed output and
read by the next binary op, never unpacked.

- Binary convolutions and dense layers: :class:`fastq.BinaryConv2D` / :class:`fastq.BinaryDense`
  plans (kernel packed once, ``pre_relu`` = their ``activation="relu"`` on the integer dot,
  float ``y = float32(act(dot) * scale) + bias`` or its packed signs). ``post_relu`` with float
  output is one more native relu pass; with packed output it is all +1 (relu(y) is never < 0).
  A residual Add after a binary conv (QuickNet, Bi-Real Net shortcuts) is fused into its output
  transform when the shortcut is already computed: ``(y + r)``, one more rounding, as Keras. Bit
  for bit the reference's results.
- Float convolutions, depthwise, dense, batch norm (affine), add, relu, softmax, max / average /
  global average pooling: :mod:`fastq._float_ops` (docs/float-ops.md: a fixed fma order per
  output, identical on every ISA, thread count and batch). Their results agree with the
  reference to rounding only (the reference sums each tap with a BLAS product).
- Without a native kernel, so the reference runs them: grouped float convolutions, float
  convolutions padded with a non-zero value, relu with max_value / negative_slope / threshold,
  sigmoid, tanh, and the memory-only ops (reshape, concatenate, zero padding, constants).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from .. import _float_ops as _f
from ..binary import BinaryDense as _BinaryDense
from ..conv import BinaryConv2D as _BinaryConv2D
from . import reference_ops as _ref
from .reference_ops import (  # noqa: F401
    BITS,
    F32,
    Binary,
    Concatenate,
    Op,
    Quantize,
    Reshape,
    Scalar,
    ZeroPadding2D,
    conv_geometry,
    same_padding,
)

WORDS = np.dtype(np.uint64)


def _words(c: int) -> int:
    return -(-c // 64)


def _f32_vector(v: npt.ArrayLike | None, n: int, default: float) -> np.ndarray:
    vec: np.ndarray = np.broadcast_to(np.float32(default) if v is None else np.asarray(v, np.float32), (n,)).copy()
    return vec


# -- binary ---------------------------------------------------------------------------------------
class _BinaryOp(Op):
    kind = "binary"
    packed_output: bool
    post_relu: bool

    def storage(self, shape: Sequence[int]) -> tuple[tuple[int, ...], np.dtype[Any]]:
        if self.packed_output:
            return tuple(shape[:-1]) + (_words(shape[-1]),), WORDS
        return tuple(shape), F32

    @property
    def out_dtype(self) -> np.dtype[Any]:  # type: ignore[override]  # derived here, an attribute on Op
        return WORDS if self.packed_output else F32

    def _finish(self, out: np.ndarray) -> None:
        if self.post_relu:
            _f.relu(out, out=out)


class BinaryConv2D(_BinaryOp):
    """``y = post_relu(pre_relu(dot) * scale + bias)``: see the reference's BinaryConv2D."""

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        kernel: npt.ArrayLike,
        strides: Sequence[int] = (1, 1),
        padding: str = "valid",
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
        pad_values: float = 1.0,
        scale: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        pre_relu: bool = False,
        post_relu: bool = False,
        packed_output: bool = False,
    ) -> None:
        super().__init__(name, inputs)
        kernel = np.asarray(kernel, np.float32)
        self.ksize, self.cout, self.cin = kernel.shape[:2], kernel.shape[3], kernel.shape[2] * int(groups)
        self.strides, self.padding, self.dilation = tuple(strides), padding, tuple(dilation)
        self.scale, self.bias = _f32_vector(scale, self.cout, 1), _f32_vector(bias, self.cout, 0)
        self.pre_relu, self.post_relu = bool(pre_relu), bool(post_relu)
        self.packed_output = bool(packed_output)
        # packed relu(y) is all +1: no convolution to run (the zero words are written in run).
        self._layer = _BinaryConv2D(
            kernel,
            strides=self.strides,
            padding=padding,
            pad_values=1.0 if pad_values else 0.0,
            dilation_rate=self.dilation,
            groups=int(groups),
            scale=self.scale,
            bias=self.bias,
            activation="relu" if self.pre_relu else None,
            packed_output=self.packed_output,
        )
        self._plan = self._layer._plan

    def describe(self) -> str:
        return "BinaryConv2D" + (" -> bits" if self.packed_output else "") + (" + Add" if len(self.inputs) > 1 else "")

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        h, w, _ = in_shapes[0]
        _, (oh, ow) = conv_geometry((h, w), self.ksize, self.strides, self.dilation, self.padding)
        return (oh, ow, self.cout)

    def macs(self, in_shapes: Sequence[tuple[int, ...]]) -> int:
        oh, ow, co = self.output_shape(in_shapes)
        return int(oh * ow * co * self.ksize[0] * self.ksize[1] * (self.cin // self._layer.groups))

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        if self.packed_output and self.post_relu:
            out[...] = 0
            return
        if len(inputs) > 1:  # a fused residual Add (the compiler never combines it with post_relu)
            self._plan(inputs[0], out, inputs[1])
        else:
            self._plan(inputs[0], out)
        self._finish(out)

    def __reduce__(self) -> tuple[Any, ...]:  # the plan is rebuilt from the layer (which pickles)
        state = {k: v for k, v in self.__dict__.items() if k != "_plan"}
        return (_restore, (type(self), state))


class BinaryDense(_BinaryOp):
    """``y = post_relu(pre_relu(sign(x) . sign(kernel)) * scale + bias)`` on the last axis."""

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        kernel: npt.ArrayLike,
        scale: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        pre_relu: bool = False,
        post_relu: bool = False,
        packed_output: bool = False,
    ) -> None:
        super().__init__(name, inputs)
        kernel = np.asarray(kernel, np.float32)  # (in, units), Keras's layout
        self.units = kernel.shape[1]
        self.in_features = kernel.shape[0]
        self.scale, self.bias = _f32_vector(scale, self.units, 1), _f32_vector(bias, self.units, 0)
        self.pre_relu, self.post_relu = bool(pre_relu), bool(post_relu)
        self.packed_output = bool(packed_output)
        self._layer = _BinaryDense(
            np.ascontiguousarray(kernel.T),
            self.scale,
            self.bias,
            packed_output=self.packed_output,
            activation="relu" if self.pre_relu else None,
        )

    def describe(self) -> str:
        return "BinaryDense" + (" -> bits" if self.packed_output else "")

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        return in_shapes[0][:-1] + (self.units,)

    def macs(self, in_shapes: Sequence[tuple[int, ...]]) -> int:
        return int(np.prod(in_shapes[0][:-1], dtype=np.int64)) * int(self.units) * int(self.in_features)

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        if self.packed_output:
            if self.post_relu:
                out[...] = 0
            else:  # the dense plan allocates packed output (a few words per image)
                np.copyto(out, self._layer._plan(inputs[0], None))
            return
        self._layer._plan(inputs[0], out)
        self._finish(out)


def _restore(cls: type[Any], state: dict[str, Any]) -> Any:
    op = object.__new__(cls)
    op.__dict__.update(state)
    op._plan = op._layer._plan
    return op


# -- float ----------------------------------------------------------------------------------------
class _Rebuilt:
    """Pickles without the native plan and rebuilds it (``_build``) when unpickled; runs the
    native plan, or the reference op (the next class in the subclass's MRO) where there is none."""

    _native: Any

    def _build(self) -> None:  # each subclass makes its native plan
        raise NotImplementedError

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        if self._native is None:
            super().run(inputs, out)  # type: ignore[misc]  # the reference op's run
        else:
            self._native(inputs[0], out)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_native"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()


class Conv2D(_Rebuilt, _ref.Conv2D):
    """Float convolution on the native kernels (the reference for groups > 1 or non-zero padding)."""

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        kernel: npt.ArrayLike,
        bias: npt.ArrayLike | None = None,
        strides: Sequence[int] = (1, 1),
        padding: str = "valid",
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
        activation: str | None = None,
        pad_value: float = 0.0,
        scale: npt.ArrayLike | None = None,
    ) -> None:
        super().__init__(name, inputs, kernel, bias, strides, padding, dilation, groups, activation, pad_value, scale)
        self._build()

    def _build(self) -> None:
        self._native = None
        if self.groups == 1 and (self.pad_value == 0.0 or self.padding == "valid"):
            self._native = _f.Conv2D(
                self.kernel,
                strides=self.strides,
                dilation=self.dilation,
                padding=self.padding,
                scale=self.scale,
                bias=self.bias,
                relu=self.activation == "relu",
            )


class DepthwiseConv2D(_Rebuilt, _ref.DepthwiseConv2D):
    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        kernel: npt.ArrayLike,
        bias: npt.ArrayLike | None = None,
        strides: Sequence[int] = (1, 1),
        padding: str = "valid",
        dilation: Sequence[int] = (1, 1),
        activation: str | None = None,
        pad_value: float = 0.0,
        scale: npt.ArrayLike | None = None,
    ) -> None:
        super().__init__(name, inputs, kernel, bias, strides, padding, dilation, activation, pad_value, scale)
        self._build()

    def _build(self) -> None:
        self._native = None
        if self.pad_value == 0.0 or self.padding == "valid":
            self._native = _f.DepthwiseConv2D(
                self.kernel,
                strides=self.strides,
                dilation=self.dilation,
                padding=self.padding,
                scale=self.scale,
                bias=self.bias,
                relu=self.activation == "relu",
            )


class Dense(_Rebuilt, _ref.Dense):
    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        kernel: npt.ArrayLike,
        bias: npt.ArrayLike | None = None,
        activation: str | None = None,
    ) -> None:
        super().__init__(name, inputs, kernel, bias, activation)
        self._build()

    def _build(self) -> None:
        self._native = _f.Dense(self.kernel, bias=self.bias, relu=self.activation == "relu")

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        self._native(inputs[0], out)


class Affine(_ref.Affine):
    """Batch norm ``x * scale + bias`` (two roundings), optionally ``+ residual`` (a fused Add:
    Keras's ``BN(x) + r``, one more rounding), then relu."""

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        scale: npt.ArrayLike | None,
        bias: npt.ArrayLike | None,
        activation: str | None = None,
    ) -> None:
        super().__init__(name, inputs, scale, bias, activation)
        self.scale = np.ascontiguousarray(self.scale)
        self.bias = np.ascontiguousarray(self.bias)

    def describe(self) -> str:
        return "BatchNorm" + (" + Add" if len(self.inputs) > 1 else "")

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        _f.affine(
            inputs[0],
            self.scale,
            self.bias,
            residual=inputs[1] if len(inputs) > 1 else None,
            relu=self.activation == "relu",
            out=out,
        )


class Activation(_ref.Activation):
    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        if self.fn == "relu" and self.max_value is None and self.negative_slope == 0.0 and self.threshold == 0.0:
            _f.relu(x, out=out)
        elif self.fn == "softmax":
            _f.softmax(x, out=out)
        else:
            super().run(inputs, out)


class Add(_ref.Add):
    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        _f.add(inputs[0], inputs[1], out=out)
        for x in inputs[2:]:
            _f.add(out, x, out=out)


class MaxPool2D(_ref.MaxPool2D):
    """Max pool of float32 (native; ``relu=True`` after a fused relu) or of packed words (native:
    the AND of each window's words; ``invert``'s channels: the OR, as NOT AND NOT, the input's
    words flipped there for the pool and flipped back)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        if self.packed:
            self.out_dtype = WORDS
        self._mask: np.ndarray | None = None
        if self.invert is not None:  # the channels' bits in the packed layout
            c = len(self.invert)
            bits = np.zeros(_words(c) * 64, np.bool_)
            bits[:c] = self.invert
            self._mask = np.packbits(bits.reshape(-1, 8), axis=1, bitorder="little").reshape(-1).view("<u8")
            self._mask = self._mask.astype(WORDS)

    def storage(self, shape: Sequence[int]) -> tuple[tuple[int, ...], np.dtype[Any]]:
        if self.packed:
            return (*shape[:-1], _words(shape[-1])), WORDS
        return tuple(shape), F32

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        if x.dtype == WORDS:
            m = self._mask
            if m is not None:
                np.bitwise_xor(x, m, out=x)
            try:
                _core.active.max_pool2d(x, self.pool_size, self.strides, self.padding, out)
            finally:
                if m is not None:
                    np.bitwise_xor(x, m, out=x)
            if m is not None:
                np.bitwise_xor(out, m, out=out)
        else:
            _f.max_pool2d(x, self.pool_size, self.strides, self.padding, relu=self.relu, out=out)


class AvgPool2D(_ref.AvgPool2D):
    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        _f.avg_pool2d(inputs[0], self.pool_size, self.strides, self.padding, out=out)


class GlobalAvgPool2D(_ref.GlobalAvgPool2D):
    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        _f.global_avg_pool2d(inputs[0], out=out.reshape(out.shape[0], -1))
