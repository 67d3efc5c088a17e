"""The binary convolution's fused residual add (float32 output: y = (float32(act(dot)) * scale + bias) + r,
each step rounded), used by fastq.models for a conv -> BN -> Add shortcut: every ISA table against the
scalar one and against the NumPy formula, bit for bit."""

import numpy as np
import pytest

import fastq
from fastq import _core, reference

ISAS = _core.available_isas()


def _plan(kern, kernel, relu, scale, bias, padding="same", strides=(1, 1)):
    words = fastq.pack_bits(np.ascontiguousarray(kernel.transpose(3, 0, 1, 2))).words
    return kern.conv_plan(words, kernel.shape[2], 1, strides, (1, 1), padding, False, "affine", scale, bias, relu)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("n,hw,c,o,relu", [(1, 7, 65, 64, False), (2, 9, 64, 129, True), (1, 5, 3, 17, False)])
def test_residual_matches_formula_and_scalar(isa, n, hw, c, o, relu):
    rng = np.random.default_rng([n, hw, c, o])
    x = rng.standard_normal((n, hw, hw, c), dtype=np.float32)
    kernel = rng.standard_normal((3, 3, c, o), dtype=np.float32)
    scale = rng.standard_normal(o).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32)
    r = (rng.standard_normal((n, hw, hw, o)) * 100).astype(np.float32)
    dots = reference.binary_conv2d(x, kernel, 1, "same", 1.0).astype(np.float32)
    if relu:
        dots = np.maximum(dots, 0)
    want = (dots * scale + bias) + r  # float32 NumPy: each step rounded
    plan = _plan(_core.kernels_for(isa), kernel, relu, scale, bias)
    got = plan(x, None, r)
    np.testing.assert_array_equal(got, want)
    scalar = _plan(_core.kernels_for("scalar"), kernel, relu, scale, bias)(x, None, r)
    np.testing.assert_array_equal(got, scalar)
    # in place: out is the residual itself
    r2 = r.copy()
    assert plan(fastq.pack_bits(x).words, r2, r2) is r2
    np.testing.assert_array_equal(r2, want)


def test_residual_errors():
    kern = _core.active
    kernel = np.ones((3, 3, 8, 4), np.float32)
    plan = _plan(kern, kernel, False, np.ones(4, np.float32), np.zeros(4, np.float32))
    x = np.ones((1, 5, 5, 8), np.float32)
    with pytest.raises(ValueError, match=r"residual: expected shape \(1, 5, 5, 4\), got \(1, 5, 5, 3\)"):
        plan(x, None, np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(TypeError, match="residual: expected dtype float32, got float64"):
        plan(x, None, np.zeros((1, 5, 5, 4)))
    with pytest.raises(TypeError, match="residual: expected a float32 NumPy array, got list"):
        plan(x, None, [1.0])
    buf = np.zeros(200, np.float32)
    with pytest.raises(ValueError, match="residual: must be out itself or not overlap it"):
        plan(x, buf[:100].reshape(1, 5, 5, 4), buf[1:101].reshape(1, 5, 5, 4))
    # the residual may be x itself (both only read): QuickNet's blocks add the conv's own input
    sq = _plan(kern, np.ones((3, 3, 4, 4), np.float32), False, np.ones(4, np.float32), np.zeros(4, np.float32))
    x4 = np.random.default_rng(0).standard_normal((1, 5, 5, 4), dtype=np.float32)
    np.testing.assert_array_equal(sq(x4, None, x4), sq(x4) + x4)
    signs = kern.conv_plan(
        fastq.pack_bits(np.ascontiguousarray(kernel.transpose(3, 0, 1, 2))).words,
        8,
        1,
        (1, 1),
        (1, 1),
        "same",
        False,
        "signs",
        np.ones(4, np.float32),
        np.zeros(4, np.float32),
        False,
    )
    with pytest.raises(ValueError, match="residual: only for float32 output"):
        signs(x, None, np.zeros((1, 5, 5, 4), np.float32))
