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
from typing import Any, Literal

import torch
import torch.nn.functional as F

from . import constraints as _constraints
from . import quantizers as _quantizers

__all__ = ["QuantConv2d", "QuantLinear"]


def _resolve(identifier: Any, channel_dim: int, arg: str) -> Any:
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
        in_features: int,
        out_features: int,
        bias: bool = True,
        input_quantizer: Any = None,
        kernel_quantizer: Any = None,
        kernel_constraint: Any = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.input_quantizer = _resolve(input_quantizer, -1, "input_quantizer")
        self.kernel_quantizer = _resolve(kernel_quantizer, 0, "kernel_quantizer")
        self.kernel_constraint = _constraints.get(kernel_constraint)

    def quantized_weight(self) -> torch.Tensor:
        w: torch.Tensor = self.weight if self.kernel_quantizer is None else self.kernel_quantizer(self.weight)
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        y: torch.Tensor = F.linear(x, self.quantized_weight(), self.bias)
        return y

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", kernel_constraint={self.kernel_constraint!r}" if self.kernel_constraint is not None else "")


def _pair(v: object, name: str) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        return (v[0], v[1])
    raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")


class QuantConv2d(torch.nn.Conv2d):
    """``nn.Conv2d`` (NCHW, kernel (out, in/groups, kh, kw)) whose input and kernel are quantized
    (larq's ``QuantConv2D``). ``padding`` is PyTorch's (an int, a pair, ``"valid"``) or
    ``"same"``, TensorFlow's rule for any stride (``ceil(in/stride)`` outputs, the odd pixel of
    padding at the bottom/right). The padding is filled with ``pad_values`` after the input is
    quantized, as larq does (``pad_values=1.0`` with a sign quantizer pads with +1)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: str | int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros",
        input_quantizer: Any = None,
        kernel_quantizer: Any = None,
        kernel_constraint: Any = None,
        pad_values: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
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

    def explicit_padding(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) padding of an input of this size, as F.pad takes it."""
        if self.padding == "same":
            pads: list[int] = []
            for size, k, s, d in zip((width, height), self.kernel_size[::-1], self.stride[::-1], self.dilation[::-1]):
                out = -(-size // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                pads += [total // 2, total - total // 2]
            return (pads[0], pads[1], pads[2], pads[3])
        if self.padding == "valid":
            return (0, 0, 0, 0)
        ph, pw = _pair(self.padding, "padding")
        return (pw, pw, ph, ph)

    def quantized_weight(self) -> torch.Tensor:
        w: torch.Tensor = self.weight if self.kernel_quantizer is None else self.kernel_quantizer(self.weight)
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        w = self.quantized_weight()
        if self.padding == "same" or (self.pad_values != 0 and self.padding != "valid"):
            pads = self.explicit_padding(x.shape[-2], x.shape[-1])
            if any(pads):
                x = F.pad(x, pads, value=self.pad_values)
            return F.conv2d(x, w, self.bias, self.stride, 0, self.dilation, self.groups)
        y: torch.Tensor = self._conv_forward(x, w, self.bias)
        return y

    def extra_repr(self) -> str:
        s: str = super().extra_repr()  # type: ignore[no-untyped-call]  # torch's _ConvNd.extra_repr is untyped
        if self.pad_values != 0:
            s += f", pad_values={self.pad_values}"
        if self.kernel_constraint is not None:
            s += f", kernel_constraint={self.kernel_constraint!r}"
        return s
