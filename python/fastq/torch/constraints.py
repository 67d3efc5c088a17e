"""larq's ``WeightClip`` kernel constraint for PyTorch, applied after each optimizer step.

Keras applies a layer's ``kernel_constraint`` to the variable right after the optimizer updates
it. In PyTorch call ``fastq.torch.apply_constraints(model)`` after ``optimizer.step()``, or once
``fastq.torch.register_constraint_hook(optimizer, model)`` to have the optimizer do it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

__all__ = ["WeightClip", "apply_constraints", "get", "register_constraint_hook", "serialize"]


class WeightClip:
    """Clip the latent weights to ``[-clip_value, clip_value]`` in place (larq.constraints.WeightClip)."""

    def __init__(self, clip_value: float = 1.0) -> None:
        if isinstance(clip_value, bool) or not isinstance(clip_value, (int, float)) or not clip_value >= 0:
            raise ValueError(f"clip_value: expected a number >= 0, got {clip_value!r}")
        self.clip_value = clip_value

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            weight.clamp_(-self.clip_value, self.clip_value)
        return weight

    def get_config(self) -> dict[str, Any]:
        return {"clip_value": self.clip_value}

    def __repr__(self) -> str:
        return f"WeightClip(clip_value={self.clip_value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WeightClip) and type(self) is type(other) and self.clip_value == other.clip_value

    __hash__ = object.__hash__


_NAMES = {"weight_clip": WeightClip, "WeightClip": WeightClip}


def get(identifier: str | dict[str, Any] | Callable[..., Any] | None) -> Any:
    """None -> None; a callable -> itself; ``"weight_clip"`` / ``"WeightClip"`` or
    ``{"class_name": "WeightClip", "config": {...}}`` -> a new WeightClip."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        name, cfg = identifier, {}
    elif isinstance(identifier, dict) and "class_name" in identifier:
        name = identifier["class_name"]
        cfg = {k: v for k, v in (identifier.get("config") or {}).items() if k not in ("name", "trainable", "dtype")}
    elif callable(identifier):
        return identifier
    else:
        raise ValueError(f"Could not interpret constraint identifier: {identifier!r}")
    key = name.split(">")[-1] if isinstance(name, str) else name
    if key not in _NAMES:
        raise ValueError(f"Unknown constraint: {name!r}. Known names: {', '.join(sorted(_NAMES))}")
    return _NAMES[key](**cfg)


def serialize(constraint: WeightClip) -> dict[str, Any]:
    if isinstance(constraint, WeightClip):
        return {"class_name": "WeightClip", "config": constraint.get_config()}
    raise ValueError(f"Cannot serialize {constraint!r}: not a fastq.torch constraint")


def apply_constraints(module: torch.nn.Module) -> None:
    """Apply every ``kernel_constraint`` in ``module`` (QuantLinear, QuantConv2d, or any module
    with ``kernel_constraint`` and ``weight``) to its weight, in place, without gradient."""
    for m in module.modules():
        constraint = getattr(m, "kernel_constraint", None)
        if constraint is not None:
            constraint(m.weight)


def register_constraint_hook(optimizer: torch.optim.Optimizer, module: torch.nn.Module) -> RemovableHandle:
    """Apply ``module``'s constraints after every ``optimizer.step()``; returns the hook's handle
    (``handle.remove()`` detaches it)."""
    return optimizer.register_step_post_hook(lambda opt, args, kwargs: apply_constraints(module))
