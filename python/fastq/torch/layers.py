"""larq's QuantDense and QuantConv2D as PyTorch modules: ``QuantLinear`` and ``QuantConv2d``.

They are ``nn.Linear`` / ``nn.Conv2d`` (PyTorch's parameters, layouts and initialisation) with
larq's extra arguments: ``input_quantizer`` and ``kernel_quantizer`` (names, configs, modules or
callables, resolved by ``fastq.torch.quantizers.get``), ``kernel_constraint`` (``"weight_clip"``,
applied by ``fastq.torch.apply_constraints`` after each optimizer step) and, for convolutions,
``pad_values`` (the value the *quantized* input is padded with) and TensorFlow's ``"same"``
padding for any stride. Everything export needs is a plain attribute.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import constraints as _constraints
from . import quantizers as _quantizers

__all__ = ["QuantConv2d", "QuantLinear"]


def _resolve(identifier, channel_dim: int, arg: str):
    """A quantizer for a layer argument. MagnitudeAwareSign scales per channel: larq's last axis
    is the output channels of a kernel (dim 0 in PyTorch) and the channels of an input (dim 1 in
    NCHW), so one created here from a name or config gets that dim, and an instance must have it."""
    q = _quantizers.get(identifier)
    if isinstance(q, _quantizers.MagnitudeAwareSign):
        if isinstance(identifier, (str, dict)) and "channel_dim" not in (
            identifier.get("config") or {} if isinstance(identifier, dict) else {}
        ):
            q.channel_dim = channel_dim
        elif q.channel_dim != channel_dim:
            raise ValueError(
                f"{arg}: MagnitudeAwareSign must scale per channel along dim {channel_dim} here "
                f"(larq's last axis), got channel_dim={q.channel_dim}; pass "
                f"MagnitudeAwareSign(channel_dim={channel_dim}) or the name 'magnitude_aware_sign'"
            )
    return q


class QuantLinear(torch.nn.Linear):
    """``nn.Linear`` whose input and kernel are quantized (larq's ``QuantDense``):
    ``y = input_quantizer(x) @ kernel_quantizer(weight).T + bias``."""

    def __init__(
        self,
        in_features,
        out_features,
        bias=True,
        input_quantizer=None,
        kernel_quantizer=None,
        kernel_constraint=None,
        device=None,
        dtype=None,
    ):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.input_quantizer = _resolve(input_quantizer, -1, "input_quantizer")
        self.kernel_quantizer = _resolve(kernel_quantizer, 0, "kernel_quantizer")
        self.kernel_constraint = _constraints.get(kernel_constraint)

    def quantized_weight(self):
        return self.weight if self.kernel_quantizer is None else self.kernel_quantizer(self.weight)

    def forward(self, x):
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        return F.linear(x, self.quantized_weight(), self.bias)

    def extra_repr(self):
        s = super().extra_repr()
        return s + (f", kernel_constraint={self.kernel_constraint!r}" if self.kernel_constraint is not None else "")


def _pair(v, name):
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        return tuple(v)
    raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")


class QuantConv2d(torch.nn.Conv2d):
    """``nn.Conv2d`` (NCHW, kernel (out, in/groups, kh, kw)) whose input and kernel are quantized
    (larq's ``QuantConv2D``). ``padding`` is PyTorch's (an int, a pair, ``"valid"``) or
    ``"same"``, TensorFlow's rule for any stride (``ceil(in/stride)`` outputs, the odd pixel of
    padding at the bottom/right). The padding is filled with ``pad_values`` after the input is
    quantized, as larq does (``pad_values=1.0`` with a sign quantizer pads with +1)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        input_quantizer=None,
        kernel_quantizer=None,
        kernel_constraint=None,
        pad_values=0.0,
        device=None,
        dtype=None,
    ):
        same = isinstance(padding, str) and padding == "same"
        if isinstance(pad_values, bool) or not isinstance(pad_values, (int, float)) or not math.isfinite(pad_values):
            raise ValueError(f"pad_values: expected a finite number, got {pad_values!r}")
        if padding_mode != "zeros" and (same or pad_values != 0):
            raise ValueError(
                f"padding_mode: 'same' padding and pad_values need padding_mode='zeros', got {padding_mode!r}"
            )
        # nn.Conv2d refuses "same" with a stride; this layer pads itself (TensorFlow's rule).
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=0 if same else padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            padding_mode=padding_mode,
            device=device,
            dtype=dtype,
        )
        if same:
            self.padding = "same"
        self.pad_values = float(pad_values)
        self.input_quantizer = _resolve(input_quantizer, 1, "input_quantizer")
        self.kernel_quantizer = _resolve(kernel_quantizer, 0, "kernel_quantizer")
        self.kernel_constraint = _constraints.get(kernel_constraint)

    def explicit_padding(self, height: int, width: int):
        """(left, right, top, bottom) padding of an input of this size, as F.pad takes it."""
        if self.padding == "same":
            pads = []
            for size, k, s, d in zip((width, height), self.kernel_size[::-1], self.stride[::-1], self.dilation[::-1]):
                out = -(-size // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        if self.padding == "valid":
            return (0, 0, 0, 0)
        ph, pw = _pair(self.padding, "padding")
        return (pw, pw, ph, ph)

    def quantized_weight(self):
        return self.weight if self.kernel_quantizer is None else self.kernel_quantizer(self.weight)

    def forward(self, x):
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        w = self.quantized_weight()
        if self.padding == "same" or (self.pad_values != 0 and self.padding != "valid"):
            pads = self.explicit_padding(x.shape[-2], x.shape[-1])
            if any(pads):
                x = F.pad(x, pads, value=self.pad_values)
            return F.conv2d(x, w, self.bias, self.stride, 0, self.dilation, self.groups)
        return self._conv_forward(x, w, self.bias)

    def extra_repr(self):
        s = super().extra_repr()
        if self.pad_values != 0:
            s += f", pad_values={self.pad_values}"
        if self.kernel_constraint is not None:
            s += f", kernel_constraint={self.kernel_constraint!r}"
        return s
