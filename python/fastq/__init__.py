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

from . import _core  # noqa: E402

# Choose the kernel table now: a bad FASTQ_FORCE_ISA fails the import (ValueError for an
# unknown name, RuntimeError for an ISA this CPU cannot run), never falls back silently.
_core.active = _core.active_kernels()
from . import context, metrics, quantizers, reference  # noqa: E402
from .binary import BinaryDense, PackedBits, binary_matmul, pack_bits, unpack_bits  # noqa: E402
from .conv import BinaryConv2D, binary_conv2d, binary_max_pool2d  # noqa: E402
from ._runtime import (  # noqa: E402
    _init_threads_from_env,
    active_isa,
    available_isas,
    compiled_isas,
    get_num_threads,
    set_num_threads,
    show_config,
)
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
    "Quantizer", "NoOp", "NoOpQuantizer", "SteSign", "ApproxSign", "SteHeaviside", "SwishSign",
    "MagnitudeAwareSign", "SteTern", "DoReFa", "DoReFaQuantizer",
    "ste_sign", "approx_sign", "swish_sign", "ste_heaviside", "ste_tern",
    "PackedBits", "pack_bits", "unpack_bits", "binary_matmul", "BinaryDense",
    "binary_conv2d", "BinaryConv2D", "binary_max_pool2d",
    "quantizers", "metrics", "context", "reference",
    "set_num_threads", "get_num_threads", "show_config", "active_isa", "available_isas", "compiled_isas",
]
