"""Hostile inputs: every public entry point (and the raw ``_core`` kernels) given bad input
raises the documented exception, with a message that names the argument, what was expected and
what arrived, and leaves its inputs untouched. Nothing crashes or aborts the interpreter.

Each row of a table is (factory, exception type, message regex). ``factory()`` builds fresh
inputs and returns ``(call, watched)``: ``call()`` must raise; every array in ``watched`` is
compared bit for bit (and its flags) before and after. Environment variables are checked in a
subprocess (``import fastq`` must fail cleanly: exit code > 0, a Python traceback, no signal).
"""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastq
from fastq import _core
from fastq import quantizers as Q

F32 = np.float32
ID = _core.quantizer_ids
NUM_IDS = len(ID)


def x3(dtype=F32):
    return np.array([-0.5, 0.0, 2.0], dtype)


def readonly(a):
    a.flags.writeable = False
    return a


def call(fn, *args, **kwargs):
    """A row factory for ``fn(*args, **kwargs)``: the arrays among the arguments are watched."""
    watched = [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]
    return (lambda: fn(*args, **kwargs)), watched


def row(id_, factory, exc, pattern):
    return pytest.param(factory, exc, pattern, id=id_)


# ---------------------------------------------------------------------------------------------
# The in-process table
# ---------------------------------------------------------------------------------------------

ROWS = [
    # -- quantizers: what x may be ------------------------------------------------------------
    row(
        "complex x",
        lambda: call(fastq.SteSign(), np.array([1 + 2j, 0j])),
        TypeError,
        r"x: expected a real-valued array.*got dtype complex128",
    ),
    row(
        "complex64 x, MagnitudeAwareSign",
        lambda: call(fastq.MagnitudeAwareSign(), np.ones((2, 2), np.complex64)),
        TypeError,
        r"x: expected a real-valued array.*got dtype complex64",
    ),
    row(
        "object x",
        lambda: call(fastq.ApproxSign(), np.array([1.0, "a"], dtype=object)),
        TypeError,
        r"x: expected a real-valued array.*got dtype object",
    ),
    row(
        "string array x",
        lambda: call(fastq.SteHeaviside(), np.array(["1.0", "2.0"])),
        TypeError,
        r"x: expected a real-valued array.*got dtype <U3",
    ),
    row(
        "bytes x", lambda: call(fastq.SteTern(), b"\x00\x01"), TypeError, r"x: expected an array of numbers, got bytes"
    ),
    row(
        "str x, function form", lambda: call(Q.ste_sign, "abc"), TypeError, r"x: expected an array of numbers, got str"
    ),
    row("None x", lambda: call(fastq.SwishSign(), None), TypeError, r"x: expected an array of numbers, got NoneType"),
    row(
        "datetime x",
        lambda: call(fastq.DoReFa(), np.array(["2020-01-01"], dtype="datetime64[D]")),
        TypeError,
        r"x: expected a real-valued array.*got dtype datetime64\[D\]",
    ),
    row(
        "long double x",
        lambda: call(fastq.SteSign(), np.ones(3, np.longdouble)),
        TypeError,
        r"x: expected float16, float32 or float64, got float(128|96|64)",
    ),
    row("ragged list x", lambda: call(fastq.SteSign(), [[1.0, 2.0], [3.0]]), ValueError, r"inhomogeneous"),
    # -- grad: dy -------------------------------------------------------------------------------
    row(
        "dy of another shape",
        lambda: call(fastq.SteSign().grad, x3(), np.ones(4, F32)),
        ValueError,
        r"dy: expected shape \(3,\) \(the shape of x\), got \(4,\)",
    ),
    row(
        "dy of a broadcastable shape",
        lambda: call(fastq.ApproxSign().grad, np.ones((2, 3), F32), np.ones(3, F32)),
        ValueError,
        r"dy: expected shape \(2, 3\) \(the shape of x\), got \(3,\)",
    ),
    row(
        "complex dy",
        lambda: call(fastq.MagnitudeAwareSign().grad, x3(), np.ones(3, np.complex128)),
        TypeError,
        r"dy: expected a real-valued array.*got dtype complex128",
    ),
    row(
        "None dy",
        lambda: call(fastq.SteTern().grad, x3(), None),
        TypeError,
        r"dy: expected an array of numbers, got NoneType",
    ),
    row(
        "complex x in grad",
        lambda: call(fastq.DoReFa(mode="weights").grad, np.ones(3, complex), np.ones(3)),
        TypeError,
        r"x: expected a real-valued array.*got dtype complex128",
    ),
    # -- out= ------------------------------------------------------------------------------------
    row(
        "out of the wrong shape",
        lambda: call(fastq.SteSign(), x3(), out=np.zeros(4, F32)),
        ValueError,
        r"out: expected shape \(3,\), got \(4,\)",
    ),
    row(
        "out of the wrong shape, grad",
        lambda: call(fastq.SteSign().grad, x3(), x3(), out=np.zeros((3, 1), F32)),
        ValueError,
        r"out: expected shape \(3,\), got \(3, 1\)",
    ),
    # Issue #2 fixes this one: "ValueError ... for out of wrong shape or dtype or read-only" (a
    # float64 out for float32 results is a wrong argument value, not a wrong type).
    row(
        "out of the wrong dtype",
        lambda: call(fastq.SteSign(), x3(), out=np.zeros(3, np.float64)),
        ValueError,
        r"out: expected dtype float32, got float64",
    ),
    row(
        "read-only out",
        lambda: call(fastq.SteSign(), x3(), out=readonly(np.zeros(3, F32))),
        ValueError,
        r"out: .*read-only",
    ),
    row(
        "read-only out, grad",
        lambda: call(fastq.SwishSign().grad, x3(), x3(), out=readonly(np.zeros(3, F32))),
        ValueError,
        r"out: .*read-only",
    ),
    row(
        "out not an array",
        lambda: call(fastq.SteSign(), x3(), out=[0.0, 0.0, 0.0]),
        TypeError,
        r"out: expected a NumPy array, got list",
    ),
    # -- registry ---------------------------------------------------------------------------------
    row(
        "get unknown name",
        lambda: call(Q.get, "NoSuchQuantizer"),
        ValueError,
        r"Unknown quantizer: 'NoSuchQuantizer'.*Known names: .*SteSign",
    ),
    row("get NoOp without precision", lambda: call(Q.get, "NoOp"), TypeError, r"precision"),
    row("get 42", lambda: call(Q.get, 42), ValueError, r"Could not interpret quantizer identifier: 42"),
    row("get a list", lambda: call(Q.get, ["ste_sign"]), ValueError, r"Could not interpret quantizer identifier: \["),
    row(
        "get dict without class_name",
        lambda: call(Q.get, {"config": {}}),
        ValueError,
        r"Could not interpret quantizer identifier: \{'config'",
    ),
    row(
        "get dict with a non-dict config",
        lambda: call(Q.get, {"class_name": "SteSign", "config": [1.0]}),
        ValueError,
        r"'config' must be a dict, got list",
    ),
    row(
        "get dict with an unknown class name",
        lambda: call(Q.get, {"class_name": "Bogus", "config": {}}),
        ValueError,
        r"Unknown quantizer: 'Bogus'",
    ),
    row(
        "get dict with a non-string class name", lambda: call(Q.get, {"class_name": 5, "config": {}}), ValueError, r"5"
    ),
    row(
        "get dict with an unknown config key",
        lambda: call(Q.get, {"class_name": "SteSign", "config": {"bogus": 1}}),
        TypeError,
        r"bogus",
    ),
    row("from_config with a missing key", lambda: call(fastq.NoOp.from_config, {}), TypeError, r"precision"),
    # -- constructor parameters -------------------------------------------------------------------
    row(
        "DoReFa bad mode",
        lambda: call(fastq.DoReFa, mode="bogus"),
        ValueError,
        r"mode: expected 'activations' or 'weights', got 'bogus'",
    ),
    row(
        "DoReFa k_bit 0",
        lambda: call(fastq.DoReFa, k_bit=0),
        ValueError,
        r"k_bit: expected an integer in 1\.\.32, got 0",
    ),
    row(
        "DoReFa k_bit 33",
        lambda: call(fastq.DoReFa, k_bit=33),
        ValueError,
        r"k_bit: expected an integer in 1\.\.32, got 33",
    ),
    row(
        "DoReFa k_bit 2.5",
        lambda: call(fastq.DoReFa, k_bit=2.5),
        TypeError,
        r"k_bit: expected an integer in 1\.\.32, got float 2\.5",
    ),
    row(
        "DoReFa k_bit True",
        lambda: call(fastq.DoReFa, k_bit=True),
        TypeError,
        r"k_bit: expected an integer in 1\.\.32, got bool True",
    ),
    row(
        "negative clip_value",
        lambda: call(fastq.SteSign, clip_value=-1.0),
        ValueError,
        r"clip_value: expected a number >= 0 or None, got -1\.0",
    ),
    row(
        "NaN clip_value",
        lambda: call(fastq.MagnitudeAwareSign, clip_value=math.nan),
        ValueError,
        r"clip_value: expected a number >= 0 or None, got nan",
    ),
    row(
        "string clip_value",
        lambda: call(fastq.SteTern, clip_value="1"),
        TypeError,
        r"clip_value: expected a number >= 0 or None, got str '1'",
    ),
    row("beta string", lambda: call(fastq.SwishSign, beta="5"), TypeError, r"beta: expected a number, got str '5'"),
    row(
        "threshold string",
        lambda: call(fastq.SteTern, threshold_value="0.1"),
        TypeError,
        r"threshold_value: expected a number, got str '0.1'",
    ),
    row(
        "NoOp precision 0",
        lambda: call(fastq.NoOp, precision=0),
        ValueError,
        r"precision: expected an integer in 1\.\.2147483647, got 0",
    ),
    row("unknown metric", lambda: call(fastq.SteSign, metrics=["bogus"]), ValueError, r"metric 'bogus'"),
    row(
        "metrics_scope unknown metric",
        lambda: call(lambda m: fastq.context.metrics_scope(m).__enter__(), ["bogus"]),
        ValueError,
        r"metric 'bogus'",
    ),
    # -- threads ----------------------------------------------------------------------------------
    row(
        "set_num_threads(0)",
        lambda: call(fastq.set_num_threads, 0),
        ValueError,
        r"set_num_threads: n: expected an integer in 1\.\.1024, got 0",
    ),
    row(
        "set_num_threads(-1)",
        lambda: call(fastq.set_num_threads, -1),
        ValueError,
        r"set_num_threads: n: expected an integer in 1\.\.1024, got -1",
    ),
    row(
        "set_num_threads('2')",
        lambda: call(fastq.set_num_threads, "2"),
        TypeError,
        r"set_num_threads: n: expected an integer in 1\.\.1024, got str '2'",
    ),
    row(
        "set_num_threads(2.5)",
        lambda: call(fastq.set_num_threads, 2.5),
        TypeError,
        r"set_num_threads: n: expected an integer in 1\.\.1024, got float 2\.5",
    ),
    row(
        "set_num_threads(True)",
        lambda: call(fastq.set_num_threads, True),
        TypeError,
        r"set_num_threads: n: expected an integer in 1\.\.1024, got bool True",
    ),
    # -- raw _core kernels ------------------------------------------------------------------------
    row(
        "_core forward float16 x",
        lambda: call(_core.active.forward, ID["SteSign"], x3(np.float16), x3(np.float16)),
        TypeError,
        r"x: expected a float32 or float64 array in native byte order, got dtype float16",
    ),
    row(
        "_core forward byte-swapped x",
        lambda: call(_core.active.forward, ID["SteSign"], x3(">f4"), x3()),
        TypeError,
        r"x: expected a float32 or float64 array in native byte order, got dtype >f4",
    ),
    row(
        "_core forward out of another dtype",
        lambda: call(_core.active.forward, ID["SteSign"], x3(), x3(np.float64)),
        TypeError,
        r"out: expected dtype float32 like x, got float64",
    ),
    row(
        "_core backward dy of another dtype",
        lambda: call(_core.active.backward, ID["SteSign"], x3(), x3(np.float64), x3()),
        TypeError,
        r"dy: expected dtype float32 like x, got float64",
    ),
    row(
        "_core forward a list",
        lambda: call(_core.active.forward, ID["SteSign"], [1.0, 2.0], np.zeros(2, F32)),
        TypeError,
        r"incompatible function arguments",
    ),
    row(
        "_core forward non-contiguous x",
        lambda: call(_core.active.forward, ID["SteSign"], np.zeros(6, F32)[::2], x3()),
        ValueError,
        r"x: expected a C-contiguous array",
    ),
    row(
        "_core forward non-contiguous out",
        lambda: call(_core.active.forward, ID["SteSign"], x3(), np.zeros(6, F32)[::2]),
        ValueError,
        r"out: expected a C-contiguous array",
    ),
    row(
        "_core forward size mismatch",
        lambda: call(_core.active.forward, ID["SteSign"], x3(), np.zeros(4, F32)),
        ValueError,
        r"out: expected 3 elements like x, got 4",
    ),
    row(
        "_core backward dy size mismatch",
        lambda: call(_core.active.backward, ID["SteSign"], x3(), np.zeros(2, F32), x3()),
        ValueError,
        r"dy: expected 3 elements like x, got 2",
    ),
    row(
        "_core forward bad id",
        lambda: call(_core.active.forward, 99, x3(), np.zeros(3, F32)),
        ValueError,
        rf"quantizer id must be in \[0, {NUM_IDS}\), got 99",
    ),
    row(
        "_core forward negative id",
        lambda: call(_core.active.backward, -1, x3(), x3(), np.zeros(3, F32)),
        ValueError,
        rf"quantizer id must be in \[0, {NUM_IDS}\), got -1",
    ),
    row(
        "_core forward read-only out",
        lambda: call(_core.active.forward, ID["SteSign"], x3(), readonly(np.zeros(3, F32))),
        ValueError,
        r"out: the output array is read-only",
    ),
    row(
        "_core kernels_for bogus",
        lambda: call(_core.kernels_for, "bogus"),
        ValueError,
        r"ISA 'bogus' is not an ISA fastq knows \(expected one of: .*scalar\)",
    ),
    row(
        "_core kernels_for another architecture",
        lambda: call(_core.kernels_for, "neon" if platform.machine() in ("x86_64", "AMD64") else "avx2"),
        ValueError,
        r"ISA '(neon|avx2)' is not compiled into this build",
    ),
    row(
        "_core abs_sum int32",
        lambda: call(_core.active.abs_sum, np.ones(3, np.int32)),
        TypeError,
        r"x: expected a float32 or float64 array.*got dtype int32",
    ),
    row(
        "_core max_abs non-contiguous",
        lambda: call(_core.active.max_abs, np.ones((3, 4), F32)[:, ::2]),
        ValueError,
        r"x: expected a C-contiguous array",
    ),
    row(
        "_core channel_abs_mean out size",
        lambda: call(_core.active.channel_abs_mean, np.ones((2, 3), F32), np.zeros(2, F32)),
        ValueError,
        r"out: expected 3 elements \(one per channel\), got 2",
    ),
    row(
        "_core channel_abs_mean out dtype",
        lambda: call(_core.active.channel_abs_mean, np.ones((2, 3), F32), np.zeros(3, np.float64)),
        TypeError,
        r"out: expected dtype float32, got float64",
    ),
    row(
        "_core tanh read-only out",
        lambda: call(_core.active.tanh, x3(), readonly(np.zeros(3, F32))),
        ValueError,
        r"out: the output array is read-only",
    ),
]


# -- binary inference (only when it exists) ---------------------------------------------------


def _binary():
    """fastq's binary inference module, or skip (it may not be built yet)."""
    try:
        import fastq.binary as binary
    except ImportError:
        pytest.skip("fastq.binary is not available")
    if not all(hasattr(binary, n) for n in ("pack_bits", "binary_matmul", "BinaryDense")) or not hasattr(
        _core.Kernels, "binary_matmul"
    ):
        pytest.skip("binary inference is not built into _core")
    return binary


def _packed_k_mismatch():
    b = _binary()
    return call(b.binary_matmul, b.pack_bits(np.ones((2, 65), F32)), b.pack_bits(np.ones((2, 64), F32)))


def _dense_call(binary, kernel, x):
    return binary.BinaryDense(kernel)(x)


BINARY_ROWS = [
    row(
        "binary_matmul K mismatch",
        lambda: call(_binary().binary_matmul, np.ones((2, 5), F32), np.ones((3, 6), F32)),
        ValueError,
        r"K mismatch.*K=5.*K=6",
    ),
    row("binary_matmul packed K mismatch", _packed_k_mismatch, ValueError, r"K mismatch.*K=65.*K=64"),
    row(
        "binary_matmul 3-D a",
        lambda: call(_binary().binary_matmul, np.ones((2, 2, 5), F32), np.ones((3, 5), F32)),
        ValueError,
        r"a: expected a 2-D .*got shape \(2, 2, 5\)",
    ),
    row(
        "binary_matmul 1-D b",
        lambda: call(_binary().binary_matmul, np.ones((2, 5), F32), np.ones(5, F32)),
        ValueError,
        r"b: expected a 2-D .*got shape \(5,\)",
    ),
    row(
        "binary_matmul complex a",
        lambda: call(_binary().binary_matmul, np.ones((2, 5), complex), np.ones((3, 5), F32)),
        TypeError,
        r"a: expected .*got .*complex128",
    ),
    row(
        "binary_matmul uint64 words as b",
        lambda: call(_binary().binary_matmul, np.ones((2, 5), F32), np.ones((3, 1), np.uint64)),
        TypeError,
        r"b: expected .*uint64",
    ),
    row(
        "binary_matmul None",
        lambda: call(_binary().binary_matmul, None, np.ones((3, 5), F32)),
        TypeError,
        r"a: expected .*NoneType",
    ),
    row(
        "pack_bits 0-d",
        lambda: call(_binary().pack_bits, np.array(1.0, F32)),
        ValueError,
        r"x: expected at least 1 dimension",
    ),
    row(
        "pack_bits complex", lambda: call(_binary().pack_bits, np.ones((2, 3), complex)), TypeError, r"x: .*complex128"
    ),
    row(
        "unpack_bits of an array",
        lambda: call(_binary().unpack_bits, np.ones((2, 1), np.uint64)),
        TypeError,
        r"p: expected a PackedBits.*got ndarray",
    ),
    row(
        "PackedBits.from_words float32 words",
        lambda: call(_binary().PackedBits.from_words, np.zeros((2, 1), F32), 5),
        TypeError,
        r"words: expected a uint64 array.*got dtype float32",
    ),
    row(
        "PackedBits.from_words wrong word count",
        lambda: call(_binary().PackedBits.from_words, np.zeros((2, 2), np.uint64), 5),
        ValueError,
        r"words: expected 1 words per row for k=5",
    ),
    row(
        "BinaryDense x of the wrong width",
        lambda: call(_dense_call, _binary(), np.ones((4, 10), F32), np.ones((2, 9), F32)),
        ValueError,
        r"x: expected shape \(\.\.\., 10\).*got \(2, 9\)",
    ),
    row(
        "BinaryDense scale of the wrong shape",
        lambda: call(_binary().BinaryDense, np.ones((4, 10), F32), np.ones(3, F32)),
        ValueError,
        r"scale: expected a scalar or shape \(4,\).*got shape \(3,\)",
    ),
    row(
        "BinaryDense 1-D kernel",
        lambda: call(_binary().BinaryDense, np.ones(10, F32)),
        ValueError,
        r"kernel: expected a 2-D",
    ),
]


# ---------------------------------------------------------------------------------------------


def _snapshot(a: np.ndarray):
    return a.copy(), a.flags.writeable, a.dtype, a.shape, a.strides


def _assert_unchanged(a: np.ndarray, snap):
    copy_, writeable, dtype, shape, strides = snap
    assert (a.dtype, a.shape, a.strides, a.flags.writeable) == (dtype, shape, strides, writeable)
    if a.dtype.kind in "fciub" and a.dtype.itemsize:
        raw = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
        assert np.array_equal(raw, np.ascontiguousarray(copy_).reshape(-1).view(np.uint8)), "an input was modified"
    else:  # object / string / datetime
        assert np.array_equal(a, copy_) or a.tobytes() == copy_.tobytes(), "an input was modified"


def _check_row(factory, exc, pattern):
    threads = fastq.get_num_threads()
    fn, watched = factory()
    snaps = [_snapshot(a) for a in watched]
    with pytest.raises(exc) as info:
        fn()
    assert type(info.value) is exc or issubclass(type(info.value), exc)
    assert re.search(pattern, str(info.value), re.S), f"message {str(info.value)!r} does not match {pattern!r}"
    for a, s in zip(watched, snaps):
        _assert_unchanged(a, s)
    assert fastq.get_num_threads() == threads  # a failed setting changes nothing


@pytest.mark.parametrize("factory, exc, pattern", ROWS)
def test_bad_input_raises(factory, exc, pattern):
    _check_row(factory, exc, pattern)


@pytest.mark.parametrize("factory, exc, pattern", BINARY_ROWS)
def test_bad_binary_input_raises(factory, exc, pattern):
    _check_row(factory, exc, pattern)


def test_the_table_is_large():
    assert len(ROWS) >= 25


def test_still_works_after_the_bad_inputs():
    # Nothing above left fastq in a broken state.
    x = np.linspace(-2, 2, 1001, dtype=F32)
    np.testing.assert_array_equal(fastq.SteSign()(x), np.where(x < 0, F32(-1), F32(1)))


# ---------------------------------------------------------------------------------------------
# Environment variables: read at import, so each case runs in a fresh interpreter
# ---------------------------------------------------------------------------------------------

OTHER_ARCH_ISA = "neon" if platform.machine() in ("x86_64", "AMD64", "i686") else "avx2"
ENV_ROWS = [
    pytest.param(
        {"FASTQ_FORCE_ISA": "bogus"}, r"ValueError: ISA 'bogus' is not an ISA fastq knows", id="FORCE_ISA=bogus"
    ),
    pytest.param(
        {"FASTQ_FORCE_ISA": OTHER_ARCH_ISA},
        rf"ValueError: ISA '{OTHER_ARCH_ISA}' is not compiled into this build",
        id="FORCE_ISA=other-arch",
    ),
    pytest.param({"FASTQ_FORCE_ISA": "AVX2"}, r"ValueError: ISA 'AVX2' is not an ISA fastq knows", id="FORCE_ISA=AVX2"),
    pytest.param(
        {"FASTQ_NUM_THREADS": "0"},
        r"ValueError: FASTQ_NUM_THREADS: expected an integer in 1\.\.1024, got '0'",
        id="NUM_THREADS=0",
    ),
    pytest.param(
        {"FASTQ_NUM_THREADS": "-3"},
        r"ValueError: FASTQ_NUM_THREADS: expected an integer in 1\.\.1024, got '-3'",
        id="NUM_THREADS=-3",
    ),
    pytest.param(
        {"FASTQ_NUM_THREADS": "abc"},
        r"ValueError: FASTQ_NUM_THREADS: expected an integer in 1\.\.1024, got 'abc'",
        id="NUM_THREADS=abc",
    ),
    pytest.param(
        {"FASTQ_NUM_THREADS": "2.5"},
        r"ValueError: FASTQ_NUM_THREADS: expected an integer in 1\.\.1024, got '2.5'",
        id="NUM_THREADS=2.5",
    ),
]


def _python_env(extra):
    env = dict(os.environ)
    for k in ("FASTQ_FORCE_ISA", "FASTQ_NUM_THREADS"):
        env.pop(k, None)
    pkg = str(Path(fastq.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


@pytest.mark.parametrize("env, pattern", ENV_ROWS)
def test_bad_environment_fails_the_import_cleanly(env, pattern):
    r = subprocess.run(
        [sys.executable, "-c", "import fastq"], env=_python_env(env), capture_output=True, text=True, timeout=120
    )
    assert r.returncode > 0, f"exit code {r.returncode} (negative: killed by a signal)\n{r.stderr}"
    assert "Traceback" in r.stderr, r.stderr
    assert re.search(pattern, r.stderr), r.stderr
    for bad in ("Fatal Python error", "Aborted", "core dumped", "Segmentation fault", "terminate called"):
        assert bad not in r.stderr, r.stderr


def test_good_environment_imports():
    # The control: the same subprocess route with valid values works.
    env = _python_env({"FASTQ_FORCE_ISA": "scalar", "FASTQ_NUM_THREADS": "3"})
    code = "import fastq; print(fastq.active_isa(), fastq.get_num_threads())"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["scalar", "3"]
