"""What the benchmark records about the machine: CPU, ISAs, threads, versions, BLAS, load, and
the xor + popcount peak fastq's active ISA reaches."""

from __future__ import annotations

import os
from typing import Any

from .env import openblas_env

__all__ = ["machine_info", "popcount_peak"]


def _blas_info() -> list[dict[str, Any]] | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: d.get(k) for k in keys} for d in threadpool_info() if d.get("user_api") == "blas"]


def machine_info() -> dict[str, Any]:
    """CPU, ISAs, threads, versions, BLAS and the OpenBLAS environment, as a dict."""
    from .. import _runtime

    info = dict(_runtime.config())
    info["blas"] = _blas_info()
    info["openblas_env"] = openblas_env()
    info["cpu_count"] = os.cpu_count()
    try:
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        info["load_average_1min"] = None
    return info


def popcount_peak(seconds: float = 0.3, threads: int | None = None) -> tuple[dict[str, Any] | None, str]:
    """The xor + popcount peak of the cores fastq uses: ``(peak, note)``.

    The probe is native (``Kernels.popcount_peak`` of the active ISA's table): the GEMM's own
    inner step (XOR, that ISA's popcount method, accumulate) on registers only, timed on one
    core for about ``seconds``, times the threads fastq uses (at most the core count). ``peak``
    is None (with ``note`` saying why) if the probe gives no rate; it is never estimated."""
    from .. import _core
    from .._runtime import active_isa, get_num_threads

    isa = active_isa()
    threads = threads or get_num_threads()
    used = max(1, min(threads, os.cpu_count() or threads))
    per_core = float(_core.kernels_for(isa).popcount_peak(seconds))
    if not per_core > 0:
        return None, f"the popcount probe gave no rate for the active ISA ({isa})"
    source = "Kernels.popcount_peak"
    peak = {
        "bit_macs_per_s": per_core * used,
        "per_core_bit_macs_per_s": per_core,
        "threads": used,
        "method": isa,
        "source": source,
    }
    return peak, f"{source}, {isa}, one core x {used} thread(s)"
