"""Binary inference: bit-packing, the XNOR-popcount matrix product and BinaryDense (issue #3).

Oracles: NumPy (``x < 0`` packed with ``np.packbits``; the int64 product of the +-1 matrices;
the float32 expression of BinaryDense) checks every ISA's table through ``_core.kernels_for``,
and the public functions through the active table.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import fastq
from fastq import _core
from fastq.binary import BinaryDense, PackedBits, binary_matmul, pack_bits, unpack_bits

ISAS = _core.available_isas()
EDGE = [1, 63, 64, 65, 127, 128, 129]
SEED = 20240603


@pytest.fixture(params=ISAS)
def kern(request):
    return _core.kernels_for(request.param)


@pytest.fixture
def threads():
    before = fastq.get_num_threads()
    yield
    fastq.set_num_threads(before)


def rng(salt=0):
    return np.random.default_rng(SEED + salt)


def signs(x):
    """The +-1 int64 matrix of larq's sign (x < 0 -> -1, else +1; so -0.0 and NaN -> +1)."""
    return np.where(x < 0, -1, 1).astype(np.int64)


def ref_words(x):
    """np.packbits reference of the packed format: LSB first, bit = x < 0, zero padding."""
    k = x.shape[-1]
    nw = (k + 63) // 64
    bits = np.zeros(x.shape[:-1] + (nw * 64,), bool)
    bits[..., :k] = x < 0
    return np.packbits(bits, axis=-1, bitorder="little").view("<u8").astype(np.uint64)


def special_values(shape, r, dtype=np.float32):
    """Random values with exact zeros of both signs, NaN, infinities and denormals mixed in."""
    x = r.standard_normal(shape).astype(dtype)
    pool = np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-45, -1.0, 1.0], dtype)
    mask = r.random(shape) < 0.2
    x[mask] = r.choice(pool, size=int(mask.sum()))
    return x


# ---------------------------------------------------------------------------------- packing


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pack_matches_reference_and_is_identical_across_isas(kern, dtype):
    r = rng(1)
    for k in [1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, *EDGE, 191, 192, 193, 1000, 4099]:
        x = special_values((3, k), r, dtype)
        words = kern.pack_bits(x)
        assert words.dtype == np.uint64 and words.shape == (3, (k + 63) // 64)
        np.testing.assert_array_equal(words, ref_words(x), err_msg=f"k={k}")
        shifted = np.empty(x.size + 1, dtype)[1:].reshape(x.shape)  # misaligned, still C-contiguous
        shifted[...] = x
        np.testing.assert_array_equal(kern.pack_bits(shifted), words, err_msg=f"misaligned k={k}")


def test_one_hot_pins_bit_order(kern):
    for k in [1, 63, 64, 65, 129, 200]:
        for dtype in (np.float32, np.float64):
            x = np.ones((k, k), dtype)
            np.fill_diagonal(x, -1.0)  # row i negative only at position i
            words = kern.pack_bits(x)
            for i in range(k):
                expected = np.zeros(words.shape[1], np.uint64)
                expected[i // 64] = np.uint64(1) << np.uint64(i % 64)
                np.testing.assert_array_equal(words[i], expected, err_msg=f"k={k} i={i} {dtype.__name__}")


def test_negative_zero_and_nan_pack_as_plus_one(kern):
    x = np.array([[-0.0, 0.0, np.nan, -np.nan, -np.inf, np.inf, -1e-45, 1e-45, -5.0]], np.float32)
    assert int(kern.pack_bits(x)[0, 0]) == 0b1_0101_0000
    assert int(kern.pack_bits(x.astype(np.float64))[0, 0]) == 0b1_0101_0000


def test_padding_bits_are_zero(kern):
    for k in [1, 63, 65, 100, 129]:
        words = kern.pack_bits(-np.ones((4, k), np.float32))  # every real bit set
        assert int(words[0, -1]).bit_length() == k - 64 * (words.shape[1] - 1)
        assert (words[:, :-1] == np.uint64(2**64 - 1)).all()


def test_unpack_round_trip(kern):
    r = rng(2)
    for k in [1, 63, 64, 65, 130]:
        x = special_values((2, 3, k), r)
        words = kern.pack_bits(x)
        np.testing.assert_array_equal(kern.unpack_bits(words, k), signs(x).astype(np.float32))


def test_blocked_layout_is_identical_across_isas():
    r = rng(3)
    for n, k in [(1, 1), (7, 64), (8, 65), (9, 130), (33, 1000)]:
        words = ref_words(r.standard_normal((n, k)))
        layouts = [_core.kernels_for(isa).pack_blocked(words, k) for isa in ISAS]
        nb = (n + 7) // 8
        expected = np.zeros((nb * 8, words.shape[1]), np.uint64)
        expected[:n] = words
        expected = expected.reshape(nb, 8, -1).transpose(0, 2, 1)
        for isa, got in zip(ISAS, layouts):
            np.testing.assert_array_equal(got, expected, err_msg=f"{isa} n={n} k={k}")


# ---------------------------------------------------------------------------- binary matmul


def test_matmul_exact_over_edge_grid(kern):
    """M, N, K over {1, 63, 64, 65, 127, 128, 129}, against NumPy's int64 product."""
    r = rng(4)
    size = max(EDGE)
    for k in EDGE:
        a = special_values((size, k), r)
        b = special_values((size, k), r)
        wa, wb = kern.pack_bits(a), kern.pack_bits(b)
        ref = signs(a) @ signs(b).T
        for m in EDGE:
            for n in EDGE:
                got = kern.binary_matmul(wa[:m], wb[:n], k)
                assert got.dtype == np.int32 and got.shape == (m, n)
                if not np.array_equal(got, ref[:m, :n]):
                    pytest.fail(f"{kern.isa}: M={m} N={n} K={k} differs from NumPy")


@pytest.mark.parametrize("m,n,k", [(131, 517, 1999), (3, 1001, 4097), (517, 9, 333)])
def test_matmul_exact_large_odd(kern, m, n, k):
    r = rng(m + n + k)
    a, b = r.standard_normal((m, k)), r.standard_normal((n, k))
    got = kern.binary_matmul(kern.pack_bits(a), kern.pack_bits(b), k)
    np.testing.assert_array_equal(got, signs(a) @ signs(b).T)


def test_matmul_empty_and_zero_k(kern):
    z = np.zeros((0, 1), np.uint64)
    assert kern.binary_matmul(z, np.zeros((5, 1), np.uint64), 10).shape == (0, 5)
    empty_k = kern.binary_matmul(np.zeros((3, 0), np.uint64), np.zeros((4, 0), np.uint64), 0)
    np.testing.assert_array_equal(empty_k, np.zeros((3, 4), np.int32))


def test_public_matmul_packs_float_inputs():
    r = rng(5)
    a, b = r.standard_normal((70, 100)).astype(np.float32), r.standard_normal((90, 100))
    want = signs(a) @ signs(b).T
    np.testing.assert_array_equal(binary_matmul(a, b), want)
    np.testing.assert_array_equal(binary_matmul(pack_bits(a), b), want)
    np.testing.assert_array_equal(binary_matmul(a.tolist(), pack_bits(b)), want)


@pytest.mark.parametrize("blocked", [False, True])
def test_results_do_not_depend_on_thread_count(threads, blocked):
    r = rng(6)
    a, b = r.standard_normal((300, 700)), r.standard_normal((777, 700)).astype(np.float32)
    layer = BinaryDense(b, r.standard_normal(777), r.standard_normal(777))
    results = []
    for t in (1, 2, 3):
        fastq.set_num_threads(t)
        results.append(layer(a) if blocked else binary_matmul(a, b))
    for res in results[1:]:
        np.testing.assert_array_equal(res, results[0])
    if not blocked:
        np.testing.assert_array_equal(results[0], signs(a) @ signs(b).T)


def test_very_long_rows_are_multiplied_in_slices_of_k(kern):
    """A register tile over K longer than 16 * 2**20 word pairs runs as slices of K (Ctrl-C;
    runtime/bgemm_ops.cpp), their dots summed and then transformed. Against the same product
    cut by hand into short pieces of K (dots add up over K), for public and blocked B, every
    output kind, and partial tiles of rows and columns; k ends inside the last word."""
    r = rng(11)
    m, n, kw = 5, 17, (1 << 20) + 37  # more than one slice on every table, and a short last one
    k = 64 * kw - 5
    a, b = r.integers(0, 2**64, (m, kw), dtype=np.uint64), r.integers(0, 2**64, (n, kw), dtype=np.uint64)
    a[:, -1] &= np.uint64(2**59 - 1)  # padding bits past k are zero
    b[:, -1] &= np.uint64(2**59 - 1)
    want = np.zeros((m, n), np.int64)
    for w0 in range(0, kw, 1 << 16):
        w1 = min(kw, w0 + (1 << 16))
        want += kern.binary_matmul(a[:, w0:w1].copy(), b[:, w0:w1].copy(), min(k, 64 * w1) - 64 * w0)
    np.testing.assert_array_equal(kern.binary_matmul(a, b, k), want)
    scale = r.standard_normal(n).astype(np.float32)
    bias = r.standard_normal(n).astype(np.float32)
    affine = want.astype(np.float32) * scale + bias
    blocked = kern.pack_blocked(b, k)
    np.testing.assert_array_equal(kern.dense_plan(blocked, k, n, scale, bias, False)(a), affine)
    np.testing.assert_array_equal(kern.dense_plan(blocked, k, n, scale, bias, True)(a), ref_words(affine))


# ------------------------------------------------------------------------------ BinaryDense


def dense_reference(x, w, scale, bias):
    """The float computation sign(x) @ sign(W).T * scale + bias, in float32."""
    dot = (signs(x) @ signs(w).T).astype(np.float32)
    return dot * scale.astype(np.float32) + bias.astype(np.float32)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (1, 1000, 1024), (63, 65, 127), (129, 33, 64), (5, 200, 700)])
def test_dense_plan_exact_on_every_isa(kern, m, n, k):
    r = rng(7 + m + n)
    x, w = special_values((m, k), r), special_values((n, k), r)
    scale = r.standard_normal(n).astype(np.float32)
    bias = r.standard_normal(n).astype(np.float32)
    blocked = kern.pack_blocked(kern.pack_bits(w), k)
    want = dense_reference(x, w, scale, bias)
    plan = kern.dense_plan(blocked, k, n, scale, bias, False)
    assert plan.isa == kern.isa
    np.testing.assert_array_equal(plan(x), want)
    np.testing.assert_array_equal(plan(x.astype(np.float64)), want)
    np.testing.assert_array_equal(plan(kern.pack_bits(x)), want)
    bits = kern.dense_plan(blocked, k, n, scale, bias, True)(x)
    np.testing.assert_array_equal(bits, ref_words(want))


def test_binary_dense_public_api():
    r = rng(8)
    w = r.standard_normal((50, 300))
    x = r.standard_normal((2, 3, 300)).astype(np.float32)
    scale, bias = r.standard_normal(50), r.standard_normal(50)
    layer = BinaryDense(w, scale, bias)
    assert (layer.units, layer.in_features) == (50, 300)
    want = dense_reference(x.reshape(6, 300), w, scale, bias).reshape(2, 3, 50)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (2, 3, 50)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(layer(pack_bits(x)), want)
    np.testing.assert_array_equal(layer(x[0, 0]), want[0, 0])  # one sample, 1-D
    # packed output feeds the next binary layer without floats
    packed = BinaryDense(w, scale, bias, packed_output=True)(x)
    assert isinstance(packed, PackedBits) and packed.shape == (2, 3, 50)
    np.testing.assert_array_equal(packed.words, ref_words(want))
    nxt = BinaryDense(r.standard_normal((7, 50)))
    np.testing.assert_array_equal(nxt(packed), nxt(want))
    # defaults: scale 1, bias 0 -> the plain +-1 product as float32
    np.testing.assert_array_equal(BinaryDense(w)(x[0]), (signs(x[0]) @ signs(w).T).astype(np.float32))
    # scalar scale/bias broadcast; weights given packed
    np.testing.assert_array_equal(
        BinaryDense(pack_bits(w), 0.5, -1)(x[0]), dense_reference(x[0], w, np.full(50, 0.5), np.full(50, -1.0))
    )


# -------------------------------------------------------------------------- PackedBits object


def test_packed_bits_object():
    r = rng(9)
    x = special_values((4, 5, 70), r)
    p = pack_bits(x)
    assert p.k == 70 and p.shape == (4, 5, 70) and p.ndim == 3 and len(p) == 4
    assert p.words.shape == (4, 5, 2) and p.words.dtype == np.uint64 and p.nbytes == 4 * 5 * 2 * 8
    assert not p.words.flags.writeable
    assert repr(p) == "PackedBits(shape=(4, 5, 70), k=70)"
    np.testing.assert_array_equal(unpack_bits(p), signs(x).astype(np.float32))
    np.testing.assert_array_equal(p.unpack(), unpack_bits(p))
    # axis: the packed axis moves last
    q = pack_bits(x, axis=1)
    assert q.shape == (4, 70, 5)
    np.testing.assert_array_equal(q.words, ref_words(np.moveaxis(x, 1, -1)))
    # other dtypes and layouts are converted first (signs never change)
    np.testing.assert_array_equal(pack_bits(x[:, :, ::-1]).words, ref_words(x[:, :, ::-1]))
    np.testing.assert_array_equal(pack_bits(x.astype(np.float16)).words, ref_words(x.astype(np.float16)))
    ints = r.integers(-3, 3, (3, 90))
    np.testing.assert_array_equal(pack_bits(ints).words, ref_words(ints))


def test_packed_bits_save_load_and_pickle(tmp_path):
    p = pack_bits(rng(10).standard_normal((3, 130)))
    q = PackedBits.from_words(p.words, p.k)
    assert q == p and q.words is not p.words
    assert pickle.loads(pickle.dumps(p)) == p
    np.savez(tmp_path / "w.npz", words=p.words, k=p.k)
    with np.load(tmp_path / "w.npz") as f:
        assert PackedBits.from_words(f["words"], int(f["k"])) == p
    buf = io.BytesIO()
    np.save(buf, p.words)
    buf.seek(0)
    assert PackedBits.from_words(np.load(buf), 130) == p
    layer = BinaryDense(p, np.arange(3.0), 1.0, packed_output=True)
    again = pickle.loads(pickle.dumps(layer))
    x = rng(11).standard_normal((2, 130))
    assert again(x) == layer(x) and again.packed_output


# ------------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_clear_errors_and_leave_inputs_untouched():
    r = rng(12)
    a, b = r.standard_normal((4, 100)), r.standard_normal((5, 99))
    a0, b0 = a.copy(), b.copy()
    with pytest.raises(ValueError, match=r"K mismatch: a has K=100 .* b has K=99"):
        binary_matmul(a, b)
    with pytest.raises(ValueError, match=r"a: expected a 2-D array, got shape \(100,\)"):
        binary_matmul(a[0], b)
    with pytest.raises(ValueError, match=r"b: expected a 2-D operand, got shape \(1, 5, 99\)"):
        binary_matmul(a, pack_bits(b[None]))
    with pytest.raises(
        TypeError, match=r"a: expected a PackedBits or a float array, got an array of dtype uint64 \(packed words\?"
    ):
        binary_matmul(pack_bits(a).words, b)
    with pytest.raises(TypeError, match=r"b: expected a PackedBits or a float array, got str"):
        binary_matmul(a, "b")
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)

    layer = BinaryDense(b)
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 99\)"):
        layer(a)
    with pytest.raises(ValueError, match=r"x: expected 99 bits per row"):
        layer(pack_bits(a))
    with pytest.raises(TypeError, match="x: expected a PackedBits or a float array"):
        layer(np.zeros((2, 99), bool))
    with pytest.raises(ValueError, match=r"scale: expected a scalar or shape \(5,\)"):
        BinaryDense(b, scale=np.ones(4))
    with pytest.raises(TypeError, match="bias: expected real numbers"):
        BinaryDense(b, bias="1")
    with pytest.raises(ValueError, match="kernel: expected a 2-D array"):
        BinaryDense(b[0])

    with pytest.raises(ValueError, match="x: expected at least 1 dimension"):
        pack_bits(np.float32(1))
    with pytest.raises(ValueError, match="axis: 2 is out of bounds"):
        pack_bits(a, axis=2)
    with pytest.raises(TypeError, match="p: expected a PackedBits"):
        unpack_bits(a)

    words = pack_bits(a).words
    with pytest.raises(TypeError, match=r"words: expected a uint64 array .* got dtype int64"):
        PackedBits.from_words(words.astype(np.int64), 100)
    with pytest.raises(ValueError, match=r"words: expected 3 words per row for k=129 bits, got shape \(4, 2\)"):
        PackedBits.from_words(words, 129)
    with pytest.raises(ValueError, match="padding bits"):
        PackedBits.from_words(np.full((1, 2), 2**64 - 1, np.uint64), 100)
    with pytest.raises(ValueError, match="k: expected a bit count >= 0"):
        PackedBits.from_words(words, -1)


def test_native_entry_points_validate(kern):
    w = kern.pack_bits(np.ones((3, 70), np.float32))
    with pytest.raises(TypeError, match="x: expected a float32 or float64 array"):
        kern.pack_bits(np.ones((3, 70), np.int32))
    with pytest.raises(ValueError, match="x: expected a C-contiguous array"):
        kern.pack_bits(np.ones((3, 70), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="a: expected a uint64 array of packed words"):
        kern.binary_matmul(w.astype(np.int64), w, 70)
    with pytest.raises(ValueError, match=r"a: expected 3 words per row for k = 129 bits, got shape \(3, 2\)"):
        kern.binary_matmul(w, w, 129)
    with pytest.raises(ValueError, match="b: expected 2-D array of packed words"):
        kern.binary_matmul(w, w[0], 70)
    with pytest.raises(ValueError, match=r"k: expected a bit count in \[0, 2\*\*31\)"):
        kern.binary_matmul(w, w, -5)
    blocked = kern.pack_blocked(w, 70)
    one = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"blocked: expected 16 words .*, got 8"):
        kern.dense_plan(blocked.reshape(-1)[:8], 70, 3, one, one, False)
    with pytest.raises(TypeError, match="scale: expected a float32 array, got dtype float64"):
        kern.dense_plan(blocked, 70, 3, one.astype(np.float64), one, False)
    plan = kern.dense_plan(blocked, 70, 3, one, one, False)
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 70\), got \(2, 71\)"):
        plan(np.ones((2, 71), np.float32))


# ------------------------------------------------------------------------- popcount peak probe


def test_popcount_peak_is_a_positive_rate_on_every_isa(kern):
    rate = kern.popcount_peak(0.01)
    assert isinstance(rate, float) and np.isfinite(rate) and rate > 0
    # Sanity only (the machine may be busy): no ordering of ISAs is asserted.
    with pytest.raises(ValueError, match="seconds: expected a finite time > 0"):
        kern.popcount_peak(0.0)
    with pytest.raises(ValueError, match="seconds: expected a finite time > 0"):
        kern.popcount_peak(float("nan"))


def test_popcount_probe_checksum_is_real_work(kern):
    macs = kern._popcount_probe_macs
    assert macs > 0 and macs % 64 == 0
    sums = [kern._popcount_probe(100, seed) for seed in range(8)]
    assert len(set(sums)) > 1  # the counts depend on the seed: nothing was precomputed
    for s in sums:
        assert 0 < s < 100 * macs  # a count of ones among the XORed bits
    assert kern._popcount_probe(100, 3) == sums[3]  # deterministic
    assert kern._popcount_probe(300, 3) == 3 * sums[3]  # every iteration counted
    assert kern._popcount_probe(0, 3) == 0


def test_module_popcount_peak_covers_every_available_isa():
    rates = _core.popcount_peak(0.01)
    assert set(rates) == set(ISAS)
    assert all(isinstance(r, float) and np.isfinite(r) and r > 0 for r in rates.values())


def test_binary_matmul_out_argument():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((7, 130), dtype=np.float32)
    b = rng.standard_normal((9, 130), dtype=np.float32)
    expected = fastq.binary_matmul(a, b)
    out = np.full((7, 9), -12345, np.int32)
    assert fastq.binary_matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, expected)
    for bad, err, msg in [
        (np.empty((7, 9), np.int64), ValueError, "out: expected dtype int32, got int64"),
        (np.empty((9, 7), np.int32), ValueError, r"out: expected shape \(7, 9\), got \(9, 7\)"),
        (np.empty((7, 18), np.int32)[:, ::2], ValueError, "out: expected a C-contiguous array"),
        ([[0] * 9] * 7, TypeError, "out: expected a NumPy int32 array, got list"),
    ]:
        with pytest.raises(err, match=msg):
            fastq.binary_matmul(a, b, out=bad)
    ro = np.zeros((7, 9), np.int32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastq.binary_matmul(a, b, out=ro)
    assert not ro.any()


def test_binary_dense_out_argument():
    rng = np.random.default_rng(6)
    w = rng.standard_normal((11, 100), dtype=np.float32)
    x = rng.standard_normal((2, 3, 100), dtype=np.float32)
    layer = fastq.BinaryDense(w, scale=np.linspace(0.5, 2, 11), bias=np.arange(11.0))
    expected = layer(x)
    out = np.full((2, 3, 11), np.nan, np.float32)
    assert layer(x, out=out) is out
    np.testing.assert_array_equal(out, expected)
    assert layer(fastq.pack_bits(x), out=out) is out
    for bad, err, msg in [
        (np.empty((2, 3, 11), np.float64), ValueError, "out: expected dtype float32, got float64"),
        (np.empty((6, 11), np.float32), ValueError, r"out: expected shape \(2, 3, 11\), got \(6, 11\)"),
        ("y", TypeError, "out: expected a NumPy float32 array, got str"),
    ]:
        with pytest.raises(err, match=msg):
            layer(x, out=bad)
    with pytest.raises(ValueError, match="only for float output"):
        fastq.BinaryDense(w, packed_output=True)(x, out=out)
