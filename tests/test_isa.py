"""Every SIMD kernel table against the scalar table, bit for bit, through explicit per-ISA
entry points (``_core.kernels_for``), so one process tests every ISA this CPU has.

"Bit for bit" includes signs of zero; a NaN only has to be a NaN, since IEEE 754 leaves the
sign and payload of a NaN result open (a compiler may turn ``s * -1`` into ``-s``)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastq
from conftest import CASE_IDS, QUANTIZER_CASES, assert_same_values, mixed_input
from fastq import _core

SIMD_ISAS = [isa for isa in _core.available_isas() if isa != "scalar"]
SCALAR = _core.kernels_for("scalar")
# 0, 1, every lanes±1 (4, 8, 16 floats; 2, 4, 8 doubles; the 4x-unrolled loop's 64), 63/64/65,
# a large odd size.
SIZES = sorted({0, 1, 2, 3, 5, 7, 9, 15, 17, 31, 33, 63, 64, 65, 127, 129, 1001, 100_003})


def test_there_is_something_to_compare():
    assert "scalar" in _core.compiled_isas()
    if os.uname().machine == "x86_64":
        assert {"avx2", "avx512"} <= set(_core.compiled_isas())
    elif os.uname().machine == "aarch64":
        assert "neon" in _core.available_isas()


def run_pass(q, kernels, x, dy=None):
    out = np.empty_like(x)
    if dy is None:
        q._forward(kernels, x, out, x.dtype)
    else:
        q._backward(kernels, x, dy, out, x.dtype)
    return out


@pytest.mark.parametrize("isa", SIMD_ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_quantizer_passes_match_scalar(isa, dtype, q):
    simd = _core.kernels_for(isa)
    for n in SIZES:
        base = mixed_input((n + 1,), dtype, seed=n)
        x = base[1:]  # misaligned start
        dy = mixed_input((n,), dtype, seed=n + 1)
        assert_same_values(run_pass(q, simd, x), run_pass(q, SCALAR, x), f"{isa} forward n={n}")
        assert_same_values(run_pass(q, simd, x, dy), run_pass(q, SCALAR, x, dy), f"{isa} backward n={n}")


@pytest.mark.parametrize("isa", SIMD_ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streaming_store_passes_match_scalar(isa, dtype, restore_threads):
    """Passes touching more than _core.stream_bytes write with non-temporal stores after a
    head that reaches a vector-aligned output address: every head length, 1 and 2 threads,
    one row and many rows (MagnitudeAwareSign's per-row loop)."""
    simd = _core.kernels_for(isa)
    itemsize = np.dtype(dtype).itemsize
    n = _core.stream_bytes // (2 * itemsize) + 1001  # forward passes stream too
    x = mixed_input((n,), dtype, seed=5)
    dy = mixed_input((n,), dtype, seed=6)
    buf = np.empty(n + 64, dtype)
    # The scalar results once (under qemu they were most of this test's time), then every layout.
    expected = {
        (i, len(args)): run_pass(q, SCALAR, *args) for i, q in enumerate(QUANTIZER_CASES) for args in ((x,), (x, dy))
    }
    for threads, offset in [(1, 0), (1, 3), (2, 5), (2, 64 // itemsize - 1)]:
        fastq.set_num_threads(threads)
        base = (-buf.ctypes.data % 64) // itemsize + offset
        out = buf[base : base + n]
        for i, q in enumerate(QUANTIZER_CASES):
            for args in ((x,), (x, dy)):
                (q._forward if len(args) == 1 else q._backward)(simd, *args, out, x.dtype)
                assert_same_values(
                    out, expected[i, len(args)], f"{isa} {q} streamed, {threads} threads, offset {offset}"
                )
    rows = x[: (n // 1001) * 1001].reshape(-1, 1001)
    q = fastq.MagnitudeAwareSign()
    assert_same_values(run_pass(q, simd, rows), run_pass(q, SCALAR, rows), f"{isa} {q} streamed rows")
    assert_same_values(
        run_pass(q, simd, rows, dy[: rows.size].reshape(rows.shape)),
        run_pass(q, SCALAR, rows, dy[: rows.size].reshape(rows.shape)),
        f"{isa} {q} streamed rows",
    )


@pytest.mark.parametrize("isa", SIMD_ISAS)
@pytest.mark.parametrize("shape", [(37, 19), (3, 3, 8, 16), (5, 1), (1, 33), (700, 131), (2, 0)])
def test_channel_passes_match_scalar(isa, shape):
    simd = _core.kernels_for(isa)
    for dtype in (np.float32, np.float64):
        x = mixed_input(shape, dtype, seed=3)
        dy = mixed_input(shape, dtype, seed=4)
        for q in (fastq.MagnitudeAwareSign(), fastq.SteTern(ternary_weight_networks=True)):
            assert_same_values(run_pass(q, simd, x), run_pass(q, SCALAR, x), f"{isa} {q} {shape}")
            assert_same_values(run_pass(q, simd, x, dy), run_pass(q, SCALAR, x, dy), f"{isa} {q} {shape}")


@pytest.mark.parametrize("isa", SIMD_ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reductions_match_scalar(isa, dtype):
    simd = _core.kernels_for(isa)
    for n in SIZES + [2**16 + 17, 3 * 2**16]:
        x = mixed_input((n,), dtype, seed=n)
        finite = np.nan_to_num(x, nan=0.5, posinf=2.0, neginf=-2.0)
        assert simd.abs_sum(finite) == SCALAR.abs_sum(finite)
        a, b = simd.max_abs(x), SCALAR.max_abs(x)
        assert (a == b) or (np.isnan(a) and np.isnan(b))
        assert simd.max_abs(finite) == SCALAR.max_abs(finite)
        t1, t2 = np.empty_like(x), np.empty_like(x)
        simd.tanh(x, t1)
        SCALAR.tanh(x, t2)
        assert_same_values(t1, t2, f"{isa} tanh n={n}")
    for shape in [(1, 1), (9, 7), (300, 65), (2000, 3)]:
        x = mixed_input(shape, dtype, seed=1)
        s1, s2 = np.empty(shape[-1], dtype), np.empty(shape[-1], dtype)
        simd.channel_abs_mean(x, s1)
        SCALAR.channel_abs_mean(x, s2)
        assert_same_values(s1, s2, f"{isa} channel_abs_mean {shape}")


def test_tanh_accuracy():
    """fastq's own tanh (DoReFa weights) is within 2 ulp of the correctly rounded value."""
    for dtype in (np.float32, np.float64):
        x = np.concatenate([np.linspace(-12, 12, 200_001), np.geomspace(1e-30, 20, 20_001)]).astype(dtype)
        t = np.empty_like(x)
        _core.active.tanh(x, t)
        exact = np.tanh(x.astype(np.longdouble))
        ulp = np.spacing(np.abs(exact.astype(dtype)))
        err = np.abs(t.astype(np.longdouble) - exact) / ulp.astype(np.longdouble)
        assert float(err.max()) <= 2.0, (dtype, float(err.max()))
    # float32: every 61st float32 in [2^-24, 10] (2.6e6 values, all binades; the full
    # exhaustive check is scripts/check_tanh.py). Errors near 2 ulp exist only in float32.
    lo, hi = np.array([2.0**-24, 10.0], np.float32).view(np.uint32)
    x = np.arange(lo, hi, 61, dtype=np.uint32).view(np.float32)
    t = np.empty_like(x)
    _core.active.tanh(x, t)
    exact = np.tanh(x.astype(np.float64))
    err = np.abs(t.astype(np.float64) - exact) / np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    assert float(err.max()) <= 2.0, float(err.max())
    # Signed zeros, infinities, NaN.
    for dtype in (np.float32, np.float64):
        x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype)
        t = np.empty_like(x)
        _core.active.tanh(x, t)
        assert np.array_equal(np.signbit(t[:2]), [False, True])
        assert np.array_equal(t[2:4], [1.0, -1.0]) and np.isnan(t[4])


def run_python(code, **env):
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


@pytest.mark.parametrize("isa", _core.available_isas())
def test_forced_isa_really_runs(isa):
    code = (
        "import numpy as np, fastq\n"
        "from fastq import _core\n"
        "print(fastq.active_isa(), _core.active.isa)\n"
        "x = np.linspace(-2, 2, 1001, dtype=np.float32)\n"
        "assert np.array_equal(fastq.SteSign()(x), np.where(x < 0, -1, 1).astype(np.float32))\n"
    )
    r = run_python(code, FASTQ_FORCE_ISA=isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [isa, isa]


@pytest.mark.parametrize("value, error", [("bogus", "ValueError"), ("AVX2", "ValueError")])
def test_unknown_forced_isa_fails_loudly(value, error):
    r = run_python("import fastq", FASTQ_FORCE_ISA=value)
    assert r.returncode != 0
    assert error in r.stderr and value in r.stderr


def test_isa_of_other_architecture_fails_loudly():
    other = "neon" if os.uname().machine == "x86_64" else "avx2"
    r = run_python("import fastq", FASTQ_FORCE_ISA=other)
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "not compiled into this build" in r.stderr


def test_show_config_names_the_isas(capsys):
    fastq.show_config()
    text = capsys.readouterr().out
    assert f"isa active:     {fastq.active_isa()}" in text
    assert ", ".join(_core.available_isas()) in text
    assert f"threads:        {fastq.get_num_threads()}" in text


@pytest.mark.parametrize("isa", ["scalar"] + SIMD_ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_abs_against_numpy(isa, dtype):
    """max_abs keeps several running maxima: the largest |x| or a NaN anywhere must still win."""
    k = _core.kernels_for(isa)
    rng = np.random.default_rng(3)
    for n in list(range(1, 140)) + [1000, 4099]:
        x = rng.standard_normal(n).astype(dtype)
        for i in {0, n // 3, n - 1}:
            y = x.copy()
            y[i] = -1e6
            assert k.max_abs(y) == np.max(np.abs(y)) == 1e6
            y[i] = np.nan
            assert np.isnan(k.max_abs(y))
        assert k.max_abs(x) == np.max(np.abs(x))
