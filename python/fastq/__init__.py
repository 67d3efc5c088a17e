"""fastq: larq's quantizers and binary (XNOR-popcount) inference as exact native CPU kernels.

    >>> import numpy as np, fastq
    >>> q = fastq.SteSign()
    >>> q(np.array([-0.5, 0.0, 2.0], np.float32))
    array([-1.,  1.,  1.], dtype=float32)

The kernel table (scalar, avx2, avx512 or neon) is chosen once at import; ``FASTQ_FORCE_ISA``
forces one (an unknown or unsupported name fails the import). ``FASTQ_NUM_THREADS`` sets the
thread count. See ``fastq.show_config()``.
"""

__version__ = "0.1.0"

from . import _core

# Choose the kernel table now: a bad FASTQ_FORCE_ISA fails the import (ValueError for an
# unknown name, RuntimeError for an ISA this CPU cannot run), never falls back silently.
_core.active = _core.active_kernels()
from . import context, metrics, quantizers, reference  # noqa: E402
from ._runtime import (  # noqa: E402
    MAX_THREADS,
    _init_threads_from_env,
    active_isa,
    available_isas,
    compiled_isas,
    default_num_threads,
    get_num_threads,
    set_num_threads,
    show_config,
)
from .binary import BinaryDense, PackedBits, binary_matmul, pack_bits, unpack_bits  # noqa: E402
from .conv import BinaryConv2D, binary_conv2d, binary_max_pool2d  # noqa: E402
from .quantizers import (  # noqa: E402
    ApproxSign,
    DoReFa,
    DoReFaQuantizer,
    MagnitudeAwareSign,
    NoOp,
    NoOpQuantizer,
    Quantizer,
    SteHeaviside,
    SteSign,
    SteTern,
    SwishSign,
    approx_sign,
    ste_heaviside,
    ste_sign,
    ste_tern,
    swish_sign,
)

_init_threads_from_env()
del _init_threads_from_env

__all__ = [
    "MAX_THREADS",
    "ApproxSign",
    "BinaryConv2D",
    "BinaryDense",
    "DoReFa",
    "DoReFaQuantizer",
    "MagnitudeAwareSign",
    "NoOp",
    "NoOpQuantizer",
    "PackedBits",
    "Quantizer",
    "SteHeaviside",
    "SteSign",
    "SteTern",
    "SwishSign",
    "active_isa",
    "approx_sign",
    "available_isas",
    "binary_conv2d",
    "binary_matmul",
    "binary_max_pool2d",
    "compiled_isas",
    "context",
    "default_num_threads",
    "get_num_threads",
    "metrics",
    "pack_bits",
    "quantizers",
    "reference",
    "set_num_threads",
    "show_config",
    "ste_heaviside",
    "ste_sign",
    "ste_tern",
    "swish_sign",
    "unpack_bits",
]
