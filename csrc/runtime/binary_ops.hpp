// Binary (packed-bit) operations on raw pointers: split the work over the thread pool and call
// a kernel table's BinaryKernels. Baseline code; no Python here. Results are exact integers (or
// a fixed float transform of them), so they never depend on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fastq/kernel_table.hpp"

namespace fastq {
// Words per packed row of k bits.
constexpr std::size_t packed_words(std::size_t k) { return (k + 63) / 64; }
// Words of the blocked layout of n rows of kw words.
constexpr std::size_t blocked_words(std::size_t n, std::size_t kw) {
  return (n + kBinaryBlock - 1) / kBinaryBlock * kBinaryBlock * kw;
}

// x: rows x k values -> out: rows x packed_words(k) words (public format).
template <class T>
void pack_bits(const KernelTable& t, const T* x, std::size_t rows, std::size_t k, std::uint64_t* out);

// words: rows x packed_words(k) -> out: rows x k values in {-1, +1}.
void unpack_bits(const KernelTable& t, const std::uint64_t* words, std::size_t rows, std::size_t k, float* out);

// b: n public rows of kw words -> out: blocked_words(n, kw) words in the blocked layout.
void pack_blocked(const KernelTable& t, const std::uint64_t* b, std::size_t n, std::size_t kw, std::uint64_t* out);

// out = A B^T over k-bit packed rows: a is m x packed_words(k); b is n x packed_words(k) in the
// public format, or in the blocked layout when b_blocked. Public B is repacked one register
// tile of columns at a time, inside the task that uses it (it stays in L1).
void binary_gemm(const KernelTable& t, const std::uint64_t* a, std::size_t m, const std::uint64_t* b, bool b_blocked,
                 std::size_t n, std::size_t k, const BinaryOut& out);

// The xor + popcount peak of one core with t's GEMM popcount method (kernels/peak.hpp), in
// binary MACs per second (one MAC = one bit of one XOR), on the calling thread: the iteration
// count doubles until one run lasts at least seconds / 4, then the best of 3 runs of that length
// (about `seconds` in all). seconds > 0.
double popcount_peak(const KernelTable& t, double seconds);
}  // namespace fastq
