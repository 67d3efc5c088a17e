"""binary_matmul on adversarial operands, on every ISA's table: the extremes of the dot product
(all -1 rows against all +1 rows, and equal rows) where per-ISA popcount accumulators are
closest to overflowing (AVX2's byte counters, NEON's widening steps), long K, and structured
bit patterns. Random data almost never reaches these counts."""

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
