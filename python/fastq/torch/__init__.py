"""fastq for PyTorch: larq's quantizers as PyTorch operators and modules (docs/torch.md).

    >>> import torch, fastq.torch as ft
    >>> x = torch.tensor([-0.5, 0.0, 2.0], requires_grad=True)
    >>> ft.ops.ste_sign(x)
    tensor([-1.,  1.,  1.], grad_fn=<...>)

``import fastq`` never imports this subpackage (nor PyTorch); ``import fastq.torch`` needs
PyTorch (``pip install "fastq-bnn[torch]"``; docs/torch.md says how to get the CPU build).
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "fastq.torch needs PyTorch (>= 2.13): install its CPU build with "
        "`pip install torch --index-url https://download.pytorch.org/whl/cpu`"
    ) from e

from . import constraints, ops, quantizers
from ._export import export, to_config, trace
from .constraints import apply_constraints, register_constraint_hook
from .layers import QuantConv2d, QuantLinear

__all__ = [
    "QuantConv2d",
    "QuantLinear",
    "apply_constraints",
    "constraints",
    "export",
    "ops",
    "quantizers",
    "register_constraint_hook",
    "to_config",
    "trace",
]
