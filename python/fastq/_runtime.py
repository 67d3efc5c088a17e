"""Threads, ISA information and ``show_config``."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy as np

from . import _core

__all__ = [
    "MAX_THREADS",
    "active_isa",
    "available_isas",
    "compiled_isas",
    "default_num_threads",
    "get_num_threads",
    "set_num_threads",
    "show_config",
]


MAX_THREADS = _core.max_threads
# FASTQ_FORCE_ISA as it was when the kernel table was chosen (this module is imported right
# after): setting it later changes nothing, so show_config must not claim it did.
_FORCED_AT_IMPORT = os.environ.get("FASTQ_FORCE_ISA") or None


def _thread_count(n: object, name: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer in 1..{MAX_THREADS}, got {type(n).__name__} {n!r}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{name}: expected an integer in 1..{MAX_THREADS}, got {n}")
    return int(n)


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads (1..``MAX_THREADS`` = 1024) for large inputs; workers start only
    when a call has work for them. Results are bit-identical for every ``n``."""
    _core.set_num_threads(_thread_count(n, "set_num_threads: n"))


def default_num_threads() -> int:
    """The default thread count: the CPUs this process may run on (its affinity mask, capped by
    a cgroup v2 CPU quota rounded up), at least 1."""
    return _core.default_num_threads()


def get_num_threads() -> int:
    """The number of threads large inputs are split over."""
    return _core.get_num_threads()


def active_isa() -> str:
    """The kernel table in use: ``FASTQ_FORCE_ISA`` or the best this CPU runs."""
    return _core.active.isa


def available_isas() -> list[str]:
    """ISAs compiled into this build that this CPU can run, best first."""
    return list(_core.available_isas())


def compiled_isas() -> list[str]:
    """ISAs compiled into this build, best first."""
    return list(_core.compiled_isas())


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "CPU part")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def config() -> dict[str, Any]:
    """What ``show_config`` prints, as a dict."""
    from . import __version__

    return {
        "fastq": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "build": f"{getattr(_core, 'compiler', 'unknown compiler')}, {getattr(_core, 'build_type', '')}, "
        "baseline flags + per-ISA target regions (no -march=native)",
        "cpu": _cpu_name(),
        "isa_compiled": compiled_isas(),
        "isa_available": available_isas(),
        "isa_active": active_isa(),
        "isa_forced": _FORCED_AT_IMPORT,
        "num_threads": get_num_threads(),
    }


def show_config() -> None:
    """Print the build, the ISAs compiled / available / active and the thread count."""
    c = config()
    print(f"fastq {c['fastq']} (python {c['python']}, numpy {c['numpy']}, {c['machine']})")
    print(f"  build:          {c['build']}")
    print(f"  cpu:            {c['cpu']}")
    print(f"  isa compiled:   {', '.join(c['isa_compiled'])}")
    print(f"  isa available:  {', '.join(c['isa_available'])}")
    forced = " (forced by FASTQ_FORCE_ISA)" if c["isa_forced"] else ""
    print(f"  isa active:     {c['isa_active']}{forced}")
    print(f"  threads:        {c['num_threads']}")


def _init_threads_from_env() -> None:
    value = os.environ.get("FASTQ_NUM_THREADS")
    if value is None or value.strip() == "":
        return
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"FASTQ_NUM_THREADS: expected an integer in 1..{MAX_THREADS}, got {value!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"FASTQ_NUM_THREADS: expected an integer in 1..{MAX_THREADS}, got {value!r}")
    _core.set_num_threads(n)
