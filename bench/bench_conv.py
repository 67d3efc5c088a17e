"""Binary convolution and packed max pooling benchmarks (issue 9): QuickNet's binary 3x3 layers
at batch 1 (SAME, pad_values=1, C = O: 56x56x64, 28x28x128, 14x14x256, 7x7x512, 115.6 M binary
MACs each) through BinaryConv2D with float32 output, scale and bias; packed and float input,
packed output; binary_max_pool2d 2x2 on 32x56x56x64 against a copy of its input. Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest bench/bench_conv.py \
        --benchmark-group-by=group

``extra_info`` holds Gbit-MAC/s and the fraction of the popcount peak of the table that ran
(``_core.popcount_peak``, measured in the same session). The table in docs/binary.md comes from
bench/report_conv.py (interleaved, thread CPU time, with the probe in the same run).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastq
from fastq import _core

LAYERS = {"56x56x64": (56, 64), "28x28x128": (28, 128), "14x14x256": (14, 256), "7x7x512": (7, 512)}


@pytest.fixture(scope="session")
def peak():
    return _core.popcount_peak(0.5)


@pytest.fixture(scope="module")
def layers():
    rng = np.random.default_rng(0)
    out = {}
    for name, (hw, c) in LAYERS.items():
        x = rng.standard_normal((1, hw, hw, c), dtype=np.float32)
        kernel = rng.standard_normal((3, 3, c, c), dtype=np.float32)
        scale, bias = rng.standard_normal(c), rng.standard_normal(c)
        out[name] = {
            "x": x,
            "px": fastq.pack_bits(x),
            "float_out": fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias),
            "packed_out": fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias, packed_output=True),
            "macs": hw * hw * 9 * c * c,
        }
    return out


def record(benchmark, macs, peak_rate):
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing timed
        return
    rate = macs / benchmark.stats.stats.median
    benchmark.extra_info["gmacs_per_s"] = round(rate / 1e9, 1)
    if peak_rate:
        benchmark.extra_info["fraction_of_peak"] = round(rate / (peak_rate * fastq.get_num_threads()), 3)


@pytest.mark.parametrize("what", ["packed_in", "float_in", "packed_out"])
@pytest.mark.parametrize("layer", LAYERS)
def test_quicknet_layer(benchmark, layers, layer, what, peak):
    d = layers[layer]
    benchmark.group = f"{layer} threads={fastq.get_num_threads()}"
    if what == "packed_in":
        out = np.empty(d["x"].shape, np.float32)
        benchmark(d["float_out"], d["px"], out=out)
    elif what == "float_in":
        benchmark(d["float_out"], d["x"])
    else:
        benchmark(d["packed_out"], d["px"])
    record(benchmark, d["macs"], peak.get(_core.active.isa))


@pytest.mark.parametrize("what", ["max_pool_2x2", "copy"])
def test_max_pool_vs_copy(benchmark, what):
    x = fastq.pack_bits(np.random.default_rng(1).standard_normal((32, 56, 56, 64), dtype=np.float32))
    benchmark.group = "max pool 2x2 of 32x56x56x64 packed"
    if what == "copy":
        dst = np.empty_like(x.words)
        benchmark(np.copyto, dst, x.words)
    else:
        benchmark(fastq.binary_max_pool2d, x, 2)
