"""Float (fp32) layer kernels: convolution, depthwise, pooling, pointwise ops, softmax (issue #10).

Oracles:
- Every SIMD table this CPU has is compared bit for bit with the scalar table (through
  ``_core.kernels_for``), over a seeded sample of small shapes covering strides, dilations, both
  paddings, channel tails and every epilogue.
- The scalar table is compared with a NumPy emulation of the contract: one ``fma`` per valid tap
  in (kh, kw, c) order, emulated as ``float32(float64(x) * float64(w) + float64(acc))`` (the
  product of two float32 is exact in float64, so this is one rounding except in the rare case
  where the float64 sum is itself inexact and lands on a float32 tie), then the epilogue in
  float32. And with a float64 reference within the bound of the documented arithmetic:
  ``|y - y64| <= (K + 2) * 2**-24 * (|scale| * sum |x * w| + |bias|)`` (K taps).
- Results do not depend on the thread count or on the batch an image is in.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastq
from fastq import _core
from fastq import _float_ops as F

ISAS = _core.available_isas()
SIMD = [isa for isa in ISAS if isa != "scalar"]
SCALAR = _core.kernels_for("scalar")
U = 2.0**-24
SEED = 20261130


def rng(salt=0):
    return np.random.default_rng(SEED + salt)


@pytest.fixture
def threads():
    before = fastq.get_num_threads()
    yield
    fastq.set_num_threads(before)


def bits_equal(a, b, msg=""):
    """Bit-identical, except that a NaN only has to be a NaN."""
    assert a.shape == b.shape, msg
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b), err_msg=msg)
    np.testing.assert_array_equal(a[~nan].view(np.uint32), b[~nan].view(np.uint32), err_msg=msg)


# ------------------------------------------------------------------------------- references


def geometry(size, k, s, d, padding):
    span = (k - 1) * d + 1
    if padding == "valid":
        return (max(size - span, -1) // s + 1 if size >= span else 0), 0
    out, before, _ = F.same_padding(size, k, s, d)
    return out, before


def windows(x, kh, kw, strides, dilation, padding):
    """Yield (i, j, xs, valid) for each tap: xs (n, oh, ow, c) the inputs under tap (i, j),
    valid (1, oh, ow, 1) whether the tap is inside the image."""
    n, h, w, c = x.shape
    (sh, sw), (dh, dw) = strides, dilation
    oh, pt = geometry(h, kh, sh, dh, padding)
    ow, pl = geometry(w, kw, sw, dw, padding)
    big = max(h, w) + 2 * (max(kh, kw) * max(dh, dw) + max(sh, sw))
    xp = np.zeros((n, big + h, big + w, c), x.dtype)
    vp = np.zeros((1, big + h, big + w, 1), bool)
    xp[:, pt : pt + h, pl : pl + w] = x
    vp[:, pt : pt + h, pl : pl + w] = True
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            sl = (slice(None), rows, cols)
            yield i, j, xp[sl][:, :oh, :ow], vp[sl][:, :oh, :ow]


def epilogue32(acc, scale, bias, relu):
    y = acc.astype(np.float32)
    if scale is not None:
        y = y * scale
    if bias is not None:
        y = y + bias
    if relu:
        y = np.where(y < 0, np.float32(0), y)
    return y


def ref_conv_fma(x, w, strides, dilation, padding, scale=None, bias=None, relu=False):
    """The contract, emulated: acc = fma(x, w, acc) over valid taps in (kh, kw, c) order."""
    kh, kw, c, o = w.shape
    acc = None
    for i, j, xs, valid in windows(x, kh, kw, strides, dilation, padding):
        if acc is None:
            acc = np.zeros(xs.shape[:3] + (o,), np.float32)
        for ci in range(c):
            new = (xs[..., ci, None].astype(np.float64) * w[i, j, ci].astype(np.float64) + acc).astype(np.float32)
            acc = np.where(valid, new, acc)
    return epilogue32(acc, scale, bias, relu)


def ref_conv64(x, w, strides, dilation, padding, scale=None, bias=None, relu=False):
    """float64 result and the bound of the float32 arithmetic (module docstring)."""
    kh, kw, c, o = w.shape
    acc = mag = None
    for i, j, xs, valid in windows(x.astype(np.float64), kh, kw, strides, dilation, padding):
        t = np.where(valid, xs, 0.0) @ w[i, j].astype(np.float64)
        m = np.abs(np.where(valid, xs, 0.0)) @ np.abs(w[i, j].astype(np.float64))
        acc, mag = (t, m) if acc is None else (acc + t, mag + m)
    s = np.ones(o) if scale is None else scale.astype(np.float64)
    b = np.zeros(o) if bias is None else bias.astype(np.float64)
    y = acc * s + b
    bound = (kh * kw * c + 2) * U * (np.abs(s) * mag + np.abs(b)) + 1e-37
    if relu:
        y = np.maximum(y, 0)
    return y, bound


def ref_depthwise_fma(x, w, strides, dilation, padding, scale=None, bias=None, relu=False):
    kh, kw, c, m = w.shape
    xe = np.repeat(x, m, axis=-1)  # output channel c * m + j reads input channel c
    we = w.reshape(kh, kw, c * m)
    acc = None
    for i, j, xs, valid in windows(xe, kh, kw, strides, dilation, padding):
        if acc is None:
            acc = np.zeros(xs.shape, np.float32)
        new = (xs.astype(np.float64) * we[i, j].astype(np.float64) + acc).astype(np.float32)
        acc = np.where(valid, new, acc)
    return epilogue32(acc, scale, bias, relu)


def ref_pool(x, k, strides, padding, kind):
    acc = cnt = None
    for _, _, xs, valid in windows(x, k[0], k[1], strides, (1, 1), padding):
        if acc is None:
            acc = np.full(xs.shape, -np.inf if kind == "max" else 0.0, np.float32)
            cnt = np.zeros(valid.shape, np.float32)
        acc = np.where(valid & (xs > acc), xs, acc) if kind == "max" else np.where(valid, acc + xs, acc)
        cnt = cnt + valid
    if kind == "max":
        return acc
    return (acc / cnt).astype(np.float32)


# ------------------------------------------------------------------------------- convolution


def conv_cases(count, salt):
    """A seeded sample of small convolution problems covering the kernel's paths."""
    r = rng(salt)
    ks = [(1, 1), (3, 3), (2, 3), (7, 7), (1, 3)]
    out = []
    for _ in range(count):
        kh, kw = ks[r.integers(len(ks))]
        s = (int(r.integers(1, 3)), int(r.integers(1, 3)))
        d = (1, 1) if r.random() < 0.7 else (int(r.integers(1, 3)), int(r.integers(1, 3)))
        pad = ["valid", "same"][r.integers(2)]
        c = int(r.choice([1, 3, 5, 8, 17]))
        o = int(r.choice([1, 5, 8, 16, 20, 33, 64, 70]))
        h, w = int(r.integers(1, 14)), int(r.integers(1, 18))
        epi = int(r.integers(4))  # none, bias, scale + bias, scale + bias + relu
        out.append((kh, kw, s, d, pad, c, o, h, w, epi))
    return out


def conv_problem(case, salt):
    kh, kw, s, d, pad, c, o, h, w, epi = case
    r = rng(salt)
    x = r.standard_normal((2, h, w, c)).astype(np.float32)
    wt = r.standard_normal((kh, kw, c, o)).astype(np.float32)
    scale = r.uniform(0.5, 2, o).astype(np.float32) if epi >= 2 else None
    bias = r.standard_normal(o).astype(np.float32) if epi >= 1 else None
    return x, wt, dict(strides=s, dilation=d, padding=pad, scale=scale, bias=bias, relu=epi == 3)


CONV_CASES = conv_cases(40, 1)


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv_scalar_matches_fma_emulation_and_float64(case):
    x, w, kw = conv_problem(case, 2)
    y = F.Conv2D(w, kernels=SCALAR, **kw)(x)
    ref = ref_conv_fma(x, w, **kw)
    bits_equal(y, ref, str(case))
    y64, bound = ref_conv64(x, w, **kw)
    assert np.all(np.abs(y - y64) <= bound), str(case)


@pytest.mark.parametrize("isa", SIMD)
def test_conv_simd_tables_match_scalar_bit_for_bit(isa):
    k = _core.kernels_for(isa)
    for i, case in enumerate(CONV_CASES + conv_cases(60, 3)):
        x, w, kw = conv_problem(case, 10 + i)
        bits_equal(F.Conv2D(w, kernels=k, **kw)(x), F.Conv2D(w, kernels=SCALAR, **kw)(x), f"{isa} {case}")


@pytest.mark.parametrize("isa", ISAS)
def test_conv_special_values_identical_across_isas(isa):
    """Zeros of both signs, infinities and NaN in inputs and weights, no padding surprises."""
    r = rng(4)
    x = r.standard_normal((1, 6, 7, 5)).astype(np.float32)
    w = r.standard_normal((3, 3, 5, 20)).astype(np.float32)
    pool = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40], np.float32)
    x.flat[r.integers(0, x.size, 12)] = r.choice(pool, 12)
    w.flat[r.integers(0, w.size, 6)] = r.choice(pool, 6)
    w[..., 3] = -0.0  # an all-negative-zero channel: acc stays +0 (+0 + -0 = +0)
    kw = dict(strides=1, padding="same", bias=np.zeros(20, np.float32), relu=True)
    y = F.Conv2D(w, kernels=_core.kernels_for(isa), **kw)(x)
    bits_equal(y, F.Conv2D(w, kernels=SCALAR, **kw)(x))
    if isa == "scalar":
        with np.errstate(invalid="ignore"):  # inf * 0 in the emulation, as in the kernels
            ref = ref_conv_fma(x, w, (1, 1), (1, 1), **{k: v for k, v in kw.items() if k != "strides"})
        bits_equal(y, ref)


def test_conv_threads_and_batch_do_not_change_bits(threads):
    r = rng(5)
    imgs = r.standard_normal((3, 30, 30, 8)).astype(np.float32)
    for shape, s, pad in [((3, 3, 8, 40), 1, "same"), ((1, 1, 8, 72), 1, "valid"), ((5, 5, 8, 16), 2, "same")]:
        conv = F.Conv2D(
            r.standard_normal(shape).astype(np.float32),
            strides=s,
            padding=pad,
            bias=r.standard_normal(shape[-1]).astype(np.float32),
        )
        fastq.set_num_threads(1)
        one = conv(imgs[:1])
        for t in (1, 2, 3):
            fastq.set_num_threads(t)
            bits_equal(conv(imgs)[:1], one, f"{shape} threads={t}")
            bits_equal(conv(imgs[:1]), one, f"{shape} threads={t} batch 1")


def test_zoo_stems_identical_across_isas():
    """Bi-Real Net's 7x7/2 stem and QuickNet's 3x3/2 stem on a cropped image, every table."""
    r = rng(6)
    x = r.standard_normal((1, 40, 36, 3)).astype(np.float32)
    for shape, s in [((7, 7, 3, 64), 2), ((3, 3, 3, 16), 2), ((3, 3, 3, 8), 2)]:
        w = r.standard_normal(shape).astype(np.float32)
        ys = [F.Conv2D(w, strides=s, padding="same", kernels=_core.kernels_for(i))(x) for i in ISAS]
        for isa, y in zip(ISAS, ys):
            bits_equal(y, ys[-1], f"{isa} {shape}")
        bits_equal(ys[-1], ref_conv_fma(x, w, (s, s), (1, 1), "same"))


def narrow_cases(count, salt):
    """Convolutions with at most 8 outputs and a small window row: on AVX-512 they run two pixels
    per vector (fastq/float_kernels.hpp, conv_pairs_fit); rows long enough for whole tiles, odd
    leftovers, borders, rows wholly in the padding."""
    r = rng(salt)
    out = []
    for _ in range(count):
        kh, kw = [(1, 1), (3, 3), (2, 3), (1, 3), (3, 1), (5, 2)][r.integers(6)]
        s = (int(r.integers(1, 4)), int(r.integers(1, 3)))
        c = int(r.integers(1, 16 // (s[1] + kw) + 1))
        d = (int(r.integers(1, 3)), 1 if kw > 1 else int(r.integers(1, 3)))
        pad = ["valid", "same"][r.integers(2)]
        o = int(r.integers(1, 9))
        h, w = int(r.integers(1, 9)), int(r.integers(1, 75))
        out.append((kh, kw, s, d, pad, c, o, h, w, int(r.integers(4))))
    return out


@pytest.mark.parametrize("isa", SIMD)
def test_narrow_conv_two_pixels_per_vector_matches_scalar(isa, threads):
    k = _core.kernels_for(isa)
    for i, case in enumerate(narrow_cases(80, 7)):
        x, w, kw = conv_problem(case, 100 + i)
        if i % 5 == 0:  # special values through the permutes
            pool = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32)
            x.flat[rng(i).integers(0, x.size, 3)] = rng(i).choice(pool, 3)
        conv = F.Conv2D(w, kernels=k, **kw)
        if isa == "avx512":
            assert conv.isa == "avx512", case  # the two-pixel path, not the AVX2 table
        want = F.Conv2D(w, kernels=SCALAR, **kw)(x)
        for t in (1, 2):
            fastq.set_num_threads(t)
            bits_equal(conv(x), want, f"{isa} {case} threads={t}")
    if isa == "avx512":  # channels that do not fit: the AVX2 table's 8-lane vectors
        assert F.Conv2D(np.ones((3, 3, 8, 8), np.float32), kernels=k).isa == "avx2"


def test_conv_out_and_output_shape():
    r = rng(7)
    x = r.standard_normal((2, 9, 10, 3)).astype(np.float32)
    conv = F.Conv2D(r.standard_normal((3, 3, 3, 5)).astype(np.float32), strides=2, padding="same")
    assert conv.output_shape(x.shape) == (2, 5, 5, 5)
    out = np.full((2, 5, 5, 5), np.nan, np.float32)
    assert conv(x, out=out) is out
    bits_equal(out, conv(x))
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (3, 5, (3, 3))


def test_empty_and_degenerate_shapes():
    w = np.ones((3, 3, 2, 4), np.float32)
    assert F.Conv2D(w)(np.zeros((0, 5, 5, 2), np.float32)).shape == (0, 3, 3, 4)
    assert F.Conv2D(w)(np.zeros((1, 2, 5, 2), np.float32)).shape == (1, 0, 3, 4)  # valid, too small
    y = F.Conv2D(w, padding="same", bias=np.full(4, 0.5, np.float32))(np.ones((1, 1, 1, 2), np.float32))
    np.testing.assert_array_equal(y, np.full((1, 1, 1, 4), 2.5, np.float32))  # only the centre tap


# ------------------------------------------------------------------------------- dense


def test_dense_matches_emulation_and_is_batch_invariant():
    r = rng(8)
    x = r.standard_normal((5, 70)).astype(np.float32)
    w = r.standard_normal((70, 37)).astype(np.float32)
    b = r.standard_normal(37).astype(np.float32)
    ys = [F.Dense(w, bias=b, kernels=_core.kernels_for(i))(x) for i in ISAS]
    ref = ref_conv_fma(x.reshape(5, 1, 1, 70), w.reshape(1, 1, 70, 37), (1, 1), (1, 1), "valid", bias=b)
    for isa, y in zip(ISAS, ys):
        assert y.shape == (5, 37)
        bits_equal(y, ref.reshape(5, 37), isa)
    d = F.Dense(w, bias=b)
    for i in range(5):
        bits_equal(d(x[i]), ys[0][i])
    out = np.empty((5, 37), np.float32)
    assert d(x, out=out) is out
    bits_equal(out, ys[0])


# ------------------------------------------------------------------------------- depthwise


def dw_cases(count, salt):
    r = rng(salt)
    out = []
    for _ in range(count):
        k = [(3, 3), (1, 1), (5, 5), (2, 3)][r.integers(4)]
        s = (int(r.integers(1, 3)),) * 2
        d = (1, 1) if r.random() < 0.8 else (2, 2)
        out.append(
            (
                k,
                s,
                d,
                ["valid", "same"][r.integers(2)],
                int(r.choice([1, 5, 16, 17, 40, 64])),
                int(r.choice([1, 1, 1, 2, 3])),
                int(r.integers(1, 12)),
                int(r.integers(1, 14)),
                int(r.integers(4)),
            )
        )
    return out


DW_CASES = dw_cases(40, 11)


def dw_problem(case, salt):
    k, s, d, pad, c, m, h, w, epi = case
    r = rng(salt)
    x = r.standard_normal((2, h, w, c)).astype(np.float32)
    wt = r.standard_normal(k + (c, m)).astype(np.float32)
    scale = r.uniform(0.5, 2, c * m).astype(np.float32) if epi >= 2 else None
    bias = r.standard_normal(c * m).astype(np.float32) if epi >= 1 else None
    return x, wt, dict(strides=s, dilation=d, padding=pad, scale=scale, bias=bias, relu=epi == 3)


@pytest.mark.parametrize("isa", ISAS)
def test_depthwise_matches_emulation_on_every_isa(isa):
    k = _core.kernels_for(isa)
    for i, case in enumerate(DW_CASES):
        x, w, kw = dw_problem(case, 20 + i)
        y = F.DepthwiseConv2D(w, kernels=k, **kw)(x)
        bits_equal(y, ref_depthwise_fma(x, w, **kw), f"{isa} {case}")


def test_blur_pool_transition_shape():
    """QuickNet's transition: relu, max-pool 2x2/1 valid, blur depthwise 3x3/2 same."""
    r = rng(12)
    x = r.standard_normal((1, 15, 15, 32)).astype(np.float32)
    k = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16
    blur = np.repeat(k[:, :, None, None], 32, axis=2)
    y = F.DepthwiseConv2D(blur, strides=2, padding="same")(F.max_pool2d(F.relu(x), 2, 1))
    assert y.shape == (1, 7, 7, 32)
    ref = ref_depthwise_fma(ref_pool(np.maximum(x, 0), (2, 2), (1, 1), "valid", "max"), blur, (2, 2), (1, 1), "same")
    bits_equal(y, ref)


# ------------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pools_match_reference(isa, kind):
    k = _core.kernels_for(isa)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    r = rng(13)
    for c in [1, 3, 16, 21, 64]:
        x = r.standard_normal((2, 9, 8, c)).astype(np.float32)
        x.flat[r.integers(0, x.size, 3)] = np.nan
        for ps, st, pad in [
            ((2, 2), (2, 2), "valid"),
            ((3, 3), (2, 2), "same"),
            ((2, 2), (1, 1), "valid"),
            ((3, 2), (1, 2), "same"),
            ((7, 7), (7, 7), "same"),
        ]:
            y = fn(x, ps, st, pad, kernels=k)
            ref = ref_pool(x, ps, st, pad, kind)
            bits_equal(y, ref, f"{isa} c={c} {ps} {st} {pad}")
            if kind == "max":  # fused relu: relu(max(x)), and max(relu(x)) up to the sign of zero
                y = fn(x, ps, st, pad, relu=True, kernels=k)
                bits_equal(y, np.where(ref < 0, np.float32(0), ref), f"relu {isa} c={c} {ps} {st} {pad}")
                np.testing.assert_array_equal(y, ref_pool(np.maximum(x, 0), ps, st, pad, kind))


def test_avg_pool_same_divides_by_valid_taps():
    x = np.ones((1, 3, 3, 1), np.float32)
    np.testing.assert_array_equal(F.avg_pool2d(x, 3, 1, "same"), x)  # a corner has 4 taps, not 9
    y = F.max_pool2d(np.array([[[[np.nan], [1.0]], [[np.nan], [np.nan]]]], np.float32), (1, 2), 1)
    np.testing.assert_array_equal(y.ravel(), [1.0, -np.inf])  # NaN taps are ignored (TensorFlow's rule)
    y = F.max_pool2d(np.array([[[[0.0], [-0.0]], [[-0.0], [0.0]]]], np.float32), (1, 2), 1)
    np.testing.assert_array_equal(np.signbit(y.ravel()), [False, True])  # the first of equal values


@pytest.mark.parametrize("isa", ISAS)
def test_global_avg_pool(isa):
    r = rng(14)
    for c in [1, 5, 16, 64, 70]:
        x = r.standard_normal((3, 7, 7, c)).astype(np.float32)
        acc = np.zeros((3, c), np.float32)
        for p in range(49):
            acc = acc + x.reshape(3, 49, c)[:, p]
        bits_equal(F.global_avg_pool2d(x, kernels=_core.kernels_for(isa)), acc / np.float32(49))


# ------------------------------------------------------------------------------- pointwise


@pytest.mark.parametrize("isa", ISAS)
def test_pointwise_ops_are_exact_float32(isa):
    k = _core.kernels_for(isa)
    r = rng(15)
    for shape in [(1,), (7,), (3, 17), (2, 5, 5, 64), (1, 9, 9, 35)]:
        a = r.standard_normal(shape).astype(np.float32)
        b = r.standard_normal(shape).astype(np.float32)
        a.flat[0] = -0.0
        c = shape[-1]
        s = r.standard_normal(c).astype(np.float32)
        t = r.standard_normal(c).astype(np.float32)
        bits_equal(F.add(a, b, kernels=k), a + b)
        bits_equal(F.add(a, b, relu=True, kernels=k), np.where(a + b < 0, np.float32(0), a + b))
        bits_equal(F.affine(a, s, t, kernels=k), a * s + t)
        bits_equal(F.affine(a, s, None, relu=True, kernels=k), np.where(a * s < 0, np.float32(0), a * s))
        bits_equal(F.affine(a, None, t, kernels=k), a + t)
        bits_equal(F.affine(a, s, t, residual=b, kernels=k), (a * s + t) + b)
        y = (a * s + t) + b
        bits_equal(F.affine(a, s, t, residual=b, relu=True, kernels=k), np.where(y < 0, np.float32(0), y))
        bits_equal(F.relu(a, kernels=k), np.where(a < 0, np.float32(0), a))
    big = r.standard_normal((300_000,)).astype(np.float32)  # threaded path
    bits_equal(F.add(big, big[::-1].copy(), kernels=k), big + big[::-1])


def test_pointwise_in_place():
    r = rng(16)
    a = r.standard_normal((4, 33)).astype(np.float32)
    b = r.standard_normal((4, 33)).astype(np.float32)
    expect = a + b
    assert F.add(a, b, out=a) is a
    bits_equal(a, expect)
    expect = np.where(a < 0, np.float32(0), a)
    F.relu(a, out=a)
    bits_equal(a, expect)
    s = r.standard_normal(33).astype(np.float32)
    expect = (b * s + s) + a
    assert F.affine(b, s, s, residual=a, out=a) is a  # BN(b) + a, into a
    bits_equal(a, expect)
    with pytest.raises(ValueError, match="residual: expected the shape"):
        F.affine(a, residual=a[:, :5].copy())
    flat = a.reshape(-1)
    with pytest.raises(ValueError, match="share memory"):
        F.add(flat[:-1], b.reshape(-1)[:-1], out=flat[1:])
    with pytest.raises(ValueError, match="share memory"):
        F.affine(a.reshape(-1)[:-1], out=a.reshape(-1)[1:])


def softmax64(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("isa", ISAS)
def test_softmax(isa):
    k = _core.kernels_for(isa)
    r = rng(17)
    for shape in [(1,), (1, 1000), (3, 31), (2, 33), (4, 64), (2, 3, 7)]:
        x = (r.standard_normal(shape) * 5).astype(np.float32)
        y = F.softmax(x, kernels=k)
        bits_equal(y, F.softmax(x, kernels=SCALAR))
        # x - m rounds in float32 (relative error |x - m| * u after exp), exp within a few ulp,
        # the float64 sum rounded once, one division.
        y64 = softmax64(x)
        d = np.abs(x - x.max(axis=-1, keepdims=True)).astype(np.float64)
        assert np.all(np.abs(y - y64) <= (d + 8) * U * y64 + 1e-44), shape
    x = np.array([[0.0, -np.inf, 1.0], [np.nan, 0.0, 0.0]], np.float32)
    y = F.softmax(x, kernels=k)
    assert y[0, 1] == 0 and np.isnan(y[1]).all()
    y2 = x.copy()
    assert F.softmax(y2, out=y2, kernels=k) is y2
    bits_equal(y2, y)


# ------------------------------------------------------------------------------- peak, errors


def test_fma_peak_and_probe():
    for isa in ISAS:
        k = _core.kernels_for(isa)
        assert k._fma_probe_flops > 0
        assert k._fma_probe(3, 7) == k._fma_probe(3, 7)
    k = _core.active
    assert k.fma_peak(0.01) > 1e8
    rates = _core.fma_peak(0.01)
    assert set(rates) == set(ISAS)


def test_bad_arguments():
    w = np.ones((3, 3, 4, 8), np.float32)
    x = np.ones((1, 5, 5, 4), np.float32)
    conv = F.Conv2D(w)
    with pytest.raises(TypeError, match="x: expected a float32"):
        conv(x.astype(np.float64))
    with pytest.raises(ValueError, match="x: expected shape"):
        conv(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="4-D"):
        conv(np.ones((5, 5, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        conv(np.ones((1, 5, 10, 4), np.float32)[:, :, ::2])
    with pytest.raises(ValueError, match="padding"):
        F.Conv2D(w, padding="full")
    with pytest.raises(ValueError, match="strides"):
        F.Conv2D(w, strides=0)
    with pytest.raises(ValueError, match="kernel: expected a 4-D"):
        F.Conv2D(np.ones((3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="scale: expected shape"):
        F.Conv2D(w, scale=np.ones(7, np.float32))
    with pytest.raises(ValueError, match="out: expected shape"):
        conv(x, out=np.empty((1, 5, 5, 8), np.float32))
    with pytest.raises(ValueError, match="out: expected dtype float32"):
        conv(x, out=np.empty((1, 3, 3, 8), np.float64))
    with pytest.raises(ValueError, match="share memory"):
        big = np.ones(200, np.float32)
        F.Conv2D(np.ones((1, 1, 4, 4), np.float32))(big[:100].reshape(1, 5, 5, 4), out=big[:100].reshape(1, 5, 5, 4))
    with pytest.raises(ValueError, match="b: expected the shape of a"):
        F.add(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="pool_size"):
        F.max_pool2d(x, 0)
    with pytest.raises(TypeError, match="kernels"):
        F.relu(x, kernels="avx2")
