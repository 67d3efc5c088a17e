"""The NumPy reference implementation of the ops a compiled model runs (fastq.models.ops holds the
native ones the Model uses; the tests cross-check the two on random graphs and zoo blocks).

An op takes batch-first arrays and writes its result into ``out`` (a buffer of the executor's
pool, shape and dtype given by ``op.storage((batch,) + output_shape)``)::

    op.output_shape(in_shapes) -> shape of one image's result (in_shapes: one image's shapes)
    op.storage(shape)          -> (array shape, dtype) of the buffer holding a batch of results
    op.macs(in_shapes)         -> multiply-accumulates per image (for summary())
    op.run(inputs, out)        -> None

Values are float32, or *bits* (here: dtype bool, True where the value is negative: the sign of
the value, the convention of ``fastq.pack_bits``; the native ops use packed uint64 words) between
a binary op that emits packed output and the binary op that consumes it.

These implementations are plain NumPy, written for exactness and determinism, not speed:

- binary products are computed on ±1 (and 0 for zero padding) values in float32, whose sums are
  exact integers (below 2**24), so their order does not matter;
- float ops loop over the images of the batch and sum convolution taps in a fixed order, each
  tap one float32 matrix product of the same shape for every image: an image's result does not
  depend on the batch it is in.

Binary ops compute ``post_relu(pre_relu(dot) * scale + bias)``: ``pre_relu`` clamps the integer
dot at 0 before the scale (QuickNet's conv -> relu -> batch norm), ``post_relu`` is a relu after
scale/bias. Binary results equal the native ops' bit for bit; float results agree to rounding
(the native float kernels sum in their own documented order, docs/float-ops.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

BITS = np.dtype(np.bool_)
F32 = np.dtype(np.float32)


# -- helpers --------------------------------------------------------------------------------------
def same_padding(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME split along one axis: (before, after), before = floor(total / 2)."""
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def conv_geometry(
    hw: Sequence[int], ksize: Sequence[int], strides: Sequence[int], dilation: Sequence[int], padding: str
) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """((pad_top, pad_bottom), (pad_left, pad_right)), (out_h, out_w) of a 2-D window op."""
    pads, out = [], []
    for size, k, s, d in zip(hw, ksize, strides, dilation):
        eff = (k - 1) * d + 1
        if padding == "same":
            p = same_padding(size, k, s, d)
            o = -(-size // s)
        else:
            p = (0, 0)
            o = (size - eff) // s + 1
            if o <= 0:
                raise ValueError(f"window {k} (dilation {d}) larger than the input size {size}")
        pads.append(p)
        out.append(o)
    return tuple(pads), tuple(out)


def _taps(
    xp: np.ndarray, ksize: Sequence[int], strides: Sequence[int], dilation: Sequence[int], out_hw: Sequence[int]
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (i, j, view) for each kernel tap in row-major order: view (out_h, out_w, C)."""
    (sh, sw), (dh, dw), (oh, ow) = strides, dilation, out_hw
    for i in range(ksize[0]):
        for j in range(ksize[1]):
            yield i, j, xp[i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw, :]


def _pad_image(x: np.ndarray, pads: tuple[tuple[int, int], ...], value: float) -> np.ndarray:
    if pads == ((0, 0), (0, 0)):
        return x
    return np.pad(x, (pads[0], pads[1], (0, 0)), constant_values=np.asarray(value, x.dtype))


def _activate(y: np.ndarray, activation: str | None) -> None:
    if activation == "relu":
        np.maximum(y, 0, out=y)
    elif activation in (None, "linear"):
        pass
    else:  # pragma: no cover - the compiler only passes relu/linear here
        raise ValueError(activation)


def _signs(x: np.ndarray) -> np.ndarray:
    """±1 float32 values of a float array (sign(0) = +1) or of bits."""
    if x.dtype == BITS:
        signs: np.ndarray = np.where(x, np.float32(-1), np.float32(1))
        return signs
    signs = np.where(x < 0, np.float32(-1), np.float32(1))
    return signs


class Op:
    kind = "float"  # "binary" or "float", for summary()
    out_dtype: np.dtype[Any] = F32
    inplace = False  # may write into its first input's buffer

    def __init__(self, name: str, inputs: Iterable[str]) -> None:
        self.name = name  # the value it produces (a Keras layer name)
        self.inputs = list(inputs)  # the values it reads
        self.layers = [name]  # Keras layers folded into this op (summary)

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        return in_shapes[0]

    def storage(self, shape: Sequence[int]) -> tuple[tuple[int, ...], np.dtype[Any]]:
        """(shape, dtype) of the array holding ``shape`` (batch first) of this op's results."""
        return tuple(shape), self.out_dtype

    def macs(self, in_shapes: Sequence[tuple[int, ...]]) -> int:
        return 0

    def describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{self.describe()}({self.name!r} <- {', '.join(self.inputs)})"


# -- convolutions ---------------------------------------------------------------------------------
class _ConvBase(Op):
    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        kernel: npt.ArrayLike,
        strides: Sequence[int] = (1, 1),
        padding: str = "valid",
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
        pad_value: float = 0.0,
    ) -> None:
        super().__init__(name, inputs)
        self.kernel = np.ascontiguousarray(kernel, dtype=np.float32)  # HWIO
        self.ksize = self.kernel.shape[:2]
        self.strides = tuple(strides)
        self.padding = padding
        self.dilation = tuple(dilation)
        self.groups = int(groups)
        self.pad_value = pad_value

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        h, w, _c = in_shapes[0]
        _, (oh, ow) = conv_geometry((h, w), self.ksize, self.strides, self.dilation, self.padding)
        return (oh, ow, self.kernel.shape[3])

    def macs(self, in_shapes: Sequence[tuple[int, ...]]) -> int:
        oh, ow, co = self.output_shape(in_shapes)
        return int(oh * ow * co * self.ksize[0] * self.ksize[1] * self.kernel.shape[2])

    def _accumulate(self, xi: np.ndarray) -> np.ndarray:
        """Sum over taps (fixed order) of one image's patches times the kernel: (oh*ow, cout)."""
        h, w, c = xi.shape
        pads, out_hw = conv_geometry((h, w), self.ksize, self.strides, self.dilation, self.padding)
        xp = _pad_image(xi, pads, self.pad_value)
        cout = self.kernel.shape[3]
        cin_g, cout_g = c // self.groups, cout // self.groups
        acc = np.zeros((out_hw[0] * out_hw[1], cout), np.float32)
        for i, j, v in _taps(xp, self.ksize, self.strides, self.dilation, out_hw):
            patch = v.reshape(-1, c)
            k = self.kernel[i, j]
            if self.groups == 1:
                acc += patch @ k
            else:
                for g in range(self.groups):
                    acc[:, g * cout_g : (g + 1) * cout_g] += (
                        patch[:, g * cin_g : (g + 1) * cin_g] @ k[:, g * cout_g : (g + 1) * cout_g]
                    )
        return acc


class BinaryConv2D(_ConvBase):
    """``y = post_relu(pre_relu(dot) * scale + bias)`` per output channel, where ``dot`` is the
    ±1 convolution of sign(x) with sign(kernel) (padding taps: +1 for ``pad_values=1``, 0 for
    ``pad_values=0``), ``pre_relu`` clamps the integer ``dot`` at 0 (a relu fused before a
    positive per-channel scale) and ``post_relu`` is a relu after the affine transform. With
    ``packed_output`` it emits bits (y < 0) instead of float32."""

    kind = "binary"

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
        signs = np.where(np.asarray(kernel) < 0, np.float32(-1), np.float32(1))
        super().__init__(name, inputs, signs, strides, padding, dilation, groups, pad_value=1.0 if pad_values else 0.0)
        cout = signs.shape[3]
        self.scale = np.broadcast_to(np.float32(1) if scale is None else np.asarray(scale, np.float32), (cout,)).copy()
        self.bias = np.broadcast_to(np.float32(0) if bias is None else np.asarray(bias, np.float32), (cout,)).copy()
        self.pre_relu, self.post_relu = bool(pre_relu), bool(post_relu)
        self.packed_output = bool(packed_output)
        self.out_dtype = BITS if packed_output else F32

    def describe(self) -> str:
        return "BinaryConv2D" + (" -> bits" if self.packed_output else "") + (" + Add" if len(self.inputs) > 1 else "")

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        for n in range(x.shape[0]):
            acc = self._accumulate(_signs(x[n]))
            _binary_output(acc, self, out[n].reshape(acc.shape))
            if len(inputs) > 1:  # a fused residual Add: (y + r), one more rounding
                out[n] += inputs[1][n]


def _binary_output(acc: np.ndarray, op: Any, out: np.ndarray) -> None:
    if op.pre_relu:
        np.maximum(acc, 0, out=acc)
    np.multiply(acc, op.scale, out=acc)
    np.add(acc, op.bias, out=acc)
    if op.post_relu:
        np.maximum(acc, 0, out=acc)
    if op.packed_output:
        np.less(acc, 0, out=out)
    else:
        out[...] = acc


class Conv2D(_ConvBase):
    """Float convolution (HWIO kernel), ``* scale`` (a folded batch norm), ``+ bias``, optional
    relu, each step rounded. ``pad_value``: the value of SAME padding (larq's ``pad_values``;
    Keras pads with 0)."""

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
        super().__init__(name, inputs, kernel, strides, padding, dilation, groups, pad_value)
        self.bias = None if bias is None else np.asarray(bias, np.float32)
        self.scale = None if scale is None else np.asarray(scale, np.float32)
        self.activation = activation

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        for n in range(x.shape[0]):
            acc = self._accumulate(np.asarray(x[n], np.float32))
            if self.scale is not None:
                acc *= self.scale
            if self.bias is not None:
                acc += self.bias
            _activate(acc, self.activation)
            out[n] = acc.reshape(out.shape[1:])


class DepthwiseConv2D(Op):
    """Float depthwise convolution, kernel (kh, kw, C, depth_multiplier): output channel
    ``c * multiplier + m``; taps summed in row-major order; then scale, bias, relu as Conv2D."""

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
        super().__init__(name, inputs)
        self.scale = None if scale is None else np.asarray(scale, np.float32)
        self.kernel = np.ascontiguousarray(kernel, dtype=np.float32)
        self.ksize = self.kernel.shape[:2]
        self.strides, self.padding, self.dilation = tuple(strides), padding, tuple(dilation)
        self.bias = None if bias is None else np.asarray(bias, np.float32)
        self.activation = activation
        self.pad_value = pad_value

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        h, w, c = in_shapes[0]
        _, (oh, ow) = conv_geometry((h, w), self.ksize, self.strides, self.dilation, self.padding)
        return (oh, ow, c * self.kernel.shape[3])

    def macs(self, in_shapes: Sequence[tuple[int, ...]]) -> int:
        oh, ow, co = self.output_shape(in_shapes)
        return int(oh * ow * co * self.ksize[0] * self.ksize[1])

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        for n in range(x.shape[0]):
            h, w, c = x[n].shape
            pads, out_hw = conv_geometry((h, w), self.ksize, self.strides, self.dilation, self.padding)
            xp = _pad_image(np.asarray(x[n], np.float32), pads, self.pad_value)
            m = self.kernel.shape[3]
            acc = np.zeros(out_hw + (c, m), np.float32)
            for i, j, v in _taps(xp, self.ksize, self.strides, self.dilation, out_hw):
                acc += v[..., None] * self.kernel[i, j]
            acc = acc.reshape(out_hw + (c * m,))
            if self.scale is not None:
                acc *= self.scale
            if self.bias is not None:
                acc += self.bias
            _activate(acc, self.activation)
            out[n] = acc


# -- dense ----------------------------------------------------------------------------------------
class Dense(Op):
    """Float ``x @ kernel + bias`` on the last axis, optional relu; one image at a time."""

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        kernel: npt.ArrayLike,
        bias: npt.ArrayLike | None = None,
        activation: str | None = None,
    ) -> None:
        super().__init__(name, inputs)
        self.kernel = np.ascontiguousarray(kernel, dtype=np.float32)  # (in, units)
        self.bias = None if bias is None else np.asarray(bias, np.float32)
        self.activation = activation

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        return in_shapes[0][:-1] + (self.kernel.shape[1],)

    def macs(self, in_shapes: Sequence[tuple[int, ...]]) -> int:
        return int(np.prod(in_shapes[0][:-1], dtype=np.int64)) * self.kernel.size

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        for n in range(x.shape[0]):
            y = np.asarray(x[n], np.float32) @ self.kernel
            if self.bias is not None:
                y += self.bias
            _activate(y, self.activation)
            out[n] = y


class BinaryDense(Op):
    """``y = post_relu(pre_relu(sign(x) . sign(kernel)) * scale + bias)`` on the last axis;
    bits out with ``packed_output``."""

    kind = "binary"

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
        self.kernel = np.where(np.asarray(kernel) < 0, np.float32(-1), np.float32(1))  # (in, units)
        units = self.kernel.shape[1]
        self.scale = np.broadcast_to(np.float32(1) if scale is None else np.asarray(scale, np.float32), (units,)).copy()
        self.bias = np.broadcast_to(np.float32(0) if bias is None else np.asarray(bias, np.float32), (units,)).copy()
        self.pre_relu, self.post_relu = bool(pre_relu), bool(post_relu)
        self.packed_output = bool(packed_output)
        self.out_dtype = BITS if packed_output else F32

    def describe(self) -> str:
        return "BinaryDense" + (" -> bits" if self.packed_output else "")

    output_shape = Dense.output_shape
    macs = Dense.macs

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        for n in range(x.shape[0]):
            acc = _signs(x[n]) @ self.kernel
            _binary_output(acc, self, out[n])


# -- elementwise ----------------------------------------------------------------------------------
class Affine(Op):
    """Inference batch norm: ``x * scale + bias`` per channel (last axis), optional relu."""

    inplace = True

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        scale: npt.ArrayLike | None,
        bias: npt.ArrayLike | None,
        activation: str | None = None,
    ) -> None:
        super().__init__(name, inputs)
        self.scale = np.asarray(scale, np.float32)
        self.bias = np.asarray(bias, np.float32)
        self.activation = activation

    def describe(self) -> str:
        return "BatchNorm"

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        np.multiply(inputs[0], self.scale, out=out)
        np.add(out, self.bias, out=out)
        _activate(out, self.activation)


class Activation(Op):
    """relu (with Keras ReLU's max_value / negative_slope / threshold), softmax (last axis),
    sigmoid, tanh, linear."""

    inplace = True

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        fn: str,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
    ) -> None:
        super().__init__(name, inputs)
        self.fn = fn
        self.max_value, self.negative_slope, self.threshold = max_value, float(negative_slope), float(threshold)

    def describe(self) -> str:
        return f"Activation({self.fn})"

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        if self.fn == "relu":
            if self.negative_slope == 0.0 and self.threshold == 0.0:
                np.maximum(x, np.float32(0), out=out)
            else:
                t = np.float32(self.threshold)
                np.copyto(out, np.where(x >= t, x, np.float32(self.negative_slope) * (x - t)))
            if self.max_value is not None:
                np.minimum(out, np.float32(self.max_value), out=out)
        elif self.fn == "softmax":
            for n in range(x.shape[0]):
                e = np.exp(x[n] - x[n].max(axis=-1, keepdims=True))
                out[n] = e / e.sum(axis=-1, keepdims=True)
        elif self.fn == "sigmoid":
            np.copyto(out, np.float32(1) / (np.float32(1) + np.exp(-x)))
        elif self.fn == "tanh":
            np.tanh(x, out=out)
        else:  # linear
            np.copyto(out, x)


class Quantize(Op):
    """A fastq quantizer applied elementwise (larq's input quantizers other than sign)."""

    inplace = True

    def __init__(self, name: str, inputs: Iterable[str], quantizer: Any) -> None:
        super().__init__(name, inputs)
        self.quantizer = quantizer

    def describe(self) -> str:
        return f"Quantize({type(self.quantizer).__name__})"

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        self.quantizer(np.ascontiguousarray(inputs[0], np.float32), out=out)


class Add(Op):
    """Sum of the inputs, added left to right (Keras's order)."""

    inplace = True

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        np.add(inputs[0], inputs[1], out=out)
        for x in inputs[2:]:
            np.add(out, x, out=out)


class Scalar(Op):
    """``x + c`` / ``x * c`` / ``x - c`` / ``c - x`` with a constant (TFOpLambda with a number)."""

    inplace = True

    def __init__(self, name: str, inputs: Iterable[str], fn: str, value: float) -> None:
        super().__init__(name, inputs)
        self.fn, self.value = fn, np.float32(value)

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        if self.fn == "add":
            np.add(x, self.value, out=out)
        elif self.fn == "mul":
            np.multiply(x, self.value, out=out)
        elif self.fn == "sub":
            np.subtract(x, self.value, out=out)
        else:  # rsub
            np.subtract(self.value, x, out=out)


class Binary(Op):
    """Elementwise ``a - b`` or ``a * b`` of two tensors of one shape."""

    inplace = True

    def __init__(self, name: str, inputs: Iterable[str], fn: str) -> None:
        super().__init__(name, inputs)
        self.fn = fn

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        (np.subtract if self.fn == "sub" else np.multiply)(inputs[0], inputs[1], out=out)


class Concatenate(Op):
    def __init__(self, name: str, inputs: Iterable[str], axis: int) -> None:
        super().__init__(name, inputs)
        self.axis = axis  # axis of the per-image shape

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        s = list(in_shapes[0])
        s[self.axis] = sum(x[self.axis] for x in in_shapes)
        return tuple(s)

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        np.concatenate(inputs, axis=self.axis if self.axis < 0 else self.axis + 1, out=out)


class Reshape(Op):
    """Flatten / Reshape (C order, as Keras with channels_last)."""

    def __init__(self, name: str, inputs: Iterable[str], target: Sequence[int]) -> None:
        super().__init__(name, inputs)
        self.target = tuple(target)  # may hold one -1

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        size = int(np.prod(in_shapes[0], dtype=np.int64))
        t = list(self.target)
        if -1 in t:
            known = int(np.prod([d for d in t if d != -1], dtype=np.int64))
            t[t.index(-1)] = size // known
        if int(np.prod(t, dtype=np.int64)) != size:
            raise ValueError(f"layer {self.name!r}: cannot reshape {in_shapes[0]} to {self.target}")
        return tuple(t)

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        np.copyto(out, inputs[0].reshape(out.shape))


class ZeroPadding2D(Op):
    def __init__(self, name: str, inputs: Iterable[str], pads: Sequence[Sequence[int]]) -> None:
        super().__init__(name, inputs)
        self.pads = pads  # ((top, bottom), (left, right))

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        h, w, c = in_shapes[0]
        (top, bottom), (left, right) = self.pads
        return (h + top + bottom, w + left + right, c)

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        (top, _), (left, _) = self.pads
        out[...] = 0
        h, w = inputs[0].shape[1:3]
        out[:, top : top + h, left : left + w, :] = inputs[0]


# -- pooling --------------------------------------------------------------------------------------
class _Pool(Op):
    def __init__(
        self, name: str, inputs: Iterable[str], pool_size: Sequence[int], strides: Sequence[int], padding: str
    ) -> None:
        super().__init__(name, inputs)
        self.pool_size, self.strides, self.padding = tuple(pool_size), tuple(strides), padding

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        h, w, c = in_shapes[0]
        _, (oh, ow) = conv_geometry((h, w), self.pool_size, self.strides, (1, 1), self.padding)
        return (oh, ow, c)


class MaxPool2D(_Pool):
    """Max over the window; SAME padding never wins (TensorFlow pads with -inf). Works on bits
    too (bit = negative: the max of signs is negative only where every tap is). ``relu``: a
    relu fused before it (relu(max(x)), the same values up to the sign of a zero).

    ``packed``: the input and the result are bits (the compiler passes a binary convolution's
    signs through the pool). ``invert``: None or a bool per channel: there the signs are those
    of a decreasing function of the pooled values (a batch norm with a negative scale folded
    across the pool), whose max is the min of the taps: negative where any tap is (OR)."""

    def __init__(
        self,
        name: str,
        inputs: Iterable[str],
        pool_size: Sequence[int],
        strides: Sequence[int],
        padding: str,
        relu: bool = False,
        packed: bool = False,
        invert: np.ndarray | None = None,
    ) -> None:
        super().__init__(name, inputs, pool_size, strides, padding)
        self.relu = bool(relu)
        self.packed = bool(packed)
        self.invert = None if invert is None or not np.any(invert) else np.asarray(invert, np.bool_)
        if self.packed:
            self.out_dtype = BITS

    def describe(self) -> str:
        return ("ReLU + " if self.relu else "") + "MaxPool2D" + (" on bits" if self.packed else "")

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        h, w = x.shape[1:3]
        pads, out_hw = conv_geometry((h, w), self.pool_size, self.strides, (1, 1), self.padding)
        bits = x.dtype == BITS
        if bits and self.invert is not None:  # OR = NOT AND NOT on those channels
            x = x ^ self.invert
        for n in range(x.shape[0]):
            fill = True if bits else -np.inf
            xp = np.pad(x[n], (pads[0], pads[1], (0, 0)), constant_values=fill) if pads != ((0, 0), (0, 0)) else x[n]
            first = True
            for _, _, v in _taps(xp, self.pool_size, self.strides, (1, 1), out_hw):
                if first:
                    out[n] = v
                    first = False
                elif bits:
                    np.logical_and(out[n], v, out=out[n])
                else:
                    np.maximum(out[n], v, out=out[n])
            if self.relu and not bits:
                np.maximum(out[n], np.float32(0), out=out[n])
        if bits and self.invert is not None:
            np.bitwise_xor(out, self.invert, out=out)


class AvgPool2D(_Pool):
    """Mean over the window's taps inside the image (TensorFlow's SAME average excludes padding);
    taps summed in row-major order, then divided by the count."""

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        h, w = x.shape[1:3]
        pads, out_hw = conv_geometry((h, w), self.pool_size, self.strides, (1, 1), self.padding)
        ones = np.pad(np.ones((h, w, 1), np.float32), (pads[0], pads[1], (0, 0)))
        count = np.zeros(out_hw + (1,), np.float32)
        for _, _, v in _taps(ones, self.pool_size, self.strides, (1, 1), out_hw):
            count += v
        for n in range(x.shape[0]):
            xp = _pad_image(np.asarray(x[n], np.float32), pads, 0.0)
            acc = np.zeros(out_hw + (x.shape[3],), np.float32)
            for _, _, v in _taps(xp, self.pool_size, self.strides, (1, 1), out_hw):
                acc += v
            out[n] = acc / count


class GlobalAvgPool2D(Op):
    def __init__(self, name: str, inputs: Iterable[str], keepdims: bool = False) -> None:
        super().__init__(name, inputs)
        self.keepdims = bool(keepdims)

    def output_shape(self, in_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        _h, _w, c = in_shapes[0]
        return (1, 1, c) if self.keepdims else (c,)

    def run(self, inputs: Sequence[np.ndarray], out: np.ndarray) -> None:
        x = inputs[0]
        for n in range(x.shape[0]):
            h, w, c = x[n].shape
            s = np.asarray(x[n], np.float32).reshape(h * w, c).sum(axis=0, dtype=np.float32)
            out[n] = (s / np.float32(h * w)).reshape(out.shape[1:])
