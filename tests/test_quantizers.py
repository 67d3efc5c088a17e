"""The quantizers against the NumPy reference (docs/semantics.md), and larq's object protocol."""

import copy
import pickle

import numpy as np
import pytest

import fastq
from conftest import CASE_IDS, QUANTIZER_CASES, assert_same_values, mixed_input, swish_grad_bound
from fastq import _core, reference
from fastq import quantizers as Q

SHAPES = [(), (0,), (1,), (7,), (64,), (65,), (1001,), (37, 19), (3, 3, 8, 16), (4, 0, 3), (2, 1)]


def name_and_config(q):
    return type(q).__name__, q.get_config()


def check_against_reference(q, x, dy):
    name, cfg = name_and_config(q)
    with np.errstate(all="ignore"):
        y_ref = reference.forward(name, x, **cfg)
        g_ref = reference.backward(name, x, dy, **cfg)
    y, g = q(x), q.grad(x, dy)
    if isinstance(q, fastq.DoReFa) and q.mode == "weights":
        check_dorefa_weights(q, x, dy, y, y_ref, g, g_ref)
        return
    assert_same_values(y, y_ref, f"{q} forward {x.dtype} {x.shape}")
    if isinstance(q, fastq.SwishSign):
        bound = swish_grad_bound(np.asarray(x, np.float64), np.asarray(dy, np.float64), q.beta, g.dtype)
        assert_within(g, g_ref, bound, f"{q} backward")
    else:
        assert_same_values(g, g_ref, f"{q} backward {x.dtype} {x.shape}")


def assert_within(a, b, bound, msg):
    """Same NaN positions; elsewhere |a - b| <= bound (infinities must match exactly)."""
    assert a.dtype == b.dtype and a.shape == b.shape, msg
    free = np.isinf(bound)
    assert np.array_equal(np.isnan(a) & ~free, np.isnan(b) & ~free), msg
    ok = np.isnan(a) | (a == b) | free
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a.astype(np.float64) - b.astype(np.float64))
    ok |= err <= bound
    assert ok.all(), f"{msg}: {(~ok).sum()} outside the bound, worst excess {np.nanmax(np.where(ok, 0, err - bound))}"


def check_dorefa_weights(q, x, dy, y, y_ref, g, g_ref):
    """DoReFa weights use fastq's tanh (docs/semantics.md: a few ulp), so a level may differ only
    where t/(2d)*n + n/2 lies within a few ulp of a rounding tie, and the gradient by a few ulp
    of |dy|*(1 + t²)/d."""
    work = np.float32 if y.dtype == np.float16 else y.dtype
    eps = float(np.finfo(work).eps)
    x64 = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        t = np.tanh(x64)
        d = np.max(np.abs(t)) if t.size else 0.0
        n = 2.0**q.precision - 1
        pn = (t / (2 * d) + 0.5) * n if d else np.full_like(t, 0.5 * n)
        near_tie = np.abs(pn - np.floor(pn) - 0.5) <= 16 * eps * (n + 1)
        grad_bound = 16 * eps * np.abs(np.asarray(dy, np.float64)) * (1 + t * t) / d if d else np.zeros_like(t)
    both_nan = np.isnan(y) & np.isnan(y_ref)
    same = (y == y_ref) | both_nan | near_tie
    assert same.all(), f"{q} forward: {(~same).sum()} levels differ away from ties"
    assert_within(g, g_ref, np.nan_to_num(grad_bound) + float(np.finfo(g.dtype).tiny), f"{q} backward")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_matches_reference(q, dtype):
    for i, shape in enumerate(SHAPES):
        x = mixed_input(shape, dtype, seed=i)
        dy = mixed_input(shape, dtype, seed=100 + i)
        check_against_reference(q, x, dy)


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.int8, np.float16),
        (np.uint8, np.float16),
        (np.int16, np.float32),
        (np.int32, np.float64),
        (np.int64, np.float64),
        (np.bool_, np.float16),
    ],
)
@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_integer_and_bool_inputs(q, dtype, expected):
    x = np.array([-3, -1, 0, 1, 2, 100], dtype=np.int64).astype(dtype)
    dy = np.ones(x.shape, dtype)
    assert q(x).dtype == np.dtype(expected)
    check_against_reference(q, x, dy)


def test_known_values():
    x = np.array([-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 1.5, np.nan], np.float32)
    ones = np.ones_like(x)
    np.testing.assert_array_equal(fastq.SteSign()(x), [-1, -1, 1, 1, 1, 1, 1, np.nan])
    np.testing.assert_array_equal(fastq.SteSign().grad(x, ones), [0, 1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(fastq.SteSign(clip_value=None).grad(x, ones), ones)
    np.testing.assert_array_equal(fastq.SteHeaviside()(x), [0, 0, 0, 0, 1, 1, 1, np.nan])
    np.testing.assert_array_equal(fastq.ApproxSign().grad(x, ones), [0, 0, 2, 2, 1, 0, 0, 0])
    np.testing.assert_array_equal(fastq.SteTern(threshold_value=0.5)(x), [-1, -1, 0, 0, 1, 1, 1, np.nan])
    np.testing.assert_array_equal(
        fastq.DoReFa(k_bit=2)(x), [0, 0, -0.0, 0, np.float32(2) / np.float32(3), 1, 1, np.nan]
    )
    assert fastq.SwishSign(beta=5.0).grad(np.float32(0), np.float32(1)) == np.float32(5)


def test_magnitude_aware_sign_scale_per_last_axis_channel():
    x = mixed_input((3, 3, 8, 16), np.float32, seed=5)
    x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    y = fastq.MagnitudeAwareSign()(x)
    s = np.abs(y).reshape(-1, 16)
    assert np.all(s == s[0])  # one scale per channel
    np.testing.assert_allclose(s[0], np.abs(x).reshape(-1, 16).mean(axis=0, dtype=np.float64), rtol=1e-6)
    x1 = np.array([-2.0, 0.5, -0.0], np.float32)  # 1-D: s = |x|, y == x
    np.testing.assert_array_equal(fastq.MagnitudeAwareSign()(x1), x1)
    x2 = np.array([[1.0, -3.0], [3.0, 1.0]], np.float32)  # two rows: s = the column means (2, 2)
    np.testing.assert_array_equal(fastq.MagnitudeAwareSign()(x2), [[2.0, -2.0], [2.0, 2.0]])


def test_float16_is_computed_in_float32_and_rounded_once():
    x = np.array([0.05, -0.05, 0.7, 1.0], np.float16)
    assert fastq.SteTern()(x).tolist() == [1, -1, 1, 1]  # |x| == float16(0.05) maps to ±1
    assert fastq.SteSign(clip_value=0.7).grad(x, np.ones_like(x)).tolist() == [1, 1, 1, 0]


def unaligned_copy(a):
    """A copy of a whose data starts one byte past an aligned address (NumPy allows that)."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_views_and_layouts(q):
    base = mixed_input((40, 30), np.float32, seed=9)
    dy_base = mixed_input((40, 30), np.float32, seed=10)
    views = {
        "non-contiguous": (base[::2, 1::3], dy_base[::2, 1::3]),
        "negative stride": (base[::-1, ::-1], dy_base[::-1, ::-1]),
        "fortran": (np.asfortranarray(base), np.asfortranarray(dy_base)),
        "misaligned": (base.ravel()[1:], dy_base.ravel()[1:]),
        "byte-swapped": (base.astype(">f4"), dy_base.astype(">f4")),
        "unaligned": (unaligned_copy(base), unaligned_copy(dy_base)),
    }
    for label, (x, dy) in views.items():
        xc, dyc = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(dy, np.float32)
        assert_same_values(q(x), q(xc), f"{label} forward")
        assert_same_values(q.grad(x, dy), q.grad(xc, dyc), f"{label} backward")
    ro = base.copy()
    ro.flags.writeable = False
    assert_same_values(q(ro), q(base), "read-only")
    lst = base[:3, :4].tolist()
    assert_same_values(q(lst), q(np.asarray(lst)), "list input")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("threshold", [0.0, -0.0, 0.05, -0.5, 1e-45, 3e38, np.inf, -np.inf, np.nan])
def test_ste_tern_thresholds_at_the_edges(dtype, threshold):
    """SteTern's kernel evaluates larq's sign(sign(x + Δ) + sign(x - Δ)) in fewer operations:
    the reference's literal formula at x = ±Δ and its neighbours, zeros, infinities, NaN,
    subnormal and overflowing Δ; and TWN thresholds that come out infinite or NaN."""
    info = np.finfo(dtype)
    with np.errstate(all="ignore"):
        t = dtype(threshold)
        near = [t, -t, np.nextafter(t, dtype(np.inf)), np.nextafter(t, dtype(-np.inf)), -np.nextafter(t, dtype(np.inf))]
        x = np.array(
            near
            + [
                0.0,
                -0.0,
                1.0,
                -1.0,
                np.inf,
                -np.inf,
                np.nan,
                info.max,
                -info.max,
                info.tiny,
                -info.tiny,
                info.smallest_subnormal,
                0.04,
                -0.06,
                2.0,
            ],
            dtype,
        )
    x = np.concatenate([x, mixed_input((200,), dtype, seed=7)])
    with np.errstate(all="ignore"):
        expected = reference.forward("SteTern", x, threshold_value=float(t))
    if np.isnan(t):  # not a valid parameter (ValueError), but the kernel's NaN path is pinned
        with pytest.raises(ValueError, match="threshold_value: expected a number, got nan"):
            fastq.SteTern(threshold_value=float(t))
        work = x.astype(np.float32) if dtype == np.float16 else x
        got = np.empty_like(work)
        _core.active.forward(
            _core.quantizer_ids["SteTern"],
            work,
            got,
            {"clip_value": 1.0, "no_clip": 0.0, "threshold": float(t), "twn": 0.0},
        )
        assert_same_values(got.astype(dtype), expected, f"Δ={t}")
    else:
        q = fastq.SteTern(threshold_value=float(t))
        with np.errstate(all="ignore"):
            assert_same_values(q(x), expected, f"Δ={t}")
    twn = fastq.SteTern(ternary_weight_networks=True)
    for special in (np.inf, np.nan, info.max):
        xs = x.copy()
        xs[3] = special
        with np.errstate(all="ignore"):
            assert_same_values(
                twn(xs), reference.forward("SteTern", xs, ternary_weight_networks=True), f"TWN with {special}"
            )


@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_out_argument(q):
    x = mixed_input((33, 17), np.float32, seed=11)
    dy = mixed_input((33, 17), np.float32, seed=12)
    expected_y, expected_g = q(x), q.grad(x, dy)
    out = np.empty_like(x)
    assert q(x, out=out) is out
    assert_same_values(out, expected_y, "out=")
    assert q.grad(x, dy, out=out) is out
    assert_same_values(out, expected_g, "grad out=")
    inplace = x.copy()
    assert q(inplace, out=inplace) is inplace
    assert_same_values(inplace, expected_y, "in place")
    dy2 = dy.copy()
    assert q.grad(x, dy2, out=dy2) is dy2
    assert_same_values(dy2, expected_g, "grad in place over dy")
    strided = np.empty((33, 34), np.float32)[:, ::2]
    assert q(x, out=strided) is strided
    assert_same_values(strided, expected_y, "strided out=")
    shifted = np.concatenate([x.ravel(), [0]]).astype(np.float32)
    xs, outs = shifted[1:], shifted[:-1]  # overlapping, shifted by one element
    expected = q(xs.copy())
    q(xs, out=outs)
    assert_same_values(outs, expected, "overlapping out=")
    out_u = unaligned_copy(np.zeros_like(x))
    assert q(x, out=out_u) is out_u
    assert_same_values(out_u, expected_y, "unaligned out=")
    h = mixed_input((33, 17), np.float16, seed=11)
    out16 = np.empty_like(h)
    assert_same_values(q(h, out=out16), q(h), "float16 out=")


@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_arguments_the_native_fast_path_hands_back(q):
    """Calls the one-call native path declines (it returns None) give the general path's result:
    out overlapping dy, big-endian input, an ndarray subclass, a copied quantizer."""
    x = mixed_input((65,), np.float32, seed=21)
    dy = mixed_input((65,), np.float32, seed=22)
    expected_y, expected_g = q(x), q.grad(x, dy)
    buf = np.concatenate([dy, [0]]).astype(np.float32)
    dys, outs = buf[:-1], buf[1:]  # out one element ahead of dy: a plain loop would read its own output
    dys[:] = dy
    assert q.grad(x, dys, out=outs) is outs
    assert_same_values(outs, expected_g, "grad out= overlapping dy")
    assert_same_values(q(x.astype(">f4")), expected_y, "big-endian x")

    class Sub(np.ndarray):
        pass

    assert_same_values(q(x.view(Sub)), expected_y, "ndarray subclass")
    assert_same_values(q.grad(x, dy.view(Sub)), expected_g, "ndarray subclass dy")
    clone = copy.deepcopy(q)
    assert clone == q
    assert_same_values(clone(x), expected_y, "deepcopy")


def test_zero_dim_and_empty():
    for q in QUANTIZER_CASES:
        y = q(np.float32(-0.5))
        assert y.shape == () and y.dtype == np.float32
        assert q(np.empty((0, 3), np.float64)).shape == (0, 3)
        assert q(3.0).dtype == np.float64


def test_thread_count_invariance(restore_threads):
    x = mixed_input((2**18 + 3,), np.float32, seed=13)
    dy = mixed_input(x.shape, np.float32, seed=14)
    x2 = x[: 2**18].reshape(512, 512)
    results = {}
    for n in (1, 2, 3):
        fastq.set_num_threads(n)
        results[n] = [(q(x), q.grad(x, dy), q(x2)) for q in QUANTIZER_CASES]
    for n in (2, 3):
        for (a, b, c), (a1, b1, c1) in zip(results[n], results[1]):
            assert_same_values(a, a1)
            assert_same_values(b, b1)
            assert_same_values(c, c1)


# -- larq's object protocol -------------------------------------------------------------------
@pytest.mark.parametrize("q", QUANTIZER_CASES, ids=CASE_IDS)
def test_config_pickle_repr_eq(q):
    cls = type(q)
    cfg = q.get_config()
    assert cls.from_config(cfg) == q
    assert cls.from_config({**cfg, "name": "layer_7", "trainable": False, "dtype": "float32"}) == q
    assert pickle.loads(pickle.dumps(q)) == q
    assert hash(pickle.loads(pickle.dumps(q))) == hash(q)
    assert eval(repr(q), {**vars(fastq)}) == q
    assert Q.deserialize(Q.serialize(q)) == q
    assert Q.get(Q.serialize(q)) == q


def test_precision():
    assert fastq.SteSign().precision == 1 and fastq.ApproxSign().precision == 1
    assert fastq.SteHeaviside().precision == 1 and fastq.SwishSign().precision == 1
    assert fastq.MagnitudeAwareSign().precision == 1 and fastq.SteTern().precision == 2
    assert fastq.DoReFa(k_bit=5).precision == 5 and fastq.NoOp(precision=3).precision == 3
    assert fastq.Quantizer().precision is None
    assert Q.ste_sign.precision == 1 and Q.ste_tern.precision == 2


@pytest.mark.parametrize(
    "name, cls",
    [
        ("ste_sign", fastq.SteSign),
        ("approx_sign", fastq.ApproxSign),
        ("ste_heaviside", fastq.SteHeaviside),
        ("swish_sign", fastq.SwishSign),
        ("magnitude_aware_sign", fastq.MagnitudeAwareSign),
        ("ste_tern", fastq.SteTern),
        ("dorefa_quantizer", fastq.DoReFa),
        ("DoReFaQuantizer", fastq.DoReFa),
        ("SteSign", fastq.SteSign),
        ("DoReFa", fastq.DoReFa),
        ("SteTern", fastq.SteTern),
    ],
)
def test_registry_names(name, cls):
    q = Q.get(name)
    assert type(q) is cls and q == cls()


def test_registry_forms():
    assert Q.get(None) is None
    f = lambda x: x
    assert Q.get(f) is f
    assert Q.get(Q.ste_sign) is Q.ste_sign
    larq_written = {
        "class_name": "SteSign",
        "config": {"clip_value": 0.5, "name": "ste_sign_3", "trainable": True, "dtype": "float32"},
    }
    assert Q.get(larq_written) == fastq.SteSign(clip_value=0.5)
    keras3 = {
        "module": "larq.quantizers",
        "class_name": "DoReFa",
        "config": {"k_bit": 4, "mode": "weights", "name": "d", "trainable": True, "dtype": "float32"},
        "registered_name": "larq>DoReFa",
    }
    assert Q.get(keras3) == fastq.DoReFa(k_bit=4, mode="weights")
    assert Q.get({"class_name": "NoOpQuantizer", "config": {"precision": 2}}) == fastq.NoOp(precision=2)
    assert Q.get({"class_name": "larq>SteTern", "config": {}}) == fastq.SteTern()
    with pytest.raises(ValueError, match="nonsense"):
        Q.get("nonsense")
    with pytest.raises(TypeError, match="precision"):
        Q.get("NoOp")
    with pytest.raises(ValueError, match="interpret"):
        Q.get(42)
    assert Q.serialize(fastq.SteTern()) == {
        "class_name": "SteTern",
        "config": {"threshold_value": 0.05, "ternary_weight_networks": False, "clip_value": 1.0},
    }


def test_function_forms():
    x = mixed_input((50,), np.float32, seed=2)
    assert_same_values(Q.ste_sign(x, clip_value=0.5), fastq.SteSign(0.5)(x))
    assert_same_values(Q.approx_sign(x), fastq.ApproxSign()(x))
    assert_same_values(Q.swish_sign(x, beta=2.0), fastq.SwishSign(2.0)(x))
    assert_same_values(Q.ste_heaviside(x), fastq.SteHeaviside()(x))
    assert_same_values(Q.ste_tern(x, 0.1, True, 1.0), fastq.SteTern(0.1, True, 1.0)(x))
    assert not hasattr(Q, "magnitude_aware_sign") and not hasattr(Q, "dorefa_quantizer")


# -- metrics ----------------------------------------------------------------------------------
def test_flip_ratio():
    m = fastq.metrics.FlipRatio()
    m.update_state(np.array([1, 1, -1, -1]))
    assert m.result() == 0.0
    m.update_state(np.array([1, -1, -1, 1]))
    assert m.result() == 0.5
    m.update_state(np.array([1, -1, -1, 1]))
    assert m.result() == 0.25
    m.reset_state()
    assert m.result() == 0.0
    m.update_state(np.array([-1, -1, -1, 1]))  # compared with the kept previous values...
    m.update_state(np.array([-1, -1, 1, 1]))
    assert m.result() == 0.25  # ...but only counted from the second update after the reset
    levels = fastq.metrics.FlipRatio()
    levels.update_state(np.array([0.4, 0.9, -0.9]))
    levels.update_state(np.array([0.0, 0.2, 0.1]))  # all truncate to 0
    assert levels.result() == 0.0


def test_metrics_scope():
    with fastq.context.metrics_scope(["flip_ratio"]):
        q = fastq.SteSign()
    plain = fastq.SteSign()
    assert [type(m).__name__ for m in q.metrics] == ["FlipRatio"] and plain.metrics == []
    q(np.array([1.0, -1.0, 1.0, -1.0], np.float32))
    q(np.array([1.0, 1.0, 1.0, -1.0], np.float32))
    assert q.flip_ratio.result() == 0.25
    with pytest.raises(ValueError, match="bogus"), fastq.context.metrics_scope(["bogus"]):
        pass
    with pytest.raises(RuntimeError), fastq.context.metrics_scope(["flip_ratio"]):
        raise RuntimeError
    assert fastq.context.get_training_metrics() == []  # restored after the error
    assert fastq.SteSign(metrics=["flip_ratio"]).metrics


def test_threads_api(restore_threads):
    fastq.set_num_threads(3)
    assert fastq.get_num_threads() == 3 == _core.get_num_threads()
    with pytest.raises(ValueError, match=r"1\.\.1024"):
        fastq.set_num_threads(0)
    with pytest.raises(TypeError, match="integer"):
        fastq.set_num_threads(2.5)
