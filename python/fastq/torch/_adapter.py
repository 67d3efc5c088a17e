"""The one bridge between PyTorch tensors and fastq's NumPy quantizers (docs/torch.md, "Tensors").

Everything here goes through fastq's quantizers (``fastq.<Quantizer>(...)``, ``q(x)``,
``q.grad(x, dy)``, or their native binding ``q._bound`` for float32/float64) on NumPy views of the
tensors' own memory, so nothing is copied for contiguous float32/float64 CPU tensors.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

import fastq
from fastq.quantizers import Quantizer

_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_NATIVE = (torch.float32, torch.float64)


def check_tensor(t: torch.Tensor, name: str, op: str) -> None:
    """TypeError / RuntimeError naming the op, the argument, the expected and the received value."""
    if t.dtype in _NATIVE and t.is_cpu:
        return
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: {name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise RuntimeError(
            f"{op}: {name} is on device '{t.device}'; fastq's kernels run on CPU tensors only "
            f"(move it with {name}.cpu(), or quantize on the CPU)"
        )
    if t.dtype not in _FLOATS:
        raise TypeError(f"{op}: {name}: expected float32, float64, float16 or bfloat16, got {t.dtype}")


def round_bf16(value: float | None) -> float | None:
    """A parameter as a bfloat16 tensor sees it (round to nearest even), None kept: the same rule
    as fastq's parameters for float16 input (converted to the input's dtype first)."""
    if value is None:
        return None
    return float(torch.tensor(float(value), dtype=torch.bfloat16))


@functools.lru_cache(maxsize=256)
def quantizer(class_name: str, params: tuple[tuple[str, Any], ...]) -> Quantizer:
    """A cached fastq NumPy quantizer (no metrics) for ``class_name`` and keyword ``params``."""
    q: Quantizer = getattr(fastq, class_name)(**dict(params), metrics=())
    return q


# The quantizers here are built without metrics, so ``q(x)`` is ``q._bound.forward(x, None)``
# for float32/float64 arrays and the general path otherwise: calling the native binding first
# saves a Python frame per call on the operators' per-call path. The tests spy on these two.
def _forward(q: Quantizer, xv: np.ndarray) -> np.ndarray:
    y = q._bound.forward(xv, None)
    return q(xv) if y is None else y


def _backward(q: Quantizer, xv: np.ndarray, dyv: np.ndarray) -> np.ndarray:
    dx = q._bound.backward(xv, dyv, None)
    return q.grad(xv, dyv) if dx is None else dx


def forward(q: Quantizer, x: torch.Tensor) -> torch.Tensor:
    """``q(x)`` on a float32/float64/float16 CPU tensor: one copy if x is not contiguous, none
    otherwise. fastq allocates the result as it does for NumPy, and the returned tensor shares
    that memory (``torch.from_numpy``: no copy, and a microsecond less per call than filling a
    ``torch.empty`` through ``out=``)."""
    if not x.is_contiguous():
        x = x.contiguous()  # the one documented copy
    return torch.from_numpy(_forward(q, x.numpy(force=True) if x.requires_grad else x.numpy()))


def backward(q: Quantizer, x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """``q.grad(x, dy)``; dy already has x's shape and dtype."""
    if not x.is_contiguous():
        x = x.contiguous()
    if not dy.is_contiguous():
        dy = dy.contiguous()
    xv = x.numpy(force=True) if x.requires_grad else x.numpy()
    return torch.from_numpy(_backward(q, xv, dy.numpy(force=True) if dy.requires_grad else dy.numpy()))
