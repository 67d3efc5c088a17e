"""Binary convolution, its output transform and packed max pooling (issue 9; docs/binary.md).

Oracles: ``fastq.reference`` (plain NumPy written from the contract: binary_conv2d,
binary_output, max_pool2d_signs, pack_bits) checks every ISA's table through
``_core.kernels_for`` over a covering grid (each size of interest at least once, not the full
product), and the scalar table is compared with every SIMD table on the same operands.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

import fastq
from fastq import _core
from fastq import reference as ref

ISAS = _core.available_isas()
SLOW = bool(os.environ.get("FASTQ_TEST_UNDER_ASAN") or os.environ.get("FASTQ_TEST_UNDER_QEMU"))
SEED = 20261130


def rng(salt=0):
    return np.random.default_rng(SEED + salt)


def special(shape, r, dtype=np.float32):
    """Normal values with zeros of both signs, NaN, infinities and denormals mixed in."""
    x = r.standard_normal(shape).astype(dtype)
    pool = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, -1.0, 1.0], dtype)
    mask = r.random(shape) < 0.1
    x[mask] = r.choice(pool, size=int(mask.sum()))
    return x


def kernel_words(kernel):
    """The conv plan's weights: (O, KH, KW, words) packed rows, one per output channel."""
    return ref.pack_bits(np.ascontiguousarray(np.transpose(kernel, (3, 0, 1, 2))))[0]


def plans(kern, kernel, case, output, scale=None, bias=None, relu=False):
    c = case
    return kern.conv_plan(
        kernel_words(kernel),
        kernel.shape[2],
        c["groups"],
        c["strides"],
        c["dilation"],
        c["padding"],
        c["pad_values"] == 0.0,
        output,
        scale,
        bias,
        relu,
    )


def case(n, h, w, c, o, kh, kw, strides=(1, 1), dilation=(1, 1), padding="valid", pad_values=1.0, groups=1):
    return dict(
        n=n,
        h=h,
        w=w,
        c=c,
        o=o,
        kh=kh,
        kw=kw,
        strides=strides,
        dilation=dilation,
        padding=padding,
        pad_values=pad_values,
        groups=groups,
    )


# Each of N, H, W, C in {1, 63, 64, 65, 127, 128, 129, 200} at least once; O odd and misaligned
# (1, 7, 63, 65, 129, 200: packed outputs straddle words); KH/KW 1, 3, 5, 7 and non-square;
# strides, dilations, both paddings and pad values, groups (aligned, straddling, depthwise).
GRID = [
    case(1, 1, 1, 1, 1, 1, 1),
    case(2, 63, 5, 64, 65, 3, 3, padding="same"),
    case(1, 64, 7, 65, 63, 3, 3, strides=(2, 2), padding="same", pad_values=0.0),
    case(1, 65, 3, 127, 64, 5, 1, dilation=(2, 1), padding="same", pad_values=0.0),
    case(1, 5, 127, 128, 129, 1, 5, strides=(1, 2), padding="valid"),
    case(63, 4, 4, 129, 8, 3, 3, padding="same", pad_values=0.0),
    case(64, 3, 3, 200, 7, 3, 3, padding="valid"),
    case(65, 2, 2, 3, 5, 1, 1),
    case(127, 2, 3, 5, 2, 2, 2, padding="same", pad_values=0.0),
    case(128, 1, 2, 9, 3, 1, 2),
    case(129, 2, 2, 2, 9, 3, 3, padding="same"),
    case(200, 1, 1, 4, 6, 1, 1),
    case(1, 127, 2, 7, 11, 7, 1, strides=(3, 1), padding="same", pad_values=0.0),
    case(1, 128, 3, 6, 13, 3, 3, dilation=(5, 1), padding="valid"),
    case(1, 129, 4, 5, 3, 5, 3, strides=(2, 1), dilation=(2, 1), padding="same"),
    case(1, 3, 128, 10, 4, 1, 7, padding="same", pad_values=0.0),
    case(1, 4, 129, 8, 5, 3, 5, strides=(1, 3), dilation=(1, 2), padding="valid"),
    case(1, 2, 200, 3, 2, 2, 3, padding="same"),
    case(1, 200, 1, 2, 4, 3, 1, strides=(4, 1), padding="same", pad_values=0.0),
    case(2, 17, 19, 200, 129, 7, 7, strides=(3, 2), dilation=(2, 3), padding="same", pad_values=0.0),
    case(1, 9, 11, 128, 200, 3, 3, padding="same", groups=2),  # cg = 64: aligned slices
    case(2, 8, 7, 130, 34, 3, 3, padding="same", pad_values=0.0, groups=2),  # cg = 65: regrouped
    case(1, 6, 9, 12, 24, 3, 3, strides=2, padding="same", groups=12),  # depthwise, 2 per channel
    case(1, 5, 6, 256, 200, 3, 2, padding="valid", groups=8),  # og = 25 straddles words
    case(3, 10, 10, 96, 72, 3, 3, padding="same", pad_values=0.0, groups=3),
    # C <= 32, one group: 32-bit tap words (ConvShape), full-width tiles and edges
    case(2, 9, 10, 32, 40, 3, 3, padding="same", pad_values=0.0),
    case(1, 12, 11, 31, 64, 3, 3, strides=(2, 2), padding="same"),
    case(1, 7, 9, 17, 33, 2, 2, dilation=(2, 1), padding="valid"),
]
GRID_IDS = ["N{n}_H{h}_W{w}_C{c}_O{o}_K{kh}x{kw}_{padding}{pad_values:g}_g{groups}".format(**c) for c in GRID]


def pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.mark.parametrize("c", GRID, ids=GRID_IDS)
def test_conv_every_isa_matches_reference_and_scalar(c):
    """int32 dots, float output (with and without relu) and packed output: every ISA against the
    reference and against the scalar table, on float32, float64 and packed input."""
    r = rng(c["n"] + c["h"] * 7 + c["c"] * 13 + c["o"])
    x = special((c["n"], c["h"], c["w"], c["c"]), r)
    kernel = special((c["kh"], c["kw"], c["c"] // c["groups"], c["o"]), r)
    c = dict(c, strides=pair(c["strides"]), dilation=pair(c["dilation"]))
    want = ref.binary_conv2d(x, kernel, c["strides"], c["padding"], c["pad_values"], c["dilation"], c["groups"])
    scale = special(c["o"], r)
    bias = special(c["o"], r)
    y_lin = ref.binary_output(want, scale, bias)
    y_relu = ref.binary_output(want, scale, bias, "relu")
    packed_x = ref.pack_bits(x)[0]
    results = {}
    for isa in ISAS:
        kern = _core.kernels_for(isa)
        dots = plans(kern, kernel, c, "dots")
        got = dots(x)
        assert got.dtype == np.int32 and got.shape == want.shape
        np.testing.assert_array_equal(got, want, err_msg=f"{isa} dots, float32 input")
        np.testing.assert_array_equal(dots(packed_x), want, err_msg=f"{isa} dots, packed input")
        if isa == ISAS[0]:
            np.testing.assert_array_equal(dots(x.astype(np.float64)), want, err_msg=f"{isa} float64 input")
        lin = plans(kern, kernel, c, "affine", scale, bias)(packed_x)
        relu = plans(kern, kernel, c, "affine", scale, bias, True)(x)
        np.testing.assert_array_equal(lin, y_lin, err_msg=f"{isa} affine")  # NaN == NaN here
        np.testing.assert_array_equal(relu, y_relu, err_msg=f"{isa} affine relu")
        bits = plans(kern, kernel, c, "signs", scale, bias)(packed_x)
        bits_relu = plans(kern, kernel, c, "signs", scale, bias, True)(x)
        np.testing.assert_array_equal(bits, ref.pack_bits(y_lin)[0], err_msg=f"{isa} signs")
        np.testing.assert_array_equal(bits_relu, ref.pack_bits(y_relu)[0], err_msg=f"{isa} signs relu")
        results[isa] = (got, lin.view(np.uint32), relu.view(np.uint32), bits, bits_relu)
    for isa in ISAS:  # bit for bit against the scalar table (NaN payloads included)
        for a, b in zip(results[isa], results["scalar"]):
            np.testing.assert_array_equal(a, b, err_msg=f"{isa} vs scalar")


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,padding", [(256, "same"), (512, "valid")] + ([] if SLOW else [(320, "same")]))
def test_conv_adversarial_all_minus_one_against_all_plus_one(isa, c, padding):
    """K = 9 * C >= 2304: every XOR bit is 1 (byte counters of the AVX2/NEON popcount would
    overflow without widening), and the opposite: every bit 0."""
    kern = _core.kernels_for(isa)
    x = -np.ones((1, 5, 4, c), np.float32)
    for w_sign, x_sign in [(1.0, -1.0), (-1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]:
        kernel = np.full((3, 3, c, 9), w_sign, np.float32)
        for pad_values in (1.0, 0.0):
            cfg = case(1, 5, 4, c, 9, 3, 3, padding=padding, pad_values=pad_values)
            want = ref.binary_conv2d(x_sign * x, kernel, 1, padding, pad_values)
            got = plans(kern, kernel, cfg, "dots")(x_sign * x)
            np.testing.assert_array_equal(got, want, err_msg=f"w={w_sign} x={x_sign} pad_values={pad_values}")
    center = got[0, 1, 1] if padding == "same" else got[0, 0, 0]
    assert (center == 9 * c).all()  # the last pair: all +1 against all +1


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("c,k,padding", [(32, 7, "same"), (31, 6, "valid"), (17, 3, "same")])
def test_conv_tap_words_all_bits_against_none(isa, c, k, padding):
    """One group of <= 32 channels (32-bit tap words): with 36 and 49 taps every 32-bit lane
    counts past 31 steps of 8 bits (the byte counters of AVX2 / NEON widen in time), and the
    zero bits past C on both sides count nothing."""
    kern = _core.kernels_for(isa)
    x = -np.ones((2, k + 1, k + 2, c), np.float32)
    for w_sign, x_sign in [(1.0, -1.0), (-1.0, -1.0), (1.0, 1.0)]:
        kernel = np.full((k, k, c, 20), w_sign, np.float32)
        for pad_values in (1.0, 0.0):
            cfg = case(2, k + 1, k + 2, c, 20, k, k, padding=padding, pad_values=pad_values)
            want = ref.binary_conv2d(x_sign * x, kernel, 1, padding, pad_values)
            got = plans(kern, kernel, cfg, "dots")(x_sign * x)
            np.testing.assert_array_equal(got, want, err_msg=f"w={w_sign} x={x_sign} pad_values={pad_values}")
            full = got[0, k // 2, k // 2] if padding == "same" else got[0, 0, 0]
            assert (full == -w_sign * x_sign * k * k * c).all()  # every tap inside: +-K


@pytest.mark.parametrize("isa", ISAS)
def test_conv_quicknet_shape_all_minus_one(isa):
    """QuickNet's 3x3 SAME layer shape with K = 9 * 512: -K at interior pixels on every ISA."""
    kern = _core.kernels_for(isa)
    c = 512 if not SLOW else 256
    x = -np.ones((1, 4, 4, c), np.float32)
    cfg = case(1, 4, 4, c, 8, 3, 3, padding="same")
    got = plans(kern, np.ones((3, 3, c, 8), np.float32), cfg, "dots")(x)
    np.testing.assert_array_equal(got, ref.binary_conv2d(x, np.ones((3, 3, c, 8)), 1, "same", 1.0))
    assert (got[0, 1:3, 1:3] == -9 * c).all()


def test_conv_results_do_not_depend_on_thread_count(restore_threads):
    r = rng(1)
    x = special((2, 20, 21, 128), r)
    kernel = special((3, 3, 64, 96), r)
    scale, bias = special(96, r), special(96, r)
    outs = []
    for t in (1, 2, 3, 4):
        fastq.set_num_threads(t)
        res = []
        for pv in (1.0, 0.0):
            kw = dict(padding="same", pad_values=pv, groups=2, scale=scale, bias=bias, activation="relu")
            res.append(fastq.binary_conv2d(x, kernel, padding="same", pad_values=pv, groups=2))
            res.append(fastq.BinaryConv2D(kernel, **kw)(x).view(np.uint32))
            res.append(fastq.BinaryConv2D(kernel, packed_output=True, **kw)(x).words)
        outs.append(res)
    for t, res in enumerate(outs[1:], start=2):
        for a, b in zip(res, outs[0]):
            np.testing.assert_array_equal(a, b, err_msg=f"{t} threads vs 1")
    np.testing.assert_array_equal(outs[0][3], ref.binary_conv2d(x, kernel, 1, "same", 0.0, 1, 2))


# --------------------------------------------------------------------- huge "same" dilations


def same_conv_direct(x, kernel, strides, dilation, pad_values, groups=1):
    """binary_conv2d with padding="same" from the definition, tap by tap, every position in
    Python integers (no padded array, so any dilation): the oracle for dilations far past the
    input, which the reference's padded image cannot hold."""
    n, h, w, _ = x.shape
    kh, kw, cg, o = kernel.shape
    sx, sk = (np.where(a < 0, -1, 1).astype(np.int64) for a in (x, kernel))
    (sh, sw), (dh, dw) = strides, dilation

    def axis(size, k, s, d):
        out = -(-size // s)
        return out, max((out - 1) * s + (k - 1) * d + 1 - size, 0) // 2

    (oh, pt), (ow, pl) = axis(h, kh, sh, dh), axis(w, kw, sw, dw)
    og = o // groups
    y = np.zeros((n, oh, ow, o), np.int64)
    for i in range(kh):
        rows = [yy * sh - pt + i * dh for yy in range(oh)]
        vr = np.array([0 <= r < h for r in rows])
        for j in range(kw):
            cols = [xx * sw - pl + j * dw for xx in range(ow)]
            vc = np.array([0 <= c < w for c in cols])
            xs = sx[:, [r if 0 <= r < h else 0 for r in rows]][:, :, [c if 0 <= c < w else 0 for c in cols]]
            inside = (vr[:, None] & vc[None, :])[None, :, :, None]
            for g in range(groups):
                wk = sk[i, j, :, g * og : (g + 1) * og]
                dots = xs[..., g * cg : (g + 1) * cg] @ wk
                y[..., g * og : (g + 1) * og] += np.where(inside, dots, int(pad_values) * wk.sum(axis=0))
    return y.astype(np.int32)


HUGE = [10**6, 2**40, 2**62, 2**63 - 1]
# (x shape, kernel shape, strides, dilations, pad_values, groups): odd kernels (one tap lands),
# even ones (no tap lands: the taps straddle the input), strides that do not divide H, one axis
# dilated, 1-tap axes, paired taps (C <= 32) and whole words, groups.
DILATED = [
    ((1, 5, 6, 3), (3, 3, 3, 4), (1, 1), (2**40, 2**40), 1.0, 1),
    ((2, 5, 6, 3), (3, 3, 3, 4), (1, 1), (2**40, 2**40), 0.0, 1),
    ((1, 7, 4, 70), (4, 2, 70, 5), (1, 1), (10**6, 2**62), 1.0, 1),
    ((1, 7, 4, 70), (4, 2, 70, 5), (1, 1), (2**63 - 1, 3), 0.0, 1),
    ((1, 7, 9, 6), (5, 3, 3, 4), (3, 2), (2**62, 1), 1.0, 2),
    ((1, 7, 9, 6), (5, 3, 3, 4), (3, 2), (2**62, 1), 0.0, 2),
    ((1, 8, 3, 33), (2, 1, 33, 3), (2, 1), (10**6, 2**40), 0.0, 1),
    ((1, 3, 8, 2), (1, 6, 2, 3), (1, 3), (5, 2**63 - 1), 1.0, 1),
    ((1, 6, 6, 4), (3, 3, 4, 2), (1, 1), (7, 13), 1.0, 1),  # just past the input: dil > (OH-1)*sh + H
    ((1, 6, 6, 4), (3, 3, 4, 2), (1, 1), (12, 11), 0.0, 1),  # just below: computed as given
]


@pytest.mark.parametrize("xs,ks,strides,dilation,pv,groups", DILATED)
def test_same_padding_with_a_huge_dilation_is_computed(xs, ks, strides, dilation, pv, groups):
    """Issue #12: padding="same" with a dilation far past the input raised MemoryError (the
    padded image, about KH * dh rows, did not fit) and could not have fit. The geometry is now
    computed with a smaller dilation that reads the same taps (runtime/window_axis.hpp): every
    ISA, float and packed input, dots, float and packed output, equal to the direct definition."""
    r = rng(sum(xs) + sum(ks))
    x, kernel = special(xs, r), special(ks, r)
    want = same_conv_direct(x, kernel, strides, dilation, pv, groups)
    if max(dilation) <= 13:  # the oracle agrees with the reference where its padded image fits
        np.testing.assert_array_equal(want, ref.binary_conv2d(x, kernel, strides, "same", pv, dilation, groups))
    scale, bias = special(ks[3], r), special(ks[3], r)
    kw = dict(strides=strides, padding="same", pad_values=pv, dilation_rate=dilation, groups=groups)
    y = ref.binary_output(want, scale, bias, "relu")
    for isa in ISAS:
        kern = _core.kernels_for(isa)
        c = dict(groups=groups, strides=strides, dilation=dilation, padding="same", pad_values=pv)
        for xin in (x, x.astype(np.float64), ref.pack_bits(x)[0]):
            np.testing.assert_array_equal(plans(kern, kernel, c, "dots")(xin), want, err_msg=isa)
        got = plans(kern, kernel, c, "affine", scale, bias, True)(x)
        np.testing.assert_array_equal(got.view(np.uint32), y.view(np.uint32), err_msg=isa)
        signs = plans(kern, kernel, c, "signs", scale, bias, True)(x)
        np.testing.assert_array_equal(signs, ref.pack_bits(y)[0], err_msg=isa)
    np.testing.assert_array_equal(fastq.binary_conv2d(x, kernel, **kw), want)
    layer = fastq.BinaryConv2D(kernel, scale=scale, bias=bias, activation="relu", **kw)
    np.testing.assert_array_equal(layer(fastq.pack_bits(x)).view(np.uint32), y.view(np.uint32))


def test_float_and_binary_convolutions_agree_on_huge_dilations():
    """The float layers (fastq.models) skip padding taps: on +-1 inputs they are the binary
    convolution with pad_values=0. Both families take the same geometry (runtime/window_axis.hpp)
    for any dilation below 2**63; the float one used to wrap (KH - 1) * dh past 2**64 (wrong
    padding, and a "valid" output from an input smaller than the kernel)."""
    from fastq import _float_ops

    r = rng(5)
    x = np.where(r.random((1, 5, 7, 3)) < 0.5, -1.0, 1.0).astype(np.float32)
    for ks, dilation in [((3, 3, 3, 2), (2**40, 1)), ((4, 4, 3, 2), (2**63 - 1, 6148914691236517206))]:
        kernel = np.where(r.random(ks) < 0.5, -1.0, 1.0).astype(np.float32)
        want = same_conv_direct(x, kernel, (1, 1), dilation, 0.0)
        for isa in ISAS:
            conv = _float_ops.Conv2D(kernel, padding="same", dilation=dilation, kernels=_core.kernels_for(isa))
            np.testing.assert_array_equal(conv(x), want.astype(np.float32), err_msg=isa)
        np.testing.assert_array_equal(
            fastq.binary_conv2d(x, kernel, padding="same", dilation_rate=dilation, pad_values=0.0), want
        )
    kernel = np.ones((4, 4, 3, 2), np.float32)  # 3 * 6148914691236517206 + 1 wrapped to 3 < 5
    assert _float_ops.Conv2D(kernel, dilation=6148914691236517206)(x).shape == (1, 0, 0, 2)
    with pytest.raises(ValueError, match="smaller than the"):
        fastq.binary_conv2d(x, kernel, dilation_rate=6148914691236517206)
    for call in (
        lambda: fastq.binary_conv2d(x, kernel, padding="same", dilation_rate=2**63),
        lambda: fastq.BinaryConv2D(kernel, strides=(1, 2**64)),
        lambda: _float_ops.Conv2D(kernel, dilation=2**63),
    ):
        with pytest.raises(
            ValueError, match=r"(dilation_rate|strides|dilation): expected (integers|values) below 2\*\*63"
        ):
            call()


# ------------------------------------------------------------------------------- thresholds

SCALES = [1.0, -1.0, 0.0, -0.0, 0.5, -0.5, 3.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3e38, -3e38, 1e-38]
BIASES = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -3.0, np.inf, -np.inf, np.nan, 1e30, -1e-45]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("k", [6, 7])
def test_packed_output_thresholds_exhaustive(isa, k):
    """Every dot in [-k, k] against every (scale, bias) pair of special values, with and without
    relu: packed output == signs of the float output (ties at 0 and -0.0, NaN, inf, overflow)."""
    kern = _core.kernels_for(isa)
    pairs = [(s, b) for s in SCALES for b in BIASES]
    scale = np.array([s for s, _ in pairs], np.float32)
    bias = np.array([b for _, b in pairs], np.float32)
    n = len(pairs)
    x = np.ones((k + 1, k), np.float32)
    for i in range(k + 1):
        x[i, :i] = -1.0  # dot with an all +1 kernel: k - 2i, every value of k's parity
    w = np.ones((n, k), np.float32)
    dots = (k - 2 * np.arange(k + 1))[:, None] * np.ones((1, n), np.int64)
    blocked = kern.pack_blocked(kern.pack_bits(w), k)
    for relu in (False, True):
        y = ref.binary_output(dots, scale, bias, "relu" if relu else None)
        got_y = kern.dense_plan(blocked, k, n, scale, bias, False, relu)(x)
        np.testing.assert_array_equal(got_y, y)
        got_bits = kern.dense_plan(blocked, k, n, scale, bias, True, relu)(x)
        np.testing.assert_array_equal(got_bits, ref.pack_bits(y)[0], err_msg=f"relu={relu}")
        # the same through a 1x1 convolution (pixels = rows)
        cfg = case(1, 1, k + 1, k, n, 1, 1)
        conv_bits = plans(kern, w.T.reshape(1, 1, k, n), cfg, "signs", scale, bias, relu)(x.reshape(1, 1, k + 1, k))
        np.testing.assert_array_equal(conv_bits[0, 0], ref.pack_bits(y)[0])


# ---------------------------------------------------------------------------- public layer


def test_binary_conv2d_public_api():
    r = rng(2)
    x = special((2, 9, 10, 70), r)
    kernel = special((3, 3, 35, 20), r)
    want = ref.binary_conv2d(x, kernel, 1, "same", 0.0, 1, 2)
    got = fastq.binary_conv2d(x, kernel, padding="same", pad_values=0.0, groups=2)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        fastq.binary_conv2d(fastq.pack_bits(x), kernel, padding="SAME", pad_values=0, groups=2), want
    )
    out = np.empty_like(want)
    assert fastq.binary_conv2d(x, kernel, padding="same", pad_values=0.0, groups=2, out=out) is out
    np.testing.assert_array_equal(out, want)
    # ints, float16 and non-contiguous input are converted first (signs never change)
    x16 = x.astype(np.float16)[:, :, ::-1]
    np.testing.assert_array_equal(
        fastq.binary_conv2d(x16, kernel, strides=(2, 1), dilation_rate=2, groups=2),
        ref.binary_conv2d(x16, kernel, (2, 1), "valid", 1.0, 2, 2),
    )
    ints = r.integers(-2, 3, (1, 4, 4, 3))
    np.testing.assert_array_equal(
        fastq.binary_conv2d(ints, np.ones((2, 2, 3, 1))), ref.binary_conv2d(ints, np.ones((2, 2, 3, 1)))
    )
    # empty batch, and an empty "same" image
    assert fastq.binary_conv2d(x[:0], kernel, groups=2).shape == (0, 7, 8, 20)
    assert fastq.binary_conv2d(np.zeros((1, 0, 3, 70)), kernel, padding="same", groups=2).shape == (1, 0, 3, 20)


def test_binary_conv2d_layer():
    r = rng(3)
    x = special((2, 7, 8, 64), r)
    kernel = special((3, 3, 64, 65), r)
    scale, bias = special(65, r), special(65, r)
    dots = ref.binary_conv2d(x, kernel, 1, "same", 1.0)
    layer = fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias, activation="relu")
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (2, 7, 8, 65)
    np.testing.assert_array_equal(y, ref.binary_output(dots, scale, bias, "relu"))
    np.testing.assert_array_equal(layer(fastq.pack_bits(x)), y)
    out = np.empty_like(y)
    assert layer(x, out=out) is out
    np.testing.assert_array_equal(out, y)
    packed = fastq.BinaryConv2D(kernel, padding="same", scale=scale, bias=bias, activation="relu", packed_output=True)
    p = packed(x)
    assert isinstance(p, fastq.PackedBits) and p.shape == (2, 7, 8, 65)
    np.testing.assert_array_equal(p.words, ref.pack_bits(y)[0])
    words = np.empty((2, 7, 8, 2), np.uint64)
    q = packed(fastq.pack_bits(x), out=words)
    assert q == p and np.shares_memory(q.words, words)
    # defaults: scale 1, bias 0, no activation -> the dots as float32
    np.testing.assert_array_equal(fastq.BinaryConv2D(kernel, padding="same")(x), dots.astype(np.float32))
    # a packed-output layer feeds the next binary layer
    nxt = fastq.BinaryConv2D(special((3, 3, 65, 5), r), strides=2)
    np.testing.assert_array_equal(nxt(p), nxt(y))


def test_binary_conv2d_layer_parameters_are_read_only_config_pickle_repr():
    r = rng(4)
    kernel = r.standard_normal((3, 1, 8, 6))
    layer = fastq.BinaryConv2D(
        kernel,
        strides=(2, 1),
        padding="same",
        pad_values=0.0,
        dilation_rate=(1, 1),
        groups=2,
        scale=2.0,
        bias=np.arange(6),
        activation="relu",
        packed_output=False,
    )
    assert (layer.filters, layer.kernel_size, layer.in_channels) == (6, (3, 1), 16)
    assert layer.strides == (2, 1) and layer.padding == "same" and layer.pad_values == 0.0 and layer.groups == 2
    for name in ("kernel", "scale", "bias", "strides", "padding", "activation", "packed_output", "groups"):
        with pytest.raises(AttributeError, match=f"{name} is read-only: build a new BinaryConv2D"):
            setattr(layer, name, getattr(layer, name))
    for arr in (layer.kernel, layer.scale, layer.bias):
        assert not arr.flags.writeable
    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    assert cfg == {
        "filters": 6,
        "kernel_size": [3, 1],
        "strides": [2, 1],
        "padding": "same",
        "pad_values": 0.0,
        "dilation_rate": [1, 1],
        "groups": 2,
        "activation": "relu",
        "packed_output": False,
    }
    assert repr(layer) == (
        "BinaryConv2D(filters=6, kernel_size=(3, 1), in_channels=16, strides=(2, 1), "
        "padding='same', "
        "pad_values=0.0, dilation_rate=(1, 1), groups=2, activation='relu', packed_output=False)"
    )
    x = r.standard_normal((1, 5, 4, 16))
    again = pickle.loads(pickle.dumps(layer))
    np.testing.assert_array_equal(again(x), layer(x))
    assert again.get_config() == cfg


def test_binary_dense_activation():
    r = rng(5)
    w, x = r.standard_normal((40, 130)), r.standard_normal((3, 130)).astype(np.float32)
    scale, bias = r.standard_normal(40), r.standard_normal(40)
    dots = ref.binary_matmul(x, w)
    layer = fastq.BinaryDense(w, scale, bias, activation="relu")
    np.testing.assert_array_equal(layer(x), ref.binary_output(dots, scale, bias, "relu"))
    packed = fastq.BinaryDense(w, scale, bias, activation="relu", packed_output=True)(x)
    np.testing.assert_array_equal(packed.words, ref.pack_bits(ref.binary_output(dots, scale, bias, "relu"))[0])
    assert "activation='relu'" in repr(layer)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(layer))(x), layer(x))
    with pytest.raises(ValueError, match="activation: expected None, 'linear' or 'relu', got 'tanh'"):
        fastq.BinaryDense(w, activation="tanh")


# ------------------------------------------------------------------------------ max pooling

POOL_CASES = [
    ((1, 4, 4, 64), 2, None, "valid"),
    ((2, 5, 7, 63), 2, None, "same"),
    ((1, 7, 6, 65), 3, 2, "same"),
    ((3, 6, 9, 129), (2, 3), (1, 2), "valid"),
    ((1, 5, 5, 200), (3, 3), 1, "same"),
    ((1, 3, 4, 512), (3, 4), None, "valid"),  # the whole image; AVX-512 vector path
    ((2, 4, 5, 1024), (2, 2), (1, 1), "same"),
    ((1, 1, 1, 1), 1, None, "valid"),
    ((1, 2, 2, 3), 5, 1, "same"),  # pool larger than the input, clipped
    ((0, 4, 4, 8), 2, None, "valid"),
]


@pytest.mark.parametrize("shape,pool,strides,padding", POOL_CASES)
def test_max_pool_every_isa_matches_reference(shape, pool, strides, padding):
    r = rng(sum(shape))
    x = special(shape, r)
    x[r.random(shape) < 0.6] = -1.0  # windows of all -1 are common
    want = ref.pack_bits(ref.max_pool2d_signs(x, pool, strides, padding))[0]
    px = ref.pack_bits(x)[0]
    for isa in ISAS:
        st = pair(pool) if strides is None else pair(strides)
        got = _core.kernels_for(isa).max_pool2d(px, pair(pool), st, padding)
        np.testing.assert_array_equal(got, want, err_msg=f"{isa}")
    p = fastq.binary_max_pool2d(fastq.pack_bits(x), pool, strides, padding)
    assert isinstance(p, fastq.PackedBits) and p.k == shape[3]
    np.testing.assert_array_equal(p.words, want)


def test_max_pool_threads(restore_threads):
    x = fastq.pack_bits(special((8, 32, 32, 130), rng(6)))
    outs = []
    for t in (1, 2, 3, 4):
        fastq.set_num_threads(t)
        outs.append(fastq.binary_max_pool2d(x, 3, 2, "same").words)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


# ------------------------------------------------------------------------------- bad inputs


def test_conv_and_pool_hostile_inputs():
    r = rng(7)
    x = r.standard_normal((1, 6, 6, 8)).astype(np.float32)
    k = r.standard_normal((3, 3, 8, 4))
    x0, k0 = x.copy(), k.copy()
    bad = [
        (
            lambda: fastq.binary_conv2d(x[0], k),
            ValueError,
            r"x: expected a 4-D NHWC array \(N, H, W, C\), got shape \(6, 6, 8\)",
        ),
        (
            lambda: fastq.binary_conv2d(x, k[0]),
            ValueError,
            r"kernel: expected a 4-D HWIO array .* got shape \(3, 8, 4\)",
        ),
        (
            lambda: fastq.binary_conv2d(x, k[:, :, :5]),
            ValueError,
            r"kernel: expected C // groups = 8 input channels \(x has C = 8, groups = 1\), "
            r"got kernel shape \(3, 3, 5, 4\)",
        ),
        (
            lambda: fastq.binary_conv2d(x, k, groups=3),
            ValueError,
            "groups: x's C = 8 channels do not split into 3 groups",
        ),
        (
            lambda: fastq.binary_conv2d(x, k[:, :, :4, :3], groups=2),
            ValueError,
            "groups: the kernel's O = 3 output channels do not split into 2 groups",
        ),
        (lambda: fastq.binary_conv2d(x, k, strides=0), ValueError, r"strides: expected integers >= 1, got 0"),
        (lambda: fastq.binary_conv2d(x, k, strides=(1, 2, 3)), TypeError, "strides: expected an int or a pair of ints"),
        (lambda: fastq.binary_conv2d(x, k, dilation_rate=(1, 0)), ValueError, "dilation_rate: expected integers >= 1"),
        (
            lambda: fastq.binary_conv2d(x, k, padding="full"),
            ValueError,
            "padding: expected 'valid' or 'same', got 'full'",
        ),
        (lambda: fastq.binary_conv2d(x, k, pad_values=0.5), ValueError, "pad_values: expected 0.0 or 1.0"),
        (lambda: fastq.binary_conv2d(x, k, pad_values=-1.0), ValueError, "pad_values: expected 0.0 or 1.0"),
        (lambda: fastq.binary_conv2d(x, k, groups=0), ValueError, "groups: expected an int >= 1, got 0"),
        (
            lambda: fastq.binary_conv2d(x, np.ones((7, 7, 8, 4))),
            ValueError,
            r"x: the input's H x W = 6 x 6 is smaller than the \(dilated\) kernel's 7 x 7 with padding='valid'",
        ),
        (
            lambda: fastq.binary_conv2d(x, k, dilation_rate=3),
            ValueError,
            "smaller than the \\(dilated\\) kernel's 7 x 7",
        ),
        (
            lambda: fastq.binary_conv2d(fastq.pack_bits(x[..., :7]), k),
            ValueError,
            "kernel: expected C // groups = 7 input channels",
        ),
        (
            lambda: fastq.binary_conv2d(fastq.pack_bits(x).words, k),
            TypeError,
            r"x: expected a PackedBits or a float array, got an array of dtype uint64 \(packed words\?",
        ),
        (lambda: fastq.binary_conv2d(x, "k"), TypeError, "kernel: expected a float"),
        (lambda: fastq.binary_conv2d(x.astype(complex), k), TypeError, "x: expected a PackedBits or a float array"),
        (
            lambda: fastq.binary_conv2d(x, k, out=np.empty((1, 4, 4, 4), np.float32)),
            ValueError,
            "out: expected dtype int32, got float32",
        ),
        (
            lambda: fastq.binary_conv2d(x, k, out=np.empty((1, 4, 4, 5), np.int32)),
            ValueError,
            r"out: expected shape \(1, 4, 4, 4\), got \(1, 4, 4, 5\)",
        ),
        (lambda: fastq.BinaryConv2D(k, activation="tanh"), ValueError, "activation: expected None, 'linear' or 'relu'"),
        (lambda: fastq.BinaryConv2D(k, scale=np.ones(3)), ValueError, r"scale: expected a scalar or shape \(4,\)"),
        (
            lambda: fastq.BinaryConv2D(k)(fastq.pack_bits(x[..., :7])),
            ValueError,
            r"x: expected C = 8 channels, got a PackedBits of shape \(1, 6, 6, 7\) \(k = 7\)",
        ),
        (
            lambda: fastq.BinaryConv2D(k)(x[..., :7]),
            ValueError,
            r"x: expected C = 8 channels .*got shape \(1, 6, 6, 7\)",
        ),
        (lambda: fastq.BinaryConv2D(k)(fastq.pack_bits(x[0])), ValueError, "x: expected a 4-D NHWC operand"),
        (
            lambda: fastq.BinaryConv2D(k, packed_output=True)(x, out=np.empty((1, 4, 4, 4), np.float32)),
            ValueError,
            "out: expected dtype uint64, got float32",
        ),
        (lambda: fastq.BinaryConv2D(k)(x, out=[1]), TypeError, "out: expected a NumPy float32 array, got list"),
        (lambda: fastq.binary_max_pool2d(x, 2), TypeError, "x: expected a PackedBits of NHWC signs"),
        (lambda: fastq.binary_max_pool2d(fastq.pack_bits(x[0]), 2), ValueError, "x: expected a 4-D NHWC operand"),
        (
            lambda: fastq.binary_max_pool2d(fastq.pack_bits(x), 7),
            ValueError,
            r"pool_size: \(7, 7\) is larger than the input's 6 x 6 with padding='valid'",
        ),
        (
            lambda: fastq.binary_max_pool2d(fastq.pack_bits(x), 0),
            ValueError,
            "pool_size: expected integers >= 1, got 0",
        ),
        (
            lambda: fastq.binary_max_pool2d(fastq.pack_bits(x), 2, strides=(0, 1)),
            ValueError,
            "strides: expected integers >= 1",
        ),
        (lambda: fastq.binary_max_pool2d(fastq.pack_bits(x), 2, padding="causal"), ValueError, "padding: expected"),
    ]
    for fn, err, msg in bad:
        with pytest.raises(err, match=msg):
            fn()
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(k, k0)


def test_native_conv_entry_points_validate():
    kern = _core.active
    words = kernel_words(np.ones((3, 3, 8, 4)))
    with pytest.raises(TypeError, match="words: expected a uint64 array"):
        kern.conv_plan(words.astype(np.int64), 8, 1, (1, 1), (1, 1), "valid", False, "dots")
    with pytest.raises(
        ValueError, match=r"words: expected shape \(O, KH, KW, 1\) for 8 channels per group, got \(4, 3, 3\)"
    ):
        kern.conv_plan(words[..., 0], 8, 1, (1, 1), (1, 1), "valid", False, "dots")
    with pytest.raises(ValueError, match="output: expected 'dots', 'affine' or 'signs', got 'int8'"):
        kern.conv_plan(words, 8, 1, (1, 1), (1, 1), "valid", False, "int8")
    with pytest.raises(TypeError, match="scale: expected a float32 array"):
        kern.conv_plan(words, 8, 1, (1, 1), (1, 1), "valid", False, "affine")
    with pytest.raises(ValueError, match="groups: the 4 output channels do not split into 3 groups"):
        kern.conv_plan(words, 8, 3, (1, 1), (1, 1), "valid", False, "dots")
    plan = kern.conv_plan(words, 8, 1, (1, 1), (1, 1), "valid", False, "dots")
    with pytest.raises(ValueError, match=r"x: expected packed NHWC words \(N, H, W, 1\) for C = 8 channels"):
        plan(np.zeros((1, 4, 4, 2), np.uint64))
    with pytest.raises(TypeError, match="x: expected a float32 or float64 array or uint64 packed words"):
        plan(np.zeros((1, 4, 4, 8), np.int32))
    with pytest.raises(ValueError, match="x: expected a C-contiguous array"):
        plan(np.zeros((1, 4, 8, 8), np.float32)[:, :, ::2])
    with pytest.raises(TypeError, match="x: expected a uint64 array of packed words"):
        kern.max_pool2d(np.zeros((1, 2, 2, 1), np.int64), (1, 1), (1, 1), "valid")


def test_reference_pinned_to_hand_computed_values():
    """The oracle itself, on cases small enough to work out by hand."""
    x = np.array([1.0, -2.0, 0.0, -0.0, 3.0, -1.0, 2.0, 2.0, -5.0]).reshape(1, 3, 3, 1)  # signs + - + / + + - / + + -
    k = np.array([1.0, -1.0, -1.0, 1.0]).reshape(2, 2, 1, 1)
    # valid 2x2: windows [[+,-],[+,+]] -> 1+1-1+1 = 2; [[-,+],[+,-]] -> -1-1-1-1 = -4;
    # [[+,+],[+,+]] -> 0; [[+,-],[+,-]] -> 1+1-1-1 = 0
    np.testing.assert_array_equal(ref.binary_conv2d(x, k)[0, :, :, 0], [[2, -4], [0, 0]])
    one = np.array([-1.0]).reshape(1, 1, 1, 1)
    k3 = np.array([1, 1, -1, 1, 1, 1, -1, 1, 1], float).reshape(3, 3, 1, 1)  # sum of signs 5, center +1
    assert ref.binary_conv2d(one, k3, 1, "same", 1.0)[0, 0, 0, 0] == 5 - 2  # padded taps +1, center -1
    assert ref.binary_conv2d(one, k3, 1, "same", 0.0)[0, 0, 0, 0] == -1  # only the center counts
    assert fastq.binary_conv2d(one, k3, padding="same")[0, 0, 0, 0] == 3
    assert fastq.binary_conv2d(one, k3, padding="same", pad_values=0.0)[0, 0, 0, 0] == -1
    # groups: channel 0 -> output 0, channel 1 -> output 1
    x2 = np.array([-1.0, 1.0]).reshape(1, 1, 1, 2)
    np.testing.assert_array_equal(ref.binary_conv2d(x2, np.ones((1, 1, 1, 2)), groups=2), [[[[-1, 1]]]])
    # SAME split: 4 wide, 3 taps, stride 2 -> 2 outputs, total padding 1, all of it on the right
    row = np.array([-1.0, 1.0, 1.0, -1.0]).reshape(1, 1, 4, 1)
    np.testing.assert_array_equal(ref.binary_conv2d(row, np.ones((1, 3, 1, 1)), 2, "same", 0.0)[0, 0, :, 0], [1, 0])
    np.testing.assert_array_equal(ref.binary_conv2d(row, np.ones((1, 3, 1, 1)), 2, "same", 1.0)[0, 0, :, 0], [1, 1])
    # output transform: relu, then the two roundings
    np.testing.assert_array_equal(
        ref.binary_output(np.array([-3, 0, 3]), np.float32(0.1), np.float32(-0.3), "relu"),
        np.array([-0.3, -0.3, np.float32(np.float32(3) * np.float32(0.1)) - np.float32(0.3)], np.float32),
    )
    # max pool: -1 only where the whole window is -1; "same" windows clipped
    m = np.array([-1.0, -1.0, 1.0, -1.0, -1.0, -1.0]).reshape(1, 2, 3, 1)
    np.testing.assert_array_equal(ref.max_pool2d_signs(m, 2, 2, "same")[0, :, :, 0], [[-1, 1]])


def test_masked_input_is_refused_like_every_binary_operand():
    x = np.ma.masked_array(np.ones((1, 4, 4, 3), np.float32), mask=False)
    k = np.ones((3, 3, 3, 2), np.float32)
    with pytest.raises(TypeError, match="masked arrays are not supported"):
        fastq.binary_conv2d(x, k)
    with pytest.raises(TypeError, match="masked arrays are not supported"):
        fastq.BinaryConv2D(k)(x)
