"""binary_matmul on adversarial operands, on every ISA's table: the extremes of the dot product
(all -1 rows against all +1 rows, and equal rows) where per-ISA popcount accumulators are
closest to overflowing (AVX2's byte counters, NEON's widening steps), long K, and structured
bit patterns. Random data almost never reaches these counts."""

import os

import numpy as np
import pytest

from fastq import _core

ISAS = _core.available_isas()


def _words(bits: np.ndarray) -> np.ndarray:
    """Pack a (rows, k) bool array (True = -1) into the public word format."""
    rows, k = bits.shape
    kw = (k + 63) // 64
    padded = np.zeros((rows, kw * 64), bool)
    padded[:, :k] = bits
    return np.packbits(padded, axis=1, bitorder="little").view(np.uint64).reshape(rows, kw).copy()


def _expected(a_bits, b_bits):
    a = np.where(a_bits, -1, 1).astype(np.int64)
    b = np.where(b_bits, -1, 1).astype(np.int64)
    return (a @ b.T).astype(np.int32)


KS = [1, 63, 64, 255, 256, 257, 2047, 2048, 2049, 4096, 8191, 8192 + 64 * 7 + 5, 65536 + 17]


def _patterns(k, rng):
    ones = np.ones(k, bool)
    alt = (np.arange(k) % 2).astype(bool)
    blocks = ((np.arange(k) // 8) % 2).astype(bool)  # byte-aligned runs
    words = ((np.arange(k) // 64) % 2).astype(bool)  # whole words of ones
    return np.stack([ones, ~ones, ones, alt, ~alt, blocks, words, ~words, rng.random(k) < 0.5, rng.random(k) < 0.97])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("k", KS)
def test_extreme_products_are_exact_on_every_isa(isa, k):
    kern = _core.kernels_for(isa)
    rng = np.random.default_rng(k)
    p = _patterns(k, rng)
    # Row counts that hit full register tiles and partial ones.
    a_bits = np.concatenate([p, np.ones((7, k), bool)])
    b_bits = np.concatenate([~p, p, np.zeros((5, k), bool)])
    got = kern.binary_matmul(_words(a_bits), _words(b_bits), k)
    exp = _expected(a_bits, b_bits)
    np.testing.assert_array_equal(got, exp)
    # The extremes really occur: all -1 against all +1 is -k, equal rows +k.
    assert got.min() == -k and got.max() == k


@pytest.mark.parametrize("isa", ISAS)
def test_all_minus_one_against_all_plus_one_large(isa):
    """Issue #12: AVX2 byte counters widened one step too late were wrong exactly here
    (K >= 2048, all -1 rows against all +1 rows)."""
    kern = _core.kernels_for(isa)
    for k in (2048, 4096, 16384 + 64, 131072):
        a = _words(np.ones((9, k), bool))
        b = _words(np.zeros((17, k), bool))
        np.testing.assert_array_equal(kern.binary_matmul(a, b, k), np.full((9, 17), -k, np.int32))
        np.testing.assert_array_equal(kern.binary_matmul(a, a, k), np.full((9, 9), k, np.int32))
        # Blocked (BinaryDense) path: float output y = dot * 1 + 0.
        blocked = kern.pack_blocked(b, k)
        plan = kern.dense_plan(blocked, k, 17, np.ones(17, np.float32), np.zeros(17, np.float32), False)
        np.testing.assert_array_equal(plan(a, None), np.full((9, 17), -k, np.float32))


@pytest.fixture(scope="module")
def many_tasks():
    rng = np.random.default_rng(7)
    k = 4096  # 64 words a row
    a_bits = rng.random((2100, k)) < 0.5  # public B, one panel of 8 columns: 2048 rows a call
    b_bits = rng.random((16, k)) < 0.5
    w_bits = rng.random((4096, k)) < 0.5  # blocked B: 2048 columns x 8 rows a call
    x_bits = rng.random((20, k)) < 0.5
    sa, sb, sw, sx = (np.where(v, -1.0, 1.0) for v in (a_bits, b_bits, w_bits, x_bits))
    ab, xw = (sa @ sb.T).astype(np.int32), (sx @ sw.T).astype(np.int32)  # exact: |dot| <= 4096
    long_row = rng.standard_normal((2, (1 << 20) + 100)).astype(np.float32)  # 2 pieces a row
    return dict(
        k=k,
        a=_words(a_bits),
        b=_words(b_bits),
        w=_words(w_bits),
        x=_words(x_bits),
        ab=ab,
        xw=xw,
        signs=np.packbits(xw < 0, axis=1, bitorder="little").view(np.uint64),
        long_row=long_row,
        long_words=_words(long_row < 0),
        long_signs=np.where(long_row < 0, -1, 1),
    )


@pytest.mark.skipif(bool(os.environ.get("FASTQ_TEST_UNDER_QEMU")), reason="large NumPy references: slow under qemu")
@pytest.mark.parametrize("isa", ISAS)
def test_calls_cut_into_many_tasks_match_the_reference(isa, many_tasks, restore_threads):
    """Calls above the task size (runtime/binary_common.hpp, kMaxTaskWork = 2**20 units) are cut
    into row pieces, column pieces and, for long rows, word pieces, even on one thread (the unit
    of Ctrl-C polling): every piece must land where it belongs. Compared with NumPy, on one and
    on two threads."""
    import fastq

    d = many_tasks
    kern = _core.kernels_for(isa)
    ones, zeros = np.ones(4096, np.float32), np.zeros(4096, np.float32)
    for threads in (1, 2):
        fastq.set_num_threads(threads)
        np.testing.assert_array_equal(kern.binary_matmul(d["a"], d["b"], d["k"]), d["ab"])
        blocked = kern.pack_blocked(d["w"], d["k"])
        np.testing.assert_array_equal(kern.dense_plan(blocked, d["k"], 4096, ones, zeros, False)(d["x"], None), d["xw"])
        np.testing.assert_array_equal(
            kern.dense_plan(blocked, d["k"], 4096, ones, zeros, True)(d["x"], None), d["signs"]
        )
        np.testing.assert_array_equal(kern.pack_bits(d["long_row"]), d["long_words"])
        np.testing.assert_array_equal(kern.unpack_bits(d["long_words"], d["long_row"].shape[1]), d["long_signs"])


@pytest.mark.parametrize("isa", ISAS)
def test_blocks_of_long_rows_are_packed_in_pieces(isa, restore_threads):
    """pack_blocked cuts a block of 8 rows longer than a task (8 * kw > 2**20 words) into pieces
    of 2**17 words of its rows (Ctrl-C during a huge BinaryDense kernel's packing): the pieces,
    the last one's scalar tail and the zero rows of a partial block must land where they belong,
    on every ISA and thread count. Against NumPy's transpose of the public rows."""
    import fastq

    kw = 2 * 2**17 + 37  # 3 pieces a block, a tail of 37 % lanes words
    rows = 11  # a whole block and a partial one (3 rows, 5 zero)
    words = np.random.default_rng(3).integers(0, 2**64, (rows, kw), dtype=np.uint64, endpoint=False)
    padded = np.zeros((16, kw), np.uint64)
    padded[:rows] = words
    want = padded.reshape(2, 8, kw).transpose(0, 2, 1)
    kern = _core.kernels_for(isa)
    for threads in (1, 2):
        fastq.set_num_threads(threads)
        np.testing.assert_array_equal(kern.pack_blocked(words, 64 * kw), want)
