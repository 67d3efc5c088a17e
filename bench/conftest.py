"""Benchmarks (pytest-benchmark). Run them with the OpenBLAS variables unset:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest bench/

This environment sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for old OpenBLAS bugs; they slow
current NumPy, which reads them when it is imported. A benchmark run that finds either set
stops with that command instead of measuring a slowed NumPy. Every benchmark records the CPU,
ISA, threads and BLAS it ran with in ``machine_info``.
"""

import os

import numpy as np
import pytest

import fastq
from fastq.tools.env import OPENBLAS_VARS as _OPENBLAS_VARS  # the policy: fastq/tools/env.py

# pytest cannot re-execute itself safely from a conftest (its output capture is active), so
# here the policy's other branch applies: refuse to measure with the variables set.


def pytest_configure(config):
    found = [v for v in _OPENBLAS_VARS if v in os.environ]
    if found:
        pytest.exit(
            f"{', '.join(found)} set: they slow current NumPy. Run the benchmarks as\n"
            "    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest bench/",
            returncode=2,
        )


@pytest.fixture(params=[1, 2], ids=lambda t: f"threads={t}")
def threads(request):
    """fastq's thread count for one benchmark (restored afterwards)."""
    before = fastq.get_num_threads()
    fastq.set_num_threads(request.param)
    yield request.param
    fastq.set_num_threads(before)


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["fastq"] = fastq._runtime.config()
    machine_info["numpy"] = np.__version__
    machine_info["openblas_vars"] = {v: os.environ.get(v) for v in _OPENBLAS_VARS}
    try:
        import threadpoolctl

        machine_info["blas"] = threadpoolctl.threadpool_info()
    except ImportError:
        pass


def pytest_report_header(config):
    c = fastq._runtime.config()
    return [
        f"fastq: cpu {c['cpu']}, isa {c['isa_active']} (available {', '.join(c['isa_available'])}), "
        f"threads {c['num_threads']}",
        f"numpy {np.__version__}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE not set",
    ]
