"""Tests of fastq.reference (the pure-NumPy oracle) against hand-computed values.

Every expected number below is written literally or computed from first principles in float64 /
plain Python, never by calling fastq.reference itself. The edges are the ones docs/semantics.md names.
"""

import math

import numpy as np
import pytest

from fastq import reference as ref

pytestmark = pytest.mark.filterwarnings("error")

F16, F32, F64 = np.float16, np.float32, np.float64
FLOATS = [F16, F32, F64]
NAN, INF = math.nan, math.inf


def arr(values, dtype):
    return np.array(values, dtype=dtype)


def assert_same(actual, expected, dtype=None):
    """Exact equality, NaN == NaN, and the dtype (of expected unless given)."""
    expected = np.asarray(expected, dtype=dtype)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


def smallest_subnormal(dtype):
    return {F16: 2.0**-24, F32: 2.0**-149, F64: 5e-324}[dtype]


def cfg(name):
    return {"precision": 1} if name == "NoOp" else {}


# ------------------------------------------------------------------------------ primitives


@pytest.mark.parametrize("dtype", FLOATS)
def test_sign(dtype):
    tiny = smallest_subnormal(dtype)
    x = arr([0.0, -0.0, 1.0, -1.0, INF, -INF, 0.5, -0.5, tiny, -tiny, NAN], dtype)
    y = ref.sign(x)
    assert_same(y, arr([1, 1, 1, -1, 1, -1, 1, -1, 1, -1, NAN], dtype))
    assert not np.signbit(y[:2]).any()  # +-0 -> +1, never -1 or 0
    for name in ("SteSign", "ApproxSign", "SwishSign"):
        assert_same(ref.forward(name, x), y)


def test_sign_subnormal_float32_follows_ieee():
    # docs/semantics.md, "Deliberate differences from larq": no flush to zero, so sign(-1e-40) = -1.
    assert_same(ref.sign(arr([1e-40, -1e-40], F32)), arr([1, -1], F32))


def test_sign_keeps_nan_payload():
    x = np.array([0x7FC01234, 0xFFC00001], dtype=np.uint32).view(F32)
    assert ref.sign(x).view(np.uint32).tolist() == [0x7FC01234, 0xFFC00001]


@pytest.mark.parametrize("dtype", FLOATS)
def test_heaviside(dtype):
    tiny = smallest_subnormal(dtype)
    x = arr([0.0, -0.0, tiny, -tiny, INF, -INF, 2.0, -2.0, NAN], dtype)
    y = ref.heaviside(x)
    assert_same(y, arr([0, 0, 1, 0, 1, 0, 1, 0, NAN], dtype))
    assert not np.signbit(y[[0, 1, 3, 5]]).any()
    assert_same(ref.forward("SteHeaviside", x), y)
    assert_same(ref.heaviside(arr([1e-40], F32)), arr([1], F32))


# ------------------------------------------------------------------------------ clipped STE

STE_NAMES = ["SteSign", "SteHeaviside", "SteTern"]


@pytest.mark.parametrize("name", STE_NAMES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_ste_grad_mask_is_inclusive(name, dtype):
    above = float(np.nextafter(dtype(1), dtype(2)))
    x = arr([1.0, -1.0, above, -above, 0.0, -0.0, 0.5, NAN, INF, -INF], dtype)
    dy = arr([2, 3, 4, 5, 6, 7, 8, 9, 10, 11], dtype)
    expected = arr([2, 3, 0, 0, 6, 7, 8, 0, 0, 0], dtype)
    dx = ref.backward(name, x, dy, clip_value=1.0)
    assert_same(dx, expected)
    assert not np.signbit(dx).any()  # masked positions are +0.0
    assert_same(ref.ste_grad(x, dy, 1.0), expected)


@pytest.mark.parametrize("name", STE_NAMES)
def test_ste_grad_clip_none_passes_everything(name):
    x = arr([NAN, INF, -INF, 1e30, 0.0], F32)
    dy = arr([1, 2, 3, 4, 5], F32)
    assert_same(ref.backward(name, x, dy, clip_value=None), dy)
    assert_same(ref.ste_grad(x, dy, None), dy)


def test_ste_grad_clip_zero_and_fractional():
    x = arr([0.0, -0.0, 1e-40, -1e-40, NAN], F32)
    assert_same(ref.ste_grad(x, 1.0, 0.0), arr([1, 1, 0, 0, 0], F32))
    # clip converted to float32 first: x == float32(0.1) passes, the next float32 does not.
    x = arr([0.1, -0.1, np.nextafter(F32(0.1), F32(1))], F32)
    assert_same(ref.backward("SteSign", x, 1.0, clip_value=0.1), arr([1, 1, 0], F32))
    x = arr([0.5, -0.5, 0.50001], F64)
    assert_same(ref.backward("SteHeaviside", x, 2.0, clip_value=0.5), arr([2, 2, 0], F64))


def test_float16_parameters_round_to_float16_first():
    # docs/semantics.md: parameters are converted to the input's dtype. float16(0.7) = 0.7001953125 is
    # above 0.7, so x = float16(0.7) sits exactly on the clip and passes.
    x = arr([0.7, -0.7, 0.70068359375], F16)  # the last is the next float16 up
    assert_same(ref.backward("SteSign", x, F16(2), clip_value=0.7), arr([2, 2, 0], F16))
    assert_same(ref.ste_grad(x, F16(2), 0.7), arr([2, 2, 0], F16))
    assert_same(ref.forward("SteTern", x, threshold_value=0.7), arr([1, -1, 1], F16))


def test_dy_broadcasts_and_bad_dy_raises():
    x = arr([[0.5, 2.0], [-0.5, -2.0]], F32)
    assert_same(ref.backward("SteSign", x, arr([3.0, 4.0], F32)), arr([[3, 0], [3, 0]], F32))
    with pytest.raises(ValueError):
        ref.backward("SteSign", x, np.ones(3, F32))
    with pytest.raises(TypeError):
        ref.backward("SteSign", x, np.ones(2, np.complex64))


# ------------------------------------------------------------------------------ ApproxSign


@pytest.mark.parametrize("dtype", FLOATS)
def test_approx_sign_grad(dtype):
    above = float(np.nextafter(dtype(1), dtype(2)))
    x = arr([0.0, -0.0, 0.5, -0.5, 0.25, -0.75, 1.0, -1.0, above, 1.5, -1.5, NAN, INF], dtype)
    expected = [6, 6, 3, 3, 4.5, 1.5, 0, 0, 0, 0, 0, 0, 0]  # 2*(1-|x|)*3 inside |x| <= 1
    assert_same(ref.backward("ApproxSign", x, dtype(3)), arr(expected, dtype))
    assert_same(ref.forward("ApproxSign", x[:4]), arr([1, 1, 1, -1], dtype))


def test_float16_is_computed_in_float32_and_rounded_once():
    # exact 2*(1-0.459228515625)*1.8837890625 = 2.0373988151550293 -> float16 2.037109375
    # (float16 arithmetic step by step would give 2.0390625).
    dx = ref.backward("ApproxSign", arr([0.459228515625], F16), arr([1.8837890625], F16))
    assert_same(dx, arr([2.037109375], F16))


# ------------------------------------------------------------------------------ SwishSign


def swish_grad_f64(x, dy, beta):
    """d/dx of SwishSign's surrogate 2*s(b)*(1 + b*(1 - s(b))) - 1, b = beta*x, s = sigmoid.

    = beta * 2*s*(1-s) * (2 + b*(1 - 2s)), an independent closed form of larq's expression.
    """
    b = beta * np.asarray(x, F64)
    s = 1.0 / (1.0 + np.exp(-b))
    return dy * beta * 2.0 * s * (1.0 - s) * (2.0 + b * (1.0 - 2.0 * s))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("beta", [5.0, 10.0])
def test_swish_sign_grad_at_zero(dtype, beta):
    dx = ref.backward("SwishSign", arr([0.0, -0.0, 0.0], dtype), arr([1.0, 1.0, 2.5], dtype), beta=beta)
    assert_same(dx, arr([beta, beta, 2.5 * beta], dtype))


@pytest.mark.parametrize("dtype,rtol", [(F32, 2e-5), (F64, 1e-12)])
@pytest.mark.parametrize("beta", [5.0, 10.0])
def test_swish_sign_grad_closed_form(dtype, rtol, beta):
    rng = np.random.default_rng(42)
    x = np.concatenate([[0.0], rng.uniform(-2, 2, 500)]).astype(dtype)
    dy = rng.uniform(-3, 3, x.size).astype(dtype)
    expected = swish_grad_f64(x, dy.astype(F64), beta)
    dx = ref.backward("SwishSign", x, dy, beta=beta)
    assert dx.dtype == dtype
    # near the sign change 2 - b*tanh(b/2) cancels: the error there is absolute, a few ulp of
    # the terms (~ beta * |dy| * 2)
    atol = 50 * np.finfo(dtype).eps * beta * 3.0
    np.testing.assert_allclose(dx, expected, rtol=rtol, atol=atol)


def test_swish_sign_grad_float16_close_to_closed_form():
    x = np.linspace(-1, 1, 201).astype(F16)
    dx = ref.backward("SwishSign", x, F16(1))
    assert dx.dtype == F16
    np.testing.assert_allclose(dx, swish_grad_f64(x, 1.0, 5.0), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("dtype", FLOATS)
def test_swish_sign_grad_changes_sign_at_2_39936(dtype):
    b0 = 2.3993572805154675  # root of 2 - b*tanh(b/2), by bisection in float64
    beta = 5.0
    x = arr([0.99 * b0 / beta, 1.01 * b0 / beta, -0.99 * b0 / beta, -1.01 * b0 / beta], dtype)
    dx = ref.backward("SwishSign", x, dtype(1), beta=beta)
    assert (dx[[0, 2]] > 0).all() and (dx[[1, 3]] < 0).all()


@pytest.mark.parametrize("dtype,big", [(F16, 20.0), (F32, 20.0), (F64, 200.0)])
def test_swish_sign_grad_overflow_and_inf(dtype, big):
    # beta*x = 100 (1000 for float64): cosh overflows -> finite / inf = -0 for dy > 0.
    x = arr([big, -big, INF, -INF], dtype)
    dx = ref.backward("SwishSign", x, dtype(1), beta=5.0)
    assert_same(dx, arr([0, 0, NAN, NAN], dtype))
    assert np.signbit(dx[:2]).all()
    dx = ref.backward("SwishSign", x[:2], dtype(-1), beta=5.0)
    assert not np.signbit(dx).any()


def test_swish_sign_grad_float32_just_below_overflow():
    # beta*x = 80: cosh(80) = 2.77e34 is finite in float32; dx is a tiny negative number.
    dx = ref.backward("SwishSign", arr([16.0], F32), F32(1), beta=5.0)
    np.testing.assert_allclose(dx, [5.0 * (2 - 80.0) / (1 + math.cosh(80.0))], rtol=1e-5)
    assert dx[0] < 0


# ------------------------------------------------------------------------------ MagnitudeAwareSign


def eighths(rng, shape, dtype):
    # multiples of 1/8 in [-8, 8]: every float64 sum of them is exact
    return (rng.integers(-64, 65, size=shape) / 8.0).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(37, 19), (3, 3, 8, 16), (1, 5)])
def test_magnitude_aware_sign(dtype, shape):
    rng = np.random.default_rng(7)
    x = eighths(rng, shape, dtype)
    x[..., 3] = 0.0  # larq's generate_real_values_with_zeros: an exact zero column
    x.flat[0] = -0.0
    c = shape[-1]
    rows = x.astype(F64).reshape(-1, c)
    scale64 = np.abs(rows).sum(axis=0) / rows.shape[0]
    scale = scale64.astype(F32 if dtype == F16 else dtype)
    assert_same(ref.magnitude_aware_scale(x), scale.astype(dtype))
    assert ref.magnitude_aware_scale(x).shape == (c,)
    signs = np.where(x < 0, -1.0, 1.0)
    expected = (signs * scale).astype(dtype)
    y = ref.forward("MagnitudeAwareSign", x)
    assert_same(y, expected)
    assert (y[..., 3] == 0).all()
    dy = eighths(rng, shape, dtype)
    mask = np.abs(x.astype(F64)) <= 1.0
    prod = scale * dy.astype(scale.dtype)  # one product in the working dtype
    expected_dx = np.where(mask, prod, 0.0).astype(dtype)
    assert_same(ref.backward("MagnitudeAwareSign", x, dy), expected_dx)
    assert_same(ref.backward("MagnitudeAwareSign", x, dy, clip_value=None), prod.astype(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_magnitude_aware_sign_1d_and_0d(dtype):
    x = arr([0.5, -0.75, 0.0, -0.0, -2.0, 3.0], dtype)
    y = ref.forward("MagnitudeAwareSign", x)
    assert_same(y, arr([0.5, -0.75, 0, 0, -2, 3], dtype))  # y == x
    assert_same(ref.magnitude_aware_scale(x), arr([0.5, 0.75, 0, 0, 2, 3], dtype))
    dy = arr([2, 4, 1, 1, 1, 1], dtype)
    # |x| * dy * (|x| <= 1)
    assert_same(ref.backward("MagnitudeAwareSign", x, dy), arr([1, 3, 0, 0, 0, 0], dtype))
    assert_same(ref.backward("MagnitudeAwareSign", x, dy, clip_value=None), arr([1, 3, 0, 0, 2, 3], dtype))
    x0 = np.array(-0.5, dtype)
    assert_same(ref.forward("MagnitudeAwareSign", x0), np.array(-0.5, dtype))
    assert_same(ref.backward("MagnitudeAwareSign", x0, dtype(2)), np.array(1.0, dtype))


def test_magnitude_aware_sign_nan_and_inf_channel():
    x = arr([[1.0, 2.0, 0.5], [-3.0, NAN, -0.5], [1.0, 0.5, INF], [1.0, -0.5, 0.5]], F32)
    y = ref.forward("MagnitudeAwareSign", x)
    assert_same(y[:, 0], arr([1.5, -1.5, 1.5, 1.5], F32))  # mean(1, 3, 1, 1) = 1.5
    assert np.isnan(y[:, 1]).all()
    assert_same(y[:, 2], arr([INF, -INF, INF, INF], F32))
    dx = ref.backward("MagnitudeAwareSign", x, F32(1))
    assert_same(dx[:, 0], arr([1.5, 0, 1.5, 1.5], F32))
    assert_same(dx[:2, 1], arr([0, 0], F32))  # |x| = 2 > clip, and NaN x, are masked
    assert np.isnan(dx[2:, 1]).all()  # NaN scale * dy where the mask passes


# ------------------------------------------------------------------------------ SteTern


@pytest.mark.parametrize("dtype", FLOATS)
def test_ste_tern_fixed_threshold(dtype):
    t = 0.05
    below = float(np.nextafter(dtype(t), dtype(0)))
    x = arr([t, -t, below, -below, 0.0, -0.0, 0.06, -0.06, 1.0, -1.0, INF, -INF, NAN], dtype)
    y = ref.forward("SteTern", x, threshold_value=t)
    assert_same(y, arr([1, -1, 0, 0, 0, 0, 1, -1, 1, -1, 1, -1, NAN], dtype))
    assert not np.signbit(y[[2, 3, 4, 5]]).any()  # zeros are +0
    assert_same(ref.forward("SteTern", x), y)  # default threshold_value=0.05


def test_ste_tern_zero_threshold():
    x = arr([0.0, -0.0, 1e-40, -1e-40, 2.0, -2.0], F32)
    assert_same(ref.forward("SteTern", x, threshold_value=0.0), arr([0, 0, 1, -1, 1, -1], F32))


def test_ste_tern_twn_threshold_float32():
    x = arr([1.0, -2.0, 3.0, -0.5, 0.25, 0.0, -0.75, 1.5], F32)
    # sum|x| = 9, size 8: (0.7f * 9) / 8 in float32
    assert ref.twn_threshold(x) == F32(0.7874999642372131)
    assert ref.twn_threshold(x).dtype == F32
    y = ref.forward("SteTern", x, ternary_weight_networks=True)
    assert_same(y, arr([1, -1, 1, 0, 0, 0, 0, 1], F32))
    # threshold_value is ignored with TWN
    assert_same(ref.forward("SteTern", x, threshold_value=5.0, ternary_weight_networks=True), y)


def test_ste_tern_twn_value_equal_to_threshold():
    x = arr([0.7, -0.7, 1.3, -1.3], F64)
    assert ref.twn_threshold(x) == 0.7  # 0.7 * 4.0 / 4
    y = ref.forward("SteTern", x, ternary_weight_networks=True)
    assert_same(y, arr([1, -1, 1, -1], F64))


def test_ste_tern_twn_special_inputs():
    y = ref.forward("SteTern", arr([1.0, NAN, -2.0, 0.0], F32), ternary_weight_networks=True)
    assert np.isnan(y).all()
    z = ref.forward("SteTern", np.zeros((2, 3), F32), ternary_weight_networks=True)
    assert_same(z, np.zeros((2, 3), F32))  # Δ = 0, sign0(0) = 0
    # larq's literal formula with an inf: Δ = inf, finite x -> sign(inf) + sign(-inf) = 0,
    # x = +-inf -> inf - inf = NaN.
    y = ref.forward("SteTern", arr([1.0, INF, -2.0, -INF], F32), ternary_weight_networks=True)
    assert_same(y, arr([0, NAN, 0, NAN], F32))


def test_ste_tern_grad_uses_clip_not_threshold():
    x = arr([0.05, 0.01, 1.0, 1.5, -1.0, NAN], F32)
    dy = arr([1, 2, 3, 4, 5, 6], F32)
    assert_same(ref.backward("SteTern", x, dy), arr([1, 2, 3, 0, 5, 0], F32))
    assert_same(
        ref.backward("SteTern", x, dy, clip_value=0.5, ternary_weight_networks=True), arr([1, 2, 0, 0, 0, 0], F32)
    )


# ------------------------------------------------------------------------------ DoReFa

KBITS = [1, 2, 4, 8, 32]


@pytest.mark.parametrize("dtype", [F32, F64])
def test_dorefa_activations_k1_k2(dtype):
    x = arr([0.0, 0.25, 0.5, 0.75, 1.0, -1.0, 2.0, INF, -INF, NAN], dtype)
    y = ref.forward("DoReFa", x, k_bit=1)
    assert_same(y, arr([0, 0, 0, 1, 1, 0, 1, 1, 0, NAN], dtype))  # 0.5 -> rint(0.5) = 0
    x = arr([0.0, 0.1, 0.2, 0.5, 0.9, 1.0, 1.5, -0.5, NAN], dtype)
    third, two_thirds = dtype(1) / dtype(3), dtype(2) / dtype(3)
    y = ref.forward("DoReFa", x, k_bit=2)  # default mode="activations"
    assert_same(y, arr([0, 0, third, two_thirds, 1, 1, 1, 0, NAN], dtype))  # 0.5 -> 2/3


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("k", [4, 8])
def test_dorefa_activation_ties_round_half_to_even(dtype, k):
    n = 2**k - 1
    # x = 0.5: x*n = n/2 = (n-1)/2 + 1/2 with (n-1)/2 odd -> rounds up to (n+1)/2
    y = ref.forward("DoReFa", arr([0.5], dtype), k_bit=k)
    assert_same(y, arr([dtype((n + 1) // 2) / dtype(n)], dtype))


def test_dorefa_k32():
    # float64: n = 4294967295, 0.5*n = 2147483647.5 -> 2147483648 (even)
    y = ref.forward("DoReFa", arr([0.5, 1.0, 0.0], F64), k_bit=32)
    assert_same(y, arr([2147483648 / 4294967295, 1.0, 0.0], F64))
    # float32: n = float32(2**32 - 1) = 2**32, so the levels are the multiples of 2**-32
    x = arr([0.5, 0.1, 1.0, 3 * 2.0**-32, 1e-3], F32)
    y = ref.forward("DoReFa", x, k_bit=32)
    assert_same(y[:4], x[:4])
    # float32(1e-3) = 8589935 * 2**-33, so p*n = 4294967.5: a tie, rounded to even 4294968
    assert_same(y[4:], arr([4294968 / 2**32], F32))


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_dorefa_levels(dtype, k):
    n = 2**k - 1
    levels = arr([dtype(i) / dtype(n) for i in range(n + 1)], dtype)  # i/n
    assert_same(ref.forward("DoReFa", levels, k_bit=k), levels)  # fixed points
    dense = np.linspace(-0.5, 1.5, 4001).astype(dtype)
    y = ref.forward("DoReFa", dense, k_bit=k)
    assert set(np.unique(y).tolist()) == {float(dtype(i) / dtype(n)) for i in range(n + 1)}
    w = ref.forward("DoReFa", np.linspace(-3, 3, 4001).astype(dtype), k_bit=k, mode="weights")
    expected = {float(dtype(2) * (dtype(i) / dtype(n)) - dtype(1)) for i in range(n + 1)}
    assert set(np.unique(w).tolist()) == expected


def test_dorefa_weight_levels_asymmetric_float32():
    x = arr([-3.0, -0.2, 0.2, 3.0], F32)
    y = ref.forward("DoReFa", x, k_bit=2, mode="weights")
    assert_same(y, arr([-1.0, -0.3333333134651184, 0.3333333730697632, 1.0], F32))
    assert y[1] == F32(-0.3333333) and y[2] == F32(0.33333337)


@pytest.mark.parametrize("dtype", [F16, F32, F64])
@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_dorefa_zero_weight_is_a_tie(dtype, k):
    n = 2**k - 1
    # p*n = n/2 is a tie: k=1 -> rint(0.5) = 0 -> y = -1; k>=2 -> (n+1)/2 (even) -> y = +1/n,
    # computed as the level 2*(i/n) - 1 in the working dtype (float32 for float16).
    wd = F32 if dtype == F16 else dtype
    i = 0 if k == 1 else (n + 1) // 2
    w = dtype(wd(2) * (wd(i) / wd(n)) - wd(1))
    assert w == (-1 if k == 1 else pytest.approx(1 / n, rel=1e-3))
    x = arr([0.0, 0.5, -1.0, 0.0], dtype)
    assert ref.forward("DoReFa", x, k_bit=k, mode="weights")[[0, 3]].tolist() == [w, w]
    z = np.zeros((2, 3), dtype)  # d == 0: p = 0.5 everywhere, no gradient
    assert_same(ref.forward("DoReFa", z, k_bit=k, mode="weights"), np.full((2, 3), w, dtype))
    assert_same(ref.backward("DoReFa", z, np.ones_like(z), k_bit=k, mode="weights"), np.zeros((2, 3), dtype))
    assert ref.dorefa_weight_divisor(z) == 0


@pytest.mark.parametrize("k", KBITS)
def test_dorefa_weights_nan_poisons_everything(k):
    x = arr([0.3, NAN, -2.0, 0.0], F32)
    assert np.isnan(ref.forward("DoReFa", x, k_bit=k, mode="weights")).all()
    assert np.isnan(ref.backward("DoReFa", x, F32(1), k_bit=k, mode="weights")).all()
    assert np.isnan(ref.dorefa_weight_divisor(x))


@pytest.mark.parametrize("dtype,rtol", [(F32, 1e-6), (F64, 1e-14)])
@pytest.mark.parametrize("k", KBITS)
def test_dorefa_weights_grad(dtype, rtol, k):
    x = arr([0.0, 0.5, -1.0, 0.25], dtype)
    dy = arr([1.0, 2.0, 3.0, -4.0], dtype)
    d = math.tanh(1.0)  # max |tanh(x)|
    assert ref.dorefa_weight_divisor(x) == pytest.approx(d, rel=rtol)
    # dx = dy * tanh'(x) / d = dy / (cosh(x)**2 * d)
    expected = [float(g) / (math.cosh(float(v)) ** 2 * d) for v, g in zip(x, dy)]
    dx = ref.backward("DoReFa", x, dy, k_bit=k, mode="weights")
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, expected, rtol=rtol)


def test_dorefa_weights_inf():
    # tanh(+-inf) = +-1 = d: +-inf map to the end levels; dx there is dy * 0 / 1 = 0
    x = arr([INF, -INF, 0.0], F32)
    y = ref.forward("DoReFa", x, k_bit=2, mode="weights")
    assert_same(y, arr([1.0, -1.0, 0.3333333730697632], F32))
    assert_same(ref.backward("DoReFa", x, F32(2), mode="weights"), arr([0, 0, 2], F32))


@pytest.mark.parametrize("dtype", FLOATS)
def test_dorefa_activations_grad_inclusive(dtype):
    tiny = smallest_subnormal(dtype)
    above = float(np.nextafter(dtype(1), dtype(2)))
    x = arr([0.0, -0.0, 1.0, 0.5, tiny, -tiny, above, NAN, INF, -INF, -1.0, 2.0], dtype)
    dy = arr(np.arange(1, 13), dtype)
    expected = arr([1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0], dtype)
    for k in KBITS:
        assert_same(ref.backward("DoReFa", x, dy, k_bit=k), expected)


@pytest.mark.parametrize("k_bit", [0, 33, -1, 2.0, "2", True, None])
def test_dorefa_bad_k_bit(k_bit):
    with pytest.raises(ValueError):
        ref.forward("DoReFa", np.zeros(3), k_bit=k_bit)


@pytest.mark.parametrize("mode", ["weight", "Activations", "", None])
def test_dorefa_bad_mode(mode):
    with pytest.raises(ValueError):
        ref.forward("DoReFa", np.zeros(3), mode=mode)
    with pytest.raises(ValueError):
        ref.backward("DoReFa", np.zeros(3), 1.0, mode=mode)


# ------------------------------------------------------------------------------ NoOp, config


def test_noop_copies():
    x = arr([1.5, NAN, -0.0], F32)
    y = ref.forward("NoOp", x, precision=3)
    assert_same(y, x)
    assert y is not x and not np.shares_memory(y, x)
    dy = arr([4.0, 5.0, 6.0], F32)
    dx = ref.backward("NoOp", x, dy, precision=3)
    assert_same(dx, dy)
    assert not np.shares_memory(dx, dy)
    assert_same(ref.forward("NoOp", arr([1, -2], np.int8), precision=8), arr([1, -2], F16))


def test_class_names_and_config_keys():
    assert ref.CLASS_NAMES == (
        "NoOp",
        "SteSign",
        "ApproxSign",
        "SteHeaviside",
        "SwishSign",
        "MagnitudeAwareSign",
        "SteTern",
        "DoReFa",
    )
    x = arr([0.5, -2.0], F32)
    larq_keys = {"name": "q", "trainable": False, "dtype": "float32"}
    assert_same(ref.forward("SteSign", x, clip_value=1.0, **larq_keys), arr([1, -1], F32))
    assert_same(ref.backward("SteSign", x, 1.0, clip_value=1.0, **larq_keys), arr([1, 0], F32))
    with pytest.raises(TypeError):
        ref.forward("SteSign", x, beta=5.0)
    with pytest.raises(ValueError):
        ref.forward("NoSuchQuantizer", x)


def test_outputs_are_fresh_writable_arrays():
    x = arr([0.5, -2.0, 0.0], F32)
    dy = np.ones(3, F32)
    for name in ref.CLASS_NAMES:
        y = ref.forward(name, x, **cfg(name))
        dx = ref.backward(name, x, dy, **cfg(name))
        for out in (y, dx):
            assert out.flags.writeable
            assert not np.shares_memory(out, x) and not np.shares_memory(out, dy)
    dx = ref.backward("SteSign", x, F32(1), clip_value=None)  # a broadcast dy, clip None
    assert dx.flags.writeable and dx.shape == (3,)


# ------------------------------------------------------------------------------ dtype rules


@pytest.mark.parametrize(
    "in_dtype,out_dtype",
    [
        (F16, F16),
        (F32, F32),
        (F64, F64),
        (np.int8, F16),
        (np.uint8, F16),
        (np.int16, F32),
        (np.int32, F64),
        (np.int64, F64),
        (np.uint64, F64),
        (np.bool_, F16),
        (">f4", F32),
    ],
)
def test_result_dtype(in_dtype, out_dtype):
    x = np.zeros(3, in_dtype)
    assert ref.result_dtype(x) == out_dtype
    assert ref.result_dtype(np.dtype(in_dtype)) == out_dtype
    for name in ref.CLASS_NAMES:
        assert ref.forward(name, x, **cfg(name)).dtype == out_dtype
        assert ref.backward(name, x, np.ones(3, F64), **cfg(name)).dtype == out_dtype


@pytest.mark.parametrize(
    "bad",
    [
        np.complex64,
        np.complex128,
        object,
        "U3",
        "S3",
        "M8[s]",
        np.longdouble if np.dtype(np.longdouble).itemsize > 8 else object,
    ],
)
def test_bad_dtypes_raise_type_error(bad):
    x = np.zeros(3, dtype=bad)
    with pytest.raises(TypeError):
        ref.result_dtype(x)
    for name in ref.CLASS_NAMES:
        with pytest.raises(TypeError):
            ref.forward(name, x, **cfg(name))
    with pytest.raises(TypeError):
        ref.pack_bits(x)


def test_integer_and_bool_values():
    assert_same(ref.forward("SteSign", np.array([-3, 0, 5], np.int8)), arr([-1, 1, 1], F16))
    assert_same(ref.forward("SteSign", np.array([-3, 0, 5], np.int32)), arr([-1, 1, 1], F64))
    assert_same(ref.forward("SteHeaviside", np.array([True, False])), arr([1, 0], F16))
    assert_same(ref.forward("SteSign", [-1.5, 2]), arr([-1, 1], F64))  # array-like -> float64


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (0, 4), (1,)])
@pytest.mark.parametrize("dtype", [F16, F32])
def test_empty_and_0d_shapes_all_quantizers(shape, dtype):
    x = np.full(shape, 0.25, dtype)
    configs = [(n, cfg(n)) for n in ref.CLASS_NAMES] + [
        ("SteTern", {"ternary_weight_networks": True}),
        ("DoReFa", {"mode": "weights"}),
    ]
    for name, c in configs:
        y = ref.forward(name, x, **c)
        dx = ref.backward(name, x, np.ones(shape, dtype), **c)
        assert y.shape == shape and dx.shape == shape
        assert y.dtype == dtype and dx.dtype == dtype


# ------------------------------------------------------------------------------ packed bits

KS = [1, 63, 64, 65, 127, 128, 129]


@pytest.mark.parametrize("k", KS)
def test_pack_bits_one_hot_order(k):
    x = np.ones((k, k), F32)
    np.fill_diagonal(x, -1.0)
    words, kk = ref.pack_bits(x)
    nw = (k + 63) // 64
    assert kk == k and words.dtype == np.uint64 and words.shape == (k, nw)
    for i in range(k):
        expected = [0] * nw
        expected[i // 64] = 1 << (i % 64)
        assert words[i].tolist() == expected


@pytest.mark.parametrize("k", KS)
def test_pack_bits_padding_is_zero(k):
    words, _ = ref.pack_bits(-np.ones((2, k), F64))
    full, rem = divmod(k, 64)
    expected = [2**64 - 1] * full + ([2**rem - 1] if rem else [])
    assert words.tolist() == [expected, expected]


def test_pack_bits_hand_example_and_special_values():
    x = [-1.0, 1.0, -1.0, -1.0] + [1.0] * 60 + [-1.0]  # K = 65
    words, k = ref.pack_bits(x)
    assert k == 65 and words.tolist() == [0b1101, 1]
    # -0.0, NaN, +0, +inf pack as 0; -inf, -tiny, -1 as 1
    x = arr([-0.0, NAN, 0.0, INF, -INF, -1e-40, -1.0, 2.0], F32)
    assert ref.pack_bits(x)[0].tolist() == [0b01110000]
    assert ref.pack_bits(np.array([-3, 0, 3, -1], np.int8))[0].tolist() == [0b1001]


def test_pack_bits_batch_and_empty():
    words, k = ref.pack_bits(np.ones((2, 3, 70), F16))
    assert words.shape == (2, 3, 2) and k == 70 and not words.any()
    words, k = ref.pack_bits(np.ones((4, 0), F32))
    assert words.shape == (4, 0) and k == 0
    with pytest.raises(ValueError):
        ref.pack_bits(np.float32(1.0))


@pytest.mark.parametrize("k", [0] + KS + [200])
def test_unpack_round_trip(k):
    rng = np.random.default_rng(k)
    x = rng.standard_normal((3, k)).astype(F32)
    if k >= 3:
        x[0, :3] = [-0.0, NAN, 0.0]
    words, kk = ref.pack_bits(x)
    u = ref.unpack_bits(words, kk)
    assert_same(u, np.where(x < 0, -1.0, 1.0).astype(F32))
    if k >= 3:
        assert u[0, :3].tolist() == [1.0, 1.0, 1.0]


def test_unpack_bits_errors():
    with pytest.raises(ValueError):
        ref.unpack_bits(np.zeros((2, 1), np.uint64), 65)
    with pytest.raises(TypeError):
        ref.unpack_bits(np.zeros((2, 1), np.float32), 3)
    assert_same(ref.unpack_bits(np.array([0b101], np.uint64), 4), arr([-1, 1, -1, 1], F32))


def naive_binary_matmul(a, b):
    m, k = a.shape
    n = b.shape[0]
    out = np.zeros((m, n), np.int64)
    for i in range(m):
        for j in range(n):
            s = 0
            for t in range(k):
                s += (-1 if a[i, t] < 0 else 1) * (-1 if b[j, t] < 0 else 1)
            out[i, j] = s
    return out


@pytest.mark.parametrize("k", [1, 5, 63, 64, 65, 129])
def test_binary_matmul_vs_naive(k):
    rng = np.random.default_rng(100 + k)
    a = rng.standard_normal((3, k)).astype(F32)
    b = rng.standard_normal((4, k)).astype(F32)
    a[:, 0] = 0.0  # exact zeros count as +1
    b[1, :] = -0.0
    c = ref.binary_matmul(a, b)
    assert c.dtype == np.int32 and c.shape == (3, 4)
    assert c.tolist() == naive_binary_matmul(a, b).tolist()
    # a row against itself gives K
    assert ref.binary_matmul(a, a).diagonal().tolist() == [k] * 3


def test_binary_matmul_hand_example_and_errors():
    a = arr([[1.0, -1.0, 0.0]], F64)
    b = arr([[1.0, 1.0, 1.0], [-1.0, 1.0, -1.0]], F64)
    assert ref.binary_matmul(a, b).tolist() == [[1, -3]]
    big = ref.binary_matmul(-np.ones((2, 4096), F32), np.ones((1, 4096), F32))
    assert big.tolist() == [[-4096], [-4096]]
    with pytest.raises(ValueError):
        ref.binary_matmul(np.ones((2, 3)), np.ones((2, 4)))
