"""larq's quantizers as ``torch.nn.Module``s, with larq's names, configs and metrics.

``fastq.torch.quantizers.get(name_or_config)`` resolves every name and config that
``fastq.quantizers.get`` resolves (larq's class names, aliases and Keras config dicts) to one of
the modules below. Each module's parameters are plain attributes (``clip_value``, ``beta``,
``k_bit``, ``mode``, ...) and its ``get_config()`` is fastq's (so larq's), plus ``channel_dim`` for
MagnitudeAwareSign when it is not the last axis. The forward pass is the ``fastq::<op>`` custom
operator, differentiable with fastq's pseudo-gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

import fastq

from . import ops as _ops

if TYPE_CHECKING:
    from fastq.metrics import FlipRatio

__all__ = [
    "ApproxSign",
    "DoReFa",
    "DoReFaQuantizer",
    "MagnitudeAwareSign",
    "NoOp",
    "NoOpQuantizer",
    "Quantizer",
    "SteHeaviside",
    "SteSign",
    "SteTern",
    "SwishSign",
    "approx_sign",
    "deserialize",
    "get",
    "serialize",
    "ste_heaviside",
    "ste_sign",
    "ste_tern",
    "swish_sign",
]


def _update_metric(metric: FlipRatio, y: torch.Tensor) -> None:
    """fastq's FlipRatio on the output's values, outside torch.compile and torch.func transforms
    (there the values are symbolic or wrapped; the metric is skipped, see docs/torch.md)."""
    if torch.compiler.is_compiling():
        return
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    if wrapped is not None and wrapped(y):
        return
    v = y.detach().cpu()
    metric.update_state((v.float() if v.dtype is torch.bfloat16 else v).numpy())


class Quantizer(torch.nn.Module):
    """Base class: the identity (fastq's ``Quantizer``), ``precision`` None.

    Subclasses name their fastq class (``_class``) and operator (``_op``); ``_op_args()`` gives
    the operator's parameters from the module's attributes.
    """

    _class = "Quantizer"
    _op = "noop"
    precision: int | None = None

    def __init__(self, metrics: Iterable[str] | None = None, **params: Any) -> None:
        super().__init__()
        # fastq's NumPy quantizer checks the parameters and metric names (same errors) and
        # honours fastq.context.metrics_scope; the module keeps its config and its metric.
        npq = getattr(fastq.quantizers, self._class)(**params, metrics=metrics)
        self._config = fastq.quantizers.serialize(npq)["config"]
        self.precision = npq.precision
        self.flip_ratio: FlipRatio | None = getattr(npq, "flip_ratio", None)

    def _op_args(self) -> tuple[Any, ...]:
        return ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = _ops.OPS[self._op](x, *self._op_args())
        if self.flip_ratio is not None:
            _update_metric(self.flip_ratio, y)
        return y

    @property
    def metrics(self) -> list[FlipRatio]:
        return [] if self.flip_ratio is None else [self.flip_ratio]

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Quantizer:
        return deserialize({"class_name": cls._class, "config": config})

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def _f(v: float | None) -> float | None:
    return None if v is None else float(v)


class NoOp(Quantizer):
    """Identity forward and backward with a declared ``precision`` (required, as in larq)."""

    _class = "NoOp"

    def __init__(self, precision: int, metrics: Iterable[str] | None = None) -> None:
        super().__init__(metrics=metrics, precision=precision)


class _Clip(Quantizer):
    def __init__(self, clip_value: float | None = 1.0, metrics: Iterable[str] | None = None) -> None:
        super().__init__(metrics=metrics, clip_value=clip_value)
        self.clip_value = self._config["clip_value"]

    def _op_args(self) -> tuple[Any, ...]:
        return (_f(self.clip_value),)


class SteSign(_Clip):
    """sign(x) in {-1, +1} (sign(0) = +1); gradient ``dy`` where ``|x| <= clip_value``."""

    _class = "SteSign"
    _op = "ste_sign"


class SteHeaviside(_Clip):
    """heaviside(x) in {0, 1}; clipped straight-through gradient."""

    _class = "SteHeaviside"
    _op = "ste_heaviside"


class ApproxSign(Quantizer):
    """sign(x); gradient ``(1 - |x|) * 2 * dy`` where ``|x| <= 1`` (Bi-Real Net)."""

    _class = "ApproxSign"
    _op = "approx_sign"

    def __init__(self, metrics: Iterable[str] | None = None) -> None:
        super().__init__(metrics=metrics)


class SwishSign(Quantizer):
    """sign(x); BNN+'s SwishSign gradient with ``beta``."""

    _class = "SwishSign"
    _op = "swish_sign"

    def __init__(self, beta: float = 5.0, metrics: Iterable[str] | None = None) -> None:
        super().__init__(metrics=metrics, beta=beta)
        self.beta = self._config["beta"]

    def _op_args(self) -> tuple[Any, ...]:
        return (float(self.beta),)


class MagnitudeAwareSign(Quantizer):
    """``s * sign(x)``, ``s`` the mean ``|x|`` per channel of ``channel_dim`` (larq: the last
    axis, the default). As a layer's kernel quantizer it must scale per output channel, dim 0 of a
    PyTorch kernel: QuantLinear/QuantConv2d create it so from a name or config, and reject an
    instance with another ``channel_dim``."""

    _class = "MagnitudeAwareSign"
    _op = "magnitude_aware_sign"

    def __init__(
        self, clip_value: float | None = 1.0, channel_dim: int = -1, metrics: Iterable[str] | None = None
    ) -> None:
        if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
            raise TypeError(f"channel_dim: expected an int, got {type(channel_dim).__name__}")
        super().__init__(metrics=metrics, clip_value=clip_value)
        self.clip_value = self._config["clip_value"]
        self.channel_dim = channel_dim

    def _op_args(self) -> tuple[Any, ...]:
        return (_f(self.clip_value), self.channel_dim)

    def get_config(self) -> dict[str, Any]:
        cfg = dict(self._config)
        if self.channel_dim != -1:
            cfg["channel_dim"] = self.channel_dim
        return cfg


class SteTern(Quantizer):
    """Ternarization to {-1, 0, +1} with threshold Δ (``threshold_value``, or 0.7 * mean |x| with
    ``ternary_weight_networks=True``); clipped straight-through gradient."""

    _class = "SteTern"
    _op = "ste_tern"

    def __init__(
        self,
        threshold_value: float = 0.05,
        ternary_weight_networks: bool = False,
        clip_value: float | None = 1.0,
        metrics: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            metrics=metrics,
            threshold_value=threshold_value,
            ternary_weight_networks=ternary_weight_networks,
            clip_value=clip_value,
        )
        self.threshold_value = self._config["threshold_value"]
        self.ternary_weight_networks = self._config["ternary_weight_networks"]
        self.clip_value = self._config["clip_value"]

    def _op_args(self) -> tuple[Any, ...]:
        return (float(self.threshold_value), bool(self.ternary_weight_networks), _f(self.clip_value))


class DoReFa(Quantizer):
    """DoReFa-Net's ``k_bit`` quantizer, ``mode="activations"`` or ``"weights"``."""

    _class = "DoReFa"
    _op = "dorefa"

    def __init__(self, k_bit: int = 2, mode: str = "activations", metrics: Iterable[str] | None = None) -> None:
        super().__init__(metrics=metrics, k_bit=k_bit, mode=mode)
        self.k_bit = self._config["k_bit"]
        self.mode = self._config["mode"]

    def _op_args(self) -> tuple[Any, ...]:
        return (int(self.k_bit), self.mode)


NoOpQuantizer = NoOp
DoReFaQuantizer = DoReFa

_CLASSES = {
    c._class: c
    for c in (Quantizer, NoOp, SteSign, ApproxSign, SteHeaviside, SwishSign, MagnitudeAwareSign, SteTern, DoReFa)
}


# -- larq's function forms (the operators, differentiable) -------------------------------------
def ste_sign(x: torch.Tensor, clip_value: float | None = 1.0) -> torch.Tensor:
    return _ops.ste_sign(x, _f(clip_value))


def approx_sign(x: torch.Tensor) -> torch.Tensor:
    return _ops.approx_sign(x)


def swish_sign(x: torch.Tensor, beta: float = 5.0) -> torch.Tensor:
    return _ops.swish_sign(x, float(beta))


def ste_heaviside(x: torch.Tensor, clip_value: float | None = 1.0) -> torch.Tensor:
    return _ops.ste_heaviside(x, _f(clip_value))


def ste_tern(
    x: torch.Tensor,
    threshold_value: float = 0.05,
    ternary_weight_networks: bool = False,
    clip_value: float | None = 1.0,
) -> torch.Tensor:
    return _ops.ste_tern(x, float(threshold_value), bool(ternary_weight_networks), _f(clip_value))


for _fn, _cls in (
    (ste_sign, SteSign),
    (approx_sign, ApproxSign),
    (swish_sign, SwishSign),
    (ste_heaviside, SteHeaviside),
    (ste_tern, SteTern),
):
    _fn.precision = 1 if _cls is not SteTern else 2  # type: ignore[attr-defined]  # larq's function forms carry it
del _fn, _cls


# -- registry -----------------------------------------------------------------------------------
def deserialize(config: str | dict[str, Any], metrics: Iterable[str] | None = None) -> Quantizer:
    """A quantizer module from a name or a ``{"class_name": ..., "config": {...}}`` dict: every
    form ``fastq.quantizers.deserialize`` takes (larq's and Keras 3's), resolved by it."""
    extra: dict[str, Any] = {}
    if isinstance(config, dict) and isinstance(config.get("config"), dict) and "channel_dim" in config["config"]:
        cfg = dict(config["config"])
        extra["channel_dim"] = cfg.pop("channel_dim")
        config = {**config, "config": cfg}
    npq = fastq.quantizers.deserialize(config)
    cls = _CLASSES[type(npq).__name__]
    if extra and cls is not MagnitudeAwareSign:
        raise TypeError(f"{cls.__name__}: unexpected config key 'channel_dim'")
    return cls(**fastq.quantizers.serialize(npq)["config"], **extra, metrics=metrics)


def serialize(quantizer: Quantizer | Callable[..., Any]) -> str | dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a quantizer module (a function form: its name)."""
    if isinstance(quantizer, Quantizer):
        return {"class_name": quantizer._class, "config": quantizer.get_config()}
    name = getattr(quantizer, "__name__", None)
    if (
        callable(quantizer)
        and isinstance(name, str)
        and name in ("ste_sign", "approx_sign", "swish_sign", "ste_heaviside", "ste_tern")
    ):
        return name
    raise ValueError(f"Cannot serialize {quantizer!r}: not a fastq.torch quantizer")


def get(identifier: str | dict[str, Any] | Callable[..., Any] | None) -> Any:
    """larq's ``quantizers.get``: None -> None; a module or callable -> itself; a name or config
    -> a new module (``get("NoOp")`` raises TypeError: NoOp needs ``precision``)."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret quantizer identifier: {identifier!r}")
